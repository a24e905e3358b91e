//! `redis-benchmark`, when it is installed: the server's own load generator on the
//! same server in the same run, plain and pipelined 16 deep (the server's limit
//! on this machine, more or less).

use std::process::Command;

/// Requests per second for GET and SET from `redis-benchmark -c clients`.
pub(super) fn redis_benchmark(url: &str, clients: usize, value_bytes: usize, pipeline: usize) -> Option<(f64, f64)> {
    // Enough requests for about a second at the rates seen here.
    let requests = (clients.max(4) * 4000).clamp(20_000, 400_000);
    let out = Command::new("redis-benchmark")
        .args(["-u", url, "-c", &clients.to_string(), "-n", &requests.to_string(), "-d", &value_bytes.to_string()])
        .args(["-P", &pipeline.to_string(), "-t", "get,set", "--csv"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("\"{name}\"")))
            .and_then(|l| l.split(',').nth(1))
            .and_then(|v| v.trim_matches('"').parse::<f64>().ok())
    };
    Some((rps("GET")?, rps("SET")?))
}
