//! The HTTP metrics of a real `pal serve` (memory cache, SQLite in memory), read
//! from its `/metrics` after known requests: counted by route template (one
//! series for every id, one for every path no route serves) and status, timed,
//! none left in flight, and the requests shed or cut at their deadline counted
//! apart; and every HTTP metric the alert rules use is among them.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;
use support::http::Api;
use support::http_get;
use support::service::{enroll, sign_in, unique_email};

/// One sample of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a scrape. Parsed here rather than with prometheus-parse, whose
/// 0.2 ends a label set at its first `}` and so drops every sample of a route
/// with a parameter (`/v1/verifications/{id}/complete`).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
            let value = value.parse().unwrap_or_else(|e| panic!("{e}: {line}"));
            match series.split_once('{') {
                Some((name, labels)) => {
                    let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                    Sample { name: name.into(), labels: parse_labels(labels, line), value }
                }
                None => Sample { name: series.into(), labels: BTreeMap::new(), value },
            }
        })
        .collect()
}

/// `a="x",b="y \"quoted\""`, values unescaped.
fn parse_labels(mut rest: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad labels: {line}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("bad escape: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated value: {line}"),
            }
        };
        labels.insert(name.to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The value of the one series named `name` with exactly `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let found: Vec<&Sample> = samples.iter().filter(|s| s.name == name && s.labels == wanted).collect();
    assert!(found.len() <= 1, "{name} {labels:?} is more than one series: {found:?}");
    found.first().map(|s| s.value)
}

fn scrape(port: u16) -> (String, Vec<Sample>) {
    let (status, response) = http_get(port, "/metrics").expect("/metrics answers");
    assert_eq!(status, 200, "{response}");
    let text = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    let samples = parse(&text);
    (text, samples)
}

const REQUESTS: &str = "pal_http_requests_total";
const DURATION: &str = "pal_http_request_duration_seconds";
const IN_FLIGHT: &str = "pal_http_requests_in_flight";
const COMPLETE: &str = "/v1/verifications/{id}/complete";

/// A POST whose body never comes: its handler waits for it, holding the one
/// place in flight, until the deadline cuts it.
fn stuck_request(port: u16, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    stream
}

#[test]
fn requests_are_counted_by_route_template_and_status_with_those_shed_or_cut_apart() {
    let metrics_port = support::free_port();
    let metrics_port_var = metrics_port.to_string();
    // One request in flight at most, a deadline of a second, and /metrics on its
    // own listener so that scraping is not itself a request in flight here.
    let vars = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("MAX_IN_FLIGHT", "1"),
        ("REQUEST_TIMEOUT_MS", "1000"),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
        ("RATE_LIMIT_ACCOUNT_PER_MINUTE", "0"),
        ("METRICS_PORT", metrics_port_var.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let serve = support::service::start(&vars, dir.path(), &support::namespace());
    let api = Api { port: serve.port };
    let (_, before) = scrape(metrics_port);
    let healthz_before = value(&before, REQUESTS, &[("method", "GET"), ("route", "/healthz"), ("status", "200")]);

    let email = unique_email();
    enroll(api, &email);
    let token = sign_in(api, &email);
    let unknown =
        api.post(&format!("/v1/verifications/{}/complete", uuid::Uuid::new_v4()), None, json!({ "code": "123456" }));
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert_eq!(api.get("/v1/session", Some(&token)).status, 200);
    for n in 0..3 {
        assert_eq!(api.get(&format!("/no/such/path/{n}"), None).status, 404);
    }
    for _ in 0..2 {
        assert_eq!(http_get(serve.port, "/healthz").map(|r| r.0), Some(200));
    }

    // One request holds the only place in flight; the next is shed at once,
    // and the first is cut at its deadline.
    let mut stuck = stuck_request(serve.port, &format!("/v1/verifications/{}/complete", uuid::Uuid::new_v4()));
    let held = support::eventually_blocking(Duration::from_secs(10), || {
        value(&scrape(metrics_port).1, IN_FLIGHT, &[]) == Some(1.0)
    });
    assert!(held.is_some(), "the stuck request never showed in flight: {}", scrape(metrics_port).0);
    let shed = api.get("/v1/status", None);
    assert_eq!((shed.status, shed.error()), (503, "overloaded".to_string()), "{}", shed.text());
    let mut answer = String::new();
    stuck.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("\"timeout\""), "{answer}");

    // The gauge falls when the answer is written, which the client may see first.
    let drained = support::eventually_blocking(Duration::from_secs(5), || {
        value(&scrape(metrics_port).1, IN_FLIGHT, &[]) == Some(0.0)
    });
    let (text, after) = scrape(metrics_port);
    assert!(drained.is_some(), "requests left in flight:\n{text}");
    let count = |method: &str, route: &str, status: &str| {
        value(&after, REQUESTS, &[("method", method), ("route", route), ("status", status)])
    };
    assert_eq!(count("POST", "/v1/enrollments", "202"), Some(1.0), "{text}");
    assert_eq!(count("POST", "/v1/enrollments/{id}/confirm", "201"), Some(1.0), "{text}");
    assert_eq!(count("POST", "/v1/verifications", "202"), Some(1.0), "{text}");
    assert_eq!(count("POST", COMPLETE, "200"), Some(1.0), "{text}");
    assert_eq!(count("POST", COMPLETE, "404"), Some(1.0), "{text}");
    assert_eq!(count("POST", COMPLETE, "503"), Some(1.0), "the one cut at its deadline: {text}");
    assert_eq!(count("GET", "/v1/session", "200"), Some(1.0), "{text}");
    assert_eq!(count("GET", "/v1/status", "503"), Some(1.0), "the one shed: {text}");
    assert_eq!(count("GET", "(no route)", "404"), Some(3.0), "one series for every unknown path: {text}");
    let healthz = count("GET", "/healthz", "200").unwrap_or(0.0) - healthz_before.unwrap_or(0.0);
    assert_eq!(healthz, 2.0, "{text}");
    let routes: std::collections::BTreeSet<&str> =
        after.iter().filter(|s| s.name == REQUESTS).filter_map(|s| s.labels.get("route")).map(String::as_str).collect();
    let expected = [
        "(no route)",
        "/healthz",
        "/v1/enrollments",
        "/v1/enrollments/{id}/confirm",
        "/v1/session",
        "/v1/status",
        "/v1/verifications",
        COMPLETE,
    ];
    assert_eq!(routes, expected.into_iter().collect(), "templates only, never a raw path or an id");

    assert_eq!(value(&after, "pal_http_requests_shed_total", &[]), Some(1.0), "{text}");
    assert_eq!(value(&after, "pal_http_requests_timed_out_total", &[]), Some(1.0), "{text}");
    let complete = [("method", "POST"), ("route", COMPLETE)];
    assert_eq!(value(&after, &format!("{DURATION}_count"), &complete), Some(3.0), "{text}");
    let sum = value(&after, &format!("{DURATION}_sum"), &complete).unwrap();
    assert!(sum >= 1.0, "the request cut at its 1 s deadline took that long: {sum}");
    let bucket = |le: &str| value(&after, &format!("{DURATION}_bucket"), &[complete[0], complete[1], ("le", le)]);
    assert!(bucket("0.0001").is_some(), "buckets from a tenth of a millisecond: {text}");
    assert_eq!(bucket("1"), Some(2.0), "the two answered, not the one cut at 1 s: {text}");
    assert_eq!(bucket("10"), Some(3.0), "and buckets past the default deadline (5 s): {text}");
    for help in [
        "# HELP pal_http_requests_total",
        "# HELP pal_http_request_duration_seconds",
        "# HELP pal_http_requests_in_flight",
    ] {
        assert!(text.contains(help), "{help} missing: {text}");
    }

    // What the alert rules read is what this process exports.
    let rules = std::fs::read_to_string(support::root().join("deploy/prometheus/alerts.yml")).unwrap();
    let used = alert_metrics(&rules);
    assert!(used.len() >= 2, "the HTTP alerts read the HTTP metrics: {used:?}");
    for name in used {
        let exported = after.iter().any(|s| s.name == name || s.name == format!("{name}_count"));
        assert!(exported, "alerts.yml names {name}, which pal serve does not export:\n{text}");
    }

    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
}

/// Every `pal_http_` metric the alert rules name, in an expression (a series)
/// or a description (a histogram by its family name).
fn alert_metrics(rules: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = rules;
    while let Some(at) = rest.find("pal_http_") {
        let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}
