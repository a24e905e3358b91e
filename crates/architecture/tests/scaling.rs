//! The original design's scaling checklist, enforced on the reference service's
//! source (`crates/pal-service`): no driver crate is named there, so every cache
//! call goes through `CacheService` and every query through `DatabaseService`; and
//! the business routes (`app/`) keep no state of their own in process
//! memory, so sessions, codes and counters are in the cache, shared by every
//! instance.

use std::path::{Path, PathBuf};

use pal_architecture::{Module, names_crates, process_state, read_crate};

/// The crates that talk to servers (or hold data) directly.
const DRIVERS: &[&str] = &["redis", "sqlx", "memcache", "moka"];

fn service_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pal-service/src")
}

/// Every module of the service's crate.
fn service() -> Vec<Module> {
    let modules = read_crate(&service_src());
    assert!(modules.len() >= 10, "the service's source was found: {} modules", modules.len());
    modules
}

#[test]
fn the_service_names_no_driver_crate() {
    let offenders: Vec<String> = service()
        .iter()
        .flat_map(|m| {
            names_crates(m, DRIVERS).into_iter().map(move |f| format!("{}:{}: {}", m.file.display(), f.line, f.what))
        })
        .collect();
    assert!(offenders.is_empty(), "the service must use pal's traits, not drivers:\n{}", offenders.join("\n"));
}

#[test]
fn the_business_routes_keep_no_state_in_process_memory() {
    let routes: Vec<Module> =
        service().into_iter().filter(|m| m.path.first().map(String::as_str) == Some("app")).collect();
    assert!(routes.len() >= 5, "the routes were found: {}", routes.len());
    let offenders: Vec<String> = routes
        .iter()
        .flat_map(|m| process_state(m).into_iter().map(move |f| format!("{}:{}: {}", m.file.display(), f.line, f.what)))
        .collect();
    assert!(
        offenders.is_empty(),
        "state in process memory is lost on restart and not shared by other instances; use the cache:\n{}",
        offenders.join("\n")
    );
}
