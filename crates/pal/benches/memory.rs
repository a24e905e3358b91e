//! The memory adapter against raw moka doing the same job (per-entry TTL, 256-byte
//! values), in the same run: the difference is what the abstraction costs.
//! `cargo bench -p pal --bench memory`; compare `pal` with `raw_moka` in each group.

use std::sync::Arc;
use std::time::Duration;

#[path = "common/raw_moka.rs"]
mod raw_moka;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use moka::sync::Cache;
use pal::{CacheService, Settings, Ttl};

const KEYS: usize = 10_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let settings = Settings::from_vars([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")]).unwrap();
    let pal: Arc<dyn CacheService> = rt.block_on(pal::factory::build_cache(&settings)).unwrap();
    let raw: Cache<String, (Bytes, Duration)> =
        Cache::builder().max_capacity(100_000).expire_after(raw_moka::ValueTtl).build();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("bench:{i}")).collect();
    let value = Bytes::from(vec![7u8; 256]);
    let ttl = Ttl::from_secs(300).unwrap();
    rt.block_on(async {
        for k in &keys {
            pal.set(k, value.clone(), ttl).await.unwrap();
            raw.insert(k.clone(), (value.clone(), ttl.as_duration()));
        }
    });

    let mut get = c.benchmark_group("get_256B");
    let mut i = 0;
    get.bench_function("pal", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % KEYS;
            let (pal, key) = (&pal, &keys[i]);
            async move { pal.get(key).await.unwrap() }
        })
    });
    get.bench_function("raw_moka", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % KEYS;
            let (raw, key) = (&raw, &keys[i]);
            async move { raw.get(key.as_str()).map(|v| v.0) }
        })
    });
    get.finish();

    let mut set = c.benchmark_group("set_256B");
    set.bench_function("pal", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % KEYS;
            let (pal, key, value) = (&pal, &keys[i], value.clone());
            async move { pal.set(key, value, ttl).await.unwrap() }
        })
    });
    set.bench_function("raw_moka", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % KEYS;
            let (raw, key, value) = (&raw, &keys[i], value.clone());
            async move { raw.insert(key.clone(), (value, ttl.as_duration())) }
        })
    });
    set.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
