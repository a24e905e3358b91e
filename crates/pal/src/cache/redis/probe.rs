//! What a standalone server speaks, asked when connecting to it fails the way a
//! TLS/plaintext mix-up fails: `redis://` to a TLS-only port is reset at the first
//! command; `rediss://` to a plaintext port gets no handshake back, and would wait
//! out the whole connect timeout. A short probe of the other protocol turns either
//! into a configuration error that says which scheme to use.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::{ConnectionAddr, RedisError, RedisResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a TLS handshake may go unanswered before the plaintext probe runs:
/// a handshake on loopback or a LAN takes a few milliseconds.
const PLAINTEXT_PROBE_AFTER: Duration = Duration::from_millis(250);
/// How long a probe waits for the server's first bytes.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Runs `connect` to `addr`; on a failure (or, for TLS, a silence) that looks like
/// the wrong scheme, asks the server what it speaks.
pub(crate) async fn connect<T>(addr: &ConnectionAddr, connect: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    match addr {
        ConnectionAddr::Tcp(host, port) => {
            let result = connect.await;
            match &result {
                Err(e) if reset_by_server(e) && speaks_tls(host, *port).await => Err(wrong_scheme(format!(
                    "REDIS_URL: the server at {host}:{port} speaks TLS, but the URL says redis://: use rediss:// \
                     (with REDIS_TLS_CA_FILE when a CA of your own signed its certificate)"
                ))),
                _ => result,
            }
        }
        ConnectionAddr::TcpTls { host, port, .. } => {
            let plaintext = wrong_scheme(format!(
                "REDIS_URL: the server at {host}:{port} answered in plaintext, but the URL says rediss://: use \
                 redis://, or the port where the server speaks TLS"
            ));
            let mut connect = std::pin::pin!(connect);
            let probe = async {
                tokio::time::sleep(PLAINTEXT_PROBE_AFTER).await;
                speaks_plaintext(host, *port).await
            };
            tokio::select! {
                result = &mut connect => match result {
                    Err(e) if !e.is_connection_refusal() && speaks_plaintext(host, *port).await => Err(plaintext),
                    other => other,
                },
                // A probe that finds no plaintext server leaves the handshake to its timeout.
                true = probe => Err(plaintext),
            }
        }
        _ => connect.await,
    }
}

fn wrong_scheme(message: String) -> RedisError {
    RedisError::from((redis::ErrorKind::InvalidClientConfig, "REDIS_URL", message))
}

/// The connection was made, then closed by the server when the client spoke.
fn reset_by_server(e: &RedisError) -> bool {
    use std::io::ErrorKind as Io;
    let io_kind =
        std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>()).map(std::io::Error::kind);
    let text = e.to_string();
    matches!(io_kind, Some(Io::ConnectionReset | Io::UnexpectedEof | Io::BrokenPipe))
        || e.is_connection_dropped()
        || text.contains("reset by peer")
        || text.contains("broken pipe")
}

/// Whether the server answers a TLS ClientHello with a TLS record.
async fn speaks_tls(host: &str, port: u16) -> bool {
    let Some(hello) = client_hello(host) else { return false };
    let first = first_bytes(host, port, &hello).await;
    // A handshake (22) or an alert (21) record, in TLS 1.x.
    matches!(first.as_deref(), Some([22 | 21, 3, ..]))
}

/// Whether the server answers an inline PING as Redis does in plaintext: `+PONG`,
/// or an error such as `-NOAUTH`.
async fn speaks_plaintext(host: &str, port: u16) -> bool {
    let first = first_bytes(host, port, b"PING\r\n").await;
    matches!(first.as_deref(), Some([b'+' | b'-', ..]))
}

/// The first bytes the server sends back after `request`, within the probe's timeout.
async fn first_bytes(host: &str, port: u16, request: &[u8]) -> Option<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect((host, port)).await.ok()?;
        stream.write_all(request).await.ok()?;
        let mut buffer = vec![0u8; 16];
        let n = stream.read(&mut buffer).await.ok()?;
        buffer.truncate(n);
        Some(buffer)
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange).await.ok().flatten().filter(|b| !b.is_empty())
}

/// A ClientHello as rustls would send it; nothing of the handshake goes further,
/// so no certificate is needed.
fn client_hello(host: &str) -> Option<Vec<u8>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).ok()?;
    let mut connection = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let mut hello = Vec::new();
    connection.write_tls(&mut hello).ok()?;
    Some(hello)
}
