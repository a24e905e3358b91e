//! Each replica's health and lag, checked in the background every
//! `DB_REPLICA_CHECK_INTERVAL_MS`. A change of state is logged once and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge};
use tokio::sync::{Notify, OnceCell};

use crate::db::position::{ReplicaLag, ReplicaState, ReplicaStatus};
use crate::db::{DatabaseService, ReplicationSettings};
use crate::error::{Error, ErrorKind, Result};
use crate::telemetry::{DB_REPLICA_LAG, DB_REPLICA_READS, DB_REPLICA_TRANSITIONS, DB_REPLICA_USABLE};

struct Checked {
    state: ReplicaState,
    lag: Option<Duration>,
    error: Option<String>,
    /// When a check last found it with nothing left to replay.
    caught_up: Option<Instant>,
}

struct Meters {
    reads: Counter,
    usable: Gauge,
    lag: Gauge,
    transitions: [Counter; 3],
}

pub(super) struct Replica {
    name: String,
    db: Arc<dyn DatabaseService>,
    checked: Mutex<Checked>,
    reads: AtomicU64,
    /// No-op handles when metrics are off, like the router's own.
    meters: Meters,
    /// Woken when it goes down, so reads waiting on it give up at once.
    down: Notify,
}

impl Replica {
    pub(super) fn new(name: String, db: Arc<dyn DatabaseService>, metrics: bool) -> Self {
        let meters = match metrics {
            true => {
                let label = name.clone();
                let to = |state: ReplicaState| metrics::counter!(DB_REPLICA_TRANSITIONS, "replica" => label.clone(), "to" => state.as_str());
                Meters {
                    reads: metrics::counter!(DB_REPLICA_READS, "served_by" => label.clone(), "reason" => "replica"),
                    usable: metrics::gauge!(DB_REPLICA_USABLE, "replica" => label.clone()),
                    lag: metrics::gauge!(DB_REPLICA_LAG, "replica" => label.clone()),
                    transitions: [to(ReplicaState::Usable), to(ReplicaState::Lagging), to(ReplicaState::Down)],
                }
            }
            false => Meters {
                reads: Counter::noop(),
                usable: Gauge::noop(),
                lag: Gauge::noop(),
                transitions: [Counter::noop(), Counter::noop(), Counter::noop()],
            },
        };
        let checked = Checked { state: ReplicaState::Unchecked, lag: None, error: None, caught_up: None };
        Replica { name, db, checked: Mutex::new(checked), reads: AtomicU64::new(0), meters, down: Notify::new() }
    }

    pub(super) fn db(&self) -> &dyn DatabaseService {
        self.db.as_ref()
    }

