//! Sessions in the `pal_sessions` table of any database.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ExpiringRecord, ExpiringStore};
use crate::cache::last_of_each;
use crate::db::grammar::{Grammar, replace_on_conflict};
use crate::db::{DatabaseService, DatabaseServiceExt, Value};
use crate::error::Result;

/// [`ExpiringStore`] on the `pal_sessions` table of any [`DatabaseService`].
pub struct SqlExpiringStore {
    db: Arc<dyn DatabaseService>,
}

/// One session to store: id, data, expiry.
pub type ExpiringRow<'a> = (&'a str, &'a [u8], DateTime<Utc>);

/// The most rows one statement stores. Batches are cut into power-of-two chunks up
/// to this size, so a connection's statement cache holds at most nine shapes.
const MAX_ROWS_PER_STATEMENT: usize = 256;

/// Rows a purge deletes per statement: short enough that it never holds many row
/// locks for long, whatever else writes the table.
pub const PURGE_BATCH: i64 = 1000;

impl SqlExpiringStore {
    /// A store on `db`'s `pal_sessions` table, which must exist (`pal migrate`).
    pub fn new(db: Arc<dyn DatabaseService>) -> Self {
        SqlExpiringStore { db }
    }

    /// Stores many sessions at once, atomically: one statement per power-of-two
    /// chunk, in one transaction when there is more than one. When an id appears
    /// twice the later row wins, as it would with one upsert after the other.
    pub async fn upsert_many(&self, rows: &[ExpiringRow<'_>]) -> Result<()> {
        let now = Utc::now();
        let mut unique = last_of_each(rows, |row| row.0);
        // Rows in key order: concurrent writers (other instances) then take their
        // row locks in one order, and wait for each other instead of deadlocking.
        unique.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let grammar = self.db.grammar();
        let mut statements: Vec<(String, Vec<Value>)> = Vec::new();
        let mut rest = unique.as_slice();
        while !rest.is_empty() {
            let size = MAX_ROWS_PER_STATEMENT.min(1 << rest.len().ilog2());
            let (chunk, tail) = rest.split_at(size);
            let params = chunk
                .iter()
                .flat_map(|(id, data, expires_at)| {
                    [(*id).into(), Value::Bytes(data.to_vec()), (*expires_at).into(), now.into()]
                })
                .collect();
            statements.push((upsert_sql(grammar, size), params));
            rest = tail;
        }
        self.db.execute_all(statements).await
    }
}

fn upsert_sql(grammar: &dyn Grammar, rows: usize) -> String {
    let mut sql = String::from("INSERT INTO pal_sessions (id, data, expires_at, updated_at) VALUES ");
    for r in 0..rows {
        let n = r * 4;
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4));
    }
    sql.push_str(&replace_on_conflict(grammar, "id", &["data", "expires_at", "updated_at"]));
    sql
}

/// Deletes the rows of `table` whose `expires_at` has passed, [`PURGE_BATCH`] at a
/// time so no statement holds many locks; several purgers at once only share the
/// work. Returns how many rows this call deleted.
pub async fn purge_expired_rows(db: &dyn DatabaseService, table: &str, key_column: &str) -> Result<u64> {
    let sql = db.grammar().delete_expired(table, key_column);
    let mut purged = 0;
    loop {
        let deleted = db.execute(&sql, &[Utc::now().into(), PURGE_BATCH.into()]).await?;
        purged += deleted;
        if deleted < PURGE_BATCH as u64 {
            return Ok(purged);
        }
    }
}

#[async_trait]
impl ExpiringStore for SqlExpiringStore {
    async fn get(&self, id: &str) -> Result<Option<ExpiringRecord>> {
        let rows = self
            .db
            .query(
                "SELECT data, expires_at FROM pal_sessions WHERE id = $1 AND expires_at > $2",
                &[id.into(), Utc::now().into()],
            )
            .await?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(ExpiringRecord { data: row.get::<Vec<u8>>("data")?.into(), expires_at: row.get("expires_at")? }))
    }

    async fn upsert(&self, id: &str, data: &[u8], expires_at: DateTime<Utc>) -> Result<()> {
        self.db
            .execute(
                &upsert_sql(self.db.grammar(), 1),
                &[id.into(), Value::Bytes(data.to_vec()), expires_at.into(), Utc::now().into()],
            )
            .await
            .map(drop)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        Ok(self.db.execute("DELETE FROM pal_sessions WHERE id = $1", &[id.into()]).await? > 0)
    }

    async fn purge_expired(&self) -> Result<u64> {
        purge_expired_rows(self.db.as_ref(), "pal_sessions", "id").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_number_their_placeholders_per_row() {
        let sql = upsert_sql(crate::db::postgres::GRAMMAR, 2);
        assert!(sql.contains("($1, $2, $3, $4), ($5, $6, $7, $8) ON CONFLICT (id)"), "{sql}");
        assert!(upsert_sql(crate::db::mysql::GRAMMAR, 1).contains("ON DUPLICATE KEY UPDATE"));
    }
}
