//! One listener's accept loop and the life of each connection: HTTP/1.1 with
//! the header and idle deadlines of [`ConnectionLimits`], a cap on open
//! connections, and accept errors backed off rather than spun on.

use std::convert::Infallible;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use pal::telemetry::http::ConnectionClosed;

use super::conn::{Conn, Registry, Watched};
use crate::app::config::ConnectionLimits;

/// The answer to a connection that finds every place taken by a request in
/// progress; written raw, since no request of its own was read.
const FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
connection: close\r\ncontent-length: 66\r\n\r\n{\"error\":\"overloaded\",\"message\":\"too many connections; try again\"}";

/// How long a refused client gets to take its answer.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);

/// Accepts until `stop` turns true, then lets every connection finish its
/// request in progress; connections are tracked by `tracker`.
pub(super) async fn run(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    registry: Arc<Registry>,
    mut stop: watch::Receiver<bool>,
    tracker: TaskTracker,
) {
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.reset();
                accepted
            }
            // The client gave up before it was accepted: nothing to wait for.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: a waiting connection gives its own
                // back, and the loop waits instead of spinning on the same error.
                registry.evict_one();
                let (pause, report) = backoff.next();
                if let Some(suppressed) = report {
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, suppressed, "accept error");
                }
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        // Responses are small and written at once: no reason to hold them back.
        let _ = stream.set_nodelay(true);
        match registry.admit() {
            Some((id, conn)) => {
                let (app, registry, stop) = (app.clone(), registry.clone(), stop.clone());
                tracker.spawn(async move {
                    drive(stream, peer, conn, app, limits, stop).await;
                    registry.remove(id);
                });
            }
            None => {
                ConnectionClosed::Refused.record();
                tracker.spawn(refuse(stream));
            }
        }
    }
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        stream.write_all(FULL).await?;
        stream.shutdown().await
    })
    .await;
}

/// Errors of one connection that ended before accept returned it, which say
/// nothing about the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Why a connection ended, as far as this loop cares.
enum Ended {
    Closed,
    /// In the phase it was in: waiting for headers, or idle.
    TimedOut(ConnectionClosed),
}

/// Serves one connection until the client closes it, its header or idle time
/// runs out, the listener closes it to make room, or the server stops (then
/// after the request in progress).
async fn drive(
    stream: TcpStream,
    peer: SocketAddr,
    conn: Arc<Conn>,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Watched { io: stream, conn: conn.clone() });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let (conn, app) = (conn.clone(), app.clone());
            async move {
                if !conn.start_request() {
                    return Ok::<_, Infallible>(closing());
                }
                // The peer's address is the client address rate limits count by.
                req.extensions_mut().insert(ConnectInfo(peer));
                let response = match app.oneshot(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                conn.end_request();
                Ok(response)
            }
        })
    };
    let connection = http1::Builder::new().keep_alive(true).serve_connection(io, service);
    tokio::pin!(connection);
    // Far enough never to fire; reset to the phase's deadline as it changes.
    let never = Instant::now() + Duration::from_secs(86_400 * 365);
    let sleep = tokio::time::sleep_until(never);
    tokio::pin!(sleep);
    let mut armed = None;
    let evicted = conn.evicted.notified();
    tokio::pin!(evicted);
    let draining = AtomicBool::new(false);
    let mut shut_down = false;
    // The phase changes inside the connection's own poll (a first byte read, a
    // request started or answered), so the deadline is looked at after each one.
    let served = poll_fn(|cx| {
        if draining.load(Ordering::Relaxed) && !shut_down {
            shut_down = true;
            connection.as_mut().graceful_shutdown();
        }
        if let Poll::Ready(outcome) = connection.as_mut().poll(cx) {
            if let Err(e) = outcome {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return Poll::Ready(Ended::Closed);
        }
        let deadline = conn.deadline(&limits);
        let at = deadline.map(|(at, _)| Instant::from_std(at));
        if at != armed {
            sleep.as_mut().reset(at.unwrap_or(never));
            armed = at;
        }
        if let Some((_, reason)) = deadline
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Ended::TimedOut(reason));
        }
        Poll::Pending
    });
    tokio::pin!(served);
    loop {
        tokio::select! {
            ended = &mut served => {
                if let Ended::TimedOut(reason) = ended {
                    if !conn.close_if_waiting() {
                        // A request started in the same instant: let it finish.
                        continue;
                    }
                    reason.record();
                }
                return;
            }
            () = &mut evicted => return,
            // Applied by the connection's next poll, at the top of the loop.
            _ = stop.wait_for(|stop| *stop), if !draining.load(Ordering::Relaxed) => draining.store(true, Ordering::Relaxed),
        }
    }
}

/// The answer to a request that arrives as its connection is being closed.
fn closing() -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = r#"{"error":"overloaded","message":"this connection is closing; try again"}"#;
    let headers = [
        (axum::http::header::CONTENT_TYPE, "application/json"),
        (axum::http::header::CONNECTION, "close"),
        (axum::http::header::RETRY_AFTER, "1"),
    ];
    (axum::http::StatusCode::SERVICE_UNAVAILABLE, headers, body).into_response()
}

/// Pauses after accept errors: 10 ms doubling to 1 s, and a log line at most
/// once a second with how many were not logged.
struct Backoff {
    pause: Duration,
    last_report: Option<std::time::Instant>,
    suppressed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { pause: Backoff::FIRST, last_report: None, suppressed: 0 }
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    fn reset(&mut self) {
        self.pause = Backoff::FIRST;
    }

    /// The pause before the next accept, and whether to log this error (with
    /// the count of those not logged since the last line).
    fn next(&mut self) -> (Duration, Option<u64>) {
        let pause = self.pause;
        self.pause = (self.pause * 2).min(Backoff::MAX);
        let due = self.last_report.is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if due {
            self.last_report = Some(std::time::Instant::now());
            return (pause, Some(std::mem::take(&mut self.suppressed)));
        }
        self.suppressed += 1;
        (pause, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_back_off_to_a_second_and_are_logged_once_a_second() {
        let mut backoff = Backoff::default();
        let pauses: Vec<_> = (0..10).map(|_| backoff.next()).collect();
        assert_eq!(pauses[0], (Duration::from_millis(10), Some(0)));
        assert_eq!(pauses[1], (Duration::from_millis(20), None));
        assert_eq!(pauses[7].0, Duration::from_secs(1));
        assert_eq!(pauses[9].0, Duration::from_secs(1));
        assert!(pauses[1..].iter().all(|(_, report)| report.is_none()), "one line a second");
        backoff.reset();
        assert_eq!(backoff.next().0, Duration::from_millis(10));
    }

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(FULL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
