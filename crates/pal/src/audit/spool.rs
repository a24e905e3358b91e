//! The local spool: audit events on disk until the database has them. An SQLite
//! file in WAL mode with `synchronous=FULL`, so a committed append survives a
//! crash of the process and of the machine; appends from concurrent callers are
//! committed together (group commit), sharing one fsync.
//!
//! A spool belongs to one database: it records the [`DbTarget`] it is named after
//! and, once reached, the server's own identity (see [`super::spools`]).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::{mpsc, oneshot};

use super::sink::AuditEvent;
use crate::db::DbTarget;
use crate::error::{Error, ErrorKind, Result};

/// Appends waiting for the writer; each gets the outcome of its commit.
type Append = (AuditEvent, oneshot::Sender<Result<()>>);

/// Most appends one commit takes: bounded so a flood still commits in pieces.
const GROUP: usize = 512;

pub(super) struct Spool {
    pool: SqlitePool,
    appends: mpsc::Sender<Append>,
    path: PathBuf,
}

/// What a spool file says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Binding {
    /// [`DbTarget::key`] of the database its events are for.
    pub key: String,
    /// [`DbTarget::description`] of it.
    pub target: String,
    /// The server's identity, recorded when it was first reached.
    pub server: Option<String>,
    /// Why the events were set aside, for a spool of events refused by the server now at the address.
    pub note: Option<String>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Backend, format!("audit spool: {what}: {e}"))
}

async fn connect(path: &Path, create: bool) -> Result<SqlitePool> {
    let unusable = |e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::Config, format!("AUDIT_SPOOL_DIR: the spool {} cannot be opened: {e}", path.display()))
    };
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(|e| unusable(&e))?
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(std::time::Duration::from_secs(10));
    SqlitePoolOptions::new().max_connections(2).connect_with(options).await.map_err(|e| unusable(&e))
}

impl Spool {
    /// Opens (creating) the spool of `target` at `path`, refusing a file bound to
    /// another database.
    pub(super) async fn open(path: &Path, target: &DbTarget) -> Result<Spool> {
        Spool::create(path, &Binding { key: target.key(), target: target.to_string(), server: None, note: None }).await
    }

