//! What every database layer is built on: a [`DatabaseService`] around another
//! one, forwarding whatever it does not change.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::grammar::Grammar;
use super::grammar::{Ddl, Tables};
use super::pool::DriverPool;
use super::position::{ConsistencyToken, ReplicaLag, ReplicaStatus};
use super::service::{DatabaseService, Dialect, PoolUsage, Transaction};
use super::target::DbTarget;
use super::value::{Row, Value};
use crate::error::Result;
use crate::tls::Transport;

#[cfg(test)]
mod recorder;
#[cfg(test)]
mod tests;

/// What [`DatabaseService::query_each`] and [`DatabaseService::read_each`] hand rows to.
type Each<'e> = &'e mut (dyn FnMut(Row) -> Result<()> + Send);

/// A database around another one, [`inner`](DbLayer::inner). Each method
/// forwards to the inner database unless the layer overrides it, and every
/// [`DatabaseService`] method goes through here, its default bodies included: a
/// layer writes only what it changes, and one that writes nothing else cannot
/// answer with the trait's default (no read path, no replication positions, no
/// pool) where the provider beneath has its own.
///
/// A method added to [`DatabaseService`] goes here too, forwarding, and into the
/// impl below, and the forwarding tests' recorder (`layer/recorder.rs`) records
/// it: clippy's `missing_trait_methods`, denied on that impl and on the recorder,
/// fails until it is in each, and the tests then call it through every layer.
#[async_trait]
pub trait DbLayer: Send + Sync + 'static {
    /// The database this layer wraps.
    fn inner(&self) -> &dyn DatabaseService;

    /// Forwards to the inner database's [`provider`](DatabaseService::provider).
    fn provider(&self) -> &'static str {
        self.inner().provider()
    }

    /// Forwards to the inner database's [`dialect`](DatabaseService::dialect).
    fn dialect(&self) -> Dialect {
        self.inner().dialect()
    }

    /// Forwards to the inner database's [`grammar`](DatabaseService::grammar).
    fn grammar(&self) -> &'static dyn Grammar {
        self.inner().grammar()
    }

    /// Forwards to the inner database's [`target`](DatabaseService::target).
    fn target(&self) -> DbTarget {
        self.inner().target()
    }

    /// Forwards to the inner database's [`server_identity`](DatabaseService::server_identity).
    async fn server_identity(&self) -> Result<Option<String>> {
        self.inner().server_identity().await
    }

    /// Forwards to the inner database's [`query`](DatabaseService::query).
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.inner().query(sql, params).await
    }

    /// Forwards to the inner database's [`query_each`](DatabaseService::query_each).
    async fn query_each(&self, sql: &str, params: &[Value], each: Each<'_>) -> Result<u64> {
        self.inner().query_each(sql, params, each).await
    }

    /// Forwards to the inner database's [`read`](DatabaseService::read).
    async fn read(&self, sql: &str, params: &[Value], after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        self.inner().read(sql, params, after).await
    }

    /// Forwards to the inner database's [`read_each`](DatabaseService::read_each).
    async fn read_each(
        &self,
        sql: &str,
        params: &[Value],
        after: Option<&ConsistencyToken>,
        each: Each<'_>,
    ) -> Result<u64> {
        self.inner().read_each(sql, params, after, each).await
    }

    /// Forwards to the inner database's [`write_position`](DatabaseService::write_position).
    async fn write_position(&self) -> Result<Option<ConsistencyToken>> {
        self.inner().write_position().await
    }

    /// Forwards to the inner database's [`replica_lag`](DatabaseService::replica_lag).
    async fn replica_lag(&self) -> Result<ReplicaLag> {
        self.inner().replica_lag().await
    }

    /// Forwards to the inner database's [`replayed`](DatabaseService::replayed).
    async fn replayed(&self, token: &ConsistencyToken, wait: Duration) -> Result<bool> {
        self.inner().replayed(token, wait).await
    }

    /// Forwards to the inner database's [`replicas`](DatabaseService::replicas).
    async fn replicas(&self) -> Vec<ReplicaStatus> {
        self.inner().replicas().await
    }

    /// Forwards to the inner database's [`execute`](DatabaseService::execute).
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.inner().execute(sql, params).await
    }

    /// Forwards to the inner database's [`begin`](DatabaseService::begin).
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        self.inner().begin().await
    }

    /// Forwards to the inner database's [`ping`](DatabaseService::ping).
    async fn ping(&self) -> Result<()> {
        self.inner().ping().await
    }

    /// Forwards to the inner database's [`transport`](DatabaseService::transport).
    async fn transport(&self) -> Result<Transport> {
        self.inner().transport().await
    }

    /// Forwards to the inner database's [`migrate`](DatabaseService::migrate).
    async fn migrate(&self, tables: &[Tables]) -> Result<Vec<String>> {
        self.inner().migrate(tables).await
    }

    /// Forwards to the inner database's [`transaction_retries`](DatabaseService::transaction_retries).
    fn transaction_retries(&self) -> u32 {
        self.inner().transaction_retries()
    }

    /// Forwards to the inner database's [`pool_usage`](DatabaseService::pool_usage).
    fn pool_usage(&self) -> Option<PoolUsage> {
        self.inner().pool_usage()
    }

    /// Forwards to the inner database's [`driver_pool`](DatabaseService::driver_pool).
    fn driver_pool(&self) -> Option<DriverPool> {
        self.inner().driver_pool()
    }

    /// Forwards to the inner database's [`ddl`](DatabaseService::ddl).
    fn ddl(&self) -> Ddl {
        self.inner().ddl()
    }
}

