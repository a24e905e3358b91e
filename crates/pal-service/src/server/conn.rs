//! The open connections of one listener and where each one is between its
//! requests, so that a connection that sends nothing, or its headers a byte at a
//! time, is closed when its time is up, and a full listener makes room by
//! closing the one that has waited longest rather than refusing a new client.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use pal::telemetry::http::ConnectionClosed;

use crate::app::config::ConnectionLimits;

/// Waiting for a request's headers: from the connection, or from the first byte
/// after an idle spell.
const HEAD: u8 = 0;
/// Between a response and the next request's first byte.
const IDLE: u8 = 1;
/// A request is being served: its deadline is the request's own.
const BUSY: u8 = 2;
/// Chosen to make room, or past its time: it takes no further request.
const CLOSING: u8 = 3;

/// One connection's state, shared by its task, its service and the listener.
pub(super) struct Conn {
    phase: AtomicU8,
    /// When the phase began, in milliseconds since the registry's epoch.
    since: AtomicU64,
    epoch: Instant,
    /// Woken when the listener closes this connection to make room.
    pub(super) evicted: Notify,
}

impl Conn {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn enter(&self, from: u8, to: u8) -> bool {
        let entered = self.phase.compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire).is_ok();
        if entered {
            self.since.store(self.now(), Ordering::Release);
        }
        entered
    }

    /// A request's headers are in: it is served unless the connection is closing.
    pub(super) fn start_request(&self) -> bool {
        self.enter(HEAD, BUSY) || self.enter(IDLE, BUSY)
    }

    /// The response is out: the connection waits for the next request.
    pub(super) fn end_request(&self) {
        self.enter(BUSY, IDLE);
    }

    /// When the current phase runs out and what its running out is called, or
    /// `None` while a request is served.
    pub(super) fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, ConnectionClosed)> {
        let (allowed, reason) = match self.phase.load(Ordering::Acquire) {
            HEAD => (limits.header_timeout, ConnectionClosed::HeaderTimeout),
            IDLE => (limits.idle_timeout, ConnectionClosed::IdleTimeout),
            _ => return None,
        };
        let since = Duration::from_millis(self.since.load(Ordering::Acquire));
        Some((self.epoch + since + allowed, reason))
    }

    /// Closes the connection if it waits for a request: never one being served.
    pub(super) fn close_if_waiting(&self) -> bool {
        self.enter(HEAD, CLOSING) || self.enter(IDLE, CLOSING)
    }

    fn waiting_since(&self) -> Option<u64> {
        matches!(self.phase.load(Ordering::Acquire), HEAD | IDLE).then(|| self.since.load(Ordering::Acquire))
    }
}

/// The open connections of one listener.
pub(super) struct Registry {
    epoch: Instant,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    pub(super) cap: usize,
}

impl Registry {
    pub(super) fn new(cap: usize) -> Registry {
        Registry { epoch: Instant::now(), open: Mutex::new(HashMap::new()), next: AtomicU64::new(0), cap }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for a new connection: free, or made by closing the connection that
    /// has waited longest for a request. `None` when every connection is serving one.
    pub(super) fn admit(&self) -> Option<(u64, Arc<Conn>)> {
        let mut open = self.open();
        if open.len() >= self.cap && !Self::evict_oldest(&mut open) {
            return None;
        }
        let conn = Arc::new(Conn {
            phase: AtomicU8::new(HEAD),
            since: AtomicU64::new(0),
            epoch: self.epoch,
            evicted: Notify::new(),
        });
        conn.since.store(conn.now(), Ordering::Release);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        open.insert(id, conn.clone());
        Some((id, conn))
    }

    /// Closes the connection that has waited longest for a request, if one does:
    /// what the listener does when it runs out of file descriptors too.
    pub(super) fn evict_one(&self) -> bool {
        Self::evict_oldest(&mut self.open())
    }

    fn evict_oldest(open: &mut HashMap<u64, Arc<Conn>>) -> bool {
        let mut waiting: Vec<(u64, u64)> =
            open.iter().filter_map(|(id, conn)| conn.waiting_since().map(|since| (since, *id))).collect();
        waiting.sort_unstable();
        // A connection may start a request between the look and the close: the next one goes.
        for (_, id) in waiting {
            if let Some(conn) = open.get(&id)
                && conn.close_if_waiting()
            {
                // notify_one keeps the wake-up for a task not yet waiting on it.
                conn.evicted.notify_one();
                ConnectionClosed::Evicted.record();
                open.remove(&id);
                return true;
            }
        }
        false
    }

    pub(super) fn remove(&self, id: u64) {
        self.open().remove(&id);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.open().len()
    }
}

/// The socket of a connection, noticing the first byte of a request that comes
/// after an idle spell: the header deadline starts there.
pub(super) struct Watched<IO> {
    pub(super) io: IO,
    pub(super) conn: Arc<Conn>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.enter(IDLE, HEAD);
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_registry_closes_the_longest_waiting_connection_and_never_a_busy_one() {
        let registry = Registry::new(2);
        let (first, a) = registry.admit().unwrap();
        let (_, b) = registry.admit().unwrap();
        assert!(a.start_request());
        // `a` serves a request, so `b` goes for the newcomer.
        let (_, c) = registry.admit().unwrap();
        assert!(!b.start_request(), "an evicted connection takes no request");
        assert_eq!(registry.len(), 2);
        assert!(c.start_request());
        assert!(registry.admit().is_none(), "every connection is busy: the newcomer is refused");
        a.end_request();
        assert!(registry.admit().is_some(), "an idle connection makes room");
        // The task of an evicted connection removes it again when it ends: no effect.
        registry.remove(first);
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn the_deadline_follows_the_phase() {
        let limits = ConnectionLimits {
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(7),
            max_connections: 1,
        };
        let registry = Registry::new(1);
        let (_, conn) = registry.admit().unwrap();
        let (head, reason) = conn.deadline(&limits).unwrap();
        assert!(head <= Instant::now() + limits.header_timeout);
        assert_eq!(reason, ConnectionClosed::HeaderTimeout);
        assert!(conn.start_request());
        assert_eq!(conn.deadline(&limits), None);
        conn.end_request();
        let (idle, reason) = conn.deadline(&limits).unwrap();
        assert!(idle > Instant::now() + Duration::from_secs(6));
        assert_eq!(reason, ConnectionClosed::IdleTimeout);
    }
}
