//! The original design's four monitoring signals, read off a running pal's
//! `/metrics`: two scrapes a window apart, so each figure covers that window
//! only, computed as the shipped alert rules compute them.

use std::collections::BTreeMap;
use std::time::Duration;

use pal::telemetry::{
    CACHE_DURATION, CACHE_HITS, CACHE_MISSES, CACHE_OPERATIONS, HYBRID_FALLBACK_DURATION, HYBRID_FALLBACKS,
};
use pal::{Error, ErrorKind, Result};
use prometheus_parse::{Sample, Scrape, Value};
use serde::Serialize;

/// Providers whose series are Redis's own.
fn redis() -> [&'static str; 2] {
    [pal::cache::redis::PROVIDER.name, pal::cache::keydb::PROVIDER.name]
}

fn hybrid() -> &'static str {
    pal::cache::hybrid::PROVIDER.name
}

/// One signal over the window, against its threshold.
#[derive(Debug, Serialize)]
pub(super) struct Signal {
    pub name: &'static str,
    /// `None` when the window saw no traffic of this kind.
    pub value: Option<f64>,
    pub unit: &'static str,
    /// The alert condition, as text.
    pub threshold: &'static str,
    pub alerting: bool,
}

impl Signal {
    fn new(
        name: &'static str,
        value: Option<f64>,
        unit: &'static str,
        threshold: &'static str,
        past: impl Fn(f64) -> bool,
    ) -> Signal {
        Signal { name, value, unit, threshold, alerting: value.is_some_and(past) }
    }

    pub(super) fn shown(&self) -> String {
        match (self.value, self.unit) {
            (None, _) => "no traffic".to_string(),
            (Some(v), "%") => format!("{:.2} %", v * 100.0),
            (Some(v), "ms") => format!("{:.2} ms", v * 1000.0),
            (Some(v), _) => format!("{v}"),
        }
    }
}

/// Reads `url` twice, `window` apart, and computes the signals.
pub(super) async fn measure(url: &str, window: Duration) -> Result<Vec<Signal>> {
    let before = scrape(url).await?;
    tokio::time::sleep(window).await;
    let after = scrape(url).await?;
    Ok(signals(&before, &after))
}

