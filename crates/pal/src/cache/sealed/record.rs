//! The key record: which `CACHE_KEY_SECRET` and key ids a cache's data belongs
//! to, kept in the cache itself, unhashed under [`RECORD_KEY`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cache::{CacheService, Ttl};
use crate::crypto::Sealer;
use crate::error::{Error, ErrorKind, Result};

/// Where the record lives, unhashed: a sealed key is a namespace and a digest,
/// so no caller's key can take this name.
pub const RECORD_KEY: &str = "pal:keycheck";
/// Rewritten only when it changes, so it must outlive any value it speaks for.
const RECORD_TTL_SECS: u64 = 365 * 24 * 3600;

/// What the record says. Records written before fingerprints existed hold only
/// `secret` and `key_ids`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// A keyed hash of [`RECORD_KEY`] under the secret: it tells secrets apart
    /// without revealing them.
    pub secret: String,
    /// The fingerprint the secret's values carry in their header (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The key ids configured when it was written, the sealing one first.
    pub key_ids: Vec<String>,
    /// When the record was written; `None` in records from before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_at: Option<DateTime<Utc>>,
    /// The program, pal's version, the process and why it wrote the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
}

impl KeyRecord {
    /// The record `sealer` would write now, for `why` (`first write`, `reset`).
    pub fn of(sealer: &Sealer, why: &str) -> KeyRecord {
        let program = std::env::current_exe()
            .ok()
            .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "a program".to_string());
        KeyRecord {
            secret: sealer.hash_key(RECORD_KEY),
            fingerprint: Some(sealer.fingerprint()),
            key_ids: sealer.key_ids().into_iter().map(str::to_string).collect(),
            written_at: Some(Utc::now()),
            written_by: Some(format!(
                "{program} (pal {}, process {}): {why}",
                env!("CARGO_PKG_VERSION"),
                std::process::id()
            )),
        }
    }

    /// Whether it was left under the secret of `sealer`.
    pub fn is_of(&self, sealer: &Sealer) -> bool {
        self.secret == sealer.hash_key(RECORD_KEY)
    }

    /// One line for an operator: fingerprint, key ids, when and by what.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "fingerprint {}, key ids {}",
            self.fingerprint.as_deref().unwrap_or("unknown (a record older than fingerprints)"),
            self.key_ids.join(", ")
        );
        if let Some(at) = self.written_at {
            text.push_str(&format!(", written {}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        }
        if let Some(by) = &self.written_by {
            text.push_str(&format!(" by {by}"));
        }
        text
    }
}

/// What the cache holds at [`RECORD_KEY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Nothing is stored there.
    Nothing,
    /// A record pal can read.
    Record(KeyRecord),
    /// Something pal cannot read as a record.
    Unreadable,
}

pub(super) async fn read(cache: &dyn CacheService) -> Result<Found> {
    Ok(match cache.get(RECORD_KEY).await? {
        None => Found::Nothing,
        Some(raw) => serde_json::from_slice(&raw).map_or(Found::Unreadable, Found::Record),
    })
}

pub(super) async fn write(cache: &dyn CacheService, record: &KeyRecord) -> Result<()> {
    let bytes = serde_json::to_vec(record).map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
    cache.set(RECORD_KEY, bytes.into(), Ttl::from_secs(RECORD_TTL_SECS)?).await
}
