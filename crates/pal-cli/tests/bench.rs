//! `pal bench` as an operator runs it, in short runs: every contestant measured at
//! every point, the three reports written and consistent, bad arguments refused.

use std::process::Output;

mod support;

use support::{KEYS, pal_command, text};

fn bench(vars: &[(&str, &str)], args: &[&str]) -> Output {
    pal_command()
        .envs(vars.iter().copied())
        .envs(KEYS)
        .arg("bench")
        .args(["--rounds", "2", "--round-ms", "100"])
        .args(args)
        .output()
        .expect("pal runs")
}

fn points(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json")).unwrap()).unwrap();
    json["points"].as_array().unwrap().clone()
}

fn find<'a>(points: &'a [serde_json::Value], op: &str, tasks: u64, who: &str) -> &'a serde_json::Value {
    points
        .iter()
        .find(|p| p["op"] == op && p["concurrency"] == tasks && p["contestant"] == who)
        .unwrap_or_else(|| panic!("no point for {op} × {tasks} by {who}"))
}

#[test]
fn every_contestant_is_measured_and_reported_three_ways() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("bench.db").display());
    let out_dir = dir.path().join("report");
    let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", db.as_str())];
    let out = bench(&vars, &["--concurrency", "1,4", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let points = points(&out_dir);
    for op in ["get", "set", "incr", "session"] {
        for who in ["pal", "pal plaintext", "moka"] {
            for tasks in [1, 4] {
                let p = find(&points, op, tasks, who);
                assert!(p["ops_per_sec"].as_f64().unwrap() > 0.0, "{p}");
                assert_eq!(p["errors"], 0, "{p}");
                assert_eq!(p["rounds_ops_per_sec"].as_array().unwrap().len(), 2, "{p}");
                let (p50, p99, p999) = (p["p50_us"].as_u64(), p["p99_us"].as_u64(), p["p999_us"].as_u64());
                assert!(p50 <= p99 && p99 <= p999 && p50.is_some(), "{p}");
            }
        }
    }
    for who in ["pal", "sqlx"] {
        assert!(find(&points, "db-session", 4, who)["ops_per_sec"].as_f64().unwrap() > 0.0);
    }
    let markdown = std::fs::read_to_string(out_dir.join("bench.md")).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&markdown), "the table printed is the one written");
    for needed in ["## get", "## db-session", "pal / moka", "pal / pal plaintext", "pal plaintext / moka", "pal / sqlx"]
    {
        assert!(markdown.contains(needed), "{needed} missing from:\n{markdown}");
    }
    // The ratio printed is the ratio of the medians written.
    let (pal, moka) = (find(&points, "get", 4, "pal"), find(&points, "get", 4, "moka"));
    let ratio = pal["ops_per_sec"].as_f64().unwrap() / moka["ops_per_sec"].as_f64().unwrap();
    let row =
        markdown.split("pal / moka").nth(1).unwrap().lines().find(|l| l.starts_with("| 4 |")).unwrap().to_string();
    assert!(row.contains(&format!("{ratio:.2}")), "{row} should show {ratio:.2}");
    let svg = std::fs::read_to_string(out_dir.join("bench.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for op in ["get", "set", "incr", "session", "db-session"] {
        assert!(svg.contains(&format!("{op}: ops/s by concurrent tasks")), "no panel for {op}");
    }
}

#[test]
fn redis_is_measured_against_redis_rs_and_redis_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    // redis-benchmark writes keys without expiry (key:__rand_int__): on a Redis of
    // the project's own, never on the machine's (PAL_TEST_MACHINE_SERVERS=1).
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_TLS_PLAIN_PORT"));
    let vars = [
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", url.as_str()),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
    ];
    let out = bench(&vars, &["--concurrency", "8", "--ops", "get,incr", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let points = points(dir.path());
    for who in ["pal", "pal plaintext", "redis-rs"] {
        assert!(find(&points, "get", 8, who)["ops_per_sec"].as_f64().unwrap() > 0.0);
        assert!(find(&points, "incr", 8, who)["ops_per_sec"].as_f64().unwrap() > 0.0);
    }
    // redis-tools comes with the test servers (scripts/services).
    for who in ["redis-benchmark -P 1", "redis-benchmark -P 16"] {
        assert!(find(&points, "get", 8, who)["ops_per_sec"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")];
    for args in [&["--concurrency", "0"][..], &["--ops", "fly"], &["--round-ms", "5"]] {
        let out = bench(&vars, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}
