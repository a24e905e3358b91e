//! What the SQL dialects say differently. The stores, the migration runner, the
//! statement preparer and the error mapper ask a database's [`Grammar`]
//! ([`DatabaseService::grammar`](super::DatabaseService::grammar)); each dialect
//! answers in its own folder (`db/<dialect>/grammar.rs`), and its adapter hands
//! its grammar over. A new dialect is its folder and its line in the registry.

use crate::error::ErrorKind;

/// A part of pal that keeps rows in the database: each creates its own tables,
/// all named `pal_…`, and only when it is used, so an application's schema keeps
/// every other name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tables {
    /// The database side of the cache, for `redis-hybrid` and durable sessions
    /// ([`build_expiring_store`](crate::factory::build_expiring_store)):
    /// `pal_sessions`, `pal_cache_counters`, `pal_cache_journal`.
    Cache,
    /// The audit log: `pal_audit_log`.
    Audit,
}

/// pal's migrations in one dialect, each list in order. Versions are unique
/// across the lists, since one ledger records them all.
#[derive(Debug)]
pub struct PalMigrations {
    /// The layout before pal's tables were prefixed, finished where a database
    /// still has it, and renamed by its last migration.
    pub legacy: &'static [Migration],
    /// [`Tables::Cache`]'s.
    pub cache: &'static [Migration],
    /// [`Tables::Audit`]'s.
    pub audit: &'static [Migration],
}

impl Tables {
    /// Every part's tables.
    pub const ALL: &'static [Tables] = &[Tables::Cache, Tables::Audit];

    /// The tables this part creates.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Tables::Cache => &["pal_sessions", "pal_cache_counters", "pal_cache_journal"],
            Tables::Audit => &["pal_audit_log"],
        }
    }
}

/// How a provider can apply schema changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ddl {
    /// DDL is transactional: a migration's statements and its ledger row commit together.
    Transactional,
    /// DDL commits by itself (MySQL), or should not share a transaction with writes
    /// (CockroachDB): the statements run one by one, each idempotent, and the ledger
    /// row is written last, so an interrupted migration simply runs again.
    Autocommit,
}

/// One schema migration: of pal's own tables, or of an application's (see
/// [`run_app`](super::migrate::run_app) and [`migrations!`](crate::migrations)).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its place in the order; recorded in the ledger once applied.
    pub version: i64,
    /// Its file name without `.sql`, as `pal migrate` reports it.
    pub name: &'static str,
    /// Its statements, separated by `;`.
    pub sql: &'static str,
}

