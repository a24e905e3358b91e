//! Metrics around any cache: latency, calls and errors per operation, hits and
//! misses. Applied by the factory to every provider unless `METRICS_ENABLED=false`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use metrics::Counter;

use super::layer::CacheLayer;
use super::service::CacheService;
use super::ttl::Ttl;
use crate::error::Result;
use crate::telemetry::{CACHE_DURATION, CACHE_ERRORS, CACHE_HITS, CACHE_MISSES, CACHE_OPERATIONS, OpMetrics};

const NAMES: [&str; 3] = [CACHE_DURATION, CACHE_OPERATIONS, CACHE_ERRORS];

/// The layer [`instrumented`] builds: records latency, calls, errors, hits and misses.
pub struct Instrumented {
    inner: Arc<dyn CacheService>,
    get: OpMetrics,
    hits: Counter,
    misses: Counter,
    set: OpMetrics,
    delete: OpMetrics,
    incr: OpMetrics,
    touch: OpMetrics,
    ttl: OpMetrics,
    get_many: OpMetrics,
    set_many: OpMetrics,
    delete_many: OpMetrics,
    add: OpMetrics,
    delete_if: OpMetrics,
    touch_if: OpMetrics,
}

/// Wraps `inner` so every call is measured under its provider's name.
pub fn instrumented(inner: Arc<dyn CacheService>) -> Arc<dyn CacheService> {
    let provider = inner.provider();
    let op = |name| OpMetrics::new(NAMES, provider, name);
    Arc::new(Instrumented {
        get: op("get"),
        hits: metrics::counter!(CACHE_HITS, "provider" => provider),
        misses: metrics::counter!(CACHE_MISSES, "provider" => provider),
        set: op("set"),
        delete: op("delete"),
        incr: op("incr"),
        touch: op("touch"),
        ttl: op("ttl"),
        get_many: op("get_many"),
        set_many: op("set_many"),
        delete_many: op("delete_many"),
        add: op("add"),
        delete_if: op("delete_if"),
        touch_if: op("touch_if"),
        inner,
    })
}

impl Instrumented {
    /// A read's hit or miss; pal's own calls (the key check) are not traffic.
    fn count_read<T>(&self, outcome: &Result<Option<T>>) {
        if crate::telemetry::is_own_call() {
            return;
        }
        match outcome {
            Ok(Some(_)) => self.hits.increment(1),
            Ok(None) => self.misses.increment(1),
            Err(_) => {}
        }
    }
}

// Probes and checks (`ping`, `health`, `check_configuration`, `sample`) forward
// unmeasured: they are not traffic, and would dilute the hit rate and the latency.
#[async_trait]
impl CacheLayer for Instrumented {
    fn inner(&self) -> &dyn CacheService {
        self.inner.as_ref()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let outcome = self.get.measure(self.inner.get(key)).await;
        self.count_read(&outcome);
        outcome
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.set.measure(self.inner.set(key, value, ttl)).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.delete.measure(self.inner.delete(key)).await
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        self.incr.measure(self.inner.incr(key, by, ttl_on_create)).await
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        self.touch.measure(self.inner.touch(key, ttl)).await
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        self.ttl.measure(self.inner.ttl(key)).await
    }

    /// Measured, and counted in hits and misses, as a `get`.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Bytes, Duration)>> {
        let outcome = self.get.measure(self.inner.get_with_ttl(key)).await;
        self.count_read(&outcome);
        outcome
    }

    /// One call, its keys counted as hits and misses one by one.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let outcome = self.get_many.measure(self.inner.get_many(keys)).await;
        if let Ok(values) = &outcome
            && !crate::telemetry::is_own_call()
        {
            let hits = values.iter().filter(|v| v.is_some()).count() as u64;
            self.hits.increment(hits);
            self.misses.increment(values.len() as u64 - hits);
        }
        outcome
    }

    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        self.set_many.measure(self.inner.set_many(entries, ttl)).await
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        self.delete_many.measure(self.inner.delete_many(keys)).await
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        self.add.measure(self.inner.add(key, value, ttl)).await
    }

    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        self.delete_if.measure(self.inner.delete_if(key, expected)).await
    }

    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        self.touch_if.measure(self.inner.touch_if(key, expected, ttl)).await
    }
}