    /// Opens (creating) a spool bound as `binding` says.
    pub(super) async fn create(path: &Path, binding: &Binding) -> Result<Spool> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::new(ErrorKind::Config, format!("AUDIT_SPOOL_DIR {} cannot be created: {e}", dir.display()))
            })?;
        }
        let pool = connect(path, true).await?;
        for ddl in [
            "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS binding (only INTEGER PRIMARY KEY CHECK (only = 1), key TEXT NOT NULL, \
             target TEXT NOT NULL, server TEXT, note TEXT)",
        ] {
            sqlx::query(ddl).execute(&pool).await.map_err(|e| failed("create", e))?;
        }
        sqlx::query("INSERT INTO binding VALUES (1, ?, ?, ?, ?) ON CONFLICT (only) DO NOTHING")
            .bind(&binding.key)
            .bind(&binding.target)
            .bind(&binding.server)
            .bind(&binding.note)
            .execute(&pool)
            .await
            .map_err(|e| failed("bind", e))?;
        let spool = Spool::started(pool, path);
        match spool.binding().await? {
            Some(found) if found.key == binding.key => Ok(spool),
            found => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "AUDIT_SPOOL_DIR: {} holds events for {}, not for {}: it was renamed; give it its name back, \
                     or deliver its events with `pal audit adopt`",
                    path.display(),
                    found.map_or("an unknown database".to_string(), |b| b.target),
                    binding.target
                ),
            )),
        }
    }

    /// Opens an existing spool file, whatever it is bound to (or a spool from
    /// before spools were bound).
    pub(super) async fn open_file(path: &Path) -> Result<Spool> {
        Ok(Spool::started(connect(path, false).await?, path))
    }

    fn started(pool: SqlitePool, path: &Path) -> Spool {
        let (appends, queue) = mpsc::channel(GROUP * 4);
        tokio::spawn(write_groups(pool.clone(), queue));
        Spool { pool, appends, path: path.to_path_buf() }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// `None` for a spool written before spools were bound to a database.
    pub(super) async fn binding(&self) -> Result<Option<Binding>> {
        let bound: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'binding'")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| failed("read", e))?;
        if bound == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT key, target, server, note FROM binding WHERE only = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| failed("read", e))?;
        Ok(row.map(|row| Binding { key: row.get(0), target: row.get(1), server: row.get(2), note: row.get(3) }))
    }

    /// Records the server's identity, unless one is recorded already; returns the one recorded.
    pub(super) async fn record_server(&self, server: &str) -> Result<Option<String>> {
        sqlx::query("UPDATE binding SET server = ? WHERE only = 1 AND server IS NULL")
            .bind(server)
            .execute(&self.pool)
            .await
            .map_err(|e| failed("bind", e))?;
        Ok(self.binding().await?.and_then(|b| b.server))
    }

    /// Binds the spool to another server: what it holds has been moved aside.
    pub(super) async fn rebind_server(&self, server: &str) -> Result<()> {
        sqlx::query("UPDATE binding SET server = ? WHERE only = 1")
            .bind(server)
            .execute(&self.pool)
            .await
            .map_err(|e| failed("bind", e))?;
        Ok(())
    }

    /// Returns once `event` is committed to disk.
    pub(super) async fn append(&self, event: AuditEvent) -> Result<()> {
        let (done, committed) = oneshot::channel();
        self.appends.send((event, done)).await.map_err(|_| failed("append", "the writer stopped"))?;
        committed.await.map_err(|_| failed("append", "the writer stopped"))?
    }

    /// Commits `events` in one transaction (the shutdown path: what memory still holds).
    pub(super) async fn append_all(&self, events: &[AuditEvent]) -> Result<()> {
        insert(&self.pool, events.iter()).await
    }

    /// The oldest `limit` events, with the sequence number of the last.
    pub(super) async fn oldest(&self, limit: usize) -> Result<(Vec<AuditEvent>, i64)> {
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
    pub(super) async fn remove_through(&self, seq: i64) -> Result<()> {
        sqlx::query("DELETE FROM spool WHERE seq <= ?")
            .bind(seq)
            .execute(&self.pool)
            .await
            .map_err(|e| failed("delete", e))?;
        Ok(())
    }

    pub(super) async fn len(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM spool")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| failed("count", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The sequence number of the oldest event.
    pub(super) async fn first_seq(&self) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT MIN(seq) FROM spool").fetch_one(&self.pool).await.map_err(|e| failed("read", e))
    }

    /// The sequence number of the newest event (0 when empty).
    pub(super) async fn last_seq(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM spool")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| failed("read", e))
    }

    /// Moves the events up to `through`, in order, behind those of `to`; returns how
    /// many. Each piece is committed in `to` before it leaves this spool, under this
    /// spool's write lock, so a concurrent mover cannot take it twice; a crash in
    /// between leaves a piece in both, which the sink's idempotence absorbs.
    pub(super) async fn move_into(&self, to: &Spool, through: i64) -> Result<u64> {
        let mut moved = 0;
        loop {
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| failed("move", e))?;
            let rows = sqlx::query("SELECT seq, event FROM spool WHERE seq <= ? ORDER BY seq LIMIT ?")
                .bind(through)
                .bind(GROUP as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| failed("move", e))?;
            let Some(last) = rows.last().map(|row| row.get::<i64, _>(0)) else { return Ok(moved) };
            let events: Vec<String> = rows.iter().map(|row| row.get(1)).collect();
            insert_encoded(&to.pool, &events).await?;
            sqlx::query("DELETE FROM spool WHERE seq <= ?")
                .bind(last)
                .execute(&mut *tx)
                .await
                .map_err(|e| failed("move", e))?;
            tx.commit().await.map_err(|e| failed("move", e))?;
            moved += events.len() as u64;
        }
    }

    /// Closes the file, so it can be removed.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

async fn insert<'a>(pool: &SqlitePool, events: impl Iterator<Item = &'a AuditEvent>) -> Result<()> {
    let encoded: Vec<String> =
        events.map(|e| serde_json::to_string(e).map_err(|e| failed("encode", e))).collect::<Result<_>>()?;
    insert_encoded(pool, &encoded).await
}

async fn insert_encoded(pool: &SqlitePool, encoded: &[String]) -> Result<()> {
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
