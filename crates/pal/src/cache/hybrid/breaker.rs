//! A circuit breaker whose closing is gated by recovery work: after the cooldown
//! one caller becomes the probe, and the breaker closes only when the probe has
//! finished (Redis answers and the journal is drained), so no call reads Redis
//! before every key changed during the outage has been invalidated there.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The state of redis-hybrid's circuit breaker on Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Redis serves.
    Closed,
    /// Redis failed too often: calls use the database until the cooldown ends.
    Open,
    /// A probe is running; calls keep using the database meanwhile.
    HalfOpen,
}

impl State {
    /// The state as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    /// The state as the breaker gauge records it: 0 closed, 1 open, 2 half open.
    pub(crate) fn as_gauge(self) -> f64 {
        match self {
            State::Closed => 0.0,
            State::Open => 1.0,
            State::HalfOpen => 2.0,
        }
    }
}

/// Where a call should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Redis,
    Database,
    /// The database, and this caller must run the recovery probe.
    Probe,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive_failures: u32,
    open_until: Instant,
}

#[derive(Debug)]
pub(super) struct Breaker {
    inner: Mutex<Inner>,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub(super) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            inner: Mutex::new(Inner { state: State::Closed, consecutive_failures: 0, open_until: Instant::now() }),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn state(&self) -> State {
        self.lock().state
    }

    pub(super) fn route(&self) -> Route {
        let mut inner = self.lock();
        match inner.state {
            State::Closed => Route::Redis,
            State::HalfOpen => Route::Database,
            State::Open if Instant::now() >= inner.open_until => {
                inner.state = State::HalfOpen;
                Route::Probe
            }
            State::Open => Route::Database,
        }
    }

    pub(super) fn success(&self) {
        let mut inner = self.lock();
        if inner.state == State::Closed {
            inner.consecutive_failures = 0;
        }
    }

    /// Records a transient Redis failure; returns `true` when this one opened the breaker.
    pub(super) fn failure(&self) -> bool {
        let mut inner = self.lock();
        if inner.state != State::Closed {
            return false;
        }
        inner.consecutive_failures += 1;
        if inner.consecutive_failures >= self.threshold {
            inner.state = State::Open;
            inner.open_until = Instant::now() + self.cooldown;
            return true;
        }
        false
    }

    /// The probe's outcome: close, or stay open for another cooldown.
    /// Opens a closed breaker at once: a health probe found Redis unavailable, so
    /// calls need not each wait for their own timeouts to find it out. Returns
    /// whether this call opened it.
    pub(super) fn trip(&self) -> bool {
        let mut inner = self.lock();
        if inner.state != State::Closed {
            return false;
        }
        inner.state = State::Open;
        inner.open_until = Instant::now() + self.cooldown;
        true
    }

    pub(super) fn probe_finished(&self, recovered: bool) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        if recovered {
            inner.state = State::Closed;
        } else {
            inner.state = State::Open;
            inner.open_until = Instant::now() + self.cooldown;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_once_after_the_cooldown() {
        let b = Breaker::new(3, Duration::from_millis(50));
        assert!(!b.failure() && !b.failure());
        b.success();
        assert!(!b.failure() && !b.failure(), "a success resets the count");
        assert!(b.failure(), "the third consecutive failure opens it");
        assert_eq!(b.route(), Route::Database);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.route(), Route::Probe);
        assert_eq!(b.route(), Route::Database, "only one caller probes");
        b.probe_finished(false);
        assert_eq!(b.state(), State::Open);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.route(), Route::Probe);
        b.probe_finished(true);
        assert_eq!(b.route(), Route::Redis);
        assert!(b.trip(), "a failed health probe opens it at once");
        assert!(!b.trip(), "once");
        assert_eq!(b.route(), Route::Database);
    }
}