/// A dialect's answers. Where standard SQL has one (upserts with `ON CONFLICT`,
/// batched deletes through a subquery), it is the default, which PostgreSQL and
/// SQLite keep and MySQL overrides.
pub trait Grammar: Send + Sync + 'static {
    /// The clause that ends `INSERT INTO t (…) VALUES …` when a row with the same
    /// `key` exists: it sets each `(column, expression)` of `set`, in order, or
    /// keeps the existing row when `set` is empty. In the expressions,
    /// [`incoming`](Self::incoming) names the value the insert carried and
    /// `t.column` the existing row's. Assignments that read a column must come
    /// before the one that sets it: MySQL applies them left to right.
    fn on_conflict(&self, key: &str, set: &[(&str, String)]) -> String {
        match set {
            [] => format!(" ON CONFLICT ({key}) DO NOTHING"),
            set => format!(" ON CONFLICT ({key}) DO UPDATE SET {}", assignments(set)),
        }
    }

    /// The value an upsert tried to insert into `column`, inside
    /// [`on_conflict`](Self::on_conflict)'s expressions.
    fn incoming(&self, column: &str) -> String {
        format!("excluded.{column}")
    }

    /// A statement deleting up to `$2` rows of `table` whose `expires_at` is at or
    /// before `$1`, rows named by `key_column`. By default through a subquery, for
    /// a DELETE without LIMIT (PostgreSQL's; SQLite's as most builds of it come).
    fn delete_expired(&self, table: &str, key_column: &str) -> String {
        format!(
            "DELETE FROM {table} WHERE {key_column} IN \
             (SELECT {key_column} FROM {table} WHERE expires_at <= $1 LIMIT $2)"
        )
    }

    /// How statements are written: quoting, comments, placeholders.
    fn lexis(&self) -> Lexis;

    /// The kind of a server error, from its code and message.
    fn classify(&self, code: &str, message: &str) -> ErrorKind;

    /// pal's migrations in this dialect (`pal_migrations!` in its folder).
    fn pal_migrations(&self) -> &'static PalMigrations;

    /// The migrations of one part of pal's tables, in order.
    fn migrations(&self, tables: Tables) -> &'static [Migration] {
        let all = self.pal_migrations();
        match tables {
            Tables::Cache => all.cache,
            Tables::Audit => all.audit,
        }
    }

    /// The migrations of pal's legacy layout (unprefixed tables), ending with the
    /// one that renames them.
    fn legacy_migrations(&self) -> &'static [Migration] {
        self.pal_migrations().legacy
    }

    /// The table recording which migrations ran.
    fn ledger_ddl(&self) -> &'static str;

    /// The table recording which of an application's migrations ran, with the
    /// checksum of each and whether it finished.
    fn app_ledger_ddl(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS pal_app_migrations (app TEXT NOT NULL, version BIGINT NOT NULL, \
         name TEXT NOT NULL, checksum TEXT NOT NULL, success BOOLEAN NOT NULL, applied_at TIMESTAMPTZ NOT NULL, \
         PRIMARY KEY (app, version))"
    }

    /// What to do when a migration statement fails with `message`: `None` fails
    /// the migration.
    fn migration_failure(&self, statement: &str, message: &str) -> Option<Recovery> {
        let _ = (statement, message);
        None
    }

    /// How to stop, from another connection, the statements whose text contains a
    /// pattern (`$1`, a `LIKE` pattern); `None` where no other connection can.
    fn cancel(&self) -> Option<Cancel> {
        None
    }
}

/// How a dialect writes statements, as far as finding placeholders and statement
/// ends needs to know.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lexis {
    /// Placeholders are `?`, bound in order (`$n` is rewritten).
    pub positional_placeholders: bool,
    /// A backslash escapes the next character in every quoted string.
    pub backslash_escapes: bool,
    /// `E'…'` strings take backslash escapes.
    pub escape_strings: bool,
    /// `` `name` `` quotes an identifier.
    pub backtick_identifiers: bool,
    /// `[name]` quotes an identifier.
    pub bracket_identifiers: bool,
    /// `#` starts a comment to the end of the line.
    pub hash_comments: bool,
    /// Block comments nest.
    pub nested_comments: bool,
    /// `$$…$$` and `$tag$…$tag$` quote strings.
    pub dollar_quotes: bool,
}

/// What a failed migration statement calls for.
#[derive(Debug, PartialEq, Eq)]
pub enum Recovery {
    /// What the statement asked for is already there.
    AlreadyDone,
    /// Run this statement instead.
    Instead(String),
}

/// How a dialect stops statements by their text.
#[derive(Debug, Clone, Copy)]
pub enum Cancel {
    /// One query, given the pattern as `$1`, stops them.
    Query(&'static str),
    /// A query, given the pattern as `$1`, lists the sessions running them in an
    /// integer column `id`; `{stop} {id}` stops each.
    ListThenStop {
        /// The query that lists the sessions.
        list: &'static str,
        /// The statement that stops one, followed by its id.
        stop: &'static str,
    },
}

/// The usual upsert: on a conflict on `key`, every column of `columns` takes the
/// incoming value.
pub fn replace_on_conflict(grammar: &dyn Grammar, key: &str, columns: &[&str]) -> String {
    let set: Vec<(&str, String)> = columns.iter().map(|c| (*c, grammar.incoming(c))).collect();
    grammar.on_conflict(key, &set)
}

/// `column = expression, …`: the assignments of an upsert's update.
pub(super) fn assignments(set: &[(&str, String)]) -> String {
    set.iter().map(|(column, expression)| format!("{column} = {expression}")).collect::<Vec<_>>().join(", ")
}
