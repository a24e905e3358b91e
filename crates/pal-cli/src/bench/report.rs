//! The results, as a Markdown table (printed and written), a JSON document for
//! machines, and the data behind the chart.

use std::fmt::Write;

use serde::Serialize;

use super::BenchArgs;
use super::Op;
use super::measure::{Round, histogram};

#[derive(Serialize)]
pub(super) struct Point {
    pub op: Op,
    pub concurrency: usize,
    pub contestant: String,
    pub is_pal: bool,
    /// The median of the rounds.
    pub ops_per_sec: f64,
    pub rounds_ops_per_sec: Vec<f64>,
    /// Latency percentiles over every call of every round, in microseconds;
    /// `None` for external tools, which report throughput only.
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p999_us: Option<u64>,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

impl Point {
    pub(super) fn from_rounds(op: Op, concurrency: usize, name: &str, is_pal: bool, rounds: Vec<Round>) -> Point {
        let mut all = histogram();
        let (mut errors, mut first_error) = (0, None);
        let rates: Vec<f64> = rounds
            .into_iter()
            .map(|r| {
                let _ = all.add(&r.latencies);
                errors += r.errors;
                first_error = first_error.take().or(r.first_error.clone());
                r.ops_per_sec() * op.keys_per_call() as f64
            })
            .collect();
        let has = !all.is_empty();
        Point {
            op,
            concurrency,
            contestant: name.to_string(),
            is_pal,
            ops_per_sec: median(rates.clone()),
            rounds_ops_per_sec: rates,
            p50_us: has.then(|| all.value_at_quantile(0.5)),
            p99_us: has.then(|| all.value_at_quantile(0.99)),
            p999_us: has.then(|| all.value_at_quantile(0.999)),
            errors,
            first_error,
        }
    }

    pub(super) fn external(op: Op, concurrency: usize, name: &str, ops_per_sec: f64) -> Point {
        Point {
            op,
            concurrency,
            contestant: name.to_string(),
            is_pal: false,
            ops_per_sec,
            rounds_ops_per_sec: vec![ops_per_sec],
            p50_us: None,
            p99_us: None,
            p999_us: None,
            errors: 0,
            first_error: None,
        }
    }
}

#[derive(Serialize)]
pub(super) struct Report {
    pub started: String,
    pub cores: usize,
    pub cache_provider: String,
    pub sealed: bool,
    pub database_provider: String,
    pub value_bytes: usize,
    pub rounds: usize,
    pub round_ms: u64,
    pub notes: Vec<String>,
    pub points: Vec<Point>,
}

fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl Report {
    pub(super) fn new(settings: &pal::Settings, args: &BenchArgs, notes: Vec<String>) -> Report {
        Report {
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cache_provider: settings.cache.as_ref().map_or("-", |c| c.provider.name).to_string(),
            sealed: settings.cache.as_ref().is_some_and(|c| c.sealing.is_some()),
            database_provider: settings.db.as_ref().map_or("-", |d| d.provider.name).to_string(),
            value_bytes: args.value_bytes,
            rounds: args.rounds,
            round_ms: args.round_ms,
            notes,
            points: Vec::new(),
        }
    }

    /// The operations measured, in the order they ran.
    pub(super) fn ops(&self) -> Vec<Op> {
        let mut ops: Vec<Op> = Vec::new();
        for p in &self.points {
            if !ops.contains(&p.op) {
                ops.push(p.op);
            }
        }
        ops
    }

    /// The contestants of `op`, in the order they were added.
    pub(super) fn contestants(&self, op: Op) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for p in self.points.iter().filter(|p| p.op == op) {
            if !names.contains(&p.contestant.as_str()) {
                names.push(&p.contestant);
            }
        }
        names
    }

    pub(super) fn point(&self, op: Op, concurrency: usize, contestant: &str) -> Option<&Point> {
        self.points.iter().find(|p| p.op == op && p.concurrency == concurrency && p.contestant == contestant)
    }

