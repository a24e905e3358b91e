//! The key check: the record a cache keeps of the secret its data belongs to, and a
//! sample of the values themselves, which name the secret that sealed them.

use std::sync::Arc;

use super::record::{self, Found, KeyRecord, RECORD_KEY};
use super::report::{KeyReport, SampleReport};
use crate::cache::CacheService;
use crate::crypto::Sealer;
use crate::error::Result;
use crate::telemetry::own_call;

/// Entries a check reads at most: enough to see a secret that wrote more than a
/// few percent of the values, few enough to cost milliseconds once per process.
pub const SAMPLE_SIZE: usize = 32;

/// Inspects and resets a sealed cache's key record. Reads go below the sealing
/// layer, where keys are hashed and values sealed as stored.
#[derive(Clone)]
pub struct KeyCheck {
    inner: Arc<dyn CacheService>,
    sealer: Arc<Sealer>,
}

/// What the first write of a process did about the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Written; with the record it replaced, if any.
    Written(Option<KeyRecord>),
    /// The record already says what it would.
    Kept,
    /// Not written, and why: the cache holds data of another secret.
    Refused(String),
}

impl KeyCheck {
    /// Over `unsealed`, the cache the sealing layer wraps, under the keys of `sealer`.
    pub fn new(unsealed: Arc<dyn CacheService>, sealer: Arc<Sealer>) -> KeyCheck {
        KeyCheck { inner: unsealed, sealer }
    }

    /// Reads the record and a sample of at most [`SAMPLE_SIZE`] stored values.
    /// Writes nothing.
    pub async fn inspect(&self) -> Result<KeyReport> {
        own_call(self.read()).await
    }

    async fn read(&self) -> Result<KeyReport> {
        let (found, sampled) = tokio::join!(record::read(self.inner.as_ref()), self.inner.sample("", SAMPLE_SIZE + 1));
        let sample = sampled?.map(|entries| {
            let mut report = SampleReport::default();
            for (key, value) in entries.iter().filter(|(key, _)| key != RECORD_KEY).take(SAMPLE_SIZE) {
                report.count(&self.sealer, key, value);
            }
            report
        });
        Ok(KeyReport::new(&self.sealer, found?, sample))
    }

    /// Replaces the record with this process's keys, whatever it said; returns
    /// what it replaced and what it wrote.
    pub async fn reset(&self) -> Result<(Found, KeyRecord)> {
        own_call(async {
            let found = record::read(self.inner.as_ref()).await?;
            let mine = KeyRecord::of(&self.sealer, "reset");
            record::write(self.inner.as_ref(), &mine).await?;
            Ok((found, mine))
        })
        .await
    }

    /// After a process's first write: records its keys unless the sample shows
    /// values of another secret. A record of another secret is replaced only when
    /// sampled values name this one and none another; alone, it is evidence kept.
    pub async fn record_after_write(&self) -> Result<Recorded> {
        own_call(self.record_unless_contradicted()).await
    }

    async fn record_unless_contradicted(&self) -> Result<Recorded> {
        let report = self.read().await?;
        let sample = report.sample.clone().unwrap_or_default();
        let up_to_date = |record: &KeyRecord| {
            record.fingerprint.as_deref() == Some(&report.configured.fingerprint)
                && record.key_ids == report.configured.key_ids
        };
        let refused = || {
            let why = match report.verdict() {
                Err(why) => why,
                Ok(_) => format!(
                    "{} of {} sampled values were sealed under another CACHE_KEY_SECRET",
                    sample.under_other_secrets(),
                    sample.sampled
                ),
            };
            Ok(Recorded::Refused(why))
        };
        match (&report.record, report.record_matches) {
            (Some(record), Some(true)) if up_to_date(record) => Ok(Recorded::Kept),
            _ if sample.under_other_secrets() > 0 => refused(),
            (Some(_), Some(false)) if sample.this_secret == 0 => refused(),
            (previous, _) => {
                record::write(self.inner.as_ref(), &KeyRecord::of(&self.sealer, "first write")).await?;
                Ok(Recorded::Written(previous.clone().filter(|_| report.record_matches == Some(false))))
            }
        }
    }
}
