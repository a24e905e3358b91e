//! The reference service scaled out and under stress: three `pal serve`
//! processes on one Redis and one PostgreSQL share sessions, logouts and rate
//! limits; a redis-hybrid instance under steady sign-ins loses no session and
//! answers no 5xx while its Redis is killed and restarted; and with a provider
//! hung, requests are shed or cut at their deadline, never left hanging.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use support::http::{self, Api};
use support::proxy::{FaultProxy, Mode};
use support::service::{enroll, sign_in, start_verification, unique_email};

/// A budget per account that the session part of the test stays within.
const PER_ACCOUNT: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_sessions_logouts_and_rate_limits() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let redis = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let limit = PER_ACCOUNT.to_string();
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", &redis),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &url),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
        ("RATE_LIMIT_ACCOUNT_PER_MINUTE", &limit),
    ]);
    let dir = tempfile::tempdir().unwrap();
    // One key prefix for the three: they are one deployment.
    let prefix = support::namespace();
    tokio::task::block_in_place(|| {
        let serves: Vec<_> =
            (0..3).map(|i| support::service::start(&vars, &dir.path().join(i.to_string()), &prefix)).collect();
        let apis: Vec<Api> = serves.iter().map(|s| Api { port: s.port }).collect();

        // An enrollment started on one instance is confirmed on another.
        let email = unique_email();
        let started = apis[0].post("/v1/enrollments", None, json!({ "email": email }));
        let (id, code) = (started.json()["enrollment_id"].clone(), started.json()["code"].clone());
        let confirmed =
            apis[1].post(&format!("/v1/enrollments/{}/confirm", id.as_str().unwrap()), None, json!({ "code": code }));
        assert_eq!(confirmed.status, 201, "{}", confirmed.text());
        let user_id = confirmed.json()["user_id"].clone();

        // A verification started on the third is completed on the first, and its
        // token works everywhere.
        let (id, code) = start_verification(apis[2], &email);
        let done = apis[0].post(&format!("/v1/verifications/{id}/complete"), None, json!({ "code": code }));
        assert_eq!(done.status, 200, "{}", done.text());
        let token = done.json()["token"].as_str().unwrap().to_string();
        for api in &apis {
            let session = api.get("/v1/session", Some(&token));
            assert_eq!((session.status, &session.json()["user_id"]), (200, &user_id), "port {}", api.port);
        }
        assert_eq!(apis[2].post("/v1/session/refresh", Some(&token), json!({})).status, 200);

        // Logout everywhere on one instance ends sessions made on the others, on
        // every instance, from the next request on.
        let second = sign_in(apis[1], &email);
        let third = sign_in(apis[2], &email);
        assert_eq!(apis[1].delete("/v1/sessions", Some(&third)).status, 204);
        for api in &apis {
            for t in [&token, &second, &third] {
                assert_eq!(api.get("/v1/session", Some(t)).status, 401, "port {}", api.port);
            }
        }

        // The account limit counts on all three together: N requests pass, spread
        // over the instances, and the next one is refused wherever it lands.
        let limited = unique_email();
        for i in 0..PER_ACCOUNT {
            let r = apis[i % 3].post("/v1/verifications", None, json!({ "email": limited }));
            assert_eq!(r.status, 202, "request {i}: {}", r.text());
        }
        for api in &apis {
            let refused = api.post("/v1/verifications", None, json!({ "email": limited }));
            assert_eq!((refused.status, refused.error()), (429, "rate_limited".into()), "port {}", api.port);
            let retry: u64 = refused.header("retry-after").expect("Retry-After").parse().unwrap();
            assert!((1..=60).contains(&retry), "Retry-After: {retry}");
        }
        for serve in serves {
            let (code, output) = serve.stop();
            assert_eq!(code, Some(0), "{output}");
        }
    });
    teardown.await;
}

/// What the load saw: sessions issued (with whether Redis was down then) and
/// every answer that was not the one expected.
#[derive(Default)]
struct Load {
    sessions: Vec<(String, bool)>,
    failures: Vec<String>,
    requests: usize,
}

