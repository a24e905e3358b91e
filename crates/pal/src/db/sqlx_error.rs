//! Maps sqlx errors to the crate's error kinds, the same way for every dialect.

use sqlx::error::DatabaseError;

use super::grammar::Grammar;
use crate::error::{Error, ErrorKind};

/// Reads a database error's code where sqlx's `code()` (the SQLSTATE) is too
/// coarse: MySQL's error number.
pub(crate) type CodeOf = fn(&(dyn DatabaseError + 'static)) -> Option<String>;

/// Classifies a driver error by the dialect's error code: the SQLSTATE for
/// PostgreSQL, the extended result code for SQLite.
pub(crate) fn map(provider: &'static str, grammar: &dyn Grammar, error: sqlx::Error) -> Error {
    map_coded(provider, grammar, error, |db| db.code().map(|c| c.into_owned()))
}

/// Like [`map`], with the dialect's own code read by `code_of`.
pub(crate) fn map_coded(provider: &'static str, grammar: &dyn Grammar, error: sqlx::Error, code_of: CodeOf) -> Error {
    let kind = match &error {
        sqlx::Error::Database(db) => database_kind(grammar, db.as_ref(), code_of),
        sqlx::Error::PoolTimedOut => ErrorKind::Timeout,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            ErrorKind::Connection
        }
        sqlx::Error::Configuration(_) => ErrorKind::Config,
        sqlx::Error::InvalidArgument(_) | sqlx::Error::Encode(_) => ErrorKind::InvalidInput,
        _ => ErrorKind::Backend,
    };
    match &error {
        // The server's own words and code; not the driver's rendering, which for
        // PostgreSQL appends a line number of the server's source code.
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default();
            Error::new(kind, format!("{}{code}", db.message())).with_provider(provider)
        }
        _ if error.to_string().contains("invalid peer certificate") => Error::new(
            kind,
            format!(
                "{error}: the server's certificate did not verify: check the CA the URL names (sslrootcert, \
                 ssl-ca) and that the certificate names the host the URL connects to"
            ),
        )
        .with_provider(provider),
        _ => Error::backend(provider, kind, error),
    }
}

fn database_kind(grammar: &dyn Grammar, db: &(dyn DatabaseError + 'static), code_of: CodeOf) -> ErrorKind {
    use sqlx::error::ErrorKind as K;
    match db.kind() {
        K::UniqueViolation => return ErrorKind::UniqueViolation,
        K::ForeignKeyViolation | K::NotNullViolation | K::CheckViolation => return ErrorKind::ConstraintViolation,
        _ => {}
    }
    let code = code_of(db).unwrap_or_default();
    classify(grammar, &code, db.message())
}

/// The kind for a database error that sqlx does not classify itself.
fn classify(grammar: &dyn Grammar, code: &str, message: &str) -> ErrorKind {
    grammar.classify(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cockroachdb_retry_errors_are_serialization_failures() {
        let restart = "restart transaction: TransactionRetryWithProtoRefreshError: ReadWithinUncertaintyIntervalError";
        assert_eq!(classify(crate::db::postgres::GRAMMAR, "40001", restart), ErrorKind::SerializationFailure);
        assert_eq!(classify(crate::db::postgres::GRAMMAR, "XXUUU", restart), ErrorKind::SerializationFailure);
        assert_eq!(
            classify(crate::db::postgres::GRAMMAR, "40001", "could not serialize access due to concurrent update"),
            ErrorKind::SerializationFailure
        );
        // The commit may have happened: retrying could apply the transaction twice.
        assert_eq!(classify(crate::db::postgres::GRAMMAR, "40003", "result is ambiguous"), ErrorKind::Backend);
    }

    #[test]
    fn codes_map_the_same_way_on_every_dialect() {
        assert_eq!(classify(crate::db::postgres::GRAMMAR, "57014", "canceling statement"), ErrorKind::Timeout);
        assert_eq!(
            classify(crate::db::postgres::GRAMMAR, "28P01", "password authentication failed"),
            ErrorKind::Connection
        );
        assert_eq!(classify(crate::db::postgres::GRAMMAR, "42601", "syntax error"), ErrorKind::Syntax);
        assert_eq!(classify(crate::db::mysql::GRAMMAR, "1213", "Deadlock found"), ErrorKind::SerializationFailure);
        assert_eq!(classify(crate::db::mysql::GRAMMAR, "1969", "max_statement_time exceeded"), ErrorKind::Timeout);
        assert_eq!(
            classify(crate::db::mysql::GRAMMAR, "1064", "You have an error in your SQL syntax"),
            ErrorKind::Syntax
        );
        assert_eq!(classify(crate::db::mysql::GRAMMAR, "1045", "Access denied"), ErrorKind::Connection);
        assert_eq!(
            classify(crate::db::postgres::GRAMMAR, "42P01", "relation \"t\" does not exist"),
            ErrorKind::UndefinedObject
        );
        assert_eq!(
            classify(crate::db::postgres::GRAMMAR, "42703", "column \"c\" does not exist"),
            ErrorKind::UndefinedObject
        );
        assert_eq!(
            classify(crate::db::mysql::GRAMMAR, "1146", "Table 'x.t' doesn't exist"),
            ErrorKind::UndefinedObject
        );
        assert_eq!(classify(crate::db::mysql::GRAMMAR, "1054", "Unknown column 'c'"), ErrorKind::UndefinedObject);
        assert_eq!(classify(crate::db::sqlite::GRAMMAR, "1", "no such table: t"), ErrorKind::UndefinedObject);
        assert_eq!(classify(crate::db::sqlite::GRAMMAR, "1", "no such column: c"), ErrorKind::UndefinedObject);
        assert_eq!(classify(crate::db::sqlite::GRAMMAR, "1", "no such function: f"), ErrorKind::Syntax);
        let standby = "cannot execute INSERT in a read-only transaction";
        assert_eq!(classify(crate::db::postgres::GRAMMAR, "25006", standby), ErrorKind::ReadOnly);
        assert_eq!(
            classify(crate::db::mysql::GRAMMAR, "1792", "Cannot execute statement in a READ ONLY"),
            ErrorKind::ReadOnly
        );
        assert_eq!(
            classify(crate::db::mysql::GRAMMAR, "1290", "running with the --read-only option"),
            ErrorKind::ReadOnly
        );
        assert_eq!(
            classify(crate::db::mysql::GRAMMAR, "1290", "running with the --secure-file-priv option"),
            ErrorKind::Backend
        );
        assert_eq!(
            classify(crate::db::sqlite::GRAMMAR, "8", "attempt to write a readonly database"),
            ErrorKind::ReadOnly
        );
    }
}
