//! The memory cache, built through the factory from environment-style settings.

#[macro_use]
mod suite;
mod support;

use pal::Settings;
use pal::factory::build_cache;
use suite::cache::CacheSubject;

async fn memory() -> CacheSubject {
    let settings = Settings::from_vars([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")]).unwrap();
    let cache = build_cache(&settings).await.unwrap();
    assert_eq!(cache.provider(), "memory");
    CacheSubject::new(cache)
}

cache_conformance!(memory);

/// The same cases with sealing on (hashed keys, AES-256-GCM values).
mod sealed {
    use super::*;

    async fn memory_sealed() -> CacheSubject {
        let mut vars = vec![("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")];
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
    assert!(present <= 110, "{present} entries kept with a bound of 100");
}
