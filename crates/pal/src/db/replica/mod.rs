//! Read/write splitting, as a layer over the primary: [`read`](DatabaseService::read)
//! goes to a usable replica (round-robin), everything else to the primary. Which
//! call reads is the caller's word, never guessed from SQL text.
//!
//! A replica is usable when its last check found it answering and within
//! `DB_REPLICA_MAX_LAG_MS`. A read that presents a consistency token is served
//! by a replica only once that replica has replayed the token's position. When
//! no replica can serve a read, or the chosen one could not (see
//! [`primary_may_serve`]), the primary serves it. Reads run read-only on both
//! (each adapter's own `read`), so a write sent down this path fails wherever it
//! goes, and its error is returned as it is.

mod health;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use metrics::Counter;

use super::layer::DbLayer;
use super::position::{ConsistencyToken, ReplicaStatus};
use super::service::DatabaseService;
use super::value::{Row, Value};
use super::{DbSettings, ReplicationSettings};
use crate::error::{Error, ErrorKind, Result};
use crate::telemetry::DB_REPLICA_READS;

use health::Replica;

/// Opens the primary's adapter for `settings`, over a replica router when
/// `DB_REPLICA_URL` names replicas. Must be called within a Tokio runtime: the
/// replicas' checks run on it.
pub(crate) fn connect(
    settings: &DbSettings,
    connect: super::Connect,
    primary: Arc<dyn DatabaseService>,
) -> Result<Arc<dyn DatabaseService>> {
    if settings.replicas.is_empty() {
        return Ok(primary);
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        Error::new(
            ErrorKind::Config,
            "DB_REPLICA_URL: replicas are checked on a Tokio runtime; build the database within one",
        )
    })?;
    let mut replicas = Vec::with_capacity(settings.replicas.len());
    for target in &settings.replicas {
        let db = connect(&settings.for_replica(target))?;
        replicas.push(Replica::new(target.url.address().to_string(), db, settings.metrics));
    }
    Ok(Arc::new(Replicated::new(primary, replicas, settings.replication.clone(), settings.metrics, &runtime)))
}

/// Why a read went to the primary.
#[derive(Clone, Copy)]
enum Fallback {
    /// No replica was usable.
    NoReplica,
    /// None had replayed the read's token in time.
    Behind,
    /// The chosen replica failed the read.
    Failed,
}

struct PrimaryReads {
    no_replica: Counter,
    behind: Counter,
    failed: Counter,
}

impl PrimaryReads {
    fn new(metrics: bool) -> Self {
        let counter = |reason: &'static str| match metrics {
            true => metrics::counter!(DB_REPLICA_READS, "served_by" => "primary", "reason" => reason),
            false => Counter::noop(),
        };
        PrimaryReads { no_replica: counter("no_replica"), behind: counter("behind"), failed: counter("failed") }
    }

    fn count(&self, why: Fallback) {
        match why {
            Fallback::NoReplica => self.no_replica.increment(1),
            Fallback::Behind => self.behind.increment(1),
            Fallback::Failed => self.failed.increment(1),
        }
    }
}

pub(crate) struct Replicated {
    primary: Arc<dyn DatabaseService>,
    replicas: Arc<health::Replicas>,
    next: AtomicUsize,
    primary_reads: PrimaryReads,
    checker: tokio::task::JoinHandle<()>,
}

impl Replicated {
    fn new(
        primary: Arc<dyn DatabaseService>,
        replicas: Vec<Replica>,
        settings: ReplicationSettings,
        metrics: bool,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let replicas = Arc::new(health::Replicas::new(replicas, settings));
        let checker = runtime.spawn(health::check_forever(Arc::downgrade(&replicas)));
        Replicated { primary, replicas, next: AtomicUsize::new(0), primary_reads: PrimaryReads::new(metrics), checker }
    }

    /// The replica to read from, or why there is none. The first candidate may
    /// wait `DB_REPLICA_WAIT_MS` for the token; the others are only asked, so a
    /// read waits once at most.
    async fn choose(&self, after: Option<&ConsistencyToken>) -> Result<std::result::Result<&Replica, Fallback>> {
        self.replicas.first_check().await;
        let all = self.replicas.all();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut why = Fallback::NoReplica;
        let mut wait = self.replicas.settings().wait;
        for i in 0..all.len() {
            let replica = &all[(start + i) % all.len()];
            if !replica.usable() {
                continue;
            }
            let Some(token) = after else { return Ok(Ok(replica)) };
            match replica.unless_down(replica.db().replayed(token, wait)).await {
                Ok(true) => return Ok(Ok(replica)),
                Ok(false) => why = Fallback::Behind,
                Err(e) if e.kind() == ErrorKind::InvalidInput => return Err(e),
                Err(e) => replica.failed(&e),
            }
            wait = Duration::ZERO;
        }
        Ok(Err(why))
    }

