//! Monitoring as an operator meets it on `pal serve` and `pal check`: `/readyz`
//! answers at once and says `degraded` (naming Redis) while the Redis of a
//! redis-hybrid hangs, `/metrics` in the Prometheus format on the main or its own
//! listener, JSON logs, `pal check --json` and `--url`, and bad settings refused.

mod support;

use std::time::{Duration, Instant};

use support::http_get;
use support::serve::Serve;

const EMBEDDED: &[(&str, &str)] =
    &[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")];

fn body(response: &str) -> &str {
    response.split("\r\n\r\n").nth(1).unwrap_or_default()
}

/// `/readyz`'s status, body and how long it took.
fn readyz(port: u16) -> (u16, String, Duration) {
    let started = Instant::now();
    let (status, response) = http_get(port, "/readyz").expect("/readyz answers");
    (status, body(&response).to_string(), started.elapsed())
}

fn pal(vars: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = support::pal_command().envs(vars.iter().copied()).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_answers_at_once_and_says_degraded_while_the_hybrids_redis_hangs() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let (db_url, _schema) = support::servers::guarded_postgres_schema().await;
    let port = support::port("REDIS_FAULT_PORT");
    let redis_url = format!("redis://127.0.0.1:{port}");
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &redis_url),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &db_url),
        ("DB_AUTO_MIGRATE", "true"),
    ]);
    let serve = tokio::task::block_in_place(|| Serve::start(&vars));
    let http = serve.port;
    let (status, ready, _) = tokio::task::block_in_place(|| readyz(http));
    assert_eq!((status, ready.contains("\"status\":\"ready\"")), (200, true), "{ready}");

    let hung = support::Continue(support::pid_of(&port));
    support::signal(hung.0, "STOP");
    // Probes run in the background: every answer comes at once, first with the
    // last state, then (within a probe interval and a Redis timeout) degraded.
    let (slowest, degraded) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut slowest = Duration::ZERO;
        let mut degraded = None;
        while started.elapsed() < Duration::from_secs(8) {
            let (status, body, took) = readyz(http);
            slowest = slowest.max(took);
            if body.contains("\"status\":\"degraded\"") {
                assert_eq!(status, 200, "degraded keeps the instance in the load balancer: {body}");
                degraded = Some((started.elapsed(), body));
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (slowest, degraded)
    })
    .await
    .unwrap();
    let (after, body) = degraded.expect("/readyz never said degraded with Redis hung");
    eprintln!("/readyz degraded {after:?} after SIGSTOP; slowest answer {slowest:?}");
    // "At once" means without waiting for a probe, which would take a Redis
    // timeout (1 s by default): half of it tells the two apart even when a loaded
    // machine delays this client; the README's figure (2 ms) is the unloaded one.
    assert!(slowest < Duration::from_millis(500), "a /readyz took {slowest:?}: it waited for a probe");
    // The cause is for the operator (the log, `pal check` below), not for anyone
    // who can reach /readyz.
    assert!(body.contains("\"error\":\"degraded\"") && !body.contains("Redis is"), "{body}");
    assert!(serve.output().contains("Redis is unavailable"), "the log names the part that is down");
    let metrics = tokio::task::block_in_place(|| http_get(http, "/metrics")).unwrap().1;
    assert!(
        metrics.contains("pal_provider_degraded{role=\"cache\",provider=\"redis-hybrid\"} 1"),
        "the gauge says degraded: {metrics}"
    );

    // A short-lived `pal check` says the same, and that it is not healthy.
    let started = Instant::now();
    let (code, out, err) = tokio::task::block_in_place(|| pal(&vars, &["check"]));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("DEGRADED") && out.contains("Redis is unavailable"), "{out}{err}");
    eprintln!("pal check with Redis hung: {:?}", started.elapsed());
    // Its probe opens the breaker, so the checks after it do not each wait out
    // Redis timeouts (12 s with the defaults before it did).
    assert!(started.elapsed() < Duration::from_secs(6), "pal check took {:?}", started.elapsed());

    drop(hung);
    let back = tokio::task::spawn_blocking(move || {
        support::eventually_blocking(Duration::from_secs(15), || readyz(http).1.contains("\"status\":\"ready\""))
    })
    .await
    .unwrap();
    let back = back.expect("/readyz never said ready again after Redis resumed");
    eprintln!("/readyz ready again {back:?} after SIGCONT");
    let (code, _) = tokio::task::block_in_place(|| serve.stop());
    assert_eq!(code, Some(0));
}

