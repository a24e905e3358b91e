//! The read path as an operator meets it, one `pal db query --replica` per step,
//! with the primary behind a proxy that counts connections: SQL that writes fails
//! on the replica and never reaches the primary (nor writes on a MariaDB replica
//! whose root user could); a statement that times out on the replica is not run
//! again on the primary.

use std::time::{Duration, Instant};

use support::proxy::FaultProxy;

use super::*;

/// What the operator ran: on a replica it fails, and on the primary it would run.
const OPERATOR_SQL: &str =
    "select txid_current() is not null as wrote_xid, inet_server_port() as port, pg_is_in_recovery() as on_replica";

/// The namespace's primary behind a proxy that counts connections, and its URL through it.
async fn counted_primary(pair: &Pair, ns: &Namespace) -> (FaultProxy, String) {
    let primary = (pair.primary)();
    let host = primary.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap();
    let proxy = FaultProxy::start(host.parse().unwrap()).await;
    let url = ns.primary_url.replace(host, &proxy.addr.to_string());
    (proxy, url)
}

/// `pal db query --replica SQL`, as a fresh process: exit code, stdout, stderr, time taken.
async fn read_on_replica(
    pair: &Pair,
    primary_url: &str,
    ns: &Namespace,
    extra: &[(&'static str, &'static str)],
    sql: &str,
) -> (Option<i32>, String, String, Duration) {
    let mut vars = vec![
        ("CACHE_PROVIDER", "memory".to_string()),
        ("DB_PROVIDER", pair.provider.to_string()),
        ("DATABASE_URL", primary_url.to_string()),
        ("DB_REPLICA_URL", ns.replica_url.clone()),
        ("DB_AUTO_MIGRATE", "false".to_string()),
        // Usable whatever its lag, so the replica serves every read here.
        ("DB_REPLICA_MAX_LAG_MS", "0".to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let sql = sql.to_string();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let out = support::pal_command().envs(vars).args(["db", "query", "--replica", &sql]).output().unwrap();
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        (out.status.code(), text(out.stdout), text(out.stderr), started.elapsed())
    })
    .await
    .unwrap()
}

/// The operator's statement (it takes a transaction id) and a temporary table:
/// both fail on the replica with a read-only error, exit 3, and the primary is
/// never reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_on_the_read_path_fails_on_the_replica_and_never_reaches_the_primary() {
    let ns = Namespace::new(&POSTGRES).await;
    let (proxy, primary) = counted_primary(&POSTGRES, &ns).await;
    for sql in [OPERATOR_SQL, "create temp table x(a int)"] {
        let (code, out, err, _) = read_on_replica(&POSTGRES, &primary, &ns, &[], sql).await;
        assert_eq!(code, Some(3), "{sql}: {out}{err}");
        assert!(err.contains("read-only") && err.contains("(SQLSTATE 25006)"), "{sql}: {err}");
        assert_eq!(proxy.connections(), 0, "{sql}: the primary was reached: {out}{err}");
    }
    ns.drop_it().await;
}

/// The replica's root user may write despite `read_only=1`: on the read path it
/// may not, and nothing reaches the primary either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_a_write_on_the_read_path_fails_on_the_replica_and_never_reaches_the_primary() {
    let _replica = NoErrantWrites(&MARIADB);
    let ns = Namespace::new(&MARIADB).await;
    let db = ns.routed(&MARIADB, &[]).await;
    one_row(&db, &ns).await;
    let (proxy, primary) = counted_primary(&MARIADB, &ns).await;
    for sql in ["INSERT INTO kv (k, v) VALUES (2, 2)", "CREATE TEMPORARY TABLE x (a INT)", "DROP TABLE kv"] {
        let (code, out, err, _) = read_on_replica(&MARIADB, &primary, &ns, &[], sql).await;
        assert_eq!(code, Some(3), "{sql}: {out}{err}");
        assert!(err.contains("read-only") && err.contains("READ ONLY"), "{sql}: {err}");
        assert_eq!(proxy.connections(), 0, "{sql}: the primary was reached: {out}{err}");
    }
    let rows = ns.replica.query("SELECT COUNT(*) AS n FROM kv", &[]).await.unwrap();
    assert_eq!(rows[0].get::<i64>("n").unwrap(), 1, "nothing was written on the replica");
    ns.drop_it().await;
}

/// A statement cancelled by the replica's statement timeout is an error that
/// says it was not run again on the primary, which is never reached; on the
/// primary the same statement would answer at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_statement_timed_out_on_the_replica_does_not_run_again_on_the_primary() {
    let ns = Namespace::new(&POSTGRES).await;
    let (proxy, primary) = counted_primary(&POSTGRES, &ns).await;
    let sql = "SELECT CASE WHEN pg_is_in_recovery() THEN pg_sleep(5) END AS slept, inet_server_port() AS port";
    let limit = [("DB_STATEMENT_TIMEOUT_MS", "500")];
    let (code, out, err, took) = read_on_replica(&POSTGRES, &primary, &ns, &limit, sql).await;
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(err.contains("statement timeout") && err.contains("not run again on the primary"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{}", support::port(POSTGRES.replica_port))), "names the replica: {err}");
    assert_eq!(proxy.connections(), 0, "the primary was reached: {out}{err}");
    assert!(took < Duration::from_secs(4), "took {took:?}: the sleep ran to its end");
    ns.drop_it().await;
}
