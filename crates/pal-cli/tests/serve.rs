//! `pal serve` as an operator runs it, against real servers it did not start:
//! readiness follows Redis and PostgreSQL going away and coming back without a
//! restart, secrets never reach a response, a log line or the terminal, and
//! SIGTERM lets the requests in flight finish.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::http_get;
use support::proxy::{FaultProxy, Mode};
use support::serve::Serve;

async fn proxy_to(port: &str) -> FaultProxy {
    FaultProxy::start(format!("127.0.0.1:{port}").parse::<SocketAddr>().unwrap()).await
}

fn ready(port: u16) -> u16 {
    http_get(port, "/readyz").map_or(0, |(status, _)| status)
}

fn eventually_ready(port: u16, want: u16) -> Duration {
    let started = Instant::now();
    while ready(port) != want {
        assert!(started.elapsed() < Duration::from_secs(15), "/readyz never answered {want}");
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_follows_each_provider_down_and_back_without_a_restart() {
    let redis = proxy_to(&support::port("REDIS_PORT")).await;
    let postgres = proxy_to(&support::port("PG_PORT")).await;
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let through_proxy = url.replace(&format!("127.0.0.1:{}", support::port("PG_PORT")), &postgres.addr.to_string());
    let redis_url = redis.url("redis");
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", &redis_url),
        ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ("REDIS_COMMAND_TIMEOUT_MS", "500"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &through_proxy),
        ("DB_POOL_ACQUIRE_TIMEOUT_MS", "1000"),
    ]);
    let serve = tokio::task::block_in_place(|| Serve::start(&vars));
    let port = serve.port;
    let check = move |want: u16| tokio::task::spawn_blocking(move || eventually_ready(port, want));
    check(200).await.unwrap();
    for (name, proxy) in [("Redis", &redis), ("PostgreSQL", &postgres)] {
        proxy.set(Mode::Reset);
        let down = check(503).await.unwrap();
        let body = tokio::task::spawn_blocking(move || http_get(port, "/readyz").unwrap().1).await.unwrap();
        assert!(body.contains("\"healthy\":false") && body.contains("\"unavailable\""), "{name}: {body}");
        proxy.set(Mode::Pass);
        let back = check(200).await.unwrap();
        eprintln!("{name} reset: /readyz 503 after {down:?}; passed again: 200 after {back:?}, same process");
    }
    let (code, _) = tokio::task::spawn_blocking(move || serve.stop()).await.unwrap();
    assert_eq!(code, Some(0));
    teardown.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_fifty_requests_in_flight_finish() {
    // Every fresh readiness probe takes about 300 ms: Redis answers through a slow proxy.
    let redis = proxy_to(&support::port("REDIS_PORT")).await;
    redis.set_latency(Duration::from_millis(150));
    let redis_url = redis.url("redis");
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", &redis_url),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
    ]);
    let serve = tokio::task::block_in_place(|| Serve::start(&vars));
    let port = serve.port;
    let requests: Vec<_> = (0..50).map(|_| std::thread::spawn(move || http_get(port, "/readyz?fresh=true"))).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    serve.sigterm();
    let mut answered = 0;
    for request in requests {
        let (status, body) = request.join().unwrap().expect("a request in flight got its response");
        assert_eq!(status, 200, "{body}");
        answered += 1;
    }
    let (code, output) = tokio::task::spawn_blocking(move || serve.stop()).await.unwrap();
    assert_eq!(answered, 50);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("SIGTERM received"), "{output}");
}

/// Every place a secret could leak: stdout, stderr with every log at trace level,
/// and the HTTP responses.
fn assert_never_shown(secret: &str, what: &str, text: &str) {
    assert!(!text.contains(secret), "{what} shows the password: {text}");
}

#[test]
fn passwords_never_leave_pal_check_or_pal_serve() {
    let _lock = support::exclusive("postgres_fault");
    support::servers::services("start", "postgres_fault");
    const SECRET: &str = "hunter2-s3cret";
    let redis = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "servers that are down",
            vec![
                ("REDIS_URL", format!("redis://app:{SECRET}@127.0.0.1:1")),
                ("DATABASE_URL", format!("postgres://app:{SECRET}@127.0.0.1:1/app")),
            ],
        ),
        (
            "servers that refuse the password",
            vec![
                ("REDIS_URL", redis.replace("redis://", &format!("redis://app:{SECRET}@"))),
                (
                    "DATABASE_URL",
                    format!("postgres://pal:{SECRET}@127.0.0.1:{}/postgres", support::port("PG_FAULT_PORT")),
                ),
            ],
        ),
        (
            "malformed URLs",
            vec![
                ("REDIS_URL", format!("redis://app:{SECRET}@:notaport")),
                ("DATABASE_URL", format!("postgres//app:{SECRET}@db/app")),
            ],
        ),
    ];
    for (name, urls) in cases {
        let mut vars: Vec<(&str, &str)> =
            vec![("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "postgresql"), ("RUST_LOG", "trace")];
        vars.extend(urls.iter().map(|(k, v)| (*k, v.as_str())));
        let vars = support::sealed(&vars);
        let out = support::pal_command().envs(vars.iter().copied()).arg("check").output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_never_shown(SECRET, &format!("pal check, {name}"), &text);
        let expected = if name == "malformed URLs" { 2 } else { 1 };
        assert_eq!(out.status.code(), Some(expected), "pal check, {name}: {text}");
        if expected == 2 {
            continue;
        }
        let serve = Serve::start(&vars);
        let responses: Vec<String> = ["/readyz", "/healthz", "/nope", "/metrics", "/readyz?fresh=true"]
            .iter()
            .filter_map(|p| http_get(serve.port, p))
            .map(|(_, body)| body)
            .collect();
        assert!(responses[0].contains("503"), "{name}: {}", responses[0]);
        for body in &responses {
            assert_never_shown(SECRET, &format!("an HTTP response, {name}"), body);
        }
        let (code, output) = serve.stop();
        assert_eq!(code, Some(0));
        assert!(output.contains("TRACE") || output.contains("DEBUG"), "logs at trace level were on: {output}");
        assert_never_shown(SECRET, &format!("pal serve's output, {name}"), &output);
    }
}

/// A database port that refuses connections: every API call that needs the
/// database answers 503 `unavailable` at once, and `/readyz` says why, where
/// each used to wait out the request deadline and answer `timeout`.
#[test]
fn a_database_that_refuses_connections_is_unavailable_at_once() {
    let closed = format!("postgres://app@127.0.0.1:{}/app", support::free_port());
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", closed.as_str()),
        ("DB_AUTO_MIGRATE", "false"),
    ];
    let serve = support::service::start(&vars, dir.path(), "refused:");
    let api = support::http::Api { port: serve.port };
    for _ in 0..3 {
        let started = Instant::now();
        let answer =
            api.post("/v1/verifications", None, serde_json::json!({ "email": support::service::unique_email() }));
        let took = started.elapsed();
        assert_eq!((answer.status, answer.error()), (503, "unavailable".to_string()), "{}", answer.text());
        assert!(took < Duration::from_secs(1), "answered after {took:?}");
    }
    let ready = http_get(serve.port, "/readyz?fresh=true").unwrap().1;
    assert!(ready.contains("\"error\":\"unavailable\"") && !ready.contains("refused"), "{ready}");
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("connection refused"), "the log line of a 503 carries the cause: {output}");
}
