//! Get-or-load over any cache: one load per key per process however many callers
//! miss at once, and (through [`ReadThrough`]) a stale value served when the
//! source fails, a refresh before a hot value expires, and one load across
//! processes.
//!
//! A value [`ReadThrough`] stores carries, before its bytes, when it stops being
//! fresh: an envelope of 14 bytes (`0xFF` `PALL` `1`, then that instant as Unix
//! milliseconds). Keys it manages are read through it (a plain `get` returns
//! the envelope); a value another writer stored without one counts as fresh.

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_singleflight::UnaryGroup;
use bytes::{BufMut, Bytes, BytesMut};

use super::lock::Lock;
use super::service::CacheService;
use super::ttl::Ttl;
use crate::error::{Error, ErrorKind, Result};

/// One flight per (cache, key) in the process.
static FLIGHTS: LazyLock<UnaryGroup<String, Result<Bytes>>> = LazyLock::new(UnaryGroup::new);

fn flight_key<C: CacheService + ?Sized>(cache: &C, key: &str) -> String {
    format!("{:p}\u{0}{key}", cache as *const C as *const ())
}

/// The value of `key`, or, when it is missing, what `loader` returns, stored for
/// `ttl`. Concurrent callers of one missing key in this process share one call of
/// `loader`. A cache that cannot be reached (a temporary error) does not fail the
/// call: the loader's value is returned without being stored. A loader's error is
/// returned to every caller sharing its flight.
pub async fn get_or_load<C, F, Fut>(cache: &C, key: &str, ttl: Ttl, loader: F) -> Result<Bytes>
where
    C: CacheService + ?Sized,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<Bytes>> + Send,
{
    match cache.get(key).await {
        Ok(Some(value)) => return Ok(value),
        Ok(None) => {}
        Err(e) if e.is_temporary() => return loader().await,
        Err(e) => return Err(e),
    }
    FLIGHTS
        .work(&flight_key(cache, key), async move {
            // A flight that ended just before this one began may have stored it.
            if let Ok(Some(value)) = cache.get(key).await {
                return Ok(value);
            }
            let value = loader().await?;
            store_loaded(cache, key, value.clone(), ttl).await?;
            Ok(value)
        })
        .await
}

/// Caches a loaded value. A cache that cannot be reached now (a temporary error)
/// does not fail the load: the value is returned uncached.
async fn store_loaded<C: CacheService + ?Sized>(cache: &C, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
    match cache.set(key, value, ttl).await {
        Err(e) if e.is_temporary() => {
            tracing::warn!(error = %e, "get-or-load: the loaded value was not cached");
            Ok(())
        }
        other => other,
    }
}

/// How [`ReadThrough`] loads and keeps values.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LoadOptions {
    /// How long a loaded value is fresh.
    pub ttl: Ttl,
    /// Fail-safe: how long a value is kept past `ttl`, to be served (flagged
    /// stale) when the loader fails or exceeds `soft_timeout`.
    pub grace: Option<Duration>,
    /// With a stale value at hand, how long a caller waits for the loader before
    /// it gets the stale value; the load goes on and stores its value.
    pub soft_timeout: Option<Duration>,
    /// Early refresh: a hit with less than this fraction of `ttl` left starts a
    /// background load, so a hot key is refreshed before it expires.
    pub refresh_at: Option<f64>,
    /// Across processes: a miss takes the lock `load:<key>` for this long, so of
    /// several instances one loads while the others wait for its value.
    pub across_processes: Option<Duration>,
}

impl LoadOptions {
    /// Fresh for `ttl`; no grace, no early refresh, one load per process.
    pub fn new(ttl: Ttl) -> Self {
        LoadOptions { ttl, grace: None, soft_timeout: None, refresh_at: None, across_processes: None }
    }

    /// Keeps values `grace` past their TTL, served stale when the loader fails,
    /// or after `soft_timeout` when it is slow.
    pub fn fail_safe(self, grace: Duration, soft_timeout: Duration) -> Self {
        LoadOptions { grace: Some(grace), soft_timeout: Some(soft_timeout), ..self }
    }

