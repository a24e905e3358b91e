//! Typed sessions over any cache, stored as JSON under the session namespace.

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::service::CacheService;
use super::ttl::Ttl;
use crate::error::{Error, ErrorKind, Result};
use crate::namespace::session_key;

/// Typed session helpers over any [`CacheService`], stored as JSON. Implemented for
/// every cache (including `dyn CacheService`), so adapters never write them.
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
}

impl<C: CacheService + ?Sized> CacheServiceExt for C {}
