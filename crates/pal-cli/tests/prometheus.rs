//! A real Prometheus on loopback scrapes `pal serve` (redis-hybrid on PostgreSQL)
//! at `/metrics`, with pal's alert rules (`deploy/prometheus/`) made fast, while
//! clients read their sessions and its Redis is killed and restarted: the fallback
//! alert fires, then clears, and no client sees an error. (promtool's checks of the
//! rules are the library's `tests/prometheus.rs`.)

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::http::Api;

fn deploy() -> std::path::PathBuf {
    support::root().join("deploy/prometheus")
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
    let (db_url, _schema) = support::servers::guarded_postgres_schema().await;
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
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
        ("RATE_LIMIT_ACCOUNT_PER_MINUTE", "0"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let prefix = support::namespace();
    let serve = tokio::task::block_in_place(|| support::service::start(&vars, dir.path(), &prefix));
    let api = Api { port: serve.port };
    let email = support::service::unique_email();
    let token = tokio::task::block_in_place(|| {
        support::service::enroll(api, &email);
        support::service::sign_in(api, &email)
    });
    let prometheus = Prometheus::start(serve.port);

    // A steady load: a client reads its session every 5 ms, each read three
    // cache calls (the session, the user's epoch, its time to live).
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (stop, reads, errors) = (stop.clone(), reads.clone(), errors.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match api.try_send("GET", "/v1/session", Some(&token), None) {
                    Ok(r) if r.status == 200 => reads.fetch_add(1, Ordering::Relaxed),
                    other => {
                        eprintln!("GET /v1/session: {other:?}");
                        errors.fetch_add(1, Ordering::Relaxed)
                    }
                };
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let up = support::eventually(Duration::from_secs(20), || prometheus.scraping()).await;
    assert!(up.is_some(), "Prometheus never scraped pal serve: {}", prometheus.log());
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

    tokio::task::spawn_blocking(|| support::ensure("redis")).await.unwrap();
    let back = Instant::now();
    let cleared = support::eventually(Duration::from_secs(25), || async {
        prometheus.alert_states("PalFallbackRateHigh").await.is_some_and(|s| s.is_empty())
    })
    .await;
    assert!(cleared.is_some(), "PalFallbackRateHigh still active with Redis back");
    eprintln!("PalFallbackRateHigh cleared {:?} after Redis came back", back.elapsed());

    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    eprintln!("{} session reads", reads.load(Ordering::Relaxed));
    assert_eq!(errors.load(Ordering::Relaxed), 0, "clients saw errors: the hybrid should have served every call");
    let (code, output) = tokio::task::block_in_place(|| serve.stop());
    assert_eq!(code, Some(0), "{output}");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
