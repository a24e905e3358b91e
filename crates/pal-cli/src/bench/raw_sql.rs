//! The peer of pal's session store: the same two statements (upsert, then read
//! back unexpired) on a raw sqlx pool of the same size, values bound the way
//! pal binds them on each dialect.

use chrono::{SecondsFormat, Utc};
use pal::db::Dialect;
use sqlx::{MySqlPool, PgPool, SqlitePool};

const PG_UPSERT: &str = "INSERT INTO pal_sessions (id, data, expires_at, updated_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, updated_at = excluded.updated_at";
const PG_GET: &str = "SELECT data, expires_at FROM pal_sessions WHERE id = $1 AND expires_at > $2";
const MY_UPSERT: &str = "INSERT INTO pal_sessions (id, data, expires_at, updated_at) VALUES (?, ?, ?, ?) \
     ON DUPLICATE KEY UPDATE data = VALUES(data), expires_at = VALUES(expires_at), updated_at = VALUES(updated_at)";
const MY_GET: &str = "SELECT data, expires_at FROM pal_sessions WHERE id = ? AND expires_at > ?";
const LITE_UPSERT: &str = "INSERT INTO pal_sessions (id, data, expires_at, updated_at) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, updated_at = excluded.updated_at";
const LITE_GET: &str = "SELECT data, expires_at FROM pal_sessions WHERE id = ?1 AND expires_at > ?2";

pub(super) enum RawSessions {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

impl RawSessions {
    /// A pool of `size` connections to `url`; connections open at first use.
    pub(super) fn connect(dialect: Dialect, url: &str, size: u32) -> Result<RawSessions, String> {
        let err = |e: sqlx::Error| e.to_string();
        Ok(match dialect {
            Dialect::Postgres => RawSessions::Postgres(
                sqlx::pool::PoolOptions::new().max_connections(size).connect_lazy(url).map_err(err)?,
            ),
            Dialect::MySql => {
                RawSessions::MySql(sqlx::pool::PoolOptions::new().max_connections(size).connect_lazy(url).map_err(err)?)
            }
            Dialect::Sqlite => RawSessions::Sqlite(
                sqlx::pool::PoolOptions::new().max_connections(size).connect_lazy(url).map_err(err)?,
            ),
        })
    }

    pub(super) async fn round_trip(&self, id: &str, data: &[u8]) -> Result<(), String> {
        let now = Utc::now();
        let expires = now + chrono::Duration::seconds(300);
        let err = |e: sqlx::Error| e.to_string();
        match self {
            RawSessions::Postgres(pool) => {
                sqlx::query(PG_UPSERT).bind(id).bind(data).bind(expires).bind(now).execute(pool).await.map_err(err)?;
                sqlx::query(PG_GET).bind(id).bind(Utc::now()).fetch_optional(pool).await.map(drop).map_err(err)
            }
            RawSessions::MySql(pool) => {
                let (expires, now) = (expires.naive_utc(), now.naive_utc());
                sqlx::query(MY_UPSERT).bind(id).bind(data).bind(expires).bind(now).execute(pool).await.map_err(err)?;
                sqlx::query(MY_GET)
                    .bind(id)
                    .bind(Utc::now().naive_utc())
                    .fetch_optional(pool)
                    .await
                    .map(drop)
                    .map_err(err)
            }
            RawSessions::Sqlite(pool) => {
                let text = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
                sqlx::query(LITE_UPSERT)
                    .bind(id)
                    .bind(data)
                    .bind(text(expires))
                    .bind(text(now))
                    .execute(pool)
                    .await
                    .map_err(err)?;
                sqlx::query(LITE_GET).bind(id).bind(text(Utc::now())).fetch_optional(pool).await.map(drop).map_err(err)
            }
        }
    }
}
