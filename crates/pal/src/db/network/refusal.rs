//! Telling a server that refuses connections from one that is slow to answer.
//! sqlx's pool takes a refused connection for a server still starting, and keeps
//! trying until `DB_POOL_ACQUIRE_TIMEOUT_MS`; yet a refusal is known at once. So
//! while a call waits for a connection the pool is opening, the server's address
//! is probed (a TCP connect, closed before a byte is sent): refused, the call
//! fails at once; accepted, the pool's own attempt decides, and a server that
//! accepts but never answers still meets the timeout.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::Database;
use sqlx::pool::PoolConnection;
use tokio::sync::Mutex;

use crate::error::{Error, ErrorKind};

/// How long a call waits for its connection before the address is probed, unless
/// the server was unreachable at the last verdict: long enough that a connection
/// opened at once, or a check of an idle one, never causes a probe.
const GRACE: Duration = Duration::from_millis(50);
/// How long a probe's answer holds for every caller, so that waiting calls share one.
const FRESH: Duration = Duration::from_millis(250);

/// What is known of one server's address, shared by the calls of one pool.
pub(crate) struct Reachability {
    /// Host and port; `None` for a Unix socket, which is not probed.
    address: Option<(String, u16)>,
    /// Connections callers hold now.
    held: Arc<AtomicU32>,
    /// The last probe: when, and whether the address refused it.
    last: Mutex<Option<(Instant, bool)>>,
}

impl Reachability {
    /// `host` is a directory when it starts with `/` (libpq's way to name a socket).
    pub(crate) fn new(host: &str, port: u16, socket: bool) -> Self {
        let address = (!socket && !host.starts_with('/')).then(|| (host.to_string(), port));
        Reachability { address, held: Arc::new(AtomicU32::new(0)), last: Mutex::new(None) }
    }

    /// Counts `conn` as held until it is dropped.
    pub(crate) fn hold<DB: Database>(&self, conn: PoolConnection<DB>) -> Held<DB> {
        self.held.fetch_add(1, Ordering::Relaxed);
        Held { conn, held: self.held.clone() }
    }

    /// Resolves, with the error to return, once the address is found refusing
    /// connections while the pool is opening one; never otherwise. Meant to race
    /// the pool's acquire, which wins whenever it hands a connection over.
    pub(crate) async fn refused<DB: Database>(&self, pool: &sqlx::Pool<DB>, unreachable: bool) -> Error {
        if !unreachable {
            tokio::time::sleep(GRACE).await;
        }
        loop {
            // Only a pool with nothing idle and nothing held, whose connections are
            // all being opened (or checked), waits on the server itself. While
            // callers hold connections the pool is merely busy, and a probe, which a
            // MySQL server counts as an aborted connection of the client host, would
            // be noise: the server is not asked then.
            let nothing_served = self.held.load(Ordering::Relaxed) == 0 && pool.num_idle() == 0 && pool.size() > 0;
            if (unreachable || nothing_served)
                && let Some(error) = self.probe().await
            {
                return error;
            }
            tokio::time::sleep(FRESH).await;
        }
    }

    /// The refusal error when the address refuses a connection now; `None` when it
    /// accepts, cannot be reached in time, or is a socket.
    async fn probe(&self) -> Option<Error> {
        let (host, port) = self.address.as_ref()?;
        let mut last = self.last.lock().await;
        let refused = match *last {
            Some((at, refused)) if at.elapsed() < FRESH => refused,
            _ => {
                let attempt = tokio::time::timeout(FRESH, tokio::net::TcpStream::connect((host.as_str(), *port))).await;
                let refused = matches!(attempt, Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused);
                *last = Some((Instant::now(), refused));
                refused
            }
        };
        refused.then(|| {
            Error::new(
                ErrorKind::Connection,
                format!(
                    "connection refused by {host}:{port}: nothing listens there (the server is down, or the URL \
                     names another port)"
                ),
            )
        })
    }
}

/// A pooled connection a caller holds, counted as such until it is dropped.
pub(crate) struct Held<DB: Database> {
    conn: PoolConnection<DB>,
    held: Arc<AtomicU32>,
}

impl<DB: Database> Deref for Held<DB> {
    type Target = PoolConnection<DB>;
    fn deref(&self) -> &PoolConnection<DB> {
        &self.conn
    }
}

impl<DB: Database> DerefMut for Held<DB> {
    fn deref_mut(&mut self) -> &mut PoolConnection<DB> {
        &mut self.conn
    }
}

impl<DB: Database> Drop for Held<DB> {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }
}
