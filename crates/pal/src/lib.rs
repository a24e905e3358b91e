//! pal — a provider abstraction layer. Application code talks to
//! [`CacheService`] and [`DatabaseService`]; environment variables choose the
//! providers behind them ([`Settings::from_env`], [`factory`]), or the same
//! variables set in code ([`Settings::builder`]).
//!
//! ```
//! use pal::{CacheService, DatabaseServiceExt, Settings, Ttl};
//! use pal::db::migrate::{MigrateApp, Migration};
//!
//! #[derive(serde::Deserialize)]
//! struct Note {
//!     id: i64,
//!     body: String,
//! }
//!
//! const MIGRATIONS: &[Migration] =
//!     &[Migration { version: 1, name: "0001_notes", sql: "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT)" }];
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> pal::Result<()> {
//! // In a service: Settings::from_env()?. Here, the embedded defaults.
//! let settings = Settings::from_vars([
//!     ("CACHE_PROVIDER", "memory"),
//!     ("DB_PROVIDER", "sqlite"),
//!     ("DATABASE_URL", "sqlite::memory:"),
//! ])
//! .expect("valid settings");
//! let cache = pal::factory::build_cache(&settings).await?;
//! let db = pal::factory::build_database(&settings).await?;
//!
//! db.migrate_app("notes", MIGRATIONS).await?;
//! db.execute("INSERT INTO notes (id, body) VALUES ($1, $2)", &[1.into(), "buy milk".into()]).await?;
//! let note: Note = db.query_one("SELECT id, body FROM notes WHERE id = $1", &[1.into()]).await?;
//! assert_eq!((note.id, note.body.as_str()), (1, "buy milk"));
//!
//! cache.set("greeting", "hello".into(), Ttl::from_secs(60)?).await?;
//! assert_eq!(cache.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
//! assert_eq!(cache.incr("visits", 1, Ttl::from_secs(60)?).await?, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `redis` | yes | Redis (standalone, Sentinel, Cluster), KeyDB and redis-hybrid |
//! | `memcached` | yes | memcached, one server or sharded |
//! | `postgres` | yes | PostgreSQL and CockroachDB |
//! | `mysql` | yes | MySQL and MariaDB |
//! | `sqlite` | yes | SQLite, and the audit log's local spool |
//! | `prometheus` | yes | [`telemetry::prometheus`]: a recorder with pal's buckets and descriptions |
//! | `sealing` | yes | hashed cache keys and AES-256-GCM-SIV sealed values (`crypto::Sealer`, `cache::Sealed`), on AWS-LC |
//! | `tower-sessions` | no | `cache::tower_sessions::CacheSessionStore`: tower-sessions' store in any pal cache |
//! | `axum` | no | `IntoResponse` for [`Error`]: a status, a stable code and a JSON body per [`ErrorKind`] |
//!
//! A provider whose feature is off is still known by name: choosing it is a
//! configuration error naming the feature. So are sealing keys
//! (`CACHE_KEY_SECRET`, `CACHE_ENCRYPTION_KEYS`) without `sealing`: such a build
//! stores plaintext, and a cache outside the process still needs
//! `CACHE_INSECURE_NO_ENCRYPTION=true`. Without `sealing` nothing of AWS-LC (a C
//! library, the longest part of a cold build) is compiled; TLS uses ring in every
//! build.
//!
//! Modules depend downwards only, bottom to top: [`error`]; [`env`](mod@env) (the one
//! environment reader), [`retry`], [`namespace`], [`crypto`], [`tls`], [`telemetry`]; the traits and
//! their providers in [`cache`] and [`db`]; the stores over them ([`expiring`],
//! [`audit`]); the cache layers; [`registry`], [`settings`], [`factory`] and
//! [`health`]. A test (`tests/layering/`) keeps it so.

pub mod audit;
pub mod cache;
pub mod crypto;
pub mod db;
pub mod env;
pub mod error;
pub mod expiring;
pub mod factory;
pub mod health;
pub mod namespace;
pub mod registry;
pub mod retry;
pub mod settings;
pub mod telemetry;
pub mod tls;

pub use cache::{CacheService, CacheServiceExt, Ttl};
pub use db::{DatabaseService, DatabaseServiceExt, Row, Value};
pub use error::{Error, ErrorKind, Result};
pub use settings::Settings;
