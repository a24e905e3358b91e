//! The original design's scaling checklist, enforced on the reference service's
//! source (`src/server/`): no driver crate is named there, so every cache call
//! goes through `CacheService` and every query through `DatabaseService`; and the
//! business routes (`src/server/app/`) keep no state of their own in process
//! memory, so sessions, codes and counters are in the cache, shared by every
//! instance.

use std::path::{Path, PathBuf};

/// The crates that talk to servers (or hold data) directly.
const DRIVERS: &[&str] = &["redis", "sqlx", "memcache", "moka"];

/// What would keep requests' state in this process: maps, locks and statics.
const PROCESS_STATE: &[&str] = &[
    "HashMap",
    "BTreeMap",
    "DashMap",
    "Mutex",
    "RwLock",
    "OnceLock",
    "OnceCell",
    "LazyLock",
    "static mut",
    "thread_local!",
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Each line of `text` that names a driver crate: a path (`redis::`), a `use`
/// or an `extern crate`.
fn driver_mentions(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for driver in DRIVERS {
            let path = format!("{driver}::");
            let named_as_path = code.match_indices(&path).any(|(at, _)| {
                // `predis::` is another name; any path through a `redis` module is
                // refused, pal's own adapter included: the service names no provider.
                !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            let imported = [format!("use {driver}"), format!("extern crate {driver}")]
                .iter()
                .any(|needle| code.split_whitespace().collect::<Vec<_>>().join(" ").contains(needle.as_str()));
            if named_as_path || imported {
                found.push(format!("line {}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

fn process_state(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if PROCESS_STATE.iter().any(|needle| code.contains(needle)) {
            found.push(format!("line {}: {}", n + 1, line.trim()));
        }
    }
    found
}

fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server")
}

#[test]
fn the_service_names_no_driver_crate() {
    let files = rust_files(&server_dir());
    assert!(files.len() >= 10, "the service's source was not found: {files:?}");
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            driver_mentions(&text).into_iter().map(move |m| format!("{}: {m}", f.display()))
        })
        .collect();
    assert!(offenders.is_empty(), "the service must use pal's traits, not drivers:\n{}", offenders.join("\n"));
}

#[test]
fn the_business_routes_keep_no_state_in_process_memory() {
    let files = rust_files(&server_dir().join("app"));
    assert!(!files.is_empty());
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            process_state(&text).into_iter().map(move |m| format!("{}: {m}", f.display()))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "state in process memory is lost on restart and not shared by other instances; use the cache:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scanners_find_what_they_look_for() {
    for bad in [
        "let c = redis::Client::open(url)?;",
        "use sqlx::PgPool;",
        "use   moka::sync::Cache;",
        "    memcache::connect(\"x\")",
        "extern crate redis;",
        "use redis as r;",
        "let name = pal::cache::redis::PROVIDER.name;",
    ] {
        assert_eq!(driver_mentions(bad).len(), 1, "{bad:?} was not found");
    }
    for fine in [
        "use pal::CacheService;",
        "// redis:: in a comment",
        "let provider = state.cache.provider();",
        "x.predis::y",
        "let sessions = my_redis_like::thing;",
    ] {
        assert!(driver_mentions(fine).is_empty(), "{fine:?} was taken for a driver");
    }
    assert_eq!(process_state("static SESSIONS: Mutex<HashMap<String, S>> = todo!();").len(), 1);
    assert!(process_state("// a HashMap would be lost on restart").is_empty());
}
