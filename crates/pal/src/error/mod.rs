//! One error type for every provider. Callers branch on [`ErrorKind`], never on
//! driver error types, so switching providers does not change error handling.
//! It sits below everything else in pal and imports nothing of it.

mod config;
mod redact;
#[cfg(feature = "axum")]
mod response;

use std::fmt;

pub use config::{ConfigError, ConfigErrors};
pub use redact::redact_text;

/// A result whose error is pal's [`Error`] unless stated otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, independent of the provider that reported it.
///
/// Three kinds say whose mistake a refused call was, which is what an HTTP
/// answer needs: [`InvalidInput`](ErrorKind::InvalidInput) is data a user could
/// have sent (a client error), [`Usage`](ErrorKind::Usage) is the calling code
/// (a bug), [`Decode`](ErrorKind::Decode) is stored data that does not fit the
/// type the code asks for (a bug or a schema out of step). Only
/// [`is_temporary`](ErrorKind::is_temporary) kinds are worth retrying as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid; the message names the variable at fault.
    /// Not temporary: the configuration must change.
    Config,
    /// Data the API refuses that a user could have sent: a parameter no database
    /// stores as given (NaN, a decimal not in plain notation, text a typed
    /// PostgreSQL parameter cannot hold), an empty session id, a consistency
    /// token from elsewhere, an audit event with NUL bytes. Answer it as the
    /// client's error; repeating the call as it is fails again.
    InvalidInput,
    /// The calling code used the API wrongly, whatever the data: placeholders and
    /// parameters that do not match, several statements in one call, no SQL, a
    /// column the query does not return, a TTL of zero or over the maximum, a
    /// value that does not serialize, a call after shutdown. A bug to fix, not a
    /// client's error; repeating the call fails again.
    Usage,
    /// A value read from a store does not convert to the type the code asks for:
    /// a column read with [`Row::get`](crate::db::Row::get) or
    /// [`Row::decode`](crate::db::Row::decode) as a type it does not hold (text
    /// as an integer, 70000 as an `i16`, NULL as a non-`Option`), a stored
    /// session whose JSON is of another shape. A bug or a schema out of step with
    /// the code; repeating the call fails again.
    Decode,
    /// A query that must return a row returned none
    /// ([`query_one`](crate::db::DatabaseServiceExt::query_one)). Not temporary.
    NotFound,
    /// A value is larger than the provider accepts (`CACHE_MAX_VALUE_BYTES`, a
    /// server's item size). Data a user could have sent; not temporary.
    ValueTooLarge,
    /// `incr` on a value that is not a decimal integer, or an overflow. Not
    /// temporary while the stored value stays as it is.
    NotAnInteger,
    /// A stored value failed authentication or is not in the format pal writes
    /// (tampered, truncated, sealed for another key). Not temporary.
    Integrity,
    /// A UNIQUE or PRIMARY KEY constraint rejected the write: it conflicts with
    /// a stored row. Not temporary while that row exists.
    UniqueViolation,
    /// Another constraint (foreign key, NOT NULL, CHECK) rejected the write. Not
    /// temporary.
    ConstraintViolation,
    /// The database aborted a transaction because of a concurrent one (SQLSTATE
    /// 40001). Temporary: run the transaction again.
    SerializationFailure,
    /// The server could not be reached or the connection broke. Temporary.
    Connection,
    /// A call did not finish within its configured timeout. Temporary, but a
    /// write that timed out may have been applied.
    Timeout,
    /// The SQL could not be parsed. Not temporary.
    Syntax,
    /// The SQL names a table or column that does not exist: a migration may be
    /// pending (`pal migrate`). Not temporary until the schema changes.
    UndefinedObject,
    /// The statement writes, and it ran where nothing may be written: the read
    /// path ([`read`](crate::DatabaseService::read)), which is read-only wherever
    /// it runs, or a server that only reads. Not temporary as far as pal knows
    /// (a server that only reads may be a primary being replaced).
    ReadOnly,
    /// The provider cannot do this; the message says what is unsupported. Not
    /// temporary.
    Unsupported,
    /// Anything else the provider reported. Not known to be temporary.
    Backend,
}

impl ErrorKind {
    /// Errors that may succeed when the same call is repeated later.
    pub fn is_temporary(self) -> bool {
        matches!(self, ErrorKind::SerializationFailure | ErrorKind::Connection | ErrorKind::Timeout)
    }

