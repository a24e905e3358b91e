//! Throughput of the Redis adapter against its peers, measured in one run on the
//! same server: GET and SET of 256-byte values from 50 concurrent tasks through
//! (a) pal, (b) a raw redis-rs multiplexed connection (and four of them, to show
//! why pal uses one), and (c) `redis-benchmark -c 50 -d 256 -t get,set`.
//! Rounds alternate between pal and raw redis-rs so machine noise hits both.
//!
//! `cargo bench -p pal --bench redis [-- redis://host:port]` (by default the tests' Redis, REDIS_PORT in
//! scripts/ports.env)

mod common;
use pal_test_support::ports;

use std::sync::Arc;

use bytes::Bytes;
use common::{ROUND, ROUNDS, Session, TASKS, median, session};
use pal::{CacheService, CacheServiceExt, Settings, Ttl};
use redis::aio::MultiplexedConnection;

const KEYS: usize = 10_000;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Get,
    Set,
    Session,
}

#[derive(Clone)]
enum Client {
    Pal(Arc<dyn CacheService>),
    Raw(Vec<MultiplexedConnection>),
}

async fn one(client: &Client, op: Op, task: usize, i: usize, value: &Bytes) {
    let key = common::key("bench:", task, i, KEYS);
    let ttl = Ttl::from_secs(300).unwrap();
    match client {
        Client::Pal(c) => match op {
            Op::Get => drop(c.get(&key).await.unwrap()),
            Op::Set => c.set(&key, value.clone(), ttl).await.unwrap(),
            Op::Session => {
                c.set_session(&key, &session(), ttl).await.unwrap();
                let _: Option<Session> = c.get_session(&key).await.unwrap();
            }
        },
        Client::Raw(conns) => {
            let mut conn = conns[task % conns.len()].clone();
            match op {
                Op::Get => drop(redis::cmd("GET").arg(&key).query_async::<Option<Vec<u8>>>(&mut conn).await.unwrap()),
                Op::Set => redis::cmd("SET")
                    .arg(&key)
                    .arg(&value[..])
                    .arg("PX")
                    .arg(300_000)
                    .query_async::<()>(&mut conn)
                    .await
                    .unwrap(),
                Op::Session => {
                    let skey = format!("session:{key}");
                    let json = serde_json::to_vec(&session()).unwrap();
                    redis::cmd("SET")
                        .arg(&skey)
                        .arg(json)
                        .arg("PX")
                        .arg(300_000)
                        .query_async::<()>(&mut conn)
                        .await
                        .unwrap();
                    let got: Vec<u8> = redis::cmd("GET").arg(&skey).query_async(&mut conn).await.unwrap();
                    let _: Session = serde_json::from_slice(&got).unwrap();
                }
            }
        }
    }
}

fn redis_benchmark(port: u16) -> Option<(f64, f64)> {
    let out = std::process::Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-c",
            "50",
            "-d",
            "256",
            "-t",
            "get,set",
            "-n",
            "200000",
            "--csv",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("\"{name}\"")))
            .and_then(|l| l.split(',').nth(1))
            .and_then(|v| v.trim_matches('"').parse::<f64>().ok())
    };
    Some((rps("GET")?, rps("SET")?))
}

fn main() {
    let url = std::env::args().skip(1).find(|a| a.starts_with("redis://")).unwrap_or_else(ports::redis_url);
    let port: u16 = url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or(6379);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let settings =
            Settings::from_vars([("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite"), ("REDIS_URL", url.as_str()), ("CACHE_INSECURE_NO_ENCRYPTION", "true")]).unwrap();
        let pal = Client::Pal(pal::factory::build_cache(&settings).await.unwrap());
        let raw_client = redis::Client::open(url.as_str()).unwrap();
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(raw_client.get_multiplexed_async_connection().await.unwrap());
        }
        let raw = Client::Raw(conns[..1].to_vec());
        let raw4 = Client::Raw(conns);
        let value = Bytes::from(vec![b'x'; 256]);
        // Fill the key space so GETs hit.
        for i in 0..KEYS {
            one(&pal, Op::Set, 0, i, &value).await;
        }

        println!("{TASKS} concurrent tasks, 256-byte values, {ROUNDS} alternating rounds of {ROUND:?}; median ops/s");
        let mut results = Vec::new();
        for (name, op) in [("GET", Op::Get), ("SET", Op::Set), ("session set+get", Op::Session)] {
            let clients = [&pal, &raw, &raw4];
            let mut rates: [Vec<f64>; 3] = Default::default();
            for round in 0..ROUNDS {
                // Each round starts with a different contestant, so none always goes first.
                for k in 0..clients.len() {
                    let which = (round + k) % clients.len();
                    let (client, value) = (clients[which].clone(), value.clone());
                    let rate = common::round(move |t, i| {
                        let (c, v) = (client.clone(), value.clone());
                        async move { one(&c, op, t, i, &v).await }
                    })
                    .await;
                    rates[which].push(rate);
                }
            }
            let [p, r, r4] = rates.map(median);
            println!("{name:16} pal {p:>10.0}   raw redis-rs {r:>10.0}   raw redis-rs x4 conns {r4:>10.0}   pal/raw = {:.2}x", p / r);
            results.push((op, p));
        }
        match redis_benchmark(port) {
            Some((get, set)) => {
                println!("redis-benchmark  GET {get:>10.0}   SET {set:>10.0}   (-c 50 -d 256, not pipelined)");
                for (op, p) in results {
                    match op {
                        Op::Get => println!("GET: pal / redis-benchmark = {:.2}x", p / get),
                        Op::Set => println!("SET: pal / redis-benchmark = {:.2}x", p / set),
                        Op::Session => {}
                    }
                }
            }
            None => println!("redis-benchmark not available: install redis-tools to compare"),
        }
    });
}
