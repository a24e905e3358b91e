//! A TCP fault proxy for tests: sits between pal and a server on loopback and
//! passes traffic through, blackholes it (connections stay open, bytes vanish, as
//! in a network partition), resets connections, or adds latency.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forwards everything both ways.
    Pass = 0,
    /// Accepts connections and reads everything, but forwards nothing either way.
    Blackhole = 1,
    /// Closes every connection (existing and new) with a reset.
    Reset = 2,
}

/// A proxy on a loopback port in front of one server, whose behaviour a test changes at will.
pub struct FaultProxy {
    /// The loopback address clients connect to.
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    latency_ms: Arc<AtomicU64>,
    /// Connections accepted so far.
    accepted: Arc<AtomicU64>,
    /// Bumped on every mode change so open connections notice at once.
    generation: watch::Sender<u64>,
    _shutdown: watch::Sender<()>,
}

impl FaultProxy {
    /// Starts a proxy on an ephemeral loopback port forwarding to `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let latency_ms = Arc::new(AtomicU64::new(0));
        let (generation, _) = watch::channel(0u64);
        let (shutdown, mut stop) = watch::channel(());
        let accepted = Arc::new(AtomicU64::new(0));
        let (m, l, g, a) = (mode.clone(), latency_ms.clone(), generation.clone(), accepted.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        a.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(connection(client, target, m.clone(), l.clone(), g.subscribe()));
                    }
                }
            }
        });
        FaultProxy { addr, mode, latency_ms, accepted, generation, _shutdown: shutdown }
    }

    /// Switches the mode, for open connections and new ones alike.
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Waits `latency` before each chunk it forwards; zero for none.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms.store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    /// How many connections it has accepted: how often a client reached for the server.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// A URL of `scheme` pointing at the proxy.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }
}

fn mode_of(mode: &AtomicU8) -> Mode {
    match mode.load(Ordering::SeqCst) {
        1 => Mode::Blackhole,
        2 => Mode::Reset,
        _ => Mode::Pass,
    }
}

/// Linger 0 turns every close into a RST, like a crashed peer or a firewall reset.
fn abortive(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

async fn connection(
    client: TcpStream,
    target: SocketAddr,
    mode: Arc<AtomicU8>,
    latency: Arc<AtomicU64>,
    mut changes: watch::Receiver<u64>,
) {
    abortive(&client);
    // Blackholed before the server was reached: hold the client until the mode changes.
    while mode_of(&mode) == Mode::Blackhole {
        if changes.changed().await.is_err() {
            return;
        }
    }
    if mode_of(&mode) == Mode::Reset {
        return;
    }
    let Ok(server) = TcpStream::connect(target).await else { return };
    abortive(&server);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    tokio::select! {
        _ = async { tokio::join!(pump(&mut cr, &mut sw, &mode, &latency), pump(&mut sr, &mut cw, &mode, &latency)) } => {}
        _ = async {
            while changes.changed().await.is_ok() {
                if mode_of(&mode) == Mode::Reset { break; }
            }
        } => {}
    }
    // Returning drops both sockets, which resets them.
}

/// Copies one direction; in blackhole mode the bytes are read and dropped.
async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    mode: &AtomicU8,
    latency: &AtomicU64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let delay = latency.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if mode_of(mode) != Mode::Pass {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
