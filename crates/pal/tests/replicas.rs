//! Read replicas through `DB_REPLICA_URL`, on real replicated pairs
//! (`scripts/services`: pg_replication, a streaming replica made with
//! pg_basebackup; mariadb_replication, GTID replication): read-your-writes by
//! position while the replica applies nothing, a replica killed under load, a
//! replica that lags, and the database suite with every read on the replica path.

#[macro_use]
mod suite;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pal::db::{ConsistencyToken, Dialect, PoolUsage, ReplicaState, ReplicaStatus, Transaction};
use pal::tls::Transport;
use pal::{DatabaseService, Result, Row, Value};
use suite::db::DbSubject;
use suite::servers::{self, database, exclusive};
use support::eventually;
use support::replication::{Changed, MARIADB, Namespace, NoErrantWrites, POSTGRES, Pair, one_row};

async fn replica_reads(db: &Arc<dyn DatabaseService>) -> u64 {
    db.replicas().await.iter().map(|r| r.reads).sum()
}

async fn read_v(db: &Arc<dyn DatabaseService>, after: Option<&ConsistencyToken>) -> i64 {
    let rows = db.read("SELECT v FROM kv WHERE k = 1", &[], after).await.unwrap();
    rows[0].get::<i64>("v").unwrap()
}

/// Replication stopped on the replica: a read presenting the token of the write
/// before it never returns the old value (1 000 writes, each read at once); reads
/// without a token are the replica's, old values and all; replication resumed,
/// tokened reads return to the replica.
async fn tokens_give_read_your_writes_while_the_replica_applies_nothing(pair: &'static Pair) {
    let _held = exclusive(pair.lock);
    let ns = Namespace::new(pair).await;
    let db = ns
        .routed(
            pair,
            &[("DB_REPLICA_MAX_LAG_MS", "0"), ("DB_REPLICA_WAIT_MS", "0"), ("DB_REPLICA_CHECK_INTERVAL_MS", "100")],
        )
        .await;
    let first = one_row(&db, &ns).await;
    let before = replica_reads(&db).await;
    assert_eq!(read_v(&db, Some(&first)).await, 0);
    assert_eq!(replica_reads(&db).await, before + 1, "a caught-up replica serves tokened reads");

    let paused = Changed::paused(pair).await;
    let before = replica_reads(&db).await;
    let mut last = first;
    for i in 1..=1000_i64 {
        db.execute("UPDATE kv SET v = $1 WHERE k = 1", &[i.into()]).await.unwrap();
        last = db.write_position().await.unwrap().unwrap();
        assert_eq!(read_v(&db, Some(&last)).await, i, "read {i} with its write's token returned an older value");
    }
    assert_eq!(replica_reads(&db).await, before, "the stopped replica served none of the tokened reads");
    for _ in 0..20 {
        assert_eq!(read_v(&db, None).await, 0, "reads without a token are the replica's");
    }
    assert_eq!(replica_reads(&db).await, before + 20);

    drop(paused);
    let before = replica_reads(&db).await;
    let back = eventually(Duration::from_secs(30), || async {
        read_v(&db, Some(&last)).await == 1000 && replica_reads(&db).await > before
    })
    .await;
    assert!(back.is_some(), "tokened reads did not return to the resumed replica");
    ns.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_tokens_give_read_your_writes_while_replay_is_paused() {
    tokens_give_read_your_writes_while_the_replica_applies_nothing(&POSTGRES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_tokens_give_read_your_writes_while_the_sql_thread_is_stopped() {
    tokens_give_read_your_writes_while_the_replica_applies_nothing(&MARIADB).await;
}

/// The replica stopped under read load: no caller sees an error, the primary
/// serves; started again, it gets reads within two check intervals.
async fn a_replica_killed_under_load_costs_readers_nothing(pair: &'static Pair) {
    const INTERVAL: Duration = Duration::from_millis(500);
    let _held = exclusive(pair.lock);
    let ns = Namespace::new(pair).await;
    let db = ns.routed(pair, &[("DB_REPLICA_CHECK_INTERVAL_MS", "500"), ("DB_POOL_ACQUIRE_TIMEOUT_MS", "2000")]).await;
    one_row(&db, &ns).await;
    assert!(
        eventually(Duration::from_secs(10), || async { db.replicas().await[0].state == ReplicaState::Usable })
            .await
            .is_some()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (db, stop, served, failed) = (db.clone(), stop.clone(), served.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match db.read("SELECT v FROM kv WHERE k = 1", &[], None).await {
                        Ok(rows) if rows.len() == 1 => served.fetch_add(1, Ordering::Relaxed),
                        other => {
                            eprintln!("read failed: {other:?}");
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restart = servers::Restart(pair.replica_service);
    tokio::task::spawn_blocking(move || servers::services("stop", pair.replica_service)).await.unwrap();
    let during = replica_reads(&db).await;
    let served_before = served.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(served.load(Ordering::Relaxed) > served_before + 50, "the primary served the reads");
    assert_eq!(replica_reads(&db).await, during, "nothing was served by the stopped replica");
    assert_eq!(db.replicas().await[0].state, ReplicaState::Down);

    tokio::task::spawn_blocking(move || drop(restart)).await.unwrap();
    // Back means replicating again, by the replica's own account: a write made
    // now, replayed there. A standby that accepts connections before it has
    // reconnected to its primary is rightly skipped, for as long as that takes
    // on a loaded machine; the bound below is about noticing, not that.
    db.execute("UPDATE kv SET v = v + 1 WHERE k = 1", &[]).await.unwrap();
    let token = db.write_position().await.unwrap().unwrap();
    let replaying = eventually(Duration::from_secs(30), || async {
        ns.replica.replayed(&token, Duration::from_millis(200)).await.unwrap_or(false)
    })
    .await;
    assert!(replaying.is_some(), "the restarted replica never replayed a write");
    let started = Instant::now();
    let before = replica_reads(&db).await;
    let back = eventually(Duration::from_secs(20), || async { replica_reads(&db).await > before }).await;
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "callers saw errors while the replica was down");
    assert!(back.is_some(), "the replica got no reads after it came back");
    let took = started.elapsed();
    eprintln!(
        "{}: {} reads served, 0 failed; replica used again {took:?} after it answered",
        pair.provider,
        served.load(Ordering::Relaxed)
    );
    assert!(took < 2 * INTERVAL, "the replica was used again {took:?} after it answered; the interval is {INTERVAL:?}");
    ns.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replica_killed_under_load_costs_readers_nothing() {
    a_replica_killed_under_load_costs_readers_nothing(&POSTGRES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_replica_killed_under_load_costs_readers_nothing() {
    a_replica_killed_under_load_costs_readers_nothing(&MARIADB).await;
}

/// This checkout's server on the port named `port` and its child processes (a
/// PostgreSQL postmaster's backends and its WAL receiver), so that all of it can be frozen.
fn server_processes(port: &str) -> Vec<u32> {
    let pid = support::pid_of(&support::port(port));
    let children = std::process::Command::new("pgrep").args(["-P", &pid.to_string()]).output().unwrap();
    let mut pids = vec![pid];
    pids.extend(String::from_utf8_lossy(&children.stdout).lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    pids
}

/// The replica frozen (SIGSTOP) under read load: reads waiting on it go to the
/// primary once a check finds it down, not at their statement timeout; none
/// fails; thawed, it gets reads again.
async fn a_hung_replica_holds_no_read_for_long(pair: &'static Pair) {
    let _held = exclusive(pair.lock);
    let ns = Namespace::new(pair).await;
    let db = ns.routed(pair, &[("DB_REPLICA_CHECK_INTERVAL_MS", "500")]).await;
    let token = one_row(&db, &ns).await;
    assert!(
        eventually(Duration::from_secs(10), || async { db.replicas().await[0].state == ReplicaState::Usable })
            .await
            .is_some()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let (failed, slowest_ms) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // Half the readers present a token, so the wait for a position is frozen too.
    let readers: Vec<_> = (0..4)
        .map(|i| {
            let (db, stop, failed, slowest_ms) = (db.clone(), stop.clone(), failed.clone(), slowest_ms.clone());
            let after = (i % 2 == 0).then(|| token.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    if let Err(e) = db.read("SELECT v FROM kv WHERE k = 1", &[], after.as_ref()).await {
                        eprintln!("read failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    slowest_ms.fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let frozen: Vec<support::Continue> = server_processes(pair.replica_port)
        .into_iter()
        .map(|pid| {
            support::signal(pid, "STOP");
            support::Continue(pid)
        })
        .collect();
    let down =
        eventually(Duration::from_secs(10), || async { db.replicas().await[0].state == ReplicaState::Down }).await;
    assert!(down.is_some(), "the frozen replica was not found down: {:?}", db.replicas().await);
    // Frozen well beyond the check's bound, so a read that waited for the thaw shows.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(frozen);
    let before = replica_reads(&db).await;
    let back = eventually(Duration::from_secs(20), || async { replica_reads(&db).await > before }).await;
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    let slowest = Duration::from_millis(slowest_ms.load(Ordering::Relaxed));
    eprintln!("{}: found down {down:?} after the freeze; slowest read {slowest:?}", pair.provider);
    assert_eq!(failed.load(Ordering::Relaxed), 0, "callers saw errors while the replica was frozen");
    assert!(back.is_some(), "the thawed replica got no reads");
    assert!(slowest < Duration::from_millis(2500), "a read waited {slowest:?} on the frozen replica");
    ns.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_hung_replica_holds_no_read_for_long() {
    a_hung_replica_holds_no_read_for_long(&POSTGRES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_hung_replica_holds_no_read_for_long() {
    a_hung_replica_holds_no_read_for_long(&MARIADB).await;
}

/// Beyond `DB_REPLICA_MAX_LAG_MS` the replica gets no reads; caught up, it does again.
async fn a_lagging_replica_is_skipped_until_it_catches_up(pair: &'static Pair) {
    let _held = exclusive(pair.lock);
    let ns = Namespace::new(pair).await;
    let db = ns.routed(pair, &[("DB_REPLICA_MAX_LAG_MS", "1500"), ("DB_REPLICA_CHECK_INTERVAL_MS", "100")]).await;
    one_row(&db, &ns).await;
    assert!(
        eventually(Duration::from_secs(10), || async { db.replicas().await[0].state == ReplicaState::Usable })
            .await
            .is_some()
    );

    let delayed = Changed::new(pair, pair.delay, pair.undelay).await;
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (db, writing) = (db.clone(), writing.clone());
        tokio::spawn(async move {
            let mut i = 0_i64;
            while writing.load(Ordering::Relaxed) {
                i += 1;
                db.execute("UPDATE kv SET v = $1 WHERE k = 1", &[i.into()]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    // Setting the delay stops the replica's applier for a moment, and a check in
    // that moment skips it as applying nothing: wait for the skip this case is about.
    let lagging = eventually(Duration::from_secs(15), || async {
        matches!(db.replicas().await.as_slice(), [r] if r.state == ReplicaState::Lagging
            && r.error.as_deref().unwrap_or("").contains("DB_REPLICA_MAX_LAG_MS=1500"))
    })
    .await;
    assert!(lagging.is_some(), "the replica was not skipped: {:?}", db.replicas().await);
    let status = &db.replicas().await[0];
    assert!(status.error.as_deref().unwrap_or("").contains("DB_REPLICA_MAX_LAG_MS=1500"), "{status:?}");
    let before = replica_reads(&db).await;
    for _ in 0..20 {
        read_v(&db, None).await;
    }
    assert_eq!(replica_reads(&db).await, before, "the lagging replica served reads");

    drop(delayed);
    let usable =
        eventually(Duration::from_secs(15), || async { db.replicas().await[0].state == ReplicaState::Usable }).await;
    assert!(usable.is_some(), "the replica was not used again after catching up: {:?}", db.replicas().await);
    let before = replica_reads(&db).await;
    read_v(&db, None).await;
    assert_eq!(replica_reads(&db).await, before + 1);
    writing.store(false, Ordering::Relaxed);
    writer.await.unwrap();
    ns.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_lagging_replica_is_skipped_until_it_catches_up() {
    a_lagging_replica_is_skipped_until_it_catches_up(&POSTGRES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_lagging_replica_is_skipped_until_it_catches_up() {
    a_lagging_replica_is_skipped_until_it_catches_up(&MARIADB).await;
}

/// A token from elsewhere is refused as input; a replica URL that names the
/// primary is reported, not read from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_tokens_are_refused_and_a_primary_is_no_replica() {
    let ns = Namespace::new(&POSTGRES).await;
    let db = ns.routed(&POSTGRES, &[]).await;
    let gtid: ConsistencyToken = "gtid:0-1-5".parse().unwrap();
    let err = db.read("SELECT 1", &[], Some(&gtid)).await.unwrap_err();
    assert_eq!(err.kind(), pal::ErrorKind::InvalidInput, "{err}");

    let wrong = database(POSTGRES.provider, &ns.primary_url, &[("DB_REPLICA_URL", &ns.primary_url)]).await;
    let status = wrong.replicas().await;
    assert_eq!(status[0].state, ReplicaState::Down);
    assert!(status[0].error.as_deref().unwrap_or("").contains("not a replica"), "{status:?}");
    assert_eq!(wrong.read("SELECT 1 AS one", &[], None).await.unwrap()[0].get::<i64>("one").unwrap(), 1);
    ns.drop_it().await;
}

/// The database suite with every query sent down the read path, with the token
/// of the primary's position just before, so each case reads its own writes
/// through the replica. It counts the reads it sends, so the subject's teardown
/// can check that the replica served every one: a read left to the primary after
/// the token wait would pass the case unnoticed otherwise.
struct ReadsOnReplica {
    inner: Arc<dyn DatabaseService>,
    sent: Arc<AtomicU64>,
}

impl ReadsOnReplica {
    async fn token(&self) -> Result<Option<ConsistencyToken>> {
        self.inner.write_position().await
    }

    /// Counts a read that answered: a read refused on purpose (bad SQL, a callback
    /// that stops it) is served by nobody.
    fn answered<T>(&self, outcome: Result<T>) -> Result<T> {
        if outcome.is_ok() {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }
}

#[async_trait]
impl DatabaseService for ReadsOnReplica {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    fn grammar(&self) -> &'static dyn pal::db::grammar::Grammar {
        self.inner.grammar()
    }
    fn target(&self) -> pal::db::DbTarget {
        self.inner.target()
    }
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let token = self.token().await?;
        self.answered(self.inner.read(sql, params, token.as_ref()).await)
    }
    async fn query_each(
        &self,
        sql: &str,
        params: &[Value],
        each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        let token = self.token().await?;
        self.answered(self.inner.read_each(sql, params, token.as_ref(), each).await)
    }
    async fn read(&self, sql: &str, params: &[Value], after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        self.answered(self.inner.read(sql, params, after).await)
    }
    async fn read_each(
        &self,
        sql: &str,
        params: &[Value],
        after: Option<&ConsistencyToken>,
        each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        self.answered(self.inner.read_each(sql, params, after, each).await)
    }
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.inner.execute(sql, params).await
    }
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        self.inner.begin().await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn transport(&self) -> Result<Transport> {
        self.inner.transport().await
    }
    async fn migrate(&self, tables: &[pal::db::migrate::Tables]) -> Result<Vec<String>> {
        self.inner.migrate(tables).await
    }
    async fn replicas(&self) -> Vec<ReplicaStatus> {
        self.inner.replicas().await
    }
    fn transaction_retries(&self) -> u32 {
        self.inner.transaction_retries()
    }
    fn pool_usage(&self) -> Option<PoolUsage> {
        self.inner.pool_usage()
    }
    fn ddl(&self) -> pal::db::migrate::Ddl {
        self.inner.ddl()
    }
}

async fn replicated_subject(pair: &'static Pair) -> DbSubject {
    let ns = Namespace::new(pair).await;
    let routed = ns.routed(pair, &[("DB_REPLICA_WAIT_MS", "2000")]).await;
    routed.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let db: Arc<dyn DatabaseService> = Arc::new(ReadsOnReplica { inner: routed.clone(), sent: sent.clone() });
    let guard: Option<Box<dyn std::any::Any + Send>> = match pair.provider {
        "mysql" => Some(Box::new(NoErrantWrites(pair))),
        _ => None,
    };
    let teardown = async move {
        let (sent, served) = (sent.load(Ordering::Relaxed), replica_reads(&routed).await);
        ns.drop_it().await;
        assert_eq!(served, sent, "{}: the replica served {served} of the {sent} reads that answered", pair.provider);
    };
    DbSubject { db, guard, teardown: Some(Box::pin(teardown)) }
}

mod postgres_through_replica {
    use super::*;

    async fn subject() -> DbSubject {
        replicated_subject(&POSTGRES).await
    }

    db_conformance!(subject);
}

mod mariadb_through_replica {
    use super::*;

    async fn subject() -> DbSubject {
        replicated_subject(&MARIADB).await
    }

    db_conformance!(subject);
}

/// The suite's reads really reach the replica (the routing counter shows them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_reads_on_the_replica() {
    for pair in [&POSTGRES, &MARIADB] {
        let subject = replicated_subject(pair).await;
        suite::db::aggregates_and_text_parameters(&subject).await;
        let reads = replica_reads(&subject.db).await;
        assert!(reads > 0, "{}: no read reached the replica", pair.provider);
        subject.finish().await;
    }
}

/// Two replicas, one of them gone: every read goes to the one that answers,
/// none fails, and the dead one is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_round_the_usable_replicas_only() {
    let ns = Namespace::new(&POSTGRES).await;
    let dead = format!("postgres://postgres@127.0.0.1:{}/postgres", support::free_port());
    let replicas = format!("{},{dead}", ns.replica_url);
    let db = database(POSTGRES.provider, &ns.primary_url, &[("DB_REPLICA_URL", &replicas)]).await;
    one_row(&db, &ns).await;
    for _ in 0..20 {
        assert_eq!(read_v(&db, None).await, 0);
    }
    let status = db.replicas().await;
    assert_eq!(status.len(), 2);
    assert_eq!((status[0].state, status[0].reads), (ReplicaState::Usable, 20), "{status:?}");
    assert_eq!((status[1].state, status[1].reads), (ReplicaState::Down, 0), "{status:?}");
    ns.drop_it().await;
}
