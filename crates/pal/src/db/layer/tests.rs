//! Every method of [`DatabaseService`] reaches the primary through every layer,
//! and through the stack the factory builds, unless a layer answers it on purpose.

use crate::db::postgres::GRAMMAR;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::recorder::{Call, Recorder, Seen};
use crate::db::{ConsistencyToken, DatabaseService, DbSettings, PositionKind, Row};
use crate::error::Result;
use crate::settings::Settings;

const SQL: &str = "SELECT 1";

/// Makes `call`, running [`SQL`] wherever it runs some. Answers do not matter
/// here, only which calls reach the database; no wildcard, so a new [`Call`] is
/// made too.
async fn invoke(db: &dyn DatabaseService, call: Call) {
    let token = ConsistencyToken::new(PositionKind::WalLsn, "0/1").unwrap();
    let mut each = |_row: Row| Ok(());
    match call {
        Call::Provider => {
            db.provider();
        }
        Call::Dialect => {
            db.dialect();
        }
        Call::Grammar => {
            db.grammar();
        }
        Call::Target => {
            db.target();
        }
        Call::ServerIdentity => {
            let _ = db.server_identity().await;
        }
        Call::Query => {
            let _ = db.query(SQL, &[]).await;
        }
        Call::QueryEach => {
            let _ = db.query_each(SQL, &[], &mut each).await;
        }
        Call::Read => {
            let _ = db.read(SQL, &[], Some(&token)).await;
        }
        Call::ReadEach => {
            let _ = db.read_each(SQL, &[], Some(&token), &mut each).await;
        }
        Call::WritePosition => {
            let _ = db.write_position().await;
        }
        Call::ReplicaLag => {
            let _ = db.replica_lag().await;
        }
        Call::Replayed => {
            let _ = db.replayed(&token, Duration::ZERO).await;
        }
        Call::Replicas => {
            db.replicas().await;
        }
        Call::Execute => {
            let _ = db.execute(SQL, &[]).await;
        }
        Call::Begin => {
            let _ = db.begin().await;
        }
        Call::Ping => {
            let _ = db.ping().await;
        }
        Call::Transport => {
            let _ = db.transport().await;
        }
        Call::Migrate => {
            let _ = db.migrate(crate::db::migrate::Tables::ALL).await;
        }
        Call::TransactionRetries => {
            db.transaction_retries();
        }
        Call::PoolUsage => {
            db.pool_usage();
        }
        Call::DriverPool => {
            db.driver_pool();
        }
        Call::Ddl => {
            db.ddl();
        }
    }
}

/// Whether `call`, as [`invoke`] makes it, runs [`SQL`].
fn runs_sql(call: Call) -> bool {
    match call {
        Call::Query | Call::QueryEach | Call::Read | Call::ReadEach | Call::Execute => true,
        Call::Provider
        | Call::Dialect
        | Call::Grammar
        | Call::Target
        | Call::ServerIdentity
        | Call::WritePosition
        | Call::ReplicaLag
        | Call::Replayed
        | Call::Replicas
        | Call::Begin
        | Call::Ping
        | Call::Transport
        | Call::Migrate
        | Call::TransactionRetries
        | Call::PoolUsage
        | Call::DriverPool
        | Call::Ddl => false,
    }
}

fn expected(call: Call) -> Seen {
    (call, runs_sql(call).then(|| SQL.to_string()))
}

/// Each call that did not reach `recorder` beneath `db`, but for those in
/// `answered`, which a layer answers itself and must not pass on.
async fn misrouted(name: &str, db: &dyn DatabaseService, recorder: &Recorder, answered: &[Call]) -> Vec<String> {
    let mut wrong = Vec::new();
    for &call in Call::ALL {
        // What building the stack, the replicas' checks and the previous call
        // asked is not this call's.
        recorder.take();
        invoke(db, call).await;
        let seen = recorder.take();
        let arrived = seen.contains(&expected(call));
        match answered.contains(&call) {
            true if arrived => wrong.push(format!("{name}: {call:?} reached the database, though a layer answers it")),
            false if !arrived => wrong.push(format!("{name}: {call:?} did not reach the database; it saw {seen:?}")),
            _ => {}
        }
    }
    wrong
}

