//! The hybrid's conditional writes (`add`, `delete_if`, `touch_if`) and batches.
//!
//! While Redis serves, it decides a conditional write, and the database, which
//! holds every value's copy, decides it too: a key added while Redis was away
//! lives only in the database (its journal removed it from Redis), so an `add`
//! that Redis accepts is kept only if the database accepts it as well. While Redis
//! is away the database alone decides, atomically, and the key is journaled.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::try_join_all;

use super::state::{Shared, expiry};
use super::store::{HybridStore, StoredEntry};
use crate::cache::Ttl;
use crate::error::{ErrorKind, Result};

impl HybridStore {
    /// Stores a value unless the key holds a live value or counter; whether it did.
    /// The primary key decides between concurrent adders.
    pub(super) async fn add(&self, key: &str, data: &[u8], expires_at: DateTime<Utc>) -> Result<bool> {
        let now = Utc::now();
        let counters = "SELECT 1 AS live FROM pal_cache_counters WHERE cache_key = $1 AND expires_at > $2";
        if !self.query(counters, &[key.into(), now.into()]).await?.is_empty() {
            return Ok(false);
        }
        self.execute("DELETE FROM pal_sessions WHERE id = $1 AND expires_at <= $2", &[key.into(), now.into()]).await?;
        let insert = "INSERT INTO pal_sessions (id, data, expires_at, updated_at) VALUES ($1, $2, $3, $4)";
        match self.execute(insert, &[key.into(), data.to_vec().into(), expires_at.into(), now.into()]).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::UniqueViolation => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the value while it is live and holds exactly `expected`.
    pub(super) async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let sql = "DELETE FROM pal_sessions WHERE id = $1 AND data = $2 AND expires_at > $3";
        Ok(self.execute(sql, &[key.into(), expected.to_vec().into(), Utc::now().into()]).await? > 0)
    }

    /// Gives the value a new expiry while it is live and holds exactly `expected`.
    pub(super) async fn touch_if(&self, key: &str, expected: &[u8], expires_at: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE pal_sessions SET expires_at = $1 WHERE id = $2 AND data = $3 AND expires_at > $4";
        let params = [expires_at.into(), key.into(), expected.to_vec().into(), Utc::now().into()];
        Ok(self.execute(sql, &params).await? > 0)
    }
}

pub(super) async fn add(inner: &Arc<Shared>, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
    let expires_at = expiry(ttl);
    // Not retried: an add whose answer was lost may have been applied.
    match inner.on_redis(false, || inner.redis.add(key, value.clone(), ttl)).await {
        Some(Ok(false)) => Ok(false),
        Some(Ok(true)) if !inner.config.write_through => Ok(true),
        Some(Ok(true)) => match inner.db.add(key, &value, expires_at).await {
            Ok(true) => Ok(true),
            Ok(false) => {
                // The database holds a live value Redis no longer had: it wins.
                let _ = inner.redis.delete_if(key, &value).await;
                Ok(false)
            }
            Err(e) if e.is_temporary() => inner.database_write(Err(e)).map(|()| true),
            Err(e) => {
                let _ = inner.redis.delete_if(key, &value).await;
                Err(e)
            }
        },
        Some(Err(e)) => Err(e),
        None => {
            inner
                .fallback("add", async {
                    let added = inner.db.add(key, &value, expires_at).await?;
                    if added {
                        inner.journal(key).await?;
                    }
                    Ok(added)
                })
                .await
        }
    }
}

pub(super) async fn delete_if(inner: &Arc<Shared>, key: &str, expected: &[u8]) -> Result<bool> {
    // The database copy first, as `delete` does, so no re-population resurrects it.
    let in_db = inner.db.delete_if(key, expected).await?;
    match inner.on_redis(true, || inner.redis.delete_if(key, expected)).await {
        Some(result) => Ok(result? || in_db),
        None => {
            inner
                .fallback("delete_if", async {
                    if in_db {
                        inner.journal(key).await?;
                    }
                    Ok(in_db)
                })
                .await
        }
    }
}

pub(super) async fn touch_if(inner: &Arc<Shared>, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
    let expires_at = expiry(ttl);
    match inner.on_redis(true, || inner.redis.touch_if(key, expected, ttl)).await {
        Some(Ok(in_redis)) => {
            let in_db = match inner.config.write_through {
                true => {
                    let touched = inner.db.touch_if(key, expected, expires_at).await;
                    let found = touched.as_ref().is_ok_and(|t| *t);
                    inner.database_write(touched.map(drop))?;
                    found
                }
                false => false,
            };
            Ok(in_redis || in_db)
        }
        Some(Err(e)) => Err(e),
        None => {
            inner
                .fallback("touch_if", async {
                    let touched = inner.db.touch_if(key, expected, expires_at).await?;
                    if touched {
                        inner.journal(key).await?;
                    }
                    Ok(touched)
                })
                .await
        }
    }
}

/// Redis's answer for all keys in one batch; the database's for those it misses
/// (each read once for concurrent misses, and put back into Redis), or for all of
/// them while Redis is away.
pub(super) async fn get_many(inner: &Arc<Shared>, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
    use std::sync::atomic::Ordering;
    let from_db = |entry: Option<StoredEntry>| entry.map(StoredEntry::into_bytes);
    match inner.on_redis(true, || inner.redis.get_many(keys)).await {
        Some(Ok(mut values)) => {
            let missed: Vec<usize> = (0..keys.len()).filter(|&i| values[i].is_none()).collect();
            let hits = (keys.len() - missed.len()) as u64;
            inner.stats.redis_hits.fetch_add(hits, Ordering::Relaxed);
            inner.stats.redis_misses.fetch_add(missed.len() as u64, Ordering::Relaxed);
            let loaded = try_join_all(missed.iter().map(|&i| inner.load(keys[i]))).await?;
            for (i, entry) in missed.into_iter().zip(loaded) {
                values[i] = from_db(entry);
            }
            Ok(values)
        }
        Some(Err(e)) => Err(e),
        None => {
            inner
                .fallback("get_many", async {
                    let entries = try_join_all(keys.iter().map(|key| inner.db.get(key))).await?;
                    Ok(entries.into_iter().map(from_db).collect())
                })
                .await
        }
    }
}
