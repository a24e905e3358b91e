//! Runs a fixed number of memory-cache operations through pal or through raw
//! moka, for instruction counting under `valgrind --tool=callgrind`, which is
//! repeatable where wall-clock timings on a shared machine are not.
//! Usage: memory_ops pal|raw|metered get|set N (`metered`: pal under the
//! instrumentation layer, with pal's Prometheus recorder installed)

use std::time::Duration;

#[path = "../benches/common/raw_moka.rs"]
mod raw_moka;

use bytes::Bytes;
use moka::sync::Cache;
use pal::{CacheService, Ttl};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (which, op, n) = (args[1].as_str(), args[2].as_str(), args[3].parse::<usize>().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let keys: Vec<String> = (0..10_000).map(|i| format!("bench:{i}")).collect();
    let value = Bytes::from(vec![7u8; 256]);
    let ttl = Ttl::from_secs(300).unwrap();
    let pal: std::sync::Arc<dyn CacheService> = std::sync::Arc::new(pal::cache::memory::MemoryCache::new(100_000));
    let pal = match which {
        "metered" => {
            pal::telemetry::prometheus::install().unwrap();
            pal::cache::instrumented(pal)
        }
        _ => pal,
    };
    let raw: Cache<String, (Bytes, Duration)> =
        Cache::builder().max_capacity(100_000).expire_after(raw_moka::ValueTtl).build();
    rt.block_on(async {
        for k in &keys {
            pal.set(k, value.clone(), ttl).await.unwrap();
            raw.insert(k.clone(), (value.clone(), ttl.as_duration()));
        }
        let dyn_pal: &dyn CacheService = pal.as_ref();
        let mut found = 0usize;
        for i in 0..n {
            let k = &keys[i % keys.len()];
            match (which, op) {
                ("pal" | "metered", "get") => found += dyn_pal.get(k).await.unwrap().map_or(0, |v| v.len()),
                ("raw", "get") => found += raw.get(k.as_str()).map_or(0, |v| v.0.len()),
                ("pal" | "metered", "set") => dyn_pal.set(k, value.clone(), ttl).await.unwrap(),
                ("raw", "set") => raw.insert(k.clone(), (value.clone(), ttl.as_duration())),
                _ => panic!("usage: memory_ops pal|raw|metered get|set N"),
            }
        }
        std::hint::black_box(found);
    });
}
