//! What a key check found, and what it means in words: the notes and errors of
//! `pal check`, start-up and `pal cache keycheck`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::record::{Found, KeyRecord, RECORD_KEY};
use crate::crypto::{Sealer, hex};

/// What a sample of stored values says about the keys that sealed them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SampleReport {
    /// Entries read, the record left out.
    pub sampled: usize,
    /// Sealed under this `CACHE_KEY_SECRET`: they name its fingerprint and open.
    pub this_secret: usize,
    /// Sealed under other secrets, by fingerprint: they open with the configured
    /// keys, so the fingerprint they name is authentic.
    pub other_secrets: BTreeMap<String, usize>,
    /// In a format older than fingerprints (1 or 2) that opens: which secret wrote
    /// them cannot be told.
    pub old_format: usize,
    /// Sealed with a key id that is not in `CACHE_ENCRYPTION_KEYS`, by id.
    pub unknown_key_ids: BTreeMap<String, usize>,
    /// Sealed with a configured key id, yet failing authentication: tampered, or
    /// sealed under another key of the same id.
    pub failed: usize,
    /// Plain integers: counters are hashed, not sealed, so they name no secret.
    pub counters: usize,
    /// Neither sealed nor a counter: not written through pal's sealing.
    pub not_sealed: usize,
    /// Sealed values by the key id in their header, whichever secret.
    pub key_ids: BTreeMap<String, usize>,
}

impl SampleReport {
    /// Sorts one stored entry, read from `storage_key`, into the counts.
    pub(super) fn count(&mut self, sealer: &Sealer, storage_key: &str, value: &[u8]) {
        self.sampled += 1;
        if super::is_counter(value) {
            self.counters += 1;
            return;
        }
        let Ok(header) = Sealer::header(value) else {
            match Sealer::is_sealed(value) {
                true => self.failed += 1,
                false => self.not_sealed += 1,
            }
            return;
        };
        *self.key_ids.entry(header.key_id.to_string()).or_default() += 1;
        if !sealer.key_ids().contains(&header.key_id) {
            *self.unknown_key_ids.entry(header.key_id.to_string()).or_default() += 1;
            return;
        }
        match (sealer.open(storage_key, value), header.fingerprint) {
            (Err(_), _) => self.failed += 1,
            (Ok(_), None) => self.old_format += 1,
            (Ok(_), Some(fp)) if hex(&fp) == sealer.fingerprint() => self.this_secret += 1,
            (Ok(_), Some(fp)) => *self.other_secrets.entry(hex(&fp)).or_default() += 1,
        }
    }

    /// Entries sealed under other secrets, all of them together.
    pub fn under_other_secrets(&self) -> usize {
        self.other_secrets.values().sum()
    }
}

/// This process's keys as a record would name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TheseKeys {
    /// The fingerprint this process's values carry in their header (hex).
    pub fingerprint: String,
    /// The configured key ids, the sealing one first.
    pub key_ids: Vec<String>,
}

/// A cache's key record and what a sample of its values says, against the keys
/// configured here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeyReport {
    /// The keys configured here.
    pub configured: TheseKeys,
    /// What the cache holds at `pal:keycheck`.
    pub record: Option<KeyRecord>,
    /// Whether the record was left under this `CACHE_KEY_SECRET`; `None` without one.
    pub record_matches: Option<bool>,
    /// `pal:keycheck` holds something that is not a record.
    pub record_unreadable: bool,
    /// `None`: this cache cannot list its keys, so the record alone speaks.
    pub sample: Option<SampleReport>,
}

impl KeyReport {
    pub(super) fn new(sealer: &Sealer, found: Found, sample: Option<SampleReport>) -> KeyReport {
        let (record, record_unreadable) = match found {
            Found::Record(record) => (Some(record), false),
            Found::Nothing => (None, false),
            Found::Unreadable => (None, true),
        };
        KeyReport {
            configured: TheseKeys {
                fingerprint: sealer.fingerprint(),
                key_ids: sealer.key_ids().into_iter().map(str::to_string).collect(),
            },
            record_matches: record.as_ref().map(|r| r.is_of(sealer)),
            record,
            record_unreadable,
            sample,
        }
    }

    fn under_other_secrets(&self) -> usize {
        self.sample.as_ref().map_or(0, SampleReport::under_other_secrets)
    }

    fn under_this_secret(&self) -> usize {
        self.sample.as_ref().map_or(0, |s| s.this_secret)
    }

    /// Whether the record or the sample disagrees with this `CACHE_KEY_SECRET`.
    pub fn disagrees(&self) -> bool {
        self.record_matches == Some(false) || self.under_other_secrets() > 0
    }

