//! The hybrid's own storage, on any [`DatabaseService`]: values in `pal_sessions`
//! (through the session store, so a sealed session store reads the same rows),
//! counters in `pal_cache_counters`, and in `pal_cache_journal` the keys changed while
//! Redis could not be told.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use bytes::Bytes;

use crate::cache::counter;
use crate::db::grammar::{Grammar, replace_on_conflict};
use crate::db::{DatabaseService, DatabaseServiceExt, Row, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::expiring::{ExpiringRecord, ExpiringRow, ExpiringStore, SqlExpiringStore, purge_expired_rows};

/// The tables the hybrid needs, for messages that name them.
pub(super) const TABLES: &str = "pal_sessions, pal_cache_counters, pal_cache_journal";

/// What the database holds for a key: a value or a counter, and when it expires.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum StoredEntry {
    Value(ExpiringRecord),
    Counter { value: i64, expires_at: DateTime<Utc> },
}

pub(super) struct HybridStore {
    pub(super) db: Arc<dyn DatabaseService>,
    values: SqlExpiringStore,
}

impl HybridStore {
    pub(super) fn new(db: Arc<dyn DatabaseService>) -> Self {
        HybridStore { values: SqlExpiringStore::new(db.clone()), db }
    }

    pub(super) async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.db.query(sql, params).await.map_err(schema_hint)
    }

    pub(super) async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.db.execute(sql, params).await.map_err(schema_hint)
    }

    pub(super) async fn transport(&self) -> Result<crate::tls::Transport> {
        self.db.transport().await
    }

    /// Checks that the database answers and holds the hybrid's tables. Missing
    /// tables are a configuration error that says how to create them.
    pub(super) async fn check_schema(&self) -> Result<()> {
        self.query("SELECT 1 FROM pal_sessions, pal_cache_counters, pal_cache_journal WHERE 1 = 0", &[]).await.map(drop)
    }

    /// The live entry for `key`, if any, in one round trip over both tables;
    /// expired rows are never returned.
    pub(super) async fn get(&self, key: &str) -> Result<Option<StoredEntry>> {
        entry(&self.query(ENTRY, &[key.into(), Utc::now().into()]).await?)
    }

    pub(super) async fn counter(&self, key: &str) -> Result<Option<(i64, DateTime<Utc>)>> {
        let rows = self
            .db
            .query(
                "SELECT value, expires_at FROM pal_cache_counters WHERE cache_key = $1 AND expires_at > $2",
                &[key.into(), Utc::now().into()],
            )
            .await?;
        rows.first().map(|r| Ok((r.get("value")?, r.get("expires_at")?))).transpose()
    }

    /// Stores many values in one go (see [`SqlExpiringStore::upsert_many`]).
    pub(super) async fn put_many(&self, rows: &[ExpiringRow<'_>]) -> Result<()> {
        self.values.upsert_many(rows).await.map_err(schema_hint)
    }

    /// Physically deletes expired values and counters; returns how many of each.
    pub(super) async fn purge_expired(&self) -> Result<(u64, u64)> {
        let values = purge_expired_rows(self.db.as_ref(), "pal_sessions", "id").await.map_err(schema_hint)?;
        let counters =
            purge_expired_rows(self.db.as_ref(), "pal_cache_counters", "cache_key").await.map_err(schema_hint)?;
        Ok((values, counters))
    }

    /// Removes the key in both tables; returns whether a live entry existed.
    pub(super) async fn delete(&self, key: &str) -> Result<bool> {
        let existed = self.get(key).await?.is_some();
        self.values.delete(key).await?;
        self.execute("DELETE FROM pal_cache_counters WHERE cache_key = $1", &[key.into()]).await?;
        Ok(existed)
    }

    /// Gives a live entry a new expiry; returns whether one existed.
    pub(super) async fn touch(&self, key: &str, expires_at: DateTime<Utc>) -> Result<bool> {
        let now = Utc::now();
        let mut changed = 0;
        for table in ["pal_sessions", "pal_cache_counters"] {
            let column = if table == "pal_sessions" { "id" } else { "cache_key" };
            let sql = format!("UPDATE {table} SET expires_at = $1 WHERE {column} = $2 AND expires_at > $3");
            changed += self.execute(&sql, &[expires_at.into(), key.into(), now.into()]).await?;
        }
        Ok(changed > 0)
    }

    /// Atomically adds `by` to the counter, creating it (or restarting an expired
    /// one) with `expires_at`; an existing live counter keeps its expiry. The rules
    /// are Redis's INCRBY: a live value that is not a decimal integer, or a result
    /// past 64 bits, is refused and nothing changes; a value that is an integer
    /// becomes a counter and keeps its expiry.
    pub(super) async fn incr(&self, key: &str, by: i64, expires_at: DateTime<Utc>) -> Result<i64> {
        let grammar = self.db.grammar();
        let now = Utc::now();
        let key: Arc<str> = key.into();
        self.db
            .transaction(move |tx| {
                let key = key.clone();
                Box::pin(async move {
                    let rows = tx.query(ENTRY, &[(*key).into(), now.into()]).await?;
                    match entry(&rows)? {
                        Some(StoredEntry::Value(record)) => {
                            let next = std::str::from_utf8(&record.data)
                                .ok()
                                .and_then(|text| text.parse::<i64>().ok())
                                .ok_or_else(|| tagged(counter::not_an_integer()))?
                                .checked_add(by)
                                .ok_or_else(|| tagged(counter::overflow(by)))?;
                            tx.execute("DELETE FROM pal_sessions WHERE id = $1", &[(*key).into()]).await?;
                            let params = [(*key).into(), next.into(), record.expires_at.into()];
                            tx.execute(&replace_counter(grammar), &params).await?;
                            return Ok(next);
                        }
                        Some(StoredEntry::Counter { value, .. }) if value.checked_add(by).is_none() => {
                            return Err(tagged(counter::overflow(by)));
                        }
                        _ => {}
                    }
                    let params = [(*key).into(), by.into(), expires_at.into(), now.into()];
                    tx.execute(&add_to_counter(grammar), &params).await?;
                    // Read in the same transaction, after the upsert locked the row.
                    let rows =
                        tx.query("SELECT value FROM pal_cache_counters WHERE cache_key = $1", &[(*key).into()]).await?;
                    rows.first().ok_or_else(|| Error::new(ErrorKind::Backend, "the counter row vanished"))?.get("value")
                })
            })
            .await
            .map_err(schema_hint)
    }

    /// Notes that `key` changed while Redis could not be told.
    pub(super) async fn journal(&self, key: &str) -> Result<()> {
        let sql = format!(
            "INSERT INTO pal_cache_journal (cache_key, recorded_at) VALUES ($1, $2){}",
            replace_on_conflict(self.db.grammar(), "cache_key", &["recorded_at"])
        );
        self.execute(&sql, &[key.into(), Utc::now().into()]).await.map(drop)
    }

    /// Up to `limit` journaled keys, oldest first, with when each was recorded.
    pub(super) async fn journaled(&self, limit: i64) -> Result<Vec<(String, DateTime<Utc>)>> {
        let rows = self
            .db
            .query(
                "SELECT cache_key, recorded_at FROM pal_cache_journal ORDER BY recorded_at LIMIT $1",
                &[limit.into()],
            )
            .await?;
        rows.iter().map(|r| Ok((r.get("cache_key")?, r.get("recorded_at")?))).collect()
    }

    /// Forgets a journaled key, unless it was journaled again since `recorded_at`.
    pub(super) async fn forget(&self, key: &str, recorded_at: DateTime<Utc>) -> Result<()> {
        self.db
            .execute(
                "DELETE FROM pal_cache_journal WHERE cache_key = $1 AND recorded_at <= $2",
                &[key.into(), recorded_at.into()],
            )
            .await
            .map(drop)
    }

    pub(super) async fn journal_size(&self) -> Result<i64> {
        let rows = self.query("SELECT COUNT(*) AS n FROM pal_cache_journal", &[]).await?;
        rows.first().map_or(Ok(0), |r| r.get("n"))
    }

    /// Up to `limit` live values whose keys start with `prefix`, the first in key
    /// order (keys compare byte for byte on every dialect). Counters are left out:
    /// they are plain integers either way.
    pub(super) async fn sample(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Bytes)>> {
        let rows = self
            .query(
                "SELECT id, data FROM pal_sessions WHERE expires_at > $1 AND id >= $2 ORDER BY id LIMIT $3",
                &[Utc::now().into(), prefix.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
            )
            .await?;
        let mut sampled = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.get("id")?;
            if !id.starts_with(prefix) {
                break;
            }
            sampled.push((id, Bytes::from(row.get::<Vec<u8>>("data")?)));
        }
        Ok(sampled)
    }

    /// Drops a counter once Redis holds it again.
    pub(super) async fn delete_counter(&self, key: &str) -> Result<()> {
        self.execute("DELETE FROM pal_cache_counters WHERE cache_key = $1", &[key.into()]).await.map(drop)
    }
}

