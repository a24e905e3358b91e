//! Sessions in the `sessions` table of any database.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SessionRecord, SessionStore};
use crate::db::{DatabaseService, Dialect, Value};
use crate::error::Result;

/// [`SessionStore`] on the `sessions` table of any [`DatabaseService`].
pub struct SqlSessionStore {
    db: Arc<dyn DatabaseService>,
}

impl SqlSessionStore {
    pub fn new(db: Arc<dyn DatabaseService>) -> Self {
        SqlSessionStore { db }
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn get(&self, id: &str) -> Result<Option<SessionRecord>> {
        let rows = self
            .db
            .query(
                "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
                &[id.into(), Utc::now().into()],
            )
            .await?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(SessionRecord { data: row.get::<Vec<u8>>("data")?.into(), expires_at: row.get("expires_at")? }))
    }

    async fn upsert(&self, id: &str, data: &[u8], expires_at: DateTime<Utc>) -> Result<()> {
        let sql = match self.db.dialect() {
            Dialect::MySql => {
                "INSERT INTO sessions (id, data, expires_at, updated_at) VALUES ($1, $2, $3, $4) \
                 ON DUPLICATE KEY UPDATE data = VALUES(data), expires_at = VALUES(expires_at), updated_at = VALUES(updated_at)"
            }
            Dialect::Postgres | Dialect::Sqlite => {
                "INSERT INTO sessions (id, data, expires_at, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, updated_at = excluded.updated_at"
            }
        };
        let params = [id.into(), Value::Bytes(data.to_vec()), expires_at.into(), Utc::now().into()];
        self.db.execute(sql, &params).await.map(drop)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        Ok(self.db.execute("DELETE FROM sessions WHERE id = $1", &[id.into()]).await? > 0)
    }

    async fn purge_expired(&self) -> Result<u64> {
        self.db.execute("DELETE FROM sessions WHERE expires_at <= $1", &[Utc::now().into()]).await
    }
}