/// Signs users in and reads each new session back at once, until `stop`.
fn sign_ins(api: Api, email: String, stop: Arc<AtomicBool>, outage: Arc<AtomicBool>) -> Load {
    let mut load = Load::default();
    let mut expect = |what: &str, want: u16, answer: std::io::Result<http::Response>| -> Option<serde_json::Value> {
        load.requests += 1;
        match answer {
            Ok(r) if r.status == want => Some(r.json()),
            Ok(r) => {
                load.failures.push(format!("{what}: {} {}", r.status, r.text()));
                None
            }
            Err(e) => {
                load.failures.push(format!("{what}: no answer: {e}"));
                None
            }
        }
    };
    let mut sessions = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let during = outage.load(Ordering::Relaxed);
        let started = api.try_send("POST", "/v1/verifications", None, Some(&json!({ "email": email })));
        let Some(started) = expect("start", 202, started) else { continue };
        let path = format!("/v1/verifications/{}/complete", started["verification_id"].as_str().unwrap());
        let done = api.try_send("POST", &path, None, Some(&json!({ "code": started["code"] })));
        let Some(done) = expect("complete", 200, done) else { continue };
        let token = done["token"].as_str().unwrap().to_string();
        if expect("session", 200, api.try_send("GET", "/v1/session", Some(&token), None)).is_some() {
            sessions.push((token, during || outage.load(Ordering::Relaxed)));
        }
    }
    load.sessions = sessions;
    load
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ins_go_on_through_a_redis_outage_and_no_session_is_lost() {
    let _exclusive = support::exclusive_redis_fault();
    support::ensure("redis");
    let _restore = support::Restore("redis");
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let port = support::port("REDIS_FAULT_PORT");
    let redis = format!("redis://127.0.0.1:{port}");
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &redis),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &url),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
        ("RATE_LIMIT_ACCOUNT_PER_MINUTE", "0"),
        ("CACHE_BREAKER_COOLDOWN_MS", "500"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let prefix = support::namespace();
    let serve = tokio::task::block_in_place(|| support::service::start(&vars, dir.path(), &prefix));
    let api = Api { port: serve.port };
    let emails: Vec<String> = (0..4).map(|_| unique_email()).collect();
    tokio::task::block_in_place(|| emails.iter().for_each(|e| drop(enroll(api, e))));

    let stop = Arc::new(AtomicBool::new(false));
    let outage = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (email, stop, outage) = (emails[w].clone(), stop.clone(), outage.clone());
            std::thread::spawn(move || sign_ins(api, email, stop, outage))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    outage.store(true, Ordering::Relaxed);
    let killed = Instant::now();
    support::kill_redis(&port).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    tokio::task::spawn_blocking(|| support::ensure("redis")).await.unwrap();
    outage.store(false, Ordering::Relaxed);
    eprintln!("Redis down for {:?}", killed.elapsed());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::Relaxed);
    let loads: Vec<Load> = workers.into_iter().map(|w| w.join().unwrap()).collect();

    let requests: usize = loads.iter().map(|l| l.requests).sum();
    let failures: Vec<&String> = loads.iter().flat_map(|l| &l.failures).collect();
    let sessions: Vec<&(String, bool)> = loads.iter().flat_map(|l| &l.sessions).collect();
    let during = sessions.iter().filter(|(_, d)| *d).count();
    eprintln!(
        "{requests} requests, {} sessions ({during} while Redis was down), failures: {failures:?}",
        sessions.len()
    );
    if !failures.is_empty() {
        let (_, output) = tokio::task::block_in_place(|| serve.stop());
        panic!("{failures:?}\n{output}");
    }
    assert!(during > 0, "no session was made while Redis was down");

    // Every session is still there, those made during the outage included.
    let lost: Vec<&String> = tokio::task::block_in_place(|| {
        sessions.iter().filter(|(t, _)| api.get("/v1/session", Some(t)).status != 200).map(|(t, _)| t).collect()
    });
    assert!(lost.is_empty(), "{} of {} sessions lost", lost.len(), sessions.len());
    let status = tokio::task::block_in_place(|| api.get("/v1/status", None)).json();
    eprintln!("status afterwards: {}", status["cache"]);
    assert!(status["cache"]["fallback_rate"].as_f64().is_some_and(|r| r > 0.0), "{status}");
    let (code, output) = tokio::task::block_in_place(|| serve.stop());
    assert_eq!(code, Some(0), "{output}");
    teardown.await;
}

