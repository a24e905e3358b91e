//! SQLite's answers to the questions every dialect is asked.

use crate::db::grammar::PalMigrations;
use crate::db::grammar::{Grammar, Lexis};
use crate::db::migrate::pal_migrations;
use crate::error::ErrorKind;

pub(super) struct Sqlite;

const PAL_MIGRATIONS: PalMigrations = pal_migrations!();

impl Grammar for Sqlite {
    fn lexis(&self) -> Lexis {
        Lexis { backtick_identifiers: true, bracket_identifiers: true, ..Lexis::default() }
    }

    fn classify(&self, code: &str, message: &str) -> ErrorKind {
        // Extended result codes carry the primary code in their low byte.
        match code.parse::<i64>().map(|c| c & 0xff) {
            Ok(5 | 6) => ErrorKind::Timeout,
            // SQLITE_READONLY: what `PRAGMA query_only` answers a write.
            Ok(8) => ErrorKind::ReadOnly,
            Ok(1) if message.starts_with("no such table") || message.starts_with("no such column") => {
                ErrorKind::UndefinedObject
            }
            Ok(1) if message.contains("syntax error") || message.starts_with("no such") => ErrorKind::Syntax,
            _ => ErrorKind::Backend,
        }
    }

    fn pal_migrations(&self) -> &'static PalMigrations {
        &PAL_MIGRATIONS
    }

    fn ledger_ddl(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS pal_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
    }

    fn app_ledger_ddl(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS pal_app_migrations (app TEXT NOT NULL, version INTEGER NOT NULL, \
         name TEXT NOT NULL, checksum TEXT NOT NULL, success BOOLEAN NOT NULL, applied_at TIMESTAMP NOT NULL, \
         PRIMARY KEY (app, version))"
    }

    // No cancel: the database lives in this process, so leaving ends the
    // statement and rolls back an unfinished write.
}
