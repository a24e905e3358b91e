//! What the network dialects share about connections: pool options from the
//! `DB_POOL_*` settings, acquiring a connection with an error that says why none
//! came, and the client-side bound on how long one statement may hold it.

use std::time::Duration;

use sqlx::Database;
use sqlx::pool::{PoolConnection, PoolOptions};

use super::refusal::{Held, Reachability};
use crate::db::deadline::timed_out;
use crate::db::{PoolSettings, PoolUsage};
use crate::error::{Error, ErrorKind, Result};

/// How long past `DB_STATEMENT_TIMEOUT_MS` the client waits before giving up on a
/// statement itself. The server's own timeout normally fires first and reports the
/// cause precisely; this bound only matters when the server stops answering.
const CLIENT_GRACE: Duration = Duration::from_millis(250);

/// Pool options from the settings. Idle connections are checked before use (sqlx's
/// default), so a pool recovers by itself after the server restarts.
pub(crate) fn options<DB: Database>(settings: &PoolSettings) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(settings.max)
        .min_connections(settings.min)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(settings.idle_timeout)
        .test_before_acquire(true)
}

/// The address inside `[…]`: URLs bracket IPv6 literals, which the drivers would
/// then look up as a host name.
pub(crate) fn ipv6_literal(host: &str) -> Option<String> {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).map(str::to_string)
}

/// A pooled connection, or an error telling a server that cannot be reached
/// (`Connection`) from a pool whose connections are all busy (`Timeout`). sqlx
/// reports both as the same timeout, because it keeps retrying refused connections
/// until the acquire deadline: a server found refusing them fails the call at once
/// instead, and otherwise `unreachable` says whether the last call that reached a
/// verdict failed to reach the server.
pub(crate) async fn acquire<DB: Database>(
    pool: &sqlx::Pool<DB>,
    provider: &'static str,
    reach: &Reachability,
    unreachable: bool,
    map_err: impl FnOnce(sqlx::Error) -> Error,
) -> Result<Held<DB>> {
    let acquired = tokio::select! {
        biased;
        acquired = pool.acquire() => acquired,
        refused = reach.refused(pool, unreachable) => return Err(refused.with_provider(provider)),
    };
    let conn = acquired.map_err(|e| match e {
        sqlx::Error::PoolTimedOut => {
            let limit = pool.options().get_acquire_timeout().as_millis();
            let max = pool.options().get_max_connections();
            if unreachable || pool.size() < max {
                Error::new(
                    ErrorKind::Connection,
                    format!("could not connect to the server within {limit} ms (DB_POOL_ACQUIRE_TIMEOUT_MS)"),
                )
            } else {
                Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "all {max} connections (DB_POOL_MAX) stayed busy for {limit} ms (DB_POOL_ACQUIRE_TIMEOUT_MS)"
                    ),
                )
            }
            .with_provider(provider)
        }
        other => map_err(other),
    })?;
    Ok(reach.hold(conn))
}

/// Runs `work` on a pooled connection, giving up shortly after `statement_timeout`.
/// A connection whose statement was abandoned half-way is closed rather than handed
/// to the next caller.
pub(crate) async fn bounded_on<DB: Database, T>(
    conn: &mut PoolConnection<DB>,
    provider: &'static str,
    statement_timeout: Duration,
    work: impl AsyncFnOnce(&mut DB::Connection) -> Result<T>,
) -> Result<T> {
    match tokio::time::timeout(client_limit(statement_timeout), work(&mut **conn)).await {
        Ok(result) => result,
        Err(_) => {
            conn.close_on_drop();
            Err(timed_out(provider, statement_timeout))
        }
    }
}

/// How long the client waits for one statement on a server dialect.
pub(crate) fn client_limit(statement_timeout: Duration) -> Duration {
    statement_timeout + CLIENT_GRACE
}

/// The pool's connections now. sqlx's idle count can wrap below zero for an
/// instant (a connection taken before its return is counted), hence the bound.
pub(crate) fn usage<DB: Database>(pool: &sqlx::Pool<DB>) -> PoolUsage {
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
    PoolUsage { in_use: size - idle, idle }
}