// Written out as `async_trait` expands the trait's methods, rather than as `async
// fn`s: each hands back the layer's own future, so passing through here costs no
// allocation of its own.
#[deny(clippy::missing_trait_methods)]
impl<L: DbLayer> DatabaseService for L {
    fn provider(&self) -> &'static str {
        DbLayer::provider(self)
    }

    fn dialect(&self) -> Dialect {
        DbLayer::dialect(self)
    }

    fn grammar(&self) -> &'static dyn Grammar {
        DbLayer::grammar(self)
    }

    fn target(&self) -> DbTarget {
        DbLayer::target(self)
    }

    fn server_identity<'s, 'f>(&'s self) -> BoxFuture<'f, Result<Option<String>>>
    where
        's: 'f,
    {
        DbLayer::server_identity(self)
    }

    fn query<'s, 'q, 'p, 'f>(&'s self, sql: &'q str, params: &'p [Value]) -> BoxFuture<'f, Result<Vec<Row>>>
    where
        's: 'f,
        'q: 'f,
        'p: 'f,
    {
        DbLayer::query(self, sql, params)
    }

    fn query_each<'s, 'q, 'p, 'e, 'f>(
        &'s self,
        sql: &'q str,
        params: &'p [Value],
        each: Each<'e>,
    ) -> BoxFuture<'f, Result<u64>>
    where
        's: 'f,
        'q: 'f,
        'p: 'f,
        'e: 'f,
    {
        DbLayer::query_each(self, sql, params, each)
    }

    fn read<'s, 'q, 'p, 't, 'f>(
        &'s self,
        sql: &'q str,
        params: &'p [Value],
        after: Option<&'t ConsistencyToken>,
    ) -> BoxFuture<'f, Result<Vec<Row>>>
    where
        's: 'f,
        'q: 'f,
        'p: 'f,
        't: 'f,
    {
        DbLayer::read(self, sql, params, after)
    }

    fn read_each<'s, 'q, 'p, 't, 'e, 'f>(
        &'s self,
        sql: &'q str,
        params: &'p [Value],
        after: Option<&'t ConsistencyToken>,
        each: Each<'e>,
    ) -> BoxFuture<'f, Result<u64>>
    where
        's: 'f,
        'q: 'f,
        'p: 'f,
        't: 'f,
        'e: 'f,
    {
        DbLayer::read_each(self, sql, params, after, each)
    }

    fn write_position<'s, 'f>(&'s self) -> BoxFuture<'f, Result<Option<ConsistencyToken>>>
    where
        's: 'f,
    {
        DbLayer::write_position(self)
    }

    fn replica_lag<'s, 'f>(&'s self) -> BoxFuture<'f, Result<ReplicaLag>>
    where
        's: 'f,
    {
        DbLayer::replica_lag(self)
    }

    fn replayed<'s, 't, 'f>(&'s self, token: &'t ConsistencyToken, wait: Duration) -> BoxFuture<'f, Result<bool>>
    where
        's: 'f,
        't: 'f,
    {
        DbLayer::replayed(self, token, wait)
    }

    fn replicas<'s, 'f>(&'s self) -> BoxFuture<'f, Vec<ReplicaStatus>>
    where
        's: 'f,
    {
        DbLayer::replicas(self)
    }

    fn execute<'s, 'q, 'p, 'f>(&'s self, sql: &'q str, params: &'p [Value]) -> BoxFuture<'f, Result<u64>>
    where
        's: 'f,
        'q: 'f,
        'p: 'f,
    {
        DbLayer::execute(self, sql, params)
    }

    fn begin<'s, 'f>(&'s self) -> BoxFuture<'f, Result<Box<dyn Transaction>>>
    where
        's: 'f,
    {
        DbLayer::begin(self)
    }

    fn ping<'s, 'f>(&'s self) -> BoxFuture<'f, Result<()>>
    where
        's: 'f,
    {
        DbLayer::ping(self)
    }

    fn transport<'s, 'f>(&'s self) -> BoxFuture<'f, Result<Transport>>
    where
        's: 'f,
    {
        DbLayer::transport(self)
    }

    fn migrate<'s, 't, 'f>(&'s self, tables: &'t [Tables]) -> BoxFuture<'f, Result<Vec<String>>>
    where
        's: 'f,
        't: 'f,
    {
        DbLayer::migrate(self, tables)
    }

    fn transaction_retries(&self) -> u32 {
        DbLayer::transaction_retries(self)
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        DbLayer::pool_usage(self)
    }

    fn driver_pool(&self) -> Option<DriverPool> {
        DbLayer::driver_pool(self)
    }

    fn ddl(&self) -> Ddl {
        DbLayer::ddl(self)
    }
}
