//! pal's alert rules (`deploy/prometheus/`) with Prometheus' own tools: promtool
//! checks them and runs their unit tests (each of the four alerts just past and
//! just under its threshold), and a real Prometheus on loopback scrapes a
//! redis-hybrid on PostgreSQL under steady load while its Redis is killed and
//! restarted: the fallback alert fires, then clears.
//!
//! The process scraped here drives the load through the library with pal's
//! recorder: `pal serve` renders the same recorder at `/metrics`, but has no
//! route that calls the cache yet.

#[macro_use]
mod suite;
mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pal::{Settings, Ttl};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn deploy() -> std::path::PathBuf {
    support::root().join("deploy/prometheus")
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(deploy())
        .output()
        .expect("promtool runs (Debian package prometheus, installed by scripts/services)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {}: {text}", args.join(" "));
    text
}

#[test]
fn promtool_accepts_the_rules_and_their_tests_pass() {
    let checked = promtool(&["check", "rules", "alerts.yml"]);
    assert!(checked.contains("SUCCESS: 10 rules found"), "{checked}");
    promtool(&["check", "config", "prometheus.yml"]);
    let tested = promtool(&["test", "rules", "alerts_test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // The tests cover the design's four thresholds.
    let tests = std::fs::read_to_string(deploy().join("alerts_test.yml")).unwrap();
    for alert in ["PalRedisHitRateLow", "PalFallbackRateHigh", "PalRedisLatencyHigh", "PalFallbackLatencyHigh"] {
        assert!(tests.contains(&format!("alertname: {alert}")), "{alert} has no unit test");
    }
}

/// The shipped rules with every window and `for` shortened, so minutes of
/// production smoothing become seconds here; the expressions and thresholds are
/// the shipped ones.
fn fast_rules() -> String {
    let rules = std::fs::read_to_string(deploy().join("alerts.yml")).unwrap();
    let rules = rules.replace("[5m]", "[5s]");
    rules
        .lines()
        .map(|line| match line.trim_start().strip_prefix("for:") {
            Some(_) => format!("{}for: 0s", &line[..line.len() - line.trim_start().len()]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Serves the recorder's text on every request, as `/metrics` does.
async fn metrics_endpoint(handle: pal::telemetry::prometheus::PrometheusHandle) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let body = handle.render();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
            });
        }
    });
    port
}

struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(target_port: u16) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("alerts.yml"), fast_rules()).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - alerts.yml\n\
             scrape_configs:\n  - job_name: pal\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = support::free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus runs (Debian package prometheus, installed by scripts/services)");
        Prometheus { child, port, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The states of the alert named `name` in Prometheus' own API.
    async fn alert_states(&self, name: &str) -> Option<Vec<String>> {
        let port = self.port;
        let (status, response) =
            tokio::task::spawn_blocking(move || support::http_get(port, "/api/v1/alerts")).await.unwrap()?;
        if status != 200 {
            return None;
        }
        let body = response.split("\r\n\r\n").nth(1)?;
        let doc: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
        let alerts = doc["data"]["alerts"].as_array()?;
        Some(
            alerts
                .iter()
                .filter(|a| a["labels"]["alertname"] == name)
                .filter_map(|a| a["state"].as_str().map(str::to_string))
                .collect(),
        )
    }

    /// Whether the target has been scraped successfully.
    async fn scraping(&self) -> bool {
        let port = self.port;
        tokio::task::spawn_blocking(move || support::http_get(port, "/api/v1/targets"))
            .await
            .unwrap()
            .is_some_and(|(_, body)| body.contains("\"health\":\"up\""))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_real_prometheus_fires_the_fallback_alert_when_redis_dies_and_clears_it_when_it_returns() {
    let started = Instant::now();
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let handle = pal::telemetry::prometheus::install().unwrap();
    let (db_url, _schema) = suite::servers::guarded_postgres_schema().await;
    let port = support::port("REDIS_FAULT_PORT");
    let redis_url = format!("redis://127.0.0.1:{port}");
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &redis_url),
        ("REDIS_CONNECT_TIMEOUT_MS", "300"),
        ("REDIS_COMMAND_TIMEOUT_MS", "300"),
        ("CACHE_BREAKER_FAILURE_THRESHOLD", "1"),
        ("CACHE_BREAKER_COOLDOWN_MS", "500"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &db_url),
        ("DB_AUTO_MIGRATE", "true"),
    ]);
    let cache = pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap();
    let target = metrics_endpoint(handle).await;
    let prometheus = Prometheus::start(target);

    // A steady load: a write and a read every 5 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let load = {
        let (cache, stop, errors) = (cache.clone(), stop.clone(), errors.clone());
        tokio::spawn(async move {
            let ttl = Ttl::from_secs(120).unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("alerts:{}", i % 50);
                if cache.set(&key, Bytes::from(i.to_string()), ttl).await.is_err() || cache.get(&key).await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let up = support::eventually(Duration::from_secs(20), || prometheus.scraping()).await;
    assert!(up.is_some(), "Prometheus never scraped the target: {}", prometheus.log());
    // A few evaluations with Redis healthy: the alert stays silent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(prometheus.alert_states("PalFallbackRateHigh").await, Some(vec![]), "fires with Redis up");

    support::kill_redis(&port).await;
    let killed = Instant::now();
    let fired = support::eventually(Duration::from_secs(20), || async {
        prometheus.alert_states("PalFallbackRateHigh").await.is_some_and(|s| s.iter().any(|s| s == "firing"))
    })
    .await;
    assert!(fired.is_some(), "PalFallbackRateHigh never fired with Redis dead: {}", prometheus.log());
    eprintln!("PalFallbackRateHigh firing {:?} after the kill", killed.elapsed());

    support::ensure("redis");
    let back = Instant::now();
    let cleared = support::eventually(Duration::from_secs(25), || async {
        prometheus.alert_states("PalFallbackRateHigh").await.is_some_and(|s| s.is_empty())
    })
    .await;
    assert!(cleared.is_some(), "PalFallbackRateHigh still active with Redis back");
    eprintln!("PalFallbackRateHigh cleared {:?} after Redis came back", back.elapsed());

    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(errors.load(Ordering::Relaxed), 0, "the load saw errors: the hybrid should have served every call");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
