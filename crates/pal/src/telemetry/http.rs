//! The requests of an HTTP server built on pal (the reference service records
//! them): counted by method, route template and status, timed, and in flight.
//!
//! The handles of each series are taken once, on its first request, and kept
//! here: the hot path looks its series up by the route template it is given,
//! without building labels or asking the recorder. The number of series stays
//! bounded only if `route` is a template (`/v1/users/{id}`), never a raw path.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram};

use super::{HTTP_CONNECTIONS_CLOSED, HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS, HTTP_SHED, HTTP_TIMED_OUT};

/// The methods that get a label of their own; any other is `other`, so a
/// client sending made-up methods cannot create series.
const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];

/// The label of `method`, without an allocation.
fn method_label(method: &str) -> &'static str {
    METHODS.iter().find(|m| **m == method).copied().unwrap_or("other")
}

/// Why the server closed a connection on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionClosed {
    /// Its request's headers did not arrive in time.
    HeaderTimeout,
    /// It waited for a next request longer than the idle timeout.
    IdleTimeout,
    /// It waited longest for a request when a newcomer needed its place.
    Evicted,
    /// A newcomer found every connection serving a request (answered 503).
    Refused,
}

impl ConnectionClosed {
    fn as_str(self) -> &'static str {
        match self {
            ConnectionClosed::HeaderTimeout => "header_timeout",
            ConnectionClosed::IdleTimeout => "idle_timeout",
            ConnectionClosed::Evicted => "evicted",
            ConnectionClosed::Refused => "refused",
        }
    }

    /// Counts one in `pal_http_connections_closed_total`.
    pub fn record(self) {
        metrics::counter!(HTTP_CONNECTIONS_CLOSED, "reason" => self.as_str()).increment(1);
    }
}

/// How a request was stopped before its handler answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Refused at once: too many requests were in flight.
    Shed,
    /// Cut at its deadline.
    TimedOut,
}

/// One route's series for one method and status.
struct Series {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

/// The metrics of one HTTP server's requests. Cheap to share: clones record
/// into the same handles.
#[derive(Clone)]
pub struct HttpMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    in_flight: Gauge,
    shed: Counter,
    timed_out: Counter,
    /// By route template; each route has a handful of method and status pairs.
    series: RwLock<HashMap<Box<str>, Vec<Series>>>,
}

impl Default for HttpMetrics {
    fn default() -> HttpMetrics {
        HttpMetrics::new()
    }
}

impl HttpMetrics {
    /// Records through the recorder installed when it is made and when each
    /// series first appears: install the recorder first.
    pub fn new() -> HttpMetrics {
        HttpMetrics {
            inner: Arc::new(Inner {
                in_flight: metrics::gauge!(HTTP_IN_FLIGHT),
                shed: metrics::counter!(HTTP_SHED),
                timed_out: metrics::counter!(HTTP_TIMED_OUT),
                series: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Counts a request in flight until the returned guard is finished or
    /// dropped, so a request whose future is dropped (its client went away)
    /// leaves the gauge right.
    pub fn begin(&self) -> InFlight<'_> {
        self.inner.in_flight.increment(1.0);
        InFlight { metrics: self, started: Instant::now() }
    }

    fn record(&self, method: &str, route: &str, status: u16, stopped: Option<Stopped>, elapsed: Duration) {
        let method = method_label(method);
        let seconds = elapsed.as_secs_f64();
        match stopped {
            Some(Stopped::Shed) => self.inner.shed.increment(1),
            Some(Stopped::TimedOut) => self.inner.timed_out.increment(1),
            None => {}
        }
        // A poisoned lock only means a panic elsewhere while inserting; the map is still whole.
        {
            let series = self.inner.series.read().unwrap_or_else(|e| e.into_inner());
            if let Some(found) = series.get(route).and_then(|all| find(all, method, status)) {
                found.record(seconds);
                return;
            }
        }
        // A series' first request: the only one that builds labels.
        let mut series = self.inner.series.write().unwrap_or_else(|e| e.into_inner());
        let all = series.entry(route.into()).or_default();
        match all.iter().position(|s| s.status == status && s.method == method) {
            Some(at) => all[at].record(seconds),
            None => {
                let new = Series::new(method, route, status);
                new.record(seconds);
                all.push(new);
            }
        }
    }
}

impl Series {
    fn new(method: &'static str, route: &str, status: u16) -> Series {
        let route = route.to_string();
        let status_label = status.to_string();
        Series {
            method,
            status,
            requests: metrics::counter!(
                HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status_label
            ),
            duration: metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route),
        }
    }

    fn record(&self, seconds: f64) {
        self.requests.increment(1);
        self.duration.record(seconds);
    }
}

fn find<'a>(all: &'a [Series], method: &str, status: u16) -> Option<&'a Series> {
    all.iter().find(|s| s.status == status && s.method == method)
}

/// A request in flight, from [`HttpMetrics::begin`].
pub struct InFlight<'a> {
    metrics: &'a HttpMetrics,
    started: Instant,
}

impl InFlight<'_> {
    /// Records the answer: `route` is the route template (the same label for
    /// every request it matched), `stopped` whether a layer stopped the request
    /// before its handler answered. Returns how long the request took.
    pub fn finish(self, method: &str, route: &str, status: u16, stopped: Option<Stopped>) -> Duration {
        let elapsed = self.started.elapsed();
        self.metrics.record(method, route, status, stopped, elapsed);
        elapsed
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.metrics.inner.in_flight.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label("get"), "other", "methods are case-sensitive");
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn requests_are_counted_by_template_and_status_and_a_dropped_one_leaves_the_gauge() {
        let recorder = super::super::prometheus::recorder().unwrap();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let http = HttpMetrics::new();
            for status in [200, 200, 404] {
                http.begin().finish("POST", "/v1/things/{id}", status, None);
            }
            http.begin().finish("GET", "/v1/things/{id}", 503, Some(Stopped::Shed));
            http.begin().finish("GET", "/v1/things/{id}", 503, Some(Stopped::TimedOut));
            let abandoned = http.begin();
            assert!(handle.render().contains("pal_http_requests_in_flight 1\n"), "{}", handle.render());
            drop(abandoned);
        });
        let text = handle.render();
        for line in [
            "pal_http_requests_total{method=\"POST\",route=\"/v1/things/{id}\",status=\"200\"} 2\n",
            "pal_http_requests_total{method=\"POST\",route=\"/v1/things/{id}\",status=\"404\"} 1\n",
            "pal_http_requests_total{method=\"GET\",route=\"/v1/things/{id}\",status=\"503\"} 2\n",
            "pal_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/things/{id}\"} 3\n",
            "pal_http_requests_in_flight 0\n",
            "pal_http_requests_shed_total 1\n",
            "pal_http_requests_timed_out_total 1\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
    }
}