    /// Refreshes in the background a hit that has less than `fraction` (0 to 1)
    /// of its TTL left.
    pub fn early_refresh(self, fraction: f64) -> Self {
        LoadOptions { refresh_at: Some(fraction.clamp(0.0, 1.0)), ..self }
    }

    /// One load across every process sharing the cache: a miss holds the lock
    /// `load:<key>` for at most `lease` while it loads.
    pub fn across_processes(self, lease: Duration) -> Self {
        LoadOptions { across_processes: Some(lease), ..self }
    }
}

/// A value from [`ReadThrough::get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The value.
    pub value: Bytes,
    /// Past its TTL: served because the loader failed or was slow.
    pub stale: bool,
}

const ENVELOPE: &[u8] = b"\xffPALL1";
const ENVELOPE_LEN: usize = ENVELOPE.len() + 8;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn seal_envelope(value: &[u8], fresh_until_ms: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(ENVELOPE_LEN + value.len());
    out.put_slice(ENVELOPE);
    out.put_u64(fresh_until_ms);
    out.put_slice(value);
    out.freeze()
}

/// The value and when it stops being fresh; `None` for a value without envelope.
fn open_envelope(stored: Bytes) -> (Bytes, Option<u64>) {
    if stored.len() >= ENVELOPE_LEN && stored.starts_with(ENVELOPE) {
        let mut instant = [0; 8];
        instant.copy_from_slice(&stored[ENVELOPE.len()..ENVELOPE_LEN]);
        return (stored.slice(ENVELOPE_LEN..), Some(u64::from_be_bytes(instant)));
    }
    (stored, None)
}

/// A cache read through a loader, with [`LoadOptions`]: fail-safe, early refresh
/// and one load across processes. Loads run as tasks of their own, so a caller
/// that stops waiting (a soft timeout, a dropped request) does not stop the load.
#[derive(Clone)]
pub struct ReadThrough {
    cache: Arc<dyn CacheService>,
    options: LoadOptions,
}

impl ReadThrough {
    /// Reads `cache` with `options`.
    pub fn new(cache: Arc<dyn CacheService>, options: LoadOptions) -> Self {
        ReadThrough { cache, options }
    }

    /// The value of `key`: fresh from the cache, or loaded by `loader` (once per
    /// process, or across processes with that option), or, with fail-safe, the
    /// stale value when the loader fails or exceeds the soft timeout. Without a
    /// stale value a loader's failure is the error.
    pub async fn get<F, Fut>(&self, key: &str, loader: F) -> Result<Loaded>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Bytes>> + Send + 'static,
    {
        let now = now_ms();
        let stale = match self.cache.get(key).await {
            Ok(Some(stored)) => match open_envelope(stored) {
                (value, None) => return Ok(Loaded { value, stale: false }),
                (value, Some(fresh_until)) if now < fresh_until => {
                    if self.refresh_due(fresh_until - now) {
                        drop(self.spawn_load(key, loader, Refresh::Due));
                    }
                    return Ok(Loaded { value, stale: false });
                }
                (value, Some(_)) => Some(value),
            },
            Ok(None) => None,
            Err(e) if e.is_temporary() => {
                return loader().await.map(|value| Loaded { value, stale: false });
            }
            Err(e) => return Err(e),
        };
        let flight = self.spawn_load(key, loader, Refresh::IfNotFresh);
        let Some(old) = stale else {
            return joined(flight.await).map(|value| Loaded { value, stale: false });
        };
        let outcome = match self.options.soft_timeout {
            Some(soft) => tokio::time::timeout(soft, flight).await.map_err(|_| {
                Error::new(ErrorKind::Timeout, format!("the loader took longer than {} ms", soft.as_millis()))
            }),
            None => Ok(flight.await),
        };
        match outcome.and_then(joined) {
            Ok(value) => Ok(Loaded { value, stale: false }),
            Err(e) => {
                tracing::warn!(error = %e, "read-through: the loader failed; serving the stale value");
                Ok(Loaded { value: old, stale: true })
            }
        }
    }

