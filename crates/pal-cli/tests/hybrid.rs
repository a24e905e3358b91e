//! `redis-hybrid` against real Redis and real PostgreSQL, as fresh `pal` processes
//! meet it: after a partition that kept Redis' data, a fresh process reads what
//! the instances wrote, never a stale or resurrected value. (The library's
//! `tests/hybrid.rs` has the other faults.)

mod support;

use std::collections::HashMap;
use std::time::Duration;

use pal::CacheServiceExt;
use support::hybrid::{COOLDOWN_MS, DRAIN_MS, migrated, run_id, ttl};
use support::proxy::{FaultProxy, Mode};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partition_never_leaves_stale_or_resurrected_data() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    migrated(&url).await;
    let redis_port = support::port("REDIS_PORT");
    let direct_url = format!("redis://127.0.0.1:{redis_port}");
    let proxy = FaultProxy::start(format!("127.0.0.1:{redis_port}").parse().unwrap()).await;
    let sealing = support::SEALING;
    let settings_for = |redis_url: &str| {
        pal::Settings::from_vars([
            ("CACHE_PROVIDER", "redis-hybrid"),
            ("REDIS_URL", redis_url),
            ("DB_PROVIDER", "postgresql"),
            ("DATABASE_URL", url.as_str()),
            ("REDIS_CONNECT_TIMEOUT_MS", "300"),
            ("REDIS_COMMAND_TIMEOUT_MS", "300"),
            ("CACHE_BREAKER_FAILURE_THRESHOLD", "3"),
            ("CACHE_BREAKER_COOLDOWN_MS", &COOLDOWN_MS.to_string()),
            ("CACHE_JOURNAL_DRAIN_INTERVAL_MS", &DRAIN_MS.to_string()),
            sealing[0],
            sealing[1],
        ])
        .unwrap()
    };
    // Instance A reaches Redis through the proxy; instance C never loses Redis.
    let a = pal::factory::build_cache(&settings_for(&proxy.url("redis"))).await.unwrap();
    let run = run_id();
    let ids: Vec<String> = (0..40).map(|i| format!("{run}:{i}")).collect();
    for id in &ids {
        a.set_session(id, &serde_json::json!({"v": "old"}), ttl(300)).await.unwrap();
    }

    proxy.set(Mode::Blackhole);
    let mut expected = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            a.set_session(id, &serde_json::json!({"v": "new"}), ttl(300)).await.unwrap();
            expected.insert(id.clone(), Some(serde_json::json!({"v": "new"})));
        } else {
            a.delete_session(id).await.unwrap();
            expected.insert(id.clone(), None);
        }
    }
    // Redis kept the old values through the partition; an instance that never lost
    // Redis sees them at most until its own periodic drain.
    let c = pal::factory::build_cache(&settings_for(&direct_url)).await.unwrap();
    let fresh_within = support::eventually(Duration::from_millis(DRAIN_MS * 4 + 2000), || async {
        let mut all = true;
        for (id, want) in &expected {
            all &= c.get_session::<serde_json::Value>(id).await.ok().as_ref() == Some(want);
        }
        all
    })
    .await
    .expect("an instance that never lost Redis converges after a drain");
    eprintln!("instance C served fresh data for every key after {fresh_within:?} (drain interval {DRAIN_MS} ms)");

    proxy.set(Mode::Pass);
    // A's breaker closes only after its probe drained the journal.
    support::eventually(Duration::from_secs(15), || async {
        a.get_session::<serde_json::Value>(&ids[0]).await.ok().flatten() == Some(serde_json::json!({"v": "new"}))
    })
    .await
    .expect("A serves again");
    let b = pal::factory::build_cache(&settings_for(&direct_url)).await.unwrap();
    for _ in 0..3 {
        for (id, want) in &expected {
            assert_eq!(&a.get_session::<serde_json::Value>(id).await.unwrap(), want, "A, {id}");
            assert_eq!(&b.get_session::<serde_json::Value>(id).await.unwrap(), want, "B, {id}");
        }
    }
    // A fresh process, through the CLI.
    for (id, want) in expected.iter().take(6) {
        let mut vars = vec![
            ("CACHE_PROVIDER", "redis-hybrid"),
            ("REDIS_URL", direct_url.as_str()),
            ("DB_PROVIDER", "postgresql"),
            ("DATABASE_URL", url.as_str()),
        ];
        vars.extend(support::SEALING);
        let out = support::pal_command().envs(vars).args(["cache", "get", &format!("session:{id}")]).output().unwrap();
        match want {
            Some(v) => assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(), *v, "{id}"),
            None => {
                assert_eq!(out.status.code(), Some(1), "{id} was deleted: {}", String::from_utf8_lossy(&out.stdout))
            }
        }
    }
    teardown.await;
}