async fn scrape(url: &str) -> Result<Scrape> {
    let target = url.to_string();
    let body = tokio::task::spawn_blocking(move || -> std::result::Result<String, String> {
        let agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().new_agent();
        let mut response = agent.get(&target).call().map_err(|e| e.to_string())?;
        response.body_mut().read_to_string().map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?
    .map_err(|e| Error::new(ErrorKind::Connection, format!("cannot read {url}: {e}")))?;
    Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .map_err(|e| Error::new(ErrorKind::Backend, format!("{url} is not in the Prometheus text format: {e}")))
}

fn provider_in(sample: &Sample, providers: &[&str]) -> bool {
    sample.labels.get("provider").is_some_and(|p| providers.contains(&p))
}

/// The sum of the counters named `name` whose labels pass `keep`.
fn counter(scrape: &Scrape, name: &str, keep: impl Fn(&Sample) -> bool) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && keep(s))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Untyped(v) | Value::Gauge(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// Cumulative bucket counts by upper bound, summed over the histograms named `name` that pass `keep`.
fn buckets(scrape: &Scrape, name: &str, keep: impl Fn(&Sample) -> bool) -> BTreeMap<u64, (f64, f64)> {
    let mut out = BTreeMap::new();
    for s in scrape.samples.iter().filter(|s| s.metric == name && keep(s)) {
        if let Value::Histogram(counts) = &s.value {
            for b in counts {
                out.entry(b.less_than.to_bits()).or_insert((b.less_than, 0.0)).1 += b.count;
            }
        }
    }
    out
}

/// The `q` quantile of the observations between two scrapes, interpolated within
/// a bucket as Prometheus' `histogram_quantile` does.
fn quantile(q: f64, before: &BTreeMap<u64, (f64, f64)>, after: &BTreeMap<u64, (f64, f64)>) -> Option<f64> {
    let mut delta: Vec<(f64, f64)> =
        after.iter().map(|(k, (le, n))| (*le, n - before.get(k).map_or(0.0, |b| b.1))).collect();
    delta.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for (le, count) in delta {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let within = count - lower.1;
            return Some(if within > 0.0 { lower.0 + (le - lower.0) * (rank - lower.1) / within } else { le });
        }
        lower = (le, count);
    }
    None
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

pub(super) fn signals(before: &Scrape, after: &Scrape) -> Vec<Signal> {
    let change = |name: &str, keep: &dyn Fn(&Sample) -> bool| counter(after, name, keep) - counter(before, name, keep);
    let redis = |s: &Sample| provider_in(s, &redis());
    let hybrid = |s: &Sample| provider_in(s, &[hybrid()]);
    let hits = change(CACHE_HITS, &redis);
    let misses = change(CACHE_MISSES, &redis);
    let fallbacks = change(HYBRID_FALLBACKS, &|_| true);
    let calls = change(CACHE_OPERATIONS, &hybrid);
    let redis_p99 = quantile(0.99, &buckets(before, CACHE_DURATION, redis), &buckets(after, CACHE_DURATION, redis));
    let fallback_p99 = quantile(
        0.99,
        &buckets(before, HYBRID_FALLBACK_DURATION, |_| true),
        &buckets(after, HYBRID_FALLBACK_DURATION, |_| true),
    );
    vec![
        Signal::new("redis_hit_rate", ratio(hits, hits + misses), "%", "below 95 %", |v| v < 0.95),
        Signal::new("fallback_rate", ratio(fallbacks, calls), "%", "above 5 % of calls", |v| v > 0.05),
        Signal::new("redis_latency_p99", redis_p99, "ms", "above 10 ms", |v| v > 0.010),
        Signal::new("fallback_latency_p99", fallback_p99, "ms", "above 100 ms", |v| v > 0.100),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Scrape {
        Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
    }

    #[test]
    fn the_signals_cover_the_window_only_and_compare_with_the_thresholds() {
        let before = parse(
            "# TYPE pal_cache_hits_total counter\npal_cache_hits_total{provider=\"redis\"} 1000\n\
             # TYPE pal_cache_misses_total counter\npal_cache_misses_total{provider=\"redis\"} 0\n",
        );
        let after = parse(
            "# TYPE pal_cache_hits_total counter\npal_cache_hits_total{provider=\"redis\"} 1094\n\
             # TYPE pal_cache_misses_total counter\npal_cache_misses_total{provider=\"redis\"} 6\n\
             # TYPE pal_hybrid_fallbacks_total counter\npal_hybrid_fallbacks_total{op=\"get\"} 6\n\
             # TYPE pal_cache_operations_total counter\n\
             pal_cache_operations_total{provider=\"redis-hybrid\",op=\"get\",outcome=\"ok\"} 100\n\
             # TYPE pal_cache_operation_duration_seconds histogram\n\
             pal_cache_operation_duration_seconds_bucket{provider=\"redis\",op=\"get\",le=\"0.0075\"} 985\n\
             pal_cache_operation_duration_seconds_bucket{provider=\"redis\",op=\"get\",le=\"0.01\"} 985\n\
             pal_cache_operation_duration_seconds_bucket{provider=\"redis\",op=\"get\",le=\"0.025\"} 1000\n\
             pal_cache_operation_duration_seconds_bucket{provider=\"redis\",op=\"get\",le=\"+Inf\"} 1000\n\
             pal_cache_operation_duration_seconds_sum{provider=\"redis\",op=\"get\"} 3\n\
             pal_cache_operation_duration_seconds_count{provider=\"redis\",op=\"get\"} 1000\n",
        );
        let s = signals(&before, &after);
        assert_eq!(s[0].value, Some(0.94), "94 hits and 6 misses in the window, not 1094 of 1100");
        assert!(s[0].alerting);
        assert_eq!(s[1].value, Some(0.06));
        assert!(s[1].alerting);
        let p99 = s[2].value.unwrap();
        assert!((p99 - 0.015).abs() < 1e-9, "{p99}");
        assert!(s[2].alerting);
        assert_eq!(s[3].value, None, "no fallback was timed");
        assert!(!s[3].alerting);
    }
}