/// A key's live value and counter, in one statement over both tables.
const ENTRY: &str = "SELECT data, NULL AS value, expires_at FROM pal_sessions WHERE id = $1 AND expires_at > $2 \
     UNION ALL \
     SELECT NULL, value, expires_at FROM pal_cache_counters WHERE cache_key = $1 AND expires_at > $2";

/// What [`ENTRY`] found: a value wins over a counter.
fn entry(rows: &[Row]) -> Result<Option<StoredEntry>> {
    let mut counter = None;
    for row in rows {
        let expires_at = row.get("expires_at")?;
        match row.get::<Option<Vec<u8>>>("data")? {
            Some(data) => return Ok(Some(StoredEntry::Value(ExpiringRecord { data: data.into(), expires_at }))),
            None => counter = Some(StoredEntry::Counter { value: row.get("value")?, expires_at }),
        }
    }
    Ok(counter)
}

const INSERT_COUNTER: &str = "INSERT INTO pal_cache_counters (cache_key, value, expires_at) VALUES ($1, $2, $3)";

/// Adds to a live counter, or starts an expired or missing one afresh; `$4` is now.
fn add_to_counter(g: &dyn Grammar) -> String {
    let expired = "pal_cache_counters.expires_at <= $4";
    // `value` first: it is decided while `expires_at` still holds the old expiry.
    let set = [
        (
            "value",
            format!(
                "CASE WHEN {expired} THEN {new} ELSE pal_cache_counters.value + {new} END",
                new = g.incoming("value")
            ),
        ),
        (
            "expires_at",
            format!("CASE WHEN {expired} THEN {} ELSE pal_cache_counters.expires_at END", g.incoming("expires_at")),
        ),
    ];
    format!("{INSERT_COUNTER}{}", g.on_conflict("cache_key", &set))
}

