//! `pal serve` against clients that connect and then stall: half-open requests,
//! headers trickled a byte at a time, kept-alive connections left idle, more
//! connections than the listener holds. Each is a real `pal serve` process with
//! the embedded providers, driven over TCP.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::http_get;
use support::serve::Serve;

const EMBEDDED: [(&str, &str); 3] =
    [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")];

/// The request a half-open client sends: headers that never end.
const HALF: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

fn vars(more: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    EMBEDDED.iter().chain(more).copied().collect()
}

fn half_open(port: u16) -> (TcpStream, Instant) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(HALF).unwrap();
    (stream, Instant::now())
}

/// Waits for the server to close `stream` (end of file or reset), at most until
/// `deadline`; returns when it did, or `None` if it was still open then.
fn closed_by(stream: &mut TcpStream, deadline: Instant) -> Option<Instant> {
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Some(Instant::now()),
            // A response (the refusal of a full listener) before the close.
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(_) => return Some(Instant::now()),
        }
    }
}

/// One keep-alive request on `stream`, reading exactly its response.
fn keep_alive_get(stream: &mut TcpStream, path: &str) -> u16 {
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed inside a response");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .expect("a content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

fn open_files(serve: &Serve) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", serve.child.id())).map(Iterator::count).unwrap_or(0)
}

