//! Metrics around any database: latency, calls and errors per operation
//! (transactions included), and the pool's connections. Applied by the factory
//! to every provider unless `METRICS_ENABLED=false`.

use std::sync::Arc;

use async_trait::async_trait;
use metrics::Gauge;

use super::layer::DbLayer;
use super::position::ConsistencyToken;
use super::service::{DatabaseService, Transaction};
use super::value::{Row, Value};
use crate::error::Result;
use crate::telemetry::{DB_CONNECTIONS, DB_DURATION, DB_ERRORS, DB_OPERATIONS, OpMetrics};

const NAMES: [&str; 3] = [DB_DURATION, DB_OPERATIONS, DB_ERRORS];

struct Ops {
    query: OpMetrics,
    read: OpMetrics,
    execute: OpMetrics,
    begin: OpMetrics,
    tx_query: OpMetrics,
    tx_execute: OpMetrics,
    commit: OpMetrics,
    rollback: OpMetrics,
    in_use: Gauge,
    idle: Gauge,
}

/// Records latency, calls and errors of every database call, and the pool's connections.
pub struct Instrumented {
    inner: Arc<dyn DatabaseService>,
    ops: Arc<Ops>,
}

/// Wraps `inner` so every call is measured under its provider's name.
pub fn instrumented(inner: Arc<dyn DatabaseService>) -> Arc<dyn DatabaseService> {
    let provider = inner.provider();
    let op = |name| OpMetrics::new(NAMES, provider, name);
    let ops = Ops {
        query: op("query"),
        read: op("read"),
        execute: op("execute"),
        begin: op("begin"),
        tx_query: op("tx_query"),
        tx_execute: op("tx_execute"),
        commit: op("commit"),
        rollback: op("rollback"),
        in_use: metrics::gauge!(DB_CONNECTIONS, "provider" => provider, "state" => "in_use"),
        idle: metrics::gauge!(DB_CONNECTIONS, "provider" => provider, "state" => "idle"),
    };
    Arc::new(Instrumented { inner, ops: Arc::new(ops) })
}

impl Instrumented {
    /// The pool as this call left it: sampled on every call, so the gauges are as
    /// fresh as the traffic without a task of their own.
    fn sample_pool(&self) {
        if let Some(usage) = self.inner.pool_usage() {
            self.ops.in_use.set(f64::from(usage.in_use));
            self.ops.idle.set(f64::from(usage.idle));
        }
    }
}

// Probes, replication positions and migrations forward unmeasured: they are not
// traffic.
#[async_trait]
impl DbLayer for Instrumented {
    fn inner(&self) -> &dyn DatabaseService {
        self.inner.as_ref()
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let outcome = self.ops.query.measure(self.inner.query(sql, params)).await;
        self.sample_pool();
        outcome
    }

    async fn query_each(
        &self,
        sql: &str,
        params: &[Value],
        each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        let outcome = self.ops.query.measure(self.inner.query_each(sql, params, each)).await;
        self.sample_pool();
        outcome
    }

    async fn read(&self, sql: &str, params: &[Value], after: Option<&ConsistencyToken>) -> Result<Vec<Row>> {
        let outcome = self.ops.read.measure(self.inner.read(sql, params, after)).await;
        self.sample_pool();
        outcome
    }

    async fn read_each(
        &self,
        sql: &str,
        params: &[Value],
        after: Option<&ConsistencyToken>,
        each: &mut (dyn FnMut(Row) -> Result<()> + Send),
    ) -> Result<u64> {
        let outcome = self.ops.read.measure(self.inner.read_each(sql, params, after, each)).await;
        self.sample_pool();
        outcome
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let outcome = self.ops.execute.measure(self.inner.execute(sql, params)).await;
        self.sample_pool();
        outcome
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        let tx = self.ops.begin.measure(self.inner.begin()).await;
        self.sample_pool();
        Ok(Box::new(InstrumentedTx { inner: tx?, ops: self.ops.clone() }))
    }
}

struct InstrumentedTx {
    inner: Box<dyn Transaction>,
    ops: Arc<Ops>,
}

#[async_trait]
impl Transaction for InstrumentedTx {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.ops.tx_query.measure(self.inner.query(sql, params)).await
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.ops.tx_execute.measure(self.inner.execute(sql, params)).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let InstrumentedTx { inner, ops } = *self;
        ops.commit.measure(inner.commit()).await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        let InstrumentedTx { inner, ops } = *self;
        ops.rollback.measure(inner.rollback()).await
    }
}
