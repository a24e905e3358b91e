//! One JSON document on how this instance serves, for a status page to poll:
//! the providers and their health from the background probes, the cache's hit
//! and fallback rates and breaker from this process's metrics, and the audit
//! log's backlog.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use pal::telemetry::{CACHE_HITS, CACHE_MISSES, CACHE_OPERATIONS, HYBRID_BREAKER_STATE, HYBRID_FALLBACKS};

use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Providers {
    /// As `CACHE_PROVIDER` spells it.
    pub cache: String,
    /// As `DB_PROVIDER` spells it.
    pub database: String,
}

/// Since this process started; `null` without metrics (`METRICS_ENABLED=false`)
/// or, for the fallback rate and breaker, when the cache has no fallback.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(super) struct CacheStats {
    pub hit_rate: Option<f64>,
    pub fallback_rate: Option<f64>,
    /// `closed`, `open` or `half_open`.
    pub breaker: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AuditBacklog {
    pub pending: u64,
    pub spooled: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub retries: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct StatusReport {
    pub providers: Providers,
    /// `healthy`, `degraded` or `down`: the worst of the last probes.
    #[schema(example = "healthy")]
    pub health: String,
    pub checked_ms_ago: u64,
    /// The last probe of each provider, as `/readyz` reports them: a stable
    /// `error` code for one that is not healthy, never the provider's own message.
    #[schema(value_type = Vec<Object>)]
    pub checks: serde_json::Value,
    pub cache: CacheStats,
    /// `null` when the audit log cannot tell (its spool is unreadable).
    pub audit: Option<AuditBacklog>,
}

/// How this instance serves.
#[utoipa::path(get, path = "/v1/status", tag = "status", responses((status = 200, body = StatusReport)))]
pub(super) async fn status(State(state): State<AppState>) -> Json<StatusReport> {
    let (probes, age) = state.health.snapshot();
    let audit = match state.audit.status().await {
        Ok(s) => Some(AuditBacklog {
            pending: s.pending,
            spooled: s.spooled,
            delivered: s.delivered,
            dropped: s.dropped,
            retries: s.retries,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "audit status unavailable");
            None
        }
    };
    let cache = match &state.metrics {
        Some(handle) => cache_stats(&handle.render(), state.cache.provider()),
        None => CacheStats::default(),
    };
    Json(StatusReport {
        providers: Providers { cache: state.cache.provider().into(), database: state.db.provider().into() },
        health: pal::health::overall(&probes).as_str().into(),
        checked_ms_ago: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
        checks: crate::health::public(&probes),
        cache,
        audit,
    })
}

/// The rates from a Prometheus rendering of this process's metrics.
fn cache_stats(rendered: &str, provider: &str) -> CacheStats {
    let Ok(scrape) = prometheus_parse::Scrape::parse(rendered.lines().map(|l| Ok(l.to_string()))) else {
        return CacheStats::default();
    };
    let sum = |name: &str, of_provider: bool| -> Option<f64> {
        let values: Vec<f64> = scrape
            .samples
            .iter()
            .filter(|s| s.metric == name && (!of_provider || s.labels.get("provider") == Some(provider)))
            .filter_map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => Some(v),
                _ => None,
            })
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    };
    let ratio = |part: f64, whole: f64| (whole > 0.0).then(|| part / whole);
    let hits = sum(CACHE_HITS, true).unwrap_or(0.0);
    let misses = sum(CACHE_MISSES, true).unwrap_or(0.0);
    // The hybrid registers its breaker gauge when it is built: the sign it is there.
    let breaker = sum(HYBRID_BREAKER_STATE, false);
    let fallback_rate = breaker.and_then(|_| {
        let operations = sum(CACHE_OPERATIONS, true).unwrap_or(0.0);
        ratio(sum(HYBRID_FALLBACKS, false).unwrap_or(0.0), operations).or(Some(0.0))
    });
    CacheStats {
        hit_rate: ratio(hits, hits + misses),
        fallback_rate,
        breaker: breaker.map(|state| {
            match state as u8 {
                0 => "closed",
                1 => "open",
                _ => "half_open",
            }
            .to_string()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_the_configured_providers_series() {
        let text = "\
# TYPE pal_cache_hits_total counter
pal_cache_hits_total{provider=\"outer\"} 9
pal_cache_hits_total{provider=\"inner\"} 100
# TYPE pal_cache_misses_total counter
pal_cache_misses_total{provider=\"outer\"} 1
# TYPE pal_cache_operations_total counter
pal_cache_operations_total{provider=\"outer\",op=\"get\",outcome=\"ok\"} 40
# TYPE pal_hybrid_fallbacks_total counter
pal_hybrid_fallbacks_total{op=\"get\"} 2
# TYPE pal_hybrid_breaker_state gauge
pal_hybrid_breaker_state 1
";
        let stats = cache_stats(text, "outer");
        assert_eq!(stats.hit_rate, Some(0.9));
        assert_eq!(stats.fallback_rate, Some(0.05));
        assert_eq!(stats.breaker.as_deref(), Some("open"));
        let plain = cache_stats("# TYPE pal_cache_hits_total counter\npal_cache_hits_total{provider=\"x\"} 1\n", "x");
        assert_eq!((plain.hit_rate, plain.fallback_rate, plain.breaker), (Some(1.0), None, None));
    }
}
