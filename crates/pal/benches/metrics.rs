//! What the instrumentation layer costs: the same GET through the factory-built
//! cache with `METRICS_ENABLED` on and off, in alternating rounds of one run,
//! with pal's Prometheus recorder installed (as in `pal serve`) and scraped
//! between rounds. Memory from one task (the layer's cost next to a cache hit in
//! the process); Redis from 50 concurrent tasks on one server (next to a round
//! trip). `scripts/services up && cargo bench -p pal --bench metrics`.

mod common;
use pal_test_support::ports;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{ROUNDS, median};
use pal::{CacheService, Settings, Ttl};

const KEYS: usize = 1_000;

async fn build(vars: &[(&str, &str)], metrics: bool) -> Arc<dyn CacheService> {
    let mut vars = vars.to_vec();
    vars.push(("METRICS_ENABLED", if metrics { "true" } else { "false" }));
    pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap()
}

/// GETs per second from one task for one round.
async fn one_task(cache: &Arc<dyn CacheService>, keys: &[String]) -> f64 {
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < Duration::from_millis(500) {
        for _ in 0..1000 {
            std::hint::black_box(cache.get(&keys[n % KEYS]).await.unwrap());
            n += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

async fn compare(
    name: &str,
    vars: &[(&str, &str)],
    concurrent: bool,
    handle: &pal::telemetry::prometheus::PrometheusHandle,
) {
    let caches = [build(vars, true).await, build(vars, false).await];
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("bench:metrics:{i}")).collect());
    let ttl = Ttl::from_secs(600).unwrap();
    for cache in &caches {
        for k in keys.iter() {
            cache.set(k, Bytes::from(vec![7u8; 256]), ttl).await.unwrap();
        }
    }
    let mut rates: [Vec<f64>; 2] = Default::default();
    for round in 0..ROUNDS {
        for k in 0..2 {
            let which = (round + k) % 2;
            let cache = caches[which].clone();
            let rate = if concurrent {
                common::round(move |t, i| {
                    let cache = cache.clone();
                    async move {
                        cache.get(&common::key("bench:metrics:", t, i, KEYS)).await.unwrap();
                    }
                })
                .await
            } else {
                one_task(&cache, &keys).await
            };
            rates[which].push(rate);
            // A scrape, as Prometheus would make, so the histograms' samples are folded in.
            std::hint::black_box(handle.render());
        }
    }
    let [on, off] = rates.map(median);
    println!(
        "{name:32} on {on:>10.0} ops/s   off {off:>10.0} ops/s   on/off = {:.3}   cost per call {:.0} ns",
        on / off,
        (1e9 / on - 1e9 / off).max(0.0)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let handle = pal::telemetry::prometheus::install().unwrap();
    rt.block_on(async {
        println!("{ROUNDS} alternating rounds, 256-byte values, median ops/s");
        compare("memory GET, 1 task", &[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")], false, &handle).await;
        let redis = ports::redis_url();
        let vars = [
            ("CACHE_PROVIDER", "redis"),
            ("REDIS_URL", redis.as_str()),
            ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
            ("DB_PROVIDER", "sqlite"),
        ];
        compare("redis GET, 50 tasks", &vars, true, &handle).await;
    });
    assert!(handle.render().contains("pal_cache_hits_total{provider=\"redis\"}"), "the recorder saw the calls");
}
