//! [`tower_sessions`](https://docs.rs/tower-sessions) sessions kept by any pal
//! cache, so a web app using the sessions middleware it already knows gets pal's
//! providers, failover (redis-hybrid) and sealing without session code of its
//! own. Behind the `tower-sessions` feature.
//!
//! ```no_run
//! # async fn app(cache: std::sync::Arc<dyn pal::CacheService>) {
//! use pal::cache::tower_sessions::CacheSessionStore;
//! use tower_sessions::SessionManagerLayer;
//!
//! let sessions = SessionManagerLayer::new(CacheSessionStore::new(cache));
//! # let _ = sessions;
//! # }
//! ```
//!
//! Which session API to use: this one for a web app with cookies (the
//! middleware handles the cookie, its id and its expiry); [`CacheServiceExt`]'s
//! `set_session`/`get_session` for a service that manages its own tokens, as
//! the reference service does with bearer tokens. Both keep sessions under the
//! same namespace (`session:`), sealed when sealing is on.
//!
//! [`CacheServiceExt`]: crate::CacheServiceExt

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{self, SessionStore};

use super::service::CacheService;
use super::ttl::Ttl;
use crate::namespace::session_key;

/// A [`SessionStore`] over a pal cache: each session record is JSON under
/// `session:<id>`, expiring with the record.
#[derive(Clone)]
pub struct CacheSessionStore {
    cache: Arc<dyn CacheService>,
}

impl CacheSessionStore {
    /// Sessions in `cache`, such as the one [`factory::build_cache`](crate::factory::build_cache) returns.
    pub fn new(cache: Arc<dyn CacheService>) -> CacheSessionStore {
        CacheSessionStore { cache }
    }

    fn key(id: &Id) -> session_store::Result<String> {
        session_key(&id.to_string()).map_err(|e| session_store::Error::Backend(e.to_string()))
    }
}

impl fmt::Debug for CacheSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheSessionStore").field("cache", &self.cache.provider()).finish()
    }
}

fn backend(e: crate::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// What is left of the record's life as a cache TTL; `None` once it is over.
fn ttl_of(record: &Record) -> Option<Ttl> {
    let left = record.expiry_date - OffsetDateTime::now_utc();
    let left = Duration::try_from(left).ok().filter(|d| !d.is_zero())?;
    Ttl::new(left.min(Ttl::MAX)).ok()
}

#[async_trait]
impl SessionStore for CacheSessionStore {
    /// Draws a new id while the one drawn is taken, so a new session never
    /// overwrites another (with 128 random bits, in practice never).
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while self.cache.get(&Self::key(&record.id)?).await.map_err(backend)?.is_some() {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let key = Self::key(&record.id)?;
        let Some(ttl) = ttl_of(record) else {
            // Already expired: what a load would not return is not kept.
            return self.cache.delete(&key).await.map(drop).map_err(backend);
        };
        let json = serde_json::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        self.cache.set(&key, Bytes::from(json), ttl).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(bytes) = self.cache.get(&Self::key(id)?).await.map_err(backend)? else { return Ok(None) };
        let record: Record = serde_json::from_slice(&bytes).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        // A cache with whole-second expiry (memcached) may keep it a moment longer.
        Ok((record.expiry_date > OffsetDateTime::now_utc()).then_some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.cache.delete(&Self::key(id)?).await.map(drop).map_err(backend)
    }
}