#[test]
fn metrics_are_served_in_the_prometheus_format_on_the_main_or_their_own_listener() {
    let serve = Serve::start(EMBEDDED);
    let (status, response) = http_get(serve.port, "/metrics").unwrap();
    assert_eq!(status, 200, "{response}");
    assert!(response.contains("text/plain; version=0.0.4"), "{response}");
    let text = body(&response);
    for line in [
        "# TYPE pal_provider_up gauge",
        "pal_provider_up{role=\"cache\",provider=\"memory\"} 1",
        "pal_provider_up{role=\"database\",provider=\"sqlite\"} 1",
        "# HELP pal_cache_operation_duration_seconds",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    drop(serve);

    let metrics_port = support::free_port();
    let separate = Serve::start(&[EMBEDDED, &[("METRICS_PORT", &metrics_port.to_string())]].concat());
    assert_eq!(http_get(separate.port, "/metrics").unwrap().0, 404, "not on the main listener");
    let (status, response) = http_get(metrics_port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(body(&response).contains("pal_provider_up"), "{response}");
    drop(separate);

    let off = Serve::start(&[EMBEDDED, &[("METRICS_ENABLED", "false")]].concat());
    assert_eq!(http_get(off.port, "/metrics").unwrap().0, 404, "METRICS_ENABLED=false serves no metrics");
}

#[test]
fn json_logs_are_one_object_per_line_with_the_fields_of_the_text_format() {
    let serve = Serve::start(&[EMBEDDED, &[("LOG_FORMAT", "json")]].concat());
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
    let lines: Vec<serde_json::Value> = output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l}")))
        .collect();
    let serving = lines.iter().find(|l| l["message"] == "pal serving").expect("the start-up line");
    assert_eq!(serving["level"], "INFO");
    assert_eq!(serving["cache"], "memory", "fields at the top level: {serving}");
    assert_eq!(serving["database"], "sqlite");
    assert!(serving["local"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")), "{serving}");
    assert!(lines.iter().any(|l| l["message"] == "SIGTERM received, shutting down"), "{output}");
}

#[test]
fn pal_check_json_and_url_report_health_and_the_four_signals() {
    let (code, out, err) = pal(EMBEDDED, &["check", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc["status"], "healthy");
    assert_eq!(doc["checks"][0]["probe"]["provider"], "memory");
    assert_eq!(doc["checks"][1]["probe"]["status"], "healthy");
    assert_eq!(doc["checks"][1]["transport"], "in process");

    let serve = Serve::start(EMBEDDED);
    let url = format!("http://127.0.0.1:{}/metrics", serve.port);
    let (code, out, err) = pal(EMBEDDED, &["check", "--json", "--url", &url, "--window", "0.5"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = doc["signals"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["redis_hit_rate", "fallback_rate", "redis_latency_p99", "fallback_latency_p99"]);
    assert!(doc["signals"].as_array().unwrap().iter().all(|s| s["value"].is_null() && s["alerting"] == false), "{out}");
    let (code, out, _) = pal(EMBEDDED, &["check", "--url", &url, "--window", "0.2"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("redis_hit_rate") && out.contains("below 95 %") && out.contains("no traffic"), "{out}");

    let (code, _, err) = pal(EMBEDDED, &["check", "--url", "http://127.0.0.1:1/metrics", "--window", "0.1"]);
    assert_eq!(code, Some(3), "nothing listening is an operation that failed: {err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

#[test]
fn bad_monitoring_settings_stop_start_up_naming_the_variable() {
    let port = support::free_port().to_string();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
        (&[("METRICS_ENABLED", "maybe")], "METRICS_ENABLED"),
        (&[("PORT", &port), ("METRICS_PORT", &port)], "METRICS_PORT"),
        (&[("METRICS_ENABLED", "false"), ("METRICS_PORT", "9999")], "METRICS_ENABLED=false"),
    ];
    for (extra, named) in cases {
        let (code, out, err) = pal(&[EMBEDDED, extra].concat(), &["serve"]);
        assert_eq!(code, Some(2), "{extra:?}: {out}{err}");
        assert!(err.contains(named), "{extra:?} should name {named}: {err}");
    }
}