    /// Whether this cache cannot serve what it holds with these keys, as far as
    /// can be told: values of another secret with no record of this one, or a
    /// record of another secret that no sampled value contradicts.
    pub fn mismatch(&self) -> bool {
        match self.record_matches {
            Some(true) => false,
            Some(false) => self.under_other_secrets() > 0 || self.under_this_secret() == 0,
            None => self.under_other_secrets() > 0,
        }
    }

    /// What a reader should hear: `Err` with the whole story when [`mismatch`](Self::mismatch),
    /// otherwise notes worth a warning.
    pub fn verdict(&self) -> Result<Vec<String>, String> {
        if self.mismatch() {
            return Err(self.mismatch_text());
        }
        let mut notes = Vec::new();
        let sample = self.sample.clone().unwrap_or_default();
        let fingerprints = |s: &SampleReport| s.other_secrets.keys().cloned().collect::<Vec<_>>().join(", ");
        if sample.under_other_secrets() > 0 {
            notes.push(format!(
                "{} of {} sampled values were sealed under another CACHE_KEY_SECRET (fingerprint {}), though the key \
                 record names this one: their keys miss here; they expire on their own, but an instance still running \
                 with that secret keeps writing them",
                sample.under_other_secrets(),
                sample.sampled,
                fingerprints(&sample)
            ));
        }
        if let (Some(false), Some(record)) = (self.record_matches, &self.record) {
            notes.push(format!(
                "the key record at {RECORD_KEY} names another CACHE_KEY_SECRET ({}), but the {} sampled values that \
                 name a secret name this one: the record is stale; `pal cache keycheck --reset` replaces it, and so \
                 does the next write",
                record.describe(),
                sample.this_secret
            ));
        }
        for (id, n) in &sample.unknown_key_ids {
            notes.push(format!(
                "{n} of {} sampled values were sealed with key id {id:?}, which is not in CACHE_ENCRYPTION_KEYS: \
                 they fail to open (Integrity) until they expire",
                sample.sampled
            ));
        }
        if let (Some(true), Some(record)) = (self.record_matches, &self.record) {
            for id in record.key_ids.iter().filter(|id| !self.configured.key_ids.contains(id)) {
                if !sample.unknown_key_ids.contains_key(id) {
                    notes.push(format!(
                        "key id {id:?} sealed values here but is no longer in CACHE_ENCRYPTION_KEYS: \
                         those values fail to open (Integrity) until they expire"
                    ));
                }
            }
        }
        if sample.failed > 0 {
            notes.push(format!(
                "{} of {} sampled values fail authentication with a configured key id: tampered, or sealed under \
                 another key of the same id",
                sample.failed, sample.sampled
            ));
        }
        if self.record.is_none() && sample.old_format > 0 && sample.this_secret == 0 {
            notes.push(format!(
                "no key record, and the {} sampled values that open are in a format older than fingerprints: \
                 whether this CACHE_KEY_SECRET wrote them cannot be told until values are rewritten",
                sample.old_format
            ));
        }
        if self.record_unreadable {
            notes.push(format!("{RECORD_KEY} holds something pal cannot read as a key record"));
        }
        Ok(notes)
    }

    fn mismatch_text(&self) -> String {
        let mine = &self.configured.fingerprint;
        let sample = self.sample.clone().unwrap_or_default();
        let record = self.record.as_ref().filter(|_| self.record_matches == Some(false));
        let found = if sample.under_other_secrets() > 0 {
            let fingerprints = sample.other_secrets.keys().cloned().collect::<Vec<_>>().join(", ");
            let mut text = format!(
                "this cache holds data written with another CACHE_KEY_SECRET: {} of {} sampled values name fingerprint \
                 {fingerprints}, this secret's is {mine}",
                sample.under_other_secrets(),
                sample.sampled
            );
            if let Some(record) = record {
                text.push_str(&format!("; the key record agrees with them ({})", record.describe()));
            }
            if sample.this_secret > 0 {
                text.push_str(&format!("; {} sampled values were sealed under this secret", sample.this_secret));
            }
            text
        } else {
            let record = record.map_or_else(String::new, KeyRecord::describe);
            let evidence = match &self.sample {
                None => "this cache cannot list its keys, so no value was sampled".to_string(),
                Some(s) if s.sampled == 0 => "the sample found no value".to_string(),
                Some(s) => format!(
                    "none of the {} sampled values names a secret ({} in a format older than fingerprints that \
                     open with the configured keys, {} counters)",
                    s.sampled, s.old_format, s.counters
                ),
            };
            format!(
                "this cache holds data written with another CACHE_KEY_SECRET, says the key record at {RECORD_KEY} \
                 ({record}; this secret's fingerprint is {mine}); {evidence}"
            )
        };
        format!(
            "{found}. Keys written under another secret miss here as if they were absent. Restore the CACHE_KEY_SECRET \
             that wrote them; if this one is right, run `pal cache keycheck --reset` (`pal cache keycheck` shows what \
             the record and the sample say)"
        )
    }
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;

