//! PostgreSQL's (and CockroachDB's) answers to the questions every dialect is asked.

use crate::db::grammar::PalMigrations;
use crate::db::grammar::{Cancel, Grammar, Lexis};
use crate::db::migrate::pal_migrations;
use crate::error::ErrorKind;

pub(super) struct Postgres;

const PAL_MIGRATIONS: PalMigrations = pal_migrations!();

impl Grammar for Postgres {
    fn lexis(&self) -> Lexis {
        Lexis { escape_strings: true, nested_comments: true, dollar_quotes: true, ..Lexis::default() }
    }

    fn classify(&self, code: &str, message: &str) -> ErrorKind {
        // CockroachDB asks for a retry with 40001 and a "restart transaction" message;
        // the message alone is matched too, for errors relayed without the code.
        // 40003 (the commit's outcome is unknown) is deliberately not retried: the
        // transaction may have committed.
        if message.contains("restart transaction") {
            return ErrorKind::SerializationFailure;
        }
        match code {
            "40001" | "40P01" => ErrorKind::SerializationFailure,
            "57014" | "55P03" => ErrorKind::Timeout,
            // A write in a read-only transaction, or on a hot standby.
            "25006" => ErrorKind::ReadOnly,
            "57P01" | "57P02" | "57P03" => ErrorKind::Connection,
            "42P01" | "42703" => ErrorKind::UndefinedObject,
            // The object already exists: two CREATE … IF NOT EXISTS racing each other.
            "42P07" | "42710" => ErrorKind::UniqueViolation,
            c if c.starts_with("08") || c.starts_with("28") => ErrorKind::Connection,
            // The database named in the URL does not exist: the configuration is wrong.
            "3D000" => ErrorKind::Config,
            c if c.starts_with("42") => ErrorKind::Syntax,
            _ => ErrorKind::Backend,
        }
    }

    fn pal_migrations(&self) -> &'static PalMigrations {
        &PAL_MIGRATIONS
    }

    fn ledger_ddl(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS pal_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    }

    fn cancel(&self) -> Option<Cancel> {
        Some(Cancel::Query(
            "SELECT pg_cancel_backend(pid) AS stopped FROM pg_stat_activity \
             WHERE query LIKE $1 AND pid <> pg_backend_pid()",
        ))
    }
}