/// At most two requests in flight, each with a deadline of a second.
const BOUNDED: [(&str, &str); 4] = [
    ("MAX_IN_FLIGHT", "2"),
    ("REQUEST_TIMEOUT_MS", "1000"),
    ("RATE_LIMIT_IP_PER_MINUTE", "0"),
    ("RATE_LIMIT_ACCOUNT_PER_MINUTE", "0"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_cache_gets_requests_shed_or_cut_at_their_deadline_never_a_hang() {
    let target = format!("127.0.0.1:{}", support::port("REDIS_PORT")).parse::<SocketAddr>().unwrap();
    let proxy = FaultProxy::start(target).await;
    let redis = proxy.url("redis");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/pal.db", dir.path().display());
    let mut vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", &redis),
        ("REDIS_COMMAND_TIMEOUT_MS", "5000"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", &url),
    ]);
    vars.extend(BOUNDED);
    shed_or_cut(&proxy, &vars, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_database_gets_requests_shed_or_cut_at_their_deadline_never_a_hang() {
    let (url, teardown) = support::servers::fresh_postgres_schema().await;
    let target = format!("127.0.0.1:{}", support::port("PG_PORT")).parse::<SocketAddr>().unwrap();
    let proxy = FaultProxy::start(target).await;
    let through_proxy = url.replace(&target.to_string(), &proxy.addr.to_string());
    let dir = tempfile::tempdir().unwrap();
    let mut vars = vec![
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", through_proxy.as_str()),
        ("DB_STATEMENT_TIMEOUT_MS", "5000"),
    ];
    vars.extend(BOUNDED);
    shed_or_cut(&proxy, &vars, dir.path()).await;
    teardown.await;
}

/// Hangs the provider behind `proxy` under twelve concurrent sign-in requests:
/// two reach it and are cut at their deadline, the others are shed at once; then
/// the provider comes back and so does the service.
async fn shed_or_cut(proxy: &FaultProxy, vars: &[(&str, &str)], dir: &std::path::Path) {
    let prefix = support::namespace();
    let serve = tokio::task::block_in_place(|| support::service::start(vars, dir, &prefix));
    let api = Api { port: serve.port };
    tokio::task::block_in_place(|| enroll(api, &unique_email()));

    proxy.set(Mode::Blackhole);
    let started = Instant::now();
    let requests: Vec<_> = (0..12)
        .map(|_| {
            std::thread::spawn(move || {
                let sent = Instant::now();
                let r = api.post("/v1/verifications", None, json!({ "email": unique_email() }));
                (r.status, r.error(), r.header("retry-after").map(str::to_string), sent.elapsed())
            })
        })
        .collect();
    // The operators' routes are outside the limit: they answer at once meanwhile.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = tokio::task::block_in_place(|| support::http_get(api.port, "/healthz"));
    assert_eq!(health.map(|r| r.0), Some(200));
    let answers: Vec<_> = requests.into_iter().map(|r| r.join().unwrap()).collect();
    let all = started.elapsed();
    eprintln!("12 requests on a hung provider, 2 in flight at most: {all:?}: {answers:?}");
    let overloaded = answers.iter().filter(|a| a.1 == "overloaded").count();
    let timeouts = answers.iter().filter(|a| a.1 == "timeout").count();
    assert!(answers.iter().all(|a| a.0 == 503), "{answers:?}");
    assert_eq!(overloaded + timeouts, 12, "{answers:?}");
    assert!(overloaded >= 1 && (1..=4).contains(&timeouts), "{answers:?}");
    for (_, error, retry, took) in &answers {
        assert!(*took < Duration::from_secs(3), "{error} after {took:?}");
        if error == "overloaded" {
            assert_eq!(retry.as_deref(), Some("1"));
            assert!(*took < Duration::from_millis(500), "shed at once, not after {took:?}");
        }
    }

    // The blackhole dropped bytes on a live connection, which TCP never does: a
    // reset, seen by the proxy before it passes again, makes the adapter reconnect.
    proxy.set(Mode::Reset);
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.set(Mode::Pass);
    let back = tokio::task::block_in_place(|| {
        support::eventually_blocking(Duration::from_secs(20), || {
            api.post("/v1/verifications", None, json!({ "email": unique_email() })).status == 202
        })
    });
    if back.is_none() {
        let (_, output) = tokio::task::block_in_place(|| serve.stop());
        panic!("the service never recovered after the provider came back:\n{output}");
    }
    let (code, output) = tokio::task::block_in_place(|| serve.stop());
    assert_eq!(code, Some(0), "{output}");
}