    /// Its address, as the URL gives it.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Runs `work` on this replica, given up when a check finds the replica down
    /// meanwhile: a read waiting on a replica that stopped answering (hung, cut
    /// off) goes to the primary then, not at the end of its statement timeout. A
    /// `Connection` error, as the replica is out of reach: not a timeout of the
    /// statement.
    pub(super) async fn unless_down<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let mut went_down = std::pin::pin!(self.down.notified());
        // Registered before `work` starts, so a `notify_waiters` while it runs reaches it.
        went_down.as_mut().enable();
        tokio::select! {
            outcome = work => outcome,
            () = went_down => Err(Error::new(
                ErrorKind::Connection,
                "the replica stopped answering during the read (a check found it down)",
            )),
        }
    }

    pub(super) fn usable(&self) -> bool {
        self.lock().state == ReplicaState::Usable
    }

    pub(super) fn served(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.meters.reads.increment(1);
    }

    /// A read or a token check failed on it: no more reads until a check finds it
    /// usable again.
    pub(super) fn failed(&self, error: &Error) {
        self.set(ReplicaState::Down, None, Some(error.to_string()));
    }

    /// A read failed here. The replica is skipped when the failure says it cannot
    /// serve (unreachable, too slow); any other failure (a table the replica has
    /// not received yet, a write sent down the read path) says nothing of its health.
    pub(super) fn read_failed(&self, error: &Error) {
        if error.is_temporary() {
            self.failed(error);
        } else {
            tracing::debug!(replica = self.name.as_str(), error = %error, "read failed on the replica");
        }
    }

    pub(super) fn status(&self) -> ReplicaStatus {
        let checked = self.lock();
        ReplicaStatus {
            name: self.name.clone(),
            state: checked.state,
            lag_ms: checked.lag.map(|lag| u64::try_from(lag.as_millis()).unwrap_or(u64::MAX)),
            error: checked.error.clone(),
            reads: self.reads.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Checked> {
        // A panic while holding it cannot leave `Checked` half-written.
        self.checked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn check(&self, settings: &ReplicationSettings) {
        let bound = check_bound(settings);
        let (state, lag, error) = match tokio::time::timeout(bound, self.db.replica_lag()).await {
            Ok(Ok(ReplicaLag::Behind(reported))) => match self.bounded_lag(reported) {
                lag if settings.max_lag.is_some_and(|max| lag > max) => (
                    ReplicaState::Lagging,
                    Some(lag),
                    Some(format!(
                        "{} ms behind, more than DB_REPLICA_MAX_LAG_MS={}",
                        lag.as_millis(),
                        settings.max_lag.unwrap_or_default().as_millis()
                    )),
                ),
                lag => (ReplicaState::Usable, Some(lag), None),
            },
            Ok(Ok(ReplicaLag::Unknown)) => match settings.max_lag {
                Some(_) => (
                    ReplicaState::Lagging,
                    None,
                    Some("applies no changes now (replication stopped or paused), so its lag is unknown".into()),
                ),
                None => (ReplicaState::Usable, None, None),
            },
            Ok(Err(e)) => (ReplicaState::Down, None, Some(e.to_string())),
            Err(_) => (ReplicaState::Down, None, Some(format!("no answer within {} ms", bound.as_millis()))),
        };
        self.set(state, lag, error);
    }

    /// The lag a server reports is the age of the last change it replayed, which
    /// after a quiet spell on the primary overstates a replica that is merely
    /// replaying the first new change. A replica seen caught up at an earlier check
    /// cannot be further behind than the time since.
    fn bounded_lag(&self, reported: Duration) -> Duration {
        let mut checked = self.lock();
        if reported.is_zero() {
            checked.caught_up = Some(Instant::now());
        }
        match checked.caught_up {
            Some(at) => reported.min(at.elapsed()),
            None => reported,
        }
    }

    fn set(&self, state: ReplicaState, lag: Option<Duration>, error: Option<String>) {
        let mut checked = self.lock();
        let before = checked.state;
        let caught_up = if state == ReplicaState::Down { None } else { checked.caught_up };
        *checked = Checked { state, lag, error, caught_up };
        let error = checked.error.clone();
        drop(checked);
        self.meters.usable.set(if state == ReplicaState::Usable { 1.0 } else { 0.0 });
        if let Some(lag) = lag {
            self.meters.lag.set(lag.as_secs_f64());
        }
        if before == state {
            return;
        }
        if state == ReplicaState::Down {
            self.down.notify_waiters();
        }
        match state {
            ReplicaState::Usable => self.meters.transitions[0].increment(1),
            ReplicaState::Lagging => self.meters.transitions[1].increment(1),
            ReplicaState::Down => self.meters.transitions[2].increment(1),
            ReplicaState::Unchecked => {}
        }
        let replica = self.name.as_str();
        match state {
            ReplicaState::Usable if before == ReplicaState::Unchecked => {
                tracing::debug!(replica, "read replica usable")
            }
            ReplicaState::Usable => tracing::info!(replica, "read replica usable again: reads return to it"),
            _ => tracing::warn!(
                replica,
                state = state.as_str(),
                error = error.as_deref().unwrap_or(""),
                "read replica skipped: its reads go to the primary"
            ),
        }
    }
}

/// How long one check may take: a replica that hangs is down, not waited for.
fn check_bound(settings: &ReplicationSettings) -> Duration {
    settings.check_interval.max(Duration::from_secs(1))
}

pub(super) struct Replicas {
    all: Vec<Replica>,
    settings: ReplicationSettings,
    first: OnceCell<()>,
}

impl Replicas {
    pub(super) fn new(all: Vec<Replica>, settings: ReplicationSettings) -> Self {
        Replicas { all, settings, first: OnceCell::new() }
    }

    pub(super) fn all(&self) -> &[Replica] {
        &self.all
    }

    pub(super) fn settings(&self) -> &ReplicationSettings {
        &self.settings
    }

    /// Waits for the first check of every replica, so that a short-lived process
    /// (`pal db query --replica`) neither reads from a replica nobody checked nor
    /// skips a good one. Bounded by one check.
    pub(super) async fn first_check(&self) {
        self.first.get_or_init(|| self.check_all()).await;
    }

    async fn check_all(&self) {
        futures::future::join_all(self.all.iter().map(|replica| replica.check(&self.settings))).await;
    }
}

/// Checks every replica every interval until the router is dropped.
pub(super) async fn check_forever(replicas: Weak<Replicas>) {
    loop {
        let Some(live) = replicas.upgrade() else { return };
        if live.first.initialized() {
            live.check_all().await;
        } else {
            live.first_check().await;
        }
        let interval = live.settings.check_interval;
        drop(live);
        tokio::time::sleep(interval).await;
    }
}
