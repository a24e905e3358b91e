//! The client-side bound on a statement, for what the server cannot bound itself.

use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// The error of a statement that outlived `limit`.
pub(crate) fn timed_out(provider: &'static str, limit: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("statement did not finish within {} ms (DB_STATEMENT_TIMEOUT_MS)", limit.as_millis()),
    )
    .with_provider(provider)
}
