//! The local spool: audit events on disk until the database has them. An SQLite
//! file in WAL mode with `synchronous=FULL`, so a committed append survives a
//! crash of the process and of the machine; appends from concurrent callers are
//! committed together (group commit), sharing one fsync.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::{mpsc, oneshot};

use super::sink::AuditEvent;
use crate::error::{Error, ErrorKind, Result};

/// Appends waiting for the writer; each gets the outcome of its commit.
type Append = (AuditEvent, oneshot::Sender<Result<()>>);

/// Most appends one commit takes: bounded so a flood still commits in pieces.
const GROUP: usize = 512;

pub struct Spool {
    pool: SqlitePool,
    appends: mpsc::Sender<Append>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Backend, format!("audit spool: {what}: {e}"))
}

impl Spool {
    /// Opens (creating) `dir/audit-spool.db`.
    pub async fn open(dir: &Path) -> Result<Spool> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(ErrorKind::Config, format!("AUDIT_SPOOL_DIR {} cannot be created: {e}", dir.display()))
        })?;
        let path = dir.join("audit-spool.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| Error::new(ErrorKind::Config, format!("AUDIT_SPOOL_DIR {}: {e}", dir.display())))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await.map_err(|e| {
            Error::new(ErrorKind::Config, format!("AUDIT_SPOOL_DIR {}: the spool cannot be opened: {e}", dir.display()))
        })?;
        sqlx::query("CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)")
            .execute(&pool)
            .await
            .map_err(|e| failed("create", e))?;
        let (appends, queue) = mpsc::channel(GROUP * 4);
        tokio::spawn(write_groups(pool.clone(), queue));
        Ok(Spool { pool, appends })
    }

    /// Returns once `event` is committed to disk.
    pub async fn append(&self, event: AuditEvent) -> Result<()> {
        let (done, committed) = oneshot::channel();
        self.appends.send((event, done)).await.map_err(|_| failed("append", "the writer stopped"))?;
        committed.await.map_err(|_| failed("append", "the writer stopped"))?
    }

    /// Commits `events` in one transaction (the shutdown path: what memory still holds).
    pub async fn append_all(&self, events: &[AuditEvent]) -> Result<()> {
        insert(&self.pool, events.iter()).await
    }

    /// The oldest `limit` events, with the sequence number of the last.
    pub async fn oldest(&self, limit: usize) -> Result<(Vec<AuditEvent>, i64)> {
        let rows = sqlx::query("SELECT seq, event FROM spool ORDER BY seq LIMIT ?")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| failed("read", e))?;
        let mut last = 0;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            last = row.get::<i64, _>(0);
            let text: String = row.get(1);
            events.push(serde_json::from_str(&text).map_err(|e| failed("decode", e))?);
        }
        Ok((events, last))
    }

    /// Forgets every event up to `seq`: the database has them.
    pub async fn remove_through(&self, seq: i64) -> Result<()> {
        sqlx::query("DELETE FROM spool WHERE seq <= ?")
            .bind(seq)
            .execute(&self.pool)
            .await
            .map_err(|e| failed("delete", e))?;
        Ok(())
    }

    pub async fn len(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM spool")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| failed("count", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

async fn insert<'a>(pool: &SqlitePool, events: impl Iterator<Item = &'a AuditEvent>) -> Result<()> {
    let encoded: Vec<String> =
        events.map(|e| serde_json::to_string(e).map_err(|e| failed("encode", e))).collect::<Result<_>>()?;
    if encoded.is_empty() {
        return Ok(());
    }
    for chunk in encoded.chunks(GROUP) {
        let mut sql = QueryBuilder::<Sqlite>::new("INSERT INTO spool (event) ");
        sql.push_values(chunk, |mut row, event| {
            row.push_bind(event.as_str());
        });
        sql.build().execute(pool).await.map_err(|e| failed("write", e))?;
    }
    Ok(())
}

/// The one writer: takes every append waiting, commits them as one statement
/// (one fsync), then answers each.
async fn write_groups(pool: SqlitePool, mut queue: mpsc::Receiver<Append>) {
    let mut group = Vec::with_capacity(GROUP);
    while queue.recv_many(&mut group, GROUP).await > 0 {
        let outcome = insert(&pool, group.iter().map(|(event, _)| event)).await;
        for (_, done) in group.drain(..) {
            let _ = done.send(outcome.clone());
        }
    }
}
