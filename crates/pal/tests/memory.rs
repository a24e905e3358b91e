//! The memory cache, built through the factory from environment-style settings.

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_cache;
use suite::cache::CacheSubject;

async fn memory() -> CacheSubject {
    let settings =
        Settings::from_vars([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), suite::cache::VALUE_LIMIT])
            .unwrap();
    let cache = build_cache(&settings).await.unwrap();
    assert_eq!(cache.provider(), "memory");
    CacheSubject::new(cache)
}

cache_conformance!(memory);

/// The same cases with sealing on (hashed keys, AES-256-GCM values).
mod sealed {
    use super::*;

    async fn memory_sealed() -> CacheSubject {
        let mut vars = vec![("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), crate::suite::cache::VALUE_LIMIT];
        vars.extend(crate::support::SEALING);
        let cache = build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
        CacheSubject::new(cache)
    }

    cache_conformance!(memory_sealed);
}

#[tokio::test]
async fn key_prefix_namespaces_keys() {
    use std::sync::Arc;

    use bytes::Bytes;
    use pal::{CacheService, Ttl};
    let inner: Arc<dyn CacheService> = Arc::new(pal::cache::memory::MemoryCache::new(100));
    let cache = pal::cache::prefixed(inner.clone(), "app1:");
    cache.set("k", Bytes::from_static(b"v"), Ttl::from_secs(60).unwrap()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(inner.get("app1:k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(inner.get("k").await.unwrap(), None);
    assert_eq!(cache.incr("n", 2, Ttl::from_secs(60).unwrap()).await.unwrap(), 2);
    assert_eq!(inner.get("app1:n").await.unwrap().as_deref(), Some(&b"2"[..]));
}

#[tokio::test]
async fn size_is_bounded() {
    use bytes::Bytes;
    use pal::{CacheService, Ttl};
    let cache = pal::cache::memory::MemoryCache::new(100);
    for i in 0..1000 {
        cache.set(&format!("k{i}"), Bytes::from_static(b"v"), Ttl::from_secs(60).unwrap()).await.unwrap();
    }
    let mut present = 0;
    for i in 0..1000 {
        present += usize::from(cache.get(&format!("k{i}")).await.unwrap().is_some());
    }
    assert!((50..=110).contains(&present), "{present} entries kept with a bound of 100");
}

/// Resident memory of this process, from /proc/self/status.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[tokio::test]
async fn bytes_are_bounded_and_memory_stays_bounded() {
    use bytes::Bytes;
    use pal::{ErrorKind, Ttl};
    const MAX: u64 = 64 << 20;
    let settings = Settings::from_vars([
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("CACHE_MEMORY_MAX_BYTES", "64M"),
        // Above the byte bound, so the memory cache's own limit is the one met.
        ("CACHE_MAX_VALUE_BYTES", "536870912"),
    ])
    .unwrap();
    let cache = build_cache(&settings).await.unwrap();
    assert_eq!(cache.capabilities().max_value_bytes, Some((MAX - pal::cache::memory::ENTRY_OVERHEAD) as usize));
    let before = resident_bytes();
    // 2 GiB written, 32 times the bound.
    let value = Bytes::from(vec![7u8; 1 << 20]);
    for i in 0..2048 {
        cache.set(&format!("big{i}"), Bytes::copy_from_slice(&value), Ttl::from_secs(60).unwrap()).await.unwrap();
    }
    let mut kept = 0u64;
    for i in 0..2048 {
        kept += u64::from(cache.get(&format!("big{i}")).await.unwrap().is_some());
    }
    let grown = resident_bytes().saturating_sub(before);
    eprintln!("2 GiB written into a 64 MiB memory cache: {kept} MiB kept, resident memory grew {} MiB", grown >> 20);
    assert!((1..=64).contains(&kept), "{kept} values of 1 MiB kept under a 64 MiB bound");
    // The allocator keeps some freed memory; without the bound it would be 2 GiB.
    assert!(grown < 5 * MAX, "resident memory grew by {} MiB", grown >> 20);
    let err = cache.set("huge", Bytes::from(vec![0u8; 65 << 20]), Ttl::from_secs(60).unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
    assert!(err.to_string().contains("CACHE_MEMORY_MAX_BYTES"), "{err}");
}