    fn sealer(secret: u8, ids: &[&str]) -> Sealer {
        let keys: Vec<_> = ids.iter().map(|id| (id.to_string(), Zeroizing::new([7u8; 32]))).collect();
        Sealer::new(&[secret; 32], &keys).unwrap()
    }

    fn report(found: Found, sample: Option<SampleReport>) -> KeyReport {
        KeyReport::new(&sealer(1, &["k1"]), found, sample)
    }

    fn record_of(secret: u8) -> Found {
        Found::Record(KeyRecord::of(&sealer(secret, &["k1"]), "first write"))
    }

    fn never_clear(text: &str) {
        assert!(!text.contains("clear"), "{text}");
        assert!(text.contains("Restore the CACHE_KEY_SECRET") && text.contains("pal cache keycheck --reset"), "{text}");
    }

    #[test]
    fn a_record_of_another_secret_alone_is_a_mismatch_that_says_so() {
        for sample in [None, Some(SampleReport { sampled: 3, old_format: 2, counters: 1, ..Default::default() })] {
            let report = report(record_of(2), sample.clone());
            assert!(report.mismatch() && report.disagrees());
            let text = report.verdict().unwrap_err();
            assert!(text.contains("says the key record") && text.contains("miss here"), "{text}");
            match sample {
                None => assert!(text.contains("cannot list its keys"), "{text}"),
                Some(_) => assert!(text.contains("none of the 3 sampled values names a secret"), "{text}"),
            }
            never_clear(&text);
        }
    }

    #[test]
    fn values_of_this_secret_outweigh_a_stale_record() {
        let report = report(record_of(2), Some(SampleReport { sampled: 2, this_secret: 2, ..Default::default() }));
        assert!(report.disagrees() && !report.mismatch());
        let notes = report.verdict().unwrap();
        assert!(notes.iter().any(|n| n.contains("stale")), "{notes:?}");
    }

    #[test]
    fn values_of_another_secret_without_this_ones_record_are_a_mismatch() {
        let other = BTreeMap::from([("0badf00d".to_string(), 1)]);
        let sample = SampleReport { sampled: 3, this_secret: 2, other_secrets: other.clone(), ..Default::default() };
        let text = report(Found::Nothing, Some(sample.clone())).verdict().unwrap_err();
        assert!(text.contains("1 of 3 sampled values name fingerprint 0badf00d"), "{text}");
        assert!(text.contains("2 sampled values were sealed under this secret"), "{text}");
        never_clear(&text);
        // Once the record is this secret's (a reset), the same sample is a note.
        let notes = report(record_of(1), Some(sample)).verdict().unwrap();
        assert!(notes.iter().any(|n| n.contains("0badf00d") && n.contains("expire")), "{notes:?}");
    }

    #[test]
    fn retired_key_ids_are_noted_once_from_the_record_or_the_sample() {
        let record = Found::Record(KeyRecord::of(&sealer(1, &["k1", "k0"]), "first write"));
        let notes = report(record.clone(), None).verdict().unwrap();
        assert_eq!(notes.iter().filter(|n| n.contains("\"k0\"")).count(), 1, "{notes:?}");
        let sample =
            SampleReport { sampled: 1, unknown_key_ids: BTreeMap::from([("k0".to_string(), 1)]), ..Default::default() };
        let notes = report(record, Some(sample)).verdict().unwrap();
        assert_eq!(notes.iter().filter(|n| n.contains("\"k0\"")).count(), 1, "{notes:?}");
    }

    #[test]
    fn older_values_without_a_record_are_said_to_tell_nothing() {
        let sample = SampleReport { sampled: 2, old_format: 2, ..Default::default() };
        let notes = report(Found::Nothing, Some(sample.clone())).verdict().unwrap();
        assert!(notes.iter().any(|n| n.contains("cannot be told")), "{notes:?}");
        assert!(report(record_of(1), Some(sample)).verdict().unwrap().is_empty());
    }

    #[test]
    fn a_record_from_before_fingerprints_still_names_its_secret() {
        let old: KeyRecord = serde_json::from_str(&format!(
            "{{\"secret\":\"{}\",\"key_ids\":[\"k1\"]}}",
            sealer(1, &["k1"]).hash_key(RECORD_KEY)
        ))
        .unwrap();
        assert!(old.is_of(&sealer(1, &["k1"])) && !old.is_of(&sealer(2, &["k1"])));
        assert!(old.describe().contains("a record older than fingerprints"));
    }
}