    fn refresh_due(&self, left_ms: u64) -> bool {
        self.options
            .refresh_at
            .is_some_and(|fraction| (left_ms as f64) < fraction * self.options.ttl.as_duration().as_millis() as f64)
    }

    /// Starts (or joins) the load of `key` in a task of its own.
    fn spawn_load<F, Fut>(&self, key: &str, loader: F, refresh: Refresh) -> tokio::task::JoinHandle<Result<Bytes>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Bytes>> + Send + 'static,
    {
        let (this, key) = (self.clone(), key.to_string());
        tokio::spawn(async move {
            let flight = flight_key(this.cache.as_ref(), &key);
            FLIGHTS.work(&flight, this.load(&key, loader, refresh)).await
        })
    }

    /// The load itself: the fresh value another flight stored meanwhile (unless
    /// this is an early refresh), or the loader's, stored with its envelope.
    async fn load<F, Fut>(&self, key: &str, loader: F, refresh: Refresh) -> Result<Bytes>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<Bytes>> + Send,
    {
        if refresh == Refresh::IfNotFresh
            && let Some(value) = self.fresh(key).await
        {
            return Ok(value);
        }
        let guard = match self.options.across_processes {
            Some(lease) => match self.wait_for_other_process(key, lease).await? {
                Waited::Loaded(value) => return Ok(value),
                Waited::Holding(lock) => lock,
            },
            None => None,
        };
        let value = loader().await?;
        let ttl = self.options.ttl.as_duration();
        let kept = Ttl::new(ttl + self.options.grace.unwrap_or_default())?;
        let stored = seal_envelope(&value, now_ms() + ttl.as_millis() as u64);
        store_loaded(self.cache.as_ref(), key, stored, kept).await?;
        if let Some(lock) = guard {
            let _ = lock.release().await;
        }
        Ok(value)
    }

    async fn fresh(&self, key: &str) -> Option<Bytes> {
        match open_envelope(self.cache.get(key).await.ok()??) {
            (value, None) => Some(value),
            (value, Some(fresh_until)) if now_ms() < fresh_until => Some(value),
            _ => None,
        }
    }

    /// Takes the load lock, or waits while another process holds it for the
    /// value it stores; after `lease` this process loads whatever happened.
    async fn wait_for_other_process(&self, key: &str, lease: Duration) -> Result<Waited> {
        let name = format!("load:{key}");
        let started = std::time::Instant::now();
        loop {
            if let Some(lock) = Lock::try_acquire(self.cache.clone(), &name, Ttl::new(lease)?).await? {
                // The holder before may have stored it just before releasing.
                if let Some(value) = self.fresh(key).await {
                    return Ok(Waited::Loaded(value));
                }
                return Ok(Waited::Holding(Some(lock)));
            }
            if let Some(value) = self.fresh(key).await {
                return Ok(Waited::Loaded(value));
            }
            if started.elapsed() >= lease {
                return Ok(Waited::Holding(None));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Whether a load may end with a fresh value found in the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// A miss or a stale value: what another flight stored meanwhile will do.
    IfNotFresh,
    /// An early refresh: the value is fresh, and loaded anyway.
    Due,
}

enum Waited {
    Loaded(Bytes),
    Holding(Option<Lock>),
}

fn joined(outcome: std::result::Result<Result<Bytes>, tokio::task::JoinError>) -> Result<Bytes> {
    outcome.map_err(|e| Error::new(ErrorKind::Backend, format!("the load stopped: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_plain_values_pass() {
        let sealed = seal_envelope(b"value", 1234);
        assert_eq!(open_envelope(sealed), (Bytes::from_static(b"value"), Some(1234)));
        assert_eq!(open_envelope(Bytes::from_static(b"plain")), (Bytes::from_static(b"plain"), None));
    }
}
