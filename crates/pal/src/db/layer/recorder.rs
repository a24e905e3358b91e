//! A database that records each call it gets: what the forwarding tests put
//! beneath the layers, to see which calls reach it.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::db::grammar::Grammar;
use crate::db::{
    ConsistencyToken, DatabaseService, DbTarget, Dialect, DriverPool, PoolUsage, ReplicaLag, ReplicaStatus, Row,
    Transaction, Value,
};
use crate::error::{Error, Result};
use crate::tls::Transport;

/// Declares [`Call`] and [`Call::ALL`] from one list, so the tests cannot leave a
/// method out of the list they go through.
macro_rules! calls {
    ($($call:ident),+ $(,)?) => {
        /// A method of [`DatabaseService`]. [`Recorder`] must name one for each
        /// method it implements, and it implements them all (clippy's
        /// `missing_trait_methods` is denied on it); the tests' `invoke` matches
        /// every variant, so a new one is called through every layer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Call {
            $($call),+
        }

        impl Call {
            pub(super) const ALL: &[Call] = &[$(Call::$call),+];
        }
    };
}

calls!(
    Provider,
    Dialect,
    Grammar,
    Target,
    ServerIdentity,
    Query,
    QueryEach,
    Read,
    ReadEach,
    WritePosition,
    ReplicaLag,
    Replayed,
    Replicas,
    Execute,
    Begin,
    Ping,
    Transport,
    Migrate,
    TransactionRetries,
    PoolUsage,
    DriverPool,
    Ddl,
);

/// A call as it arrived: the method, and the SQL it ran.
pub(super) type Seen = (Call, Option<String>);

/// Answers every call as an idle PostgreSQL would, and records it.
pub(super) struct Recorder {
    seen: Mutex<Vec<Seen>>,
    /// What it answers as a replica: a server that is not one cannot say.
    lag: Option<ReplicaLag>,
    /// What it answers for [`DatabaseService::grammar`]: any dialect's will do.
    grammar: &'static dyn Grammar,
}

impl Recorder {
    pub(super) fn primary(grammar: &'static dyn Grammar) -> Self {
        Recorder { seen: Mutex::default(), lag: None, grammar }
    }

    /// A replica with nothing left to replay.
    pub(super) fn replica(grammar: &'static dyn Grammar) -> Self {
        Recorder { seen: Mutex::default(), lag: Some(ReplicaLag::Behind(Duration::ZERO)), grammar }
    }

    /// The calls since the last `take`.
    pub(super) fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn record(&self, call: Call, sql: Option<&str>) {
        self.seen.lock().unwrap().push((call, sql.map(str::to_string)));
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl DatabaseService for Recorder {
    fn provider(&self) -> &'static str {
        self.record(Call::Provider, None);
        "recorder"
    }

    fn dialect(&self) -> Dialect {
        self.record(Call::Dialect, None);
        Dialect::Postgres
    }

    fn grammar(&self) -> &'static dyn Grammar {
        self.record(Call::Grammar, None);
        self.grammar
    }

    fn target(&self) -> DbTarget {
        self.record(Call::Target, None);
        DbTarget::in_memory("recorder")
    }

    async fn server_identity(&self) -> Result<Option<String>> {
        self.record(Call::ServerIdentity, None);
        Ok(None)
    }

    async fn query(&self, sql: &str, _params: &[Value]) -> Result<Vec<Row>> {
        self.record(Call::Query, Some(sql));
        Ok(Vec::new())
    }

    async fn query_each(
        &self,
        sql: &str,
        _params: &[Value],
        _each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        self.record(Call::QueryEach, Some(sql));
        Ok(0)
    }

    async fn read(&self, sql: &str, _params: &[Value], _after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        self.record(Call::Read, Some(sql));
        Ok(Vec::new())
    }

    async fn read_each(
        &self,
        sql: &str,
        _params: &[Value],
        _after: Option<&ConsistencyToken>,
        _each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        self.record(Call::ReadEach, Some(sql));
        Ok(0)
    }

    async fn write_position(&self) -> Result<Option<ConsistencyToken>> {
        self.record(Call::WritePosition, None);
        Ok(None)
    }

    async fn replica_lag(&self) -> Result<ReplicaLag> {
        self.record(Call::ReplicaLag, None);
        self.lag.ok_or_else(|| Error::unsupported("recorder", "replication lag"))
    }

    async fn replayed(&self, _token: &ConsistencyToken, _wait: Duration) -> Result<bool> {
        self.record(Call::Replayed, None);
        Ok(true)
    }

    async fn replicas(&self) -> Vec<ReplicaStatus> {
        self.record(Call::Replicas, None);
        Vec::new()
    }

    async fn execute(&self, sql: &str, _params: &[Value]) -> Result<u64> {
        self.record(Call::Execute, Some(sql));
        Ok(0)
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        self.record(Call::Begin, None);
        Ok(Box::new(Empty))
    }

    async fn ping(&self) -> Result<()> {
        self.record(Call::Ping, None);
        Ok(())
    }

    async fn transport(&self) -> Result<Transport> {
        self.record(Call::Transport, None);
        Ok(Transport::Plaintext)
    }

    async fn migrate(&self, _: &[crate::db::migrate::Tables]) -> Result<Vec<String>> {
        self.record(Call::Migrate, None);
        Ok(Vec::new())
    }

    fn transaction_retries(&self) -> u32 {
        self.record(Call::TransactionRetries, None);
        0
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        self.record(Call::PoolUsage, None);
        None
    }

    fn driver_pool(&self) -> Option<DriverPool> {
        self.record(Call::DriverPool, None);
        None
    }

    fn ddl(&self) -> crate::db::migrate::Ddl {
        self.record(Call::Ddl, None);
        crate::db::migrate::Ddl::Transactional
    }
}

/// A transaction with nothing in it.
struct Empty;

#[async_trait]
impl Transaction for Empty {
    async fn query(&mut self, _sql: &str, _params: &[Value]) -> Result<Vec<Row>> {
        Ok(Vec::new())
    }

    async fn execute(&mut self, _sql: &str, _params: &[Value]) -> Result<u64> {
        Ok(0)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
