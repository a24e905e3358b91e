//! `pal cache add`, `pal cache get` of several keys and `pal lock`, as short-lived
//! processes on the test Redis (sealed, as by default), the way cron jobs on
//! several hosts run them.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{KEYS, command, pal, stdout, text, unique};

fn vars(url: &str) -> Vec<(&str, &str)> {
    let mut vars = vec![("CACHE_PROVIDER", "redis"), ("REDIS_URL", url)];
    vars.extend(KEYS);
    vars
}

#[test]
fn add_stores_once_and_get_reads_several_keys() {
    let url = support::ports::redis_url();
    let vars = vars(&url);
    let [a, b, missing] = ["a", "b", "missing"].map(unique);
    let (out, _) = pal(&vars, &["cache", "add", &a, "first", "--ttl", "60"]);
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), "OK".to_string()), "{}", text(&out));
    let (out, _) = pal(&vars, &["cache", "add", &a, "second", "--ttl", "60"]);
    assert_eq!(out.status.code(), Some(1), "the key exists: {}", text(&out));
    assert!(text(&out).contains("exists"), "{}", text(&out));
    pal(&vars, &["cache", "set", &b, "bee", "--ttl", "60"]);

    let (out, _) = pal(&vars, &["cache", "get", &a, &missing, &b, &a]);
    assert_eq!(out.status.code(), Some(1), "a key is missing: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first\n\nbee\nfirst\n", "one line per key, in order");
    assert!(text(&out).contains("1 of 4 keys not found"), "{}", text(&out));
    let (out, _) = pal(&vars, &["cache", "get", &a, &b]);
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).as_ref()), (Some(0), "first\nbee\n"));
}

/// Four processes at once, each waiting for the lock: all run, never two inside.
#[test]
fn processes_contending_for_a_lock_are_never_both_inside() {
    let url = support::ports::redis_url();
    let vars = vars(&url);
    let name = unique("job");
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("inside");
    let script = format!(
        "mkdir {0} || exit 99; echo $PAL_LOCK_TOKEN >> {1}; sleep 0.3; rmdir {0}",
        inside.display(),
        dir.path().join("tokens").display()
    );
    let children: Vec<Child> = (0..4)
        .map(|_| {
            command(&vars, &["lock", &name, "--ttl", "10", "--wait", "30", "--", "sh", "-c", &script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "each ran alone (99: two were inside at once): {}", text(&out));
    }
    let tokens = std::fs::read_to_string(dir.path().join("tokens")).unwrap();
    let mut tokens: Vec<u64> = tokens.lines().map(|t| t.parse().unwrap()).collect();
    assert_eq!(tokens.len(), 4);
    tokens.dedup();
    assert_eq!(tokens.len(), 4, "every holder had a token of its own: {tokens:?}");

    // Without waiting, one of two runs and the other exits 1 at once.
    let holder =
        command(&vars, &["lock", &name, "--ttl", "10", "--", "sleep", "2"]).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let (out, took) = pal(&vars, &["lock", &name, "--ttl", "10", "--", "true"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(took < Duration::from_secs(2), "--wait 0 tries once: {took:?}");
    assert!(holder.wait_with_output().unwrap().status.success());
    let (out, _) = pal(&vars, &["lock", &name, "--ttl", "10", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "the command's own exit status: {}", text(&out));
}

/// A holder killed with SIGKILL leaves the lock until its lease runs out, and not
/// longer.
#[test]
fn a_killed_holders_lock_is_free_after_its_ttl() {
    let url = support::ports::redis_url();
    let vars = vars(&url);
    let name = unique("killed");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let script = format!("echo $$ > {0}.tmp; mv {0}.tmp {0}; exec sleep 30", marker.display());
    let mut holder = command(&vars, &["lock", &name, "--ttl", "3", "--", "sh", "-c", &script])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the holder's command started");
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.kill().unwrap();
    let killed_at = Instant::now();
    holder.wait().unwrap();
    let (out, _) = pal(&vars, &["lock", &name, "--ttl", "3", "--", "true"]);
    assert_eq!(out.status.code(), Some(1), "held until its lease runs out: {}", text(&out));
    let (out, _) = pal(&vars, &["lock", &name, "--ttl", "3", "--wait", "10", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let freed = killed_at.elapsed();
    assert!(freed < Duration::from_secs(6), "free after the 3 s lease: {freed:?}");
    // The killed holder's command, a process of its own, goes too.
    let pid = std::fs::read_to_string(&marker).unwrap();
    let _ = std::process::Command::new("kill").arg(pid.trim()).status();
}

#[test]
fn a_lock_in_process_memory_is_refused() {
    let (out, _) = pal(&[("CACHE_PROVIDER", "memory")], &["lock", "job", "--ttl", "5", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("excludes no other process"), "{}", text(&out));
}
