//! Read/write splitting, as a layer over the primary: [`read`](DatabaseService::read)
//! goes to a usable replica (round-robin), everything else to the primary. Which
//! call reads is the caller's word, never guessed from SQL text.
//!
//! A replica is usable when its last check found it answering and within
//! `DB_REPLICA_MAX_LAG_MS`. A read that presents a consistency token is served
//! by a replica only once that replica has replayed the token's position. When
//! no replica can serve a read, or the chosen one fails it, the primary serves
//! it: callers see no replica's failure. (A read fails on the primary too when
//! its SQL is at fault, and that error is the one returned.)

mod health;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use metrics::Counter;

use super::position::{ConsistencyToken, ReplicaLag, ReplicaStatus};
use super::service::{DatabaseService, Dialect, PoolUsage, Transaction};
use super::target::DbTarget;
use super::value::{Row, Value};
use super::{DbSettings, ReplicationSettings};
use crate::error::{Error, ErrorKind, Result};
use crate::telemetry::DB_REPLICA_READS;
use crate::tls::Transport;

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

impl Drop for Replicated {
    fn drop(&mut self) {
        self.checker.abort();
    }
}

#[async_trait]
impl DatabaseService for Replicated {
    fn provider(&self) -> &'static str {
        self.primary.provider()
    }

    fn dialect(&self) -> Dialect {
        self.primary.dialect()
    }

    fn target(&self) -> DbTarget {
        self.primary.target()
    }

    async fn server_identity(&self) -> Result<Option<String>> {
        self.primary.server_identity().await
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.primary.query(sql, params).await
    }

    async fn query_each(
        &self,
        sql: &str,
        params: &[Value],
        each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        self.primary.query_each(sql, params, each).await
    }

    async fn read(&self, sql: &str, params: &[Value], after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        let replica = match self.choose(after).await? {
            Ok(replica) => replica,
            Err(why) => return self.primary_serves(why).query(sql, params).await,
        };
        match replica.unless_down(replica.db().query(sql, params)).await {
            Ok(rows) => {
                replica.served();
                Ok(rows)
            }
            Err(e) => {
                let rows = self.primary_serves(Fallback::Failed).query(sql, params).await?;
                replica.read_failed(&e);
                Ok(rows)
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
            Err(why) => return self.primary_serves(why).query_each(sql, params, each).await,
        };
        // Rows already handed over cannot be taken back: the primary may only
        // take over a read that failed before its first row.
        let mut delivered = false;
        let mut counted = |row| {
            delivered = true;
            each(row)
        };
        let outcome = replica.unless_down(replica.db().query_each(sql, params, &mut counted)).await;
        match outcome {
            Ok(count) => {
                replica.served();
                Ok(count)
            }
            Err(e) if !delivered => {
                let count = self.primary_serves(Fallback::Failed).query_each(sql, params, each).await?;
                replica.read_failed(&e);
                Ok(count)
            }
            Err(e) => Err(e),
        }
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.primary.execute(sql, params).await
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        self.primary.begin().await
    }

    async fn ping(&self) -> Result<()> {
        self.primary.ping().await
    }

    async fn transport(&self) -> Result<Transport> {
        self.primary.transport().await
    }

    async fn migrate(&self) -> Result<Vec<String>> {
        self.primary.migrate().await
    }

    async fn write_position(&self) -> Result<Option<ConsistencyToken>> {
        self.primary.write_position().await
    }

    async fn replica_lag(&self) -> Result<ReplicaLag> {
        self.primary.replica_lag().await
    }

    async fn replayed(&self, token: &ConsistencyToken, wait: Duration) -> Result<bool> {
        self.primary.replayed(token, wait).await
    }

    async fn replicas(&self) -> Vec<ReplicaStatus> {
        self.replicas.first_check().await;
        self.replicas.all().iter().map(Replica::status).collect()
    }

    fn transaction_retries(&self) -> u32 {
        self.primary.transaction_retries()
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        self.primary.pool_usage()
    }
}