    pub(super) fn concurrencies(&self, op: Op) -> Vec<usize> {
        let mut all: Vec<usize> = self.points.iter().filter(|p| p.op == op).map(|p| p.concurrency).collect();
        all.dedup();
        all
    }

    pub(super) fn markdown(&self) -> String {
        let mut md = String::new();
        let sealing = if self.sealed { "sealed" } else { "not sealed" };
        let _ = writeln!(
            md,
            "# pal bench\n\n{}, {} cores. Cache `{}` ({sealing}), database `{}`; {}-byte values; {} rounds of {} ms \
             per point, contestants interleaved; throughput is the median round, latency over every call.\n",
            self.started,
            self.cores,
            self.cache_provider,
            self.database_provider,
            self.value_bytes,
            self.rounds,
            self.round_ms
        );
        for note in &self.notes {
            let _ = writeln!(md, "- {note}");
        }
        for op in self.ops() {
            let names = self.contestants(op);
            let _ = writeln!(md, "\n## {}\n", op.name());
            let _ = writeln!(md, "| tasks | {} |", names.join(" | "));
            let _ = writeln!(md, "|---:|{}", "---:|".repeat(names.len()));
            for c in self.concurrencies(op) {
                let cells: Vec<String> = names
                    .iter()
                    .map(|n| match self.point(op, c, n) {
                        None => "—".to_string(),
                        Some(p) => {
                            let mut cell = format!("{} ops/s", thousands(p.ops_per_sec));
                            if let (Some(p50), Some(p99), Some(p999)) = (p.p50_us, p.p99_us, p.p999_us) {
                                let _ = write!(cell, "<br>p50 {p50} µs, p99 {p99} µs, p99.9 {p999} µs");
                            }
                            if p.errors > 0 {
                                let _ = write!(
                                    cell,
                                    "<br>**{} errors**: {}",
                                    p.errors,
                                    p.first_error.as_deref().unwrap_or("")
                                );
                            }
                            cell
                        }
                    })
                    .collect();
                let _ = writeln!(md, "| {c} | {} |", cells.join(" | "));
            }
            let ratios = self.ratios(op);
            if !ratios.is_empty() {
                let columns: Vec<&String> = ratios.iter().map(|(name, _)| name).collect();
                let _ = writeln!(
                    md,
                    "\n| tasks | {} |",
                    columns.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" | ")
                );
                let _ = writeln!(md, "|---:|{}", "---:|".repeat(columns.len()));
                for c in self.concurrencies(op) {
                    let cells: Vec<String> = ratios
                        .iter()
                        .map(|(_, by)| {
                            by.iter().find(|(cc, _)| *cc == c).map_or("—".into(), |(_, r)| format!("{r:.2}"))
                        })
                        .collect();
                    let _ = writeln!(md, "| {c} | {} |", cells.join(" | "));
                }
            }
        }
        md
    }

    /// For each pair worth comparing (pal, and pal without sealing, against every
    /// other contestant), the ratio of throughputs at each concurrency.
    pub(super) fn ratios(&self, op: Op) -> Vec<(String, Vec<(usize, f64)>)> {
        let names = self.contestants(op);
        let numerators: Vec<&str> = names.iter().copied().filter(|n| n.starts_with("pal")).collect();
        let mut out = Vec::new();
        for num in &numerators {
            for den in names.iter().filter(|d| *d != num && !(num.ends_with("plaintext") && **d == "pal")) {
                let by: Vec<(usize, f64)> = self
                    .concurrencies(op)
                    .into_iter()
                    .filter_map(|c| {
                        let (a, b) = (self.point(op, c, num)?, self.point(op, c, den)?);
                        (b.ops_per_sec > 0.0).then(|| (c, a.ops_per_sec / b.ops_per_sec))
                    })
                    .collect();
                if !by.is_empty() {
                    out.push((format!("{num} / {den}"), by));
                }
            }
        }
        out
    }

    pub(super) fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