/// The replicas `connect` opened, by URL.
static REPLICAS: Mutex<Vec<(String, Arc<Recorder>)>> = Mutex::new(Vec::new());

/// Opens a replica as a recorder: a caught-up replica when its database is named
/// `up`, else a server that is no replica, which its check finds down.
fn connect(settings: &DbSettings) -> Result<Arc<dyn DatabaseService>> {
    let url = settings.url.expose().to_string();
    let recorder = Arc::new(if url.ends_with("/up") { Recorder::replica(GRAMMAR) } else { Recorder::primary(GRAMMAR) });
    REPLICAS.lock().unwrap().push((url, recorder.clone()));
    Ok(recorder)
}

fn replica(url: &str) -> Arc<Recorder> {
    let replicas = REPLICAS.lock().unwrap();
    replicas.iter().find(|(u, _)| u == url).map(|(_, recorder)| recorder.clone()).expect("the replica was opened")
}

fn settings(replica: &str, metrics: bool) -> Settings {
    Settings::from_vars([
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", "postgres://pal@127.0.0.1:1/pal"),
        ("DB_REPLICA_URL", replica),
        ("METRICS_ENABLED", if metrics { "true" } else { "false" }),
    ])
    .unwrap()
}

#[tokio::test]
async fn every_call_reaches_the_database_through_the_metrics_layer() {
    let recorder = Arc::new(Recorder::primary(GRAMMAR));
    let db = crate::db::instrumented(recorder.clone());
    let wrong = misrouted("metrics", db.as_ref(), &recorder, &[]).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// With no replica usable, every read goes to the primary too. The router
/// answers `replicas` itself: they are its own.
#[tokio::test]
async fn every_call_reaches_the_primary_through_the_replica_router() {
    let settings = settings("postgres://pal@127.0.0.1:2/router_down", false);
    let primary = Arc::new(Recorder::primary(GRAMMAR));
    let db = crate::db::with_replicas(settings.db_settings().unwrap(), connect, primary.clone()).unwrap();
    let wrong = misrouted("replica router", db.as_ref(), &primary, &[Call::Replicas]).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(db.replicas().await.len(), 1, "the router names its replica");
}

/// With a replica usable, reads go to it, asked first whether it has replayed
/// the read's token; nothing else does.
#[tokio::test]
async fn reads_reach_a_usable_replica_and_nothing_else_does() {
    let url = "postgres://pal@127.0.0.1:3/up";
    let settings = settings(url, false);
    let primary = Arc::new(Recorder::primary(GRAMMAR));
    let db = crate::db::with_replicas(settings.db_settings().unwrap(), connect, primary.clone()).unwrap();
    let replica = replica(url);
    // Reads wait for the first check, which finds it usable.
    db.replicas().await;
    let reads = [Call::Read, Call::ReadEach];
    for call in reads {
        replica.take();
        invoke(db.as_ref(), call).await;
        let seen = replica.take();
        assert!(seen.contains(&expected(call)) && seen.contains(&expected(Call::Replayed)), "{call:?}: {seen:?}");
        assert!(!primary.take().contains(&expected(call)), "{call:?} also reached the primary");
    }
    let answered = [&reads[..], &[Call::Replicas]].concat();
    let wrong = misrouted("replica router", db.as_ref(), &primary, &answered).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The replica router and metrics, as `build_database` stacks them.
#[tokio::test]
async fn every_call_reaches_the_primary_through_the_stack_the_factory_builds() {
    let settings = settings("postgres://pal@127.0.0.1:4/stack_down", true);
    let primary = Arc::new(Recorder::primary(GRAMMAR));
    let db = crate::factory::layer_database(&settings, primary.clone(), connect).unwrap();
    let wrong = misrouted("factory stack", db.as_ref(), &primary, &[Call::Replicas]).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
