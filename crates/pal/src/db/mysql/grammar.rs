//! MySQL's and MariaDB's answers to the questions every dialect is asked.

use crate::db::grammar::PalMigrations;
use crate::db::grammar::{Cancel, Grammar, Lexis, Recovery, assignments};
use crate::db::migrate::pal_migrations;
use crate::error::ErrorKind;

pub(super) struct MySql;

const PAL_MIGRATIONS: PalMigrations = pal_migrations!();

impl Grammar for MySql {
    fn on_conflict(&self, key: &str, set: &[(&str, String)]) -> String {
        if set.is_empty() {
            // No DO NOTHING: assigning the key to itself keeps the row.
            return format!(" ON DUPLICATE KEY UPDATE {key} = {key}");
        }
        format!(" ON DUPLICATE KEY UPDATE {}", assignments(set))
    }

    fn incoming(&self, column: &str) -> String {
        format!("VALUES({column})")
    }

    fn delete_expired(&self, table: &str, _key_column: &str) -> String {
        format!("DELETE FROM {table} WHERE expires_at <= $1 LIMIT $2")
    }

    fn lexis(&self) -> Lexis {
        Lexis {
            positional_placeholders: true,
            backslash_escapes: true,
            backtick_identifiers: true,
            hash_comments: true,
            ..Lexis::default()
        }
    }

    fn classify(&self, code: &str, message: &str) -> ErrorKind {
        match code {
            // 1213: deadlock; 1020: MariaDB's snapshot isolation saw a concurrent change.
            "1213" | "1020" => ErrorKind::SerializationFailure,
            "1205" | "3024" | "1969" => ErrorKind::Timeout,
            "1146" | "1054" => ErrorKind::UndefinedObject,
            "1049" => ErrorKind::Config,
            "1064" => ErrorKind::Syntax,
            // 1792: a write in a READ ONLY transaction; 1836: MySQL's read-only mode;
            // 1290 names the server option that refused the statement.
            "1792" | "1836" => ErrorKind::ReadOnly,
            "1290" if message.contains("read-only") || message.contains("read_only") => ErrorKind::ReadOnly,
            // 1053: the server is shutting down; 1927: the connection was killed.
            "1040" | "1045" | "1053" | "1927" | "2002" | "2003" | "2006" | "2013" => ErrorKind::Connection,
            _ => ErrorKind::Backend,
        }
    }

    fn pal_migrations(&self) -> &'static PalMigrations {
        &PAL_MIGRATIONS
    }

    fn ledger_ddl(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS pal_migrations (version BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at DATETIME(6) NOT NULL)"
    }

    fn app_ledger_ddl(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS pal_app_migrations (app VARCHAR(100) NOT NULL, version BIGINT NOT NULL, \
         name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL, success BOOLEAN NOT NULL, \
         applied_at DATETIME(6) NOT NULL, PRIMARY KEY (app, version))"
    }

    fn migration_failure(&self, statement: &str, message: &str) -> Option<Recovery> {
        if message.contains("Duplicate key name") {
            // CREATE INDEX has no IF NOT EXISTS: an index left by an interrupted run
            // of this migration is already what it asks for.
            Some(Recovery::AlreadyDone)
        } else if statement.contains("RENAME TABLE sessions TO pal_sessions") && message.contains("doesn't exist") {
            // The legacy rename is one atomic statement: a rerun after its ledger
            // row failed to be written finds it done.
            Some(Recovery::AlreadyDone)
        } else if message.contains("Unknown collation") {
            // MariaDB's binary, unpadded collation is MySQL's utf8mb4_0900_bin.
            Some(Recovery::Instead(statement.replace("utf8mb4_nopad_bin", "utf8mb4_0900_bin")))
        } else {
            None
        }
    }

    fn cancel(&self) -> Option<Cancel> {
        Some(Cancel::ListThenStop {
            list: "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE $1 AND ID <> CONNECTION_ID()",
            stop: "KILL QUERY",
        })
    }
}