    fn primary_serves(&self, why: Fallback) -> &dyn DatabaseService {
        self.primary_reads.count(why);
        self.primary.as_ref()
    }
}

/// Whether the primary may serve a read its replica failed: only when the replica
/// could not serve it. Its connection failed (it went away, or a check found it
/// down while the read waited); it cancelled the read to replay its primary's
/// changes (a replay conflict, SQLSTATE 40001/40P01); it lacks the database, or a
/// table or column it has not replayed the creation of yet. Never after a
/// timeout: the statement may still be running on the replica, and would then run
/// twice. Never when the statement is at fault (a write, a syntax error, bad
/// parameters): the primary, read-only on this path too, would fail it alike.
fn primary_may_serve(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Connection | ErrorKind::SerializationFailure | ErrorKind::Config | ErrorKind::UndefinedObject
    )
}

/// A replica's error, returned to the caller: a timeout says why the primary was not asked.
fn not_retried(replica: &Replica, e: Error) -> Error {
    if e.kind() != ErrorKind::Timeout {
        return e;
    }
    let error = Error::new(
        ErrorKind::Timeout,
        format!(
            "{} on read replica {}; not run again on the primary, since the statement may still be running on \
             the replica",
            e.message(),
            replica.name()
        ),
    );
    match e.provider() {
        Some(provider) => error.with_provider(provider),
        None => error,
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        self.checker.abort();
    }
}

// Reads go to a replica; everything else, writes and transactions first, forwards
// to the primary.
#[async_trait]
impl DbLayer for Replicated {
    fn inner(&self) -> &dyn DatabaseService {
        self.primary.as_ref()
    }

    async fn read(&self, sql: &str, params: &[Value], after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        let replica = match self.choose(after).await? {
            Ok(replica) => replica,
            Err(why) => return self.primary_serves(why).read(sql, params, None).await,
        };
        match replica.unless_down(replica.db().read(sql, params, None)).await {
            Ok(rows) => {
                replica.served();
                Ok(rows)
            }
            Err(e) => {
                replica.read_failed(&e);
                match primary_may_serve(&e) {
                    true => self.primary_serves(Fallback::Failed).read(sql, params, None).await,
                    false => Err(not_retried(replica, e)),
                }
            }
        }
    }

    async fn read_each(
        &self,
        sql: &str,
        params: &[Value],
        after: Option<&ConsistencyToken>,
        each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        let replica = match self.choose(after).await? {
            Ok(replica) => replica,
            Err(why) => return self.primary_serves(why).read_each(sql, params, None, each).await,
        };
        // Rows already handed over cannot be taken back: the primary may only
        // take over a read that failed before its first row.
        let mut delivered = false;
        let mut counted = |row| {
            delivered = true;
            each(row)
        };
        let outcome = replica.unless_down(replica.db().read_each(sql, params, None, &mut counted)).await;
        match outcome {
            Ok(count) => {
                replica.served();
                Ok(count)
            }
            Err(e) => {
                replica.read_failed(&e);
                match !delivered && primary_may_serve(&e) {
                    true => self.primary_serves(Fallback::Failed).read_each(sql, params, None, each).await,
                    false => Err(not_retried(replica, e)),
                }
            }
        }
    }

    async fn replicas(&self) -> Vec<ReplicaStatus> {
        self.replicas.first_check().await;
        self.replicas.all().iter().map(Replica::status).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_takes_over_only_what_the_replica_could_not_serve() {
        let may = |kind| primary_may_serve(&Error::new(kind, "x"));
        for kind in
            [ErrorKind::Connection, ErrorKind::SerializationFailure, ErrorKind::Config, ErrorKind::UndefinedObject]
        {
            assert!(may(kind), "{kind:?}");
        }
        for kind in [
            ErrorKind::Timeout,
            ErrorKind::ReadOnly,
            ErrorKind::Syntax,
            ErrorKind::InvalidInput,
            ErrorKind::Usage,
            ErrorKind::Decode,
            ErrorKind::NotFound,
            ErrorKind::Backend,
        ] {
            assert!(!may(kind), "{kind:?}");
        }
    }
}