fn replace_counter(grammar: &dyn Grammar) -> String {
    format!("{INSERT_COUNTER}{}", replace_on_conflict(grammar, "cache_key", &["value", "expires_at"]))
}

fn tagged(e: Error) -> Error {
    e.with_provider(super::PROVIDER.name)
}

/// Deletes expired values and counters from the hybrid's tables in `db`; returns
/// how many of each. Every hybrid instance does this every
/// `CACHE_PURGE_INTERVAL_MS`; this is the same for a one-off run (`pal purge`).
pub async fn purge_expired(db: Arc<dyn DatabaseService>) -> Result<(u64, u64)> {
    HybridStore::new(db).purge_expired().await
}

fn missing_tables(e: &Error) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "the database has no redis-hybrid tables ({TABLES}): run `pal migrate`, or set DB_AUTO_MIGRATE=true ({})",
            e.message()
        ),
    )
    .with_provider(super::PROVIDER.name)
}

/// A statement on a missing table says how to create it.
fn schema_hint(e: Error) -> Error {
    if e.kind() == ErrorKind::UndefinedObject { missing_tables(&e) } else { e }
}

/// The data of a value read back, or a counter as its decimal text.
impl StoredEntry {
    /// The value and the time it has left; `None` once expired.
    pub(super) fn with_time_left(self) -> Option<(Bytes, std::time::Duration)> {
        let expires_at = match &self {
            StoredEntry::Value(record) => record.expires_at,
            StoredEntry::Counter { expires_at, .. } => *expires_at,
        };
        let left = (expires_at - Utc::now()).to_std().ok().filter(|left| !left.is_zero())?;
        Some((self.into_bytes(), left))
    }

    pub(super) fn into_bytes(self) -> Bytes {
        match self {
            StoredEntry::Value(record) => record.data,
            StoredEntry::Counter { value, .. } => Bytes::from(value.to_string()),
        }
    }
}
