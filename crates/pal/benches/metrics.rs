//! What the instrumentation layer costs: the same GET through the factory-built
//! cache with `METRICS_ENABLED` on and off, in the same run, with pal's
//! Prometheus recorder installed (as in `pal serve`), on memory and on Redis.
//! `cargo bench -p pal --bench metrics`; compare `on` with `off` in each group.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use pal::{CacheService, Settings, Ttl};

const KEYS: usize = 1_000;

fn build(rt: &tokio::runtime::Runtime, vars: &[(&str, &str)], metrics: bool) -> Arc<dyn CacheService> {
    let mut vars = vars.to_vec();
    vars.push(("METRICS_ENABLED", if metrics { "true" } else { "false" }));
    rt.block_on(pal::factory::build_cache(&Settings::from_vars(vars).unwrap())).unwrap()
}

fn group(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, vars: &[(&str, &str)]) {
    let on = build(rt, vars, true);
    let off = build(rt, vars, false);
    let keys: Vec<String> = (0..KEYS).map(|i| format!("bench:metrics:{i}")).collect();
    let value = Bytes::from(vec![7u8; 256]);
    let ttl = Ttl::from_secs(600).unwrap();
    rt.block_on(async {
        for k in &keys {
            on.set(k, value.clone(), ttl).await.unwrap();
            off.set(k, value.clone(), ttl).await.unwrap();
        }
    });
    let mut g = c.benchmark_group(name);
    let mut i = 0;
    for (label, cache) in [("on", &on), ("off", &off)] {
        g.bench_function(label, |b| {
            b.to_async(rt).iter(|| {
                i = (i + 1) % KEYS;
                let (cache, key) = (cache, &keys[i]);
                async move { cache.get(key).await.unwrap() }
            })
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let handle = pal::telemetry::prometheus::install().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    group(c, &rt, "memory_get_256B", &[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")]);
    let redis = format!("redis://127.0.0.1:{}", std::env::var("REDIS_PORT").unwrap_or_else(|_| "6379".into()));
    group(
        c,
        &rt,
        "redis_get_256B",
        &[
            ("CACHE_PROVIDER", "redis"),
            ("REDIS_URL", &redis),
            ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
            ("DB_PROVIDER", "sqlite"),
        ],
    );
    // The recorder really received the calls measured above.
    assert!(handle.render().contains("pal_cache_hits_total{provider=\"redis\"}"));
}

criterion_group!(benches, bench);
criterion_main!(benches);
