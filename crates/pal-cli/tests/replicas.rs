//! Read replicas as an operator meets them, one short-lived `pal` process per step,
//! on the real replicated pairs (`scripts/services`: pg_replication,
//! mariadb_replication): a write's token read back through the replica path, and
//! the read path's refusals (`replicas/read_path.rs`). (The library's
//! `tests/replicas.rs` has the rest.)

#[path = "replicas/read_path.rs"]
mod read_path;
mod support;

use std::time::Duration;

use pal::db::ConsistencyToken;
use support::exclusive;
use support::replication::{Changed, MARIADB, Namespace, NoErrantWrites, POSTGRES, Pair, one_row};

/// What an operator does from a shell, one short-lived process per step: a write
/// prints its token; a read after it through the replica sees the write even
/// while the replica applies nothing; `pal check` lists the replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_reads_a_write_through_the_replica_path() {
    let _held = exclusive(POSTGRES.lock);
    let ns = Namespace::new(&POSTGRES).await;
    let db = ns.routed(&POSTGRES, &[]).await;
    pal_service::schema::migrate(db.as_ref(), true).await.unwrap();
    one_row(&db, &ns).await;
    let (primary, replica) = (ns.primary_url.clone(), ns.replica_url.clone());
    let vars = move |extra: &[(&'static str, &'static str)]| {
        let mut all = vec![
            ("CACHE_PROVIDER", "memory".to_string()),
            ("DB_PROVIDER", "postgresql".to_string()),
            ("DATABASE_URL", primary.clone()),
            ("DB_REPLICA_URL", replica.clone()),
        ];
        all.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        all
    };
    let run = |vars: Vec<(&'static str, String)>, args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let out = support::pal_command().envs(vars).args(args).output().unwrap();
            let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
            (out.status.code(), text(out.stdout), text(out.stderr))
        })
    };

    let paused = Changed::paused(&POSTGRES).await;
    let (code, out, err) = run(vars(&[]), &["db", "exec", "--token", "UPDATE kv SET v = 7 WHERE k = 1"]).await.unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], "1");
    let token = lines[1].to_string();
    assert!(token.starts_with("pg:") && err.contains(&format!("consistency token: {token}")), "{out}{err}");

    let any_lag = || vars(&[("DB_REPLICA_MAX_LAG_MS", "0")]);
    let sql = "SELECT v FROM kv WHERE k = 1";
    let (code, out, err) =
        run(any_lag(), &["db", "query", "--json", "--replica", "--after", &token, sql]).await.unwrap();
    assert_eq!((code, out.trim()), (Some(0), r#"{"v":7}"#), "{err}");
    let (code, out, err) = run(any_lag(), &["db", "query", "--json", "--replica", sql]).await.unwrap();
    assert_eq!(
        (code, out.trim()),
        (Some(0), r#"{"v":0}"#),
        "the paused replica served the read without a token: {err}"
    );
    let (code, out, err) =
        run(vars(&[]), &["db", "query", "--replica", "--after", "pg:nonsense", "SELECT 1"]).await.unwrap();
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("not a consistency token"), "{err}");

    drop(paused);
    let token: ConsistencyToken = token.parse().unwrap();
    assert!(ns.replica.replayed(&token, Duration::from_secs(30)).await.unwrap());
    let (code, out, err) = run(vars(&[]), &["check", "--json"]).await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let replicas = doc["replicas"].as_array().unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(replicas.len(), 1, "{doc}");
    assert_eq!(replicas[0]["name"], format!("127.0.0.1:{}", support::port("PG_REPLICA_PORT")), "{doc}");
    assert_eq!(replicas[0]["state"], "usable", "{doc}");
    assert!(replicas[0]["lag_ms"].is_u64(), "{doc}");
    assert_eq!(code, Some(0), "{doc}");
    ns.drop_it().await;
}