    /// The kind as a metric label or JSON field: stable, lower snake case.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Usage => "usage",
            ErrorKind::Decode => "decode",
            ErrorKind::NotFound => "not_found",
            ErrorKind::ValueTooLarge => "value_too_large",
            ErrorKind::NotAnInteger => "not_an_integer",
            ErrorKind::Integrity => "integrity",
            ErrorKind::UniqueViolation => "unique_violation",
            ErrorKind::ConstraintViolation => "constraint_violation",
            ErrorKind::SerializationFailure => "serialization_failure",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Syntax => "syntax",
            ErrorKind::UndefinedObject => "undefined_object",
            ErrorKind::ReadOnly => "read_only",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Backend => "backend",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "configuration error",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Usage => "API misuse",
            ErrorKind::Decode => "decode error",
            ErrorKind::NotFound => "not found",
            ErrorKind::ValueTooLarge => "value too large",
            ErrorKind::NotAnInteger => "not an integer",
            ErrorKind::Integrity => "integrity error",
            ErrorKind::UniqueViolation => "unique violation",
            ErrorKind::ConstraintViolation => "constraint violation",
            ErrorKind::SerializationFailure => "serialization failure",
            ErrorKind::Connection => "connection error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Syntax => "syntax error",
            ErrorKind::UndefinedObject => "no such table or column",
            ErrorKind::ReadOnly => "read-only",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Backend => "backend error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The crate's error: a kind to branch on, the provider that reported it, and a
/// message with any URL credentials already replaced by `***`. Cloneable, so one
/// failure can be reported to every caller that shared the work.
#[derive(Clone)]
pub struct Error(Box<Inner>);

/// Boxed so `Result<T, Error>` stays as small as `T` on hot paths: errors are rare.
#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    provider: Option<&'static str>,
    message: String,
    config: Option<ConfigErrors>,
}

impl Error {
    /// An error of `kind` with no provider; credentials in `message` are replaced by `***`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner { kind, provider: None, message: redact_text(&message.into()), config: None }))
    }

    /// An error reported by a provider. Only the driver's message is kept, not the
    /// driver value: its `Debug` could print a connection string. The message is
    /// redacted for the same reason.
    pub fn backend(provider: &'static str, kind: ErrorKind, source: impl fmt::Display) -> Self {
        Error::new(kind, source.to_string()).with_provider(provider)
    }

    /// The same error, attributed to `provider`.
    pub fn with_provider(mut self, provider: &'static str) -> Self {
        self.0.provider = Some(provider);
        self
    }

    /// An [`ErrorKind::InvalidInput`] error: data a user could have sent, refused.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// An [`ErrorKind::Usage`] error: the calling code used the API wrongly.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, message)
    }

    /// An [`ErrorKind::Decode`] error: a stored value does not convert to the type asked for.
    pub fn decode(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Decode, message)
    }

    /// An [`ErrorKind::Unsupported`] error from `provider`; `what` says what it cannot do.
    pub fn unsupported(provider: &'static str, what: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unsupported, what).with_provider(provider)
    }

    /// Selecting a provider whose Cargo feature was off when pal was compiled.
    pub fn not_built(var: &'static str, provider: &'static str, feature: &str) -> Self {
        let why = format!("is not part of this build (pal was compiled without the `{feature}` feature)");
        ConfigErrors::from(ConfigError::NotBuilt { var, provider, why }).into()
    }

    /// What went wrong, to branch on.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The provider that reported the error, such as `"redis"`; `None` when pal itself
    /// raised it.
    pub fn provider(&self) -> Option<&'static str> {
        self.0.provider
    }

    /// The message, with any URL credentials already replaced by `***`.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether the same call may succeed when repeated later; see
    /// [`ErrorKind::is_temporary`].
    pub fn is_temporary(&self) -> bool {
        self.0.kind.is_temporary()
    }

    /// The individual configuration problems, when this is a configuration error.
    pub fn config_errors(&self) -> Option<&ConfigErrors> {
        self.0.config.as_ref()
    }
}

impl From<ConfigErrors> for Error {
    fn from(errors: ConfigErrors) -> Self {
        Error(Box::new(Inner {
            kind: ErrorKind::Config,
            provider: None,
            message: errors.to_string(),
            config: Some(errors),
        }))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.kind == ErrorKind::Config {
            return f.write_str(&self.0.message);
        }
        match self.0.provider {
            Some(p) => write!(f, "{p}: {}: {}", self.0.kind, self.0.message),
            None => write!(f, "{}: {}", self.0.kind, self.0.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("provider", &self.0.provider)
            .field("message", &self.0.message)
            .finish()
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_are_redacted() {
        let io = std::io::Error::other("cannot reach postgres://app:hunter2@db:5432/x");
        let err = Error::backend("postgresql", ErrorKind::Connection, io);
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:***@db"), "{shown}");
        assert!(err.is_temporary());
    }
}
