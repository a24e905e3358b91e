//! Throughput of the memcached adapter against the raw `memcache` meta client on
//! the same server, in one run: GET and SET of 256-byte values from 50 concurrent
//! tasks, alternating rounds; then `memcslap` (libmemcached-tools, 50 threads,
//! its own default value size) on the same server as a second reference.
//!
//! `cargo bench -p pal --bench memcached [-- host:port]` (by default the tests' memcached, MEMCACHED_PORT
//! in scripts/ports.env)

mod common;
use pal_test_support::ports;

use std::sync::Arc;

use bytes::Bytes;
use common::{ROUND, ROUNDS, TASKS, median};
use memcache::exp::AsyncMetaClient;
use pal::{CacheService, Settings, Ttl};

const KEYS: usize = 10_000;

#[derive(Clone, Copy)]
enum Op {
    Get,
    Set,
}

async fn pal_op(cache: Arc<dyn CacheService>, op: Op, task: usize, i: usize, value: Bytes) {
    let key = common::key("bench:", task, i, KEYS);
    match op {
        Op::Get => drop(cache.get(&key).await.unwrap()),
        Op::Set => cache.set(&key, value, Ttl::from_secs(300).unwrap()).await.unwrap(),
    }
}

async fn raw_op(client: AsyncMetaClient, op: Op, task: usize, i: usize, value: Bytes) {
    let key = common::key("bench:", task, i, KEYS);
    match op {
        Op::Get => drop(client.get(key.as_bytes()).send().await.unwrap()),
        Op::Set => drop(client.set(key.as_bytes(), &value).ttl_raw(301).send().await.unwrap()),
    }
}

/// memcslap's operations per second for `test` (get or set).
fn memcslap(server: &str, test: &str) -> Option<f64> {
    let out = std::process::Command::new("memcslap")
        .args([&format!("--servers={server}"), "--concurrency=50", "--execute-number=2000", &format!("--test={test}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("Time to") && l.contains(" keys by "))?;
    let keys: f64 = line.split_whitespace().nth(3)?.parse().ok()?;
    let secs: f64 = line.split(':').nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some(keys / secs)
}

fn main() {
    let server = std::env::args()
        .skip(1)
        .find(|a| a.contains(':'))
        .unwrap_or_else(|| format!("127.0.0.1:{}", ports::port("MEMCACHED_PORT")));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let settings = Settings::from_vars([
            ("CACHE_PROVIDER", "memcached"),
            ("DB_PROVIDER", "sqlite"),
            ("MEMCACHED_SERVERS", server.as_str()),
            ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
        ])
        .unwrap();
        let pal = pal::factory::build_cache(&settings).await.unwrap();
        let raw = AsyncMetaClient::connect(server.clone()).await.unwrap();
        let value = Bytes::from(vec![b'x'; 256]);
        for i in 0..KEYS {
            pal_op(pal.clone(), Op::Set, 0, i, value.clone()).await;
        }
        println!("{TASKS} concurrent tasks, 256-byte values, {ROUNDS} alternating rounds of {ROUND:?}; median ops/s");
        for (name, op) in [("GET", Op::Get), ("SET", Op::Set)] {
            let (mut p, mut r) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let (c, v) = (pal.clone(), value.clone());
                p.push(common::round(move |t, i| pal_op(c.clone(), op, t, i, v.clone())).await);
                let (c, v) = (raw.clone(), value.clone());
                r.push(common::round(move |t, i| raw_op(c.clone(), op, t, i, v.clone())).await);
            }
            let (p, r) = (median(p), median(r));
            let slap = memcslap(&server, if matches!(op, Op::Get) { "get" } else { "set" });
            let slap_text = slap.map_or("memcslap not available".to_string(), |s| {
                format!("memcslap {s:>9.0}   pal/memcslap = {:.2}x", p / s)
            });
            println!("{name:4} pal {p:>9.0}   raw memcache client {r:>9.0}   pal/raw = {:.2}x   {slap_text}", p / r);
        }
    });
}
