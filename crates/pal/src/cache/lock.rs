//! Locks over any cache: a lease with a fencing token, released only by its owner.
//!
//! What a lock is: a key `lock:<name>` added with [`CacheService::add`] for its
//! TTL, holding `<token>:<owner>`. The token comes from a counter per name
//! (`lock-fence:<name>`, kept 30 days after its last use), so a later holder's
//! token is larger: a resource that remembers the largest token it has seen can
//! refuse a holder whose lease ran out while it was paused. Release and extension
//! compare the stored owner first, atomically on the server
//! ([`delete_if`](CacheService::delete_if), [`touch_if`](CacheService::touch_if)),
//! so a holder whose lease expired cannot release or extend the next holder's.
//!
//! What it is not: consensus. It is as safe as the server's memory of the key. A
//! Redis failover to a replica that had not received the `SET` (replication is
//! asynchronous), a Cluster master lost the same way, or a Redis restarted without
//! persistence can let a second holder in, and can restart the fencing counter;
//! redis-hybrid keeps the lock through a Redis outage in its database, but the
//! counter restarts from the database's copy. Use the fencing token where a double
//! holder would do harm. On `CACHE_PROVIDER=memory` a lock excludes only the tasks
//! of one process; `pal lock` refuses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::service::CacheService;
use super::ttl::Ttl;
use crate::error::{Error, Result};

/// How long a fencing counter outlives its name's last lock.
const FENCE_TTL_SECS: u64 = 30 * 24 * 3600;

/// A held lock. Dropped without [`release`](Lock::release), it is released in
/// the background (on a Tokio runtime); otherwise its TTL frees it.
pub struct Lock {
    cache: Arc<dyn CacheService>,
    key: String,
    value: Bytes,
    token: u64,
    released: bool,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock").field("key", &self.key).field("token", &self.token).finish()
    }
}

fn check_name(name: &str) -> Result<()> {
    match name.is_empty() {
        true => Err(Error::invalid_input("a lock name must not be empty")),
        false => Ok(()),
    }
}

static WARNED_IN_PROCESS: AtomicBool = AtomicBool::new(false);

impl Lock {
    /// Takes the lock `name` for `ttl` if it is free; `None` when another holds it.
    pub async fn try_acquire(cache: Arc<dyn CacheService>, name: &str, ttl: Ttl) -> Result<Option<Lock>> {
        check_name(name)?;
        if !cache.capabilities().leaves_process && !WARNED_IN_PROCESS.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                provider = cache.provider(),
                "a lock on a cache inside this process excludes only this process's tasks"
            );
        }
        let fence_ttl = Ttl::from_secs(FENCE_TTL_SECS)?;
        let fence = format!("lock-fence:{name}");
        let token = cache.incr(&fence, 1, fence_ttl).await?;
        // A busy name's counter lives on: each lock taken renews it.
        let _ = cache.touch(&fence, fence_ttl).await;
        let token = u64::try_from(token).unwrap_or(0);
        let value = Bytes::from(format!("{token}:{}", uuid::Uuid::new_v4().simple()));
        let key = format!("lock:{name}");
        match cache.add(&key, value.clone(), ttl).await? {
            true => Ok(Some(Lock { cache, key, value, token, released: false })),
            false => Ok(None),
        }
    }

    /// Takes the lock `name` for `ttl`, trying again (every 20 ms at first, up
    /// to every 500 ms) for up to `wait`; `None` when it stayed held.
    pub async fn acquire(cache: Arc<dyn CacheService>, name: &str, ttl: Ttl, wait: Duration) -> Result<Option<Lock>> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(20);
        loop {
            if let Some(lock) = Lock::try_acquire(cache.clone(), name, ttl).await? {
                return Ok(Some(lock));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The fencing token: larger than that of every earlier holder of this name.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Gives the lock a new TTL from now; `false` when it is no longer held (its
    /// lease ran out, and maybe another holds it).
    pub async fn extend(&self, ttl: Ttl) -> Result<bool> {
        self.cache.touch_if(&self.key, &self.value, ttl).await
    }

    /// Whether this holder still holds the lock.
    pub async fn is_held(&self) -> Result<bool> {
        Ok(self.cache.get(&self.key).await?.is_some_and(|v| v == self.value))
    }

    /// Releases the lock; `false` when it was no longer held.
    pub async fn release(mut self) -> Result<bool> {
        self.released = true;
        self.cache.delete_if(&self.key, &self.value).await
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let (cache, key, value) = (self.cache.clone(), std::mem::take(&mut self.key), self.value.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = cache.delete_if(&key, &value).await {
                    tracing::warn!(lock = %key, error = %e, "a dropped lock was not released; its TTL frees it");
                }
            });
        }
    }
}
