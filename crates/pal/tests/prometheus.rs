//! pal's alert rules (`deploy/prometheus/`) with Prometheus' own tools: promtool
//! checks them and runs their unit tests (each of the four alerts just past and
//! just under its threshold), and every threshold and `for:` is pinned by them.
//! (A real Prometheus scraping `pal serve` is the `pal` binary's
//! `tests/prometheus.rs`.)

mod support;

use std::process::Command;
use std::sync::atomic::Ordering;

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

/// The rules of `alerts.yml`, each with its `for:` and the comparison that ends its
/// expression, read from the file so that a new rule is covered without a list here.
struct Rule {
    name: String,
    /// Its lines in `alerts.yml`.
    lines: std::ops::Range<usize>,
    /// The line of `for:`, and of the comparison with the threshold.
    for_line: Option<usize>,
    threshold_line: Option<usize>,
}

fn rules(text: &str) -> Vec<Rule> {
    let lines: Vec<&str> = text.lines().collect();
    let starts: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].trim_start().starts_with("- alert:")).collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(lines.len());
            let name = lines[start].trim_start().trim_start_matches("- alert:").trim().to_string();
            let find = |f: &dyn Fn(&str) -> bool| (start..end).find(|&i| f(lines[i]));
            let for_line = find(&|l| l.trim_start().starts_with("for:"));
            // The expression's last line that ends in a number compared with.
            let threshold_line = (start..for_line.unwrap_or(end)).rev().find(|&i| compares_with_a_number(lines[i]));
            Rule { name, lines: start..end, for_line, threshold_line }
        })
        .collect()
}

/// Whether the line ends in a comparison with a number, such as `> 0.05` or `== 1`.
fn compares_with_a_number(line: &str) -> bool {
    let line = line.trim_end();
    let split = line.rfind(|c: char| !(c.is_ascii_digit() || c == '.')).map_or(0, |i| i + 1);
    let (head, number) = line.split_at(split);
    !number.is_empty()
        && number.parse::<f64>().is_ok()
        && ["<", ">", "=="].iter().any(|op| head.trim_end().ends_with(op))
}

/// Copies of `alerts.yml` that each change one rule where its tests must notice:
/// its `for:` doubled or removed, its threshold moved 2 % either way (or, for a
/// state compared with `==`, to another state).
fn mutants(text: &str, rule: &Rule) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let with = |i: usize, line: Option<String>| {
        let mut copy: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        match line {
            Some(line) => copy[i] = line,
            None => drop(copy.remove(i)),
        }
        copy.join("\n")
    };
    let mut out = Vec::new();
    let for_line = rule.for_line.unwrap_or_else(|| panic!("{} has no `for:`", rule.name));
    let (indent, duration) = lines[for_line].split_once("for:").unwrap();
    let duration = duration.trim();
    let minutes: u32 = duration
        .strip_suffix('m')
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{}: `for: {duration}` is not in minutes, which these tests count in", rule.name));
    out.push((format!("for: {}m", minutes * 2), with(for_line, Some(format!("{indent}for: {}m", minutes * 2)))));
    out.push(("no for".into(), with(for_line, None)));
    let at = rule.threshold_line.unwrap_or_else(|| panic!("{} compares with no threshold", rule.name));
    let line = lines[at].trim_end();
    let split = line.rfind(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap() + 1;
    let (head, value) = line.split_at(split);
    let value: f64 = value.parse().unwrap();
    let moved: Vec<f64> = match head.trim_end().ends_with("==") {
        true => [0.0, 1.0, 2.0].into_iter().filter(|v| *v != value).collect(),
        false => vec![value * 1.02, value * 0.98],
    };
    for v in moved {
        out.push((format!("threshold {v}"), with(at, Some(format!("{head}{v}")))));
    }
    out
}

fn promtool_in(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool runs (Debian package prometheus, installed by scripts/services)");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn promtool_accepts_the_rules_and_their_tests_pass() {
    let text = std::fs::read_to_string(deploy().join("alerts.yml")).unwrap();
    let checked = promtool(&["check", "rules", "alerts.yml"]);
    assert!(checked.contains(&format!("SUCCESS: {} rules found", rules(&text).len())), "{checked}");
    promtool(&["check", "config", "prometheus.yml"]);
    let tested = promtool(&["test", "rules", "alerts_test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// Every rule's threshold and `for:` are pinned by its unit tests: a copy of the
/// rules with either changed fails `promtool test rules`, naming that rule. A new
/// rule without tests, or with cases too far from its threshold, fails here.
#[test]
fn every_rule_threshold_and_for_is_pinned_by_its_tests() {
    let text = std::fs::read_to_string(deploy().join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(deploy().join("alerts_test.yml")).unwrap();
    let rules = rules(&text);
    assert!(rules.len() >= 10, "the rules are read from alerts.yml: {}", rules.len());
    let cases: Vec<(String, String, String)> = rules
        .iter()
        .flat_map(|rule| {
            assert!(!rule.lines.is_empty());
            mutants(&text, rule).into_iter().map(|(what, copy)| (rule.name.clone(), what, copy))
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let survivors = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some((rule, what, copy)) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let dir = tempfile::tempdir().unwrap();
                    std::fs::write(dir.path().join("alerts.yml"), copy).unwrap();
                    std::fs::write(dir.path().join("alerts_test.yml"), &tests).unwrap();
                    let (passed, output) = promtool_in(dir.path(), &["test", "rules", "alerts_test.yml"]);
                    if passed || !output.contains(&format!("alertname: {rule}")) {
                        survivors.lock().unwrap().push(format!("{rule} with {what}"));
                    }
                }
            });
        }
    });
    let survivors = survivors.into_inner().unwrap();
    assert!(survivors.is_empty(), "alerts_test.yml does not notice these changes: {survivors:?}");
}