/// The attack, with the defaults an operator meets: under `ulimit -n 256`,
/// 300 connections that send half a request. A normal client is still served at
/// once, every half-open connection is closed within the header timeout (10 s by
/// default), and accept never spins on "Too many open files".
#[test]
fn three_hundred_half_open_connections_neither_keep_a_client_out_nor_stay_open() {
    let serve = Serve::start_with_open_file_limit(&vars(&[("RUST_LOG", "info")]), 256);
    let port = serve.port;
    let files_before = open_files(&serve);
    let mut stalled: Vec<_> = (0..300).map(|_| half_open(port)).collect();
    let asked = Instant::now();
    let answer = http_get(port, "/healthz").map(|(status, _)| status);
    let waited = asked.elapsed();
    assert_eq!(answer, Some(200), "{}", serve.output());
    assert!(waited < Duration::from_secs(2), "the client waited {waited:?}");
    let header_timeout = Duration::from_secs(10);
    let mut early = 0;
    let mut longest = Duration::ZERO;
    for (stream, opened) in &mut stalled {
        let closed = closed_by(stream, *opened + header_timeout + Duration::from_secs(2))
            .unwrap_or_else(|| panic!("a half-open connection outlived the header timeout\n{}", serve.output()));
        let lived = closed - *opened;
        longest = longest.max(lived);
        if lived < header_timeout - Duration::from_secs(1) {
            early += 1;
        }
    }
    // The listener holds what the open-file limit leaves (128 here); the rest made
    // room by closing the longest-waiting connections.
    assert!(early >= 300 - 128, "only {early} closed to make room");
    assert!(longest >= header_timeout - Duration::from_millis(100), "closed before its time: {longest:?}");
    std::thread::sleep(Duration::from_millis(200));
    let metrics = http_get(port, "/metrics").unwrap().1;
    let closed = |reason: &str| -> u64 {
        let series = format!("pal_http_connections_closed_total{{reason=\"{reason}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(series.as_str())).map_or(0, |v| v.trim().parse().unwrap())
    };
    let (evicted, timed_out) = (closed("evicted"), closed("header_timeout"));
    assert!(evicted >= 172 && evicted + timed_out >= 300, "evicted {evicted}, header timeouts {timed_out}");
    let files_after = open_files(&serve);
    assert!(files_after <= files_before + 2, "descriptors left open: {files_before} before, {files_after} after");
    let output = serve.output();
    assert!(output.contains("serving_at_most=128"), "the lowered cap is announced: {output}");
    // On a loaded machine the descriptors of closed connections may outnumber the
    // limit for a moment before their tasks run: accept then pauses, and says so
    // at most once a second, never spinning.
    let accept_errors: Vec<&str> = output.lines().filter(|l| l.contains("accept error")).collect();
    assert!(accept_errors.len() <= 12, "{accept_errors:#?}");
    for line in &accept_errors {
        let suppressed: u32 = line.split("suppressed=").nth(1).and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        assert!(suppressed <= 10, "accept spun: {line}");
    }
    eprintln!(
        "300 half-open under ulimit -n 256: a normal client served in {waited:?}; {early} closed early to make \
         room; the longest lived {longest:?}; descriptors {files_before} before, {files_after} after; {} accept \
         error lines; /metrics: {evicted} evicted, {timed_out} header timeouts",
        accept_errors.len()
    );
}

/// Trickling the headers a byte at a time does not extend the header deadline,
/// which starts at the first byte after an idle spell; an idle kept-alive
/// connection lives the idle timeout, and serves a request sent within it.
#[test]
fn trickled_headers_and_idle_connections_are_closed_on_time() {
    let serve =
        Serve::start(&vars(&[("HEADER_READ_TIMEOUT_MS", "800"), ("IDLE_TIMEOUT_MS", "2000"), ("RUST_LOG", "warn")]));
    let port = serve.port;

    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(keep_alive_get(&mut idle, "/healthz"), 200);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(keep_alive_get(&mut idle, "/healthz"), 200, "a request within the idle timeout is served");
    let answered = Instant::now();
    let closed = closed_by(&mut idle, answered + Duration::from_secs(5)).expect("the idle connection stays open");
    let idle_for = closed - answered;
    assert!(
        (Duration::from_millis(1900)..Duration::from_millis(3000)).contains(&idle_for),
        "closed after {idle_for:?} idle"
    );

    let mut trickle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(keep_alive_get(&mut trickle, "/healthz"), 200);
    let first_byte = Instant::now();
    let mut sent = 0;
    for byte in HALF.iter().cycle() {
        if trickle.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(100));
        if first_byte.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let closed = closed_by(&mut trickle, first_byte + Duration::from_secs(6)).expect("the trickling client stays open");
    let lived = closed - first_byte;
    assert!(lived < Duration::from_millis(1800), "a byte every 100 ms kept it open {lived:?} ({sent} bytes)");
    eprintln!("idle connection closed after {idle_for:?}; trickled headers closed after {lived:?}");
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
}

/// With `MAX_CONNECTIONS` taken by stalled connections, a newcomer is served and
/// the connection that waited longest is the one closed for it.
#[test]
fn a_full_listener_closes_the_longest_waiting_connection_for_a_new_client() {
    let serve = Serve::start(&vars(&[("MAX_CONNECTIONS", "20"), ("RUST_LOG", "warn")]));
    let port = serve.port;
    let mut stalled: Vec<_> = (0..20).map(|_| half_open(port)).collect();
    // Every one of them is accepted before the newcomer arrives.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(http_get(port, "/healthz").map(|(status, _)| status), Some(200));
    let soon = Instant::now() + Duration::from_millis(500);
    assert!(closed_by(&mut stalled[0].0, soon).is_some(), "the oldest stalled connection is still open");
    assert!(closed_by(&mut stalled[19].0, Instant::now() + Duration::from_millis(200)).is_none());
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
}

/// Start-up refuses what makes no sense, naming the variable.
#[test]
fn connection_settings_out_of_range_fail_at_start_up() {
    for (name, value) in [("MAX_CONNECTIONS", "0"), ("HEADER_READ_TIMEOUT_MS", "soon"), ("IDLE_TIMEOUT_MS", "-1")] {
        let stderr = Serve::refused(&vars(&[(name, value), ("PORT", "0")]));
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
    }
}

/// When every connection is serving a request (here `/readyz?fresh=true`, each
/// waiting out its probe of a blackholed Redis), a newcomer is answered 503
/// `overloaded` and closed at once: accept never waits for a place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_full_of_requests_in_progress_answers_a_newcomer_503_at_once() {
    use support::proxy::{FaultProxy, Mode};
    let target = format!("127.0.0.1:{}", support::port("REDIS_PORT")).parse().unwrap();
    let redis = FaultProxy::start(target).await;
    let url = redis.url("redis");
    let vars = vars(&[("MAX_CONNECTIONS", "2"), ("RUST_LOG", "warn")]);
    let vars: Vec<(&str, &str)> =
        vars.into_iter().map(|(k, v)| if k == "CACHE_PROVIDER" { (k, "redis") } else { (k, v) }).collect();
    let vars = [vars, vec![("REDIS_URL", url.as_str()), ("CACHE_KEY_PREFIX", "connections-full:")]].concat();
    let vars = support::sealed(&vars);
    let serve = tokio::task::block_in_place(|| Serve::start(&vars));
    let port = serve.port;
    redis.set(Mode::Blackhole);
    let outcome = tokio::task::spawn_blocking(move || {
        let busy: Vec<_> =
            (0..2).map(|_| std::thread::spawn(move || http_get(port, "/readyz?fresh=true").map(|r| r.0))).collect();
        // Both are accepted and waiting on their probes.
        std::thread::sleep(Duration::from_millis(500));
        let asked = Instant::now();
        let refused = support::http::raw(port, "GET", "/healthz", &[], b"", Duration::from_secs(5)).unwrap();
        let waited = asked.elapsed();
        let finished: Vec<_> = busy.into_iter().map(|t| t.join().unwrap()).collect();
        (refused, waited, finished)
    })
    .await
    .unwrap();
    let (refused, waited, finished) = outcome;
    assert_eq!((refused.status, refused.error()), (503, "overloaded".to_string()), "{}", refused.text());
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(waited < Duration::from_millis(500), "the newcomer waited {waited:?}");
    assert_eq!(finished, [Some(503), Some(503)], "the requests in progress finished with their answers");
    redis.set(Mode::Pass);
    assert_eq!(http_get(port, "/healthz").map(|r| r.0), Some(200), "places free again");
    eprintln!("a newcomer to a listener of 2 busy connections: 503 overloaded after {waited:?}");
    drop(serve);
}
