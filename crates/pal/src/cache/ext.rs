//! What every cache gets for free, written once over [`CacheService`]: typed
//! values and sessions as JSON, and get-or-load.

use std::future::Future;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::service::CacheService;
use super::ttl::Ttl;
use crate::error::{Error, ErrorKind, Result};
use crate::namespace::session_key;

/// Typed values, sessions and get-or-load over any [`CacheService`]. Implemented
/// for every cache (including `dyn CacheService`), so adapters never write them.
#[async_trait]
pub trait CacheServiceExt: CacheService {
    /// Stores `data` as JSON for session `id`, for `ttl`. Data that cannot be
    /// serialised is an [`ErrorKind::Usage`] error (the type's `Serialize` is at
    /// fault, not the user); an empty `id` is [`ErrorKind::InvalidInput`].
    async fn set_session<T: Serialize + Sync + ?Sized>(&self, id: &str, data: &T, ttl: Ttl) -> Result<()> {
        let json = serde_json::to_vec(data)
            .map_err(|e| Error::usage(format!("session data cannot be serialized to JSON: {e}")))?;
        self.set(&session_key(id)?, json.into(), ttl).await
    }

    /// The session, or `None` when missing or expired. Stored data that does not
    /// decode as `T` is an [`ErrorKind::Decode`] error, never a silent `None`.
    async fn get_session<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>> {
        let Some(bytes) = self.get(&session_key(id)?).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::new(ErrorKind::Decode, format!("stored session does not decode: {e}")))
    }

    /// Deletes session `id`; `true` when it existed.
    async fn delete_session(&self, id: &str) -> Result<bool> {
        self.delete(&session_key(id)?).await
    }

    /// The value of `key` decoded from JSON, or `None` when missing. A value that
    /// does not decode as `T` is an [`ErrorKind::Decode`] error.
    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(bytes) = self.get(key).await? else { return Ok(None) };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::new(ErrorKind::Decode, format!("stored value does not decode: {e}")))
    }

    /// Stores `value` as JSON under `key` for `ttl`.
    async fn set_json<T: Serialize + Sync + ?Sized>(&self, key: &str, value: &T, ttl: Ttl) -> Result<()> {
        self.set(key, to_json(value)?, ttl).await
    }

    /// The value of `key`, or, when it is missing, what `loader` returns, stored
    /// for `ttl`; concurrent callers of one missing key in this process share one
    /// call of `loader` (see [`get_or_load`](super::load::get_or_load)). The hit
    /// path is one `get`.
    async fn get_or_load<F, Fut>(&self, key: &str, ttl: Ttl, loader: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<Bytes>> + Send,
    {
        super::load::get_or_load(self, key, ttl, loader).await
    }

    /// [`get_or_load`](CacheServiceExt::get_or_load) of a value kept as JSON.
    async fn get_or_load_json<T, F, Fut>(&self, key: &str, ttl: Ttl, loader: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let bytes = super::load::get_or_load(self, key, ttl, || async move { to_json(&loader().await?) }).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(ErrorKind::Decode, format!("stored value does not decode: {e}")))
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::usage(format!("the value cannot be serialized to JSON: {e}")))
}

impl<C: CacheService + ?Sized> CacheServiceExt for C {}
