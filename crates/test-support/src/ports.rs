//! The test servers' ports, read as `scripts/services` reads them: `scripts/ports.env`,
//! where an environment variable of the same name overrides an entry, and where
//! `PAL_TEST_MACHINE_SERVERS=1` points each `NAME_PORT` that has a `NAME_MACHINE_PORT`
//! entry (PostgreSQL, MariaDB, Redis) at the server the machine already runs.
//! Shared by the tests of every crate, the benchmarks and the examples.

use std::collections::HashMap;
use std::path::Path;

const MACHINE_SUFFIX: &str = "_MACHINE_PORT";

/// Every entry of `scripts/ports.env`, with the environment's overrides applied.
pub fn ports() -> HashMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ports.env");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split('#').next())
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect();
    let machine = match std::env::var("PAL_TEST_MACHINE_SERVERS").as_deref() {
        Ok("1") => true,
        Ok("0" | "") | Err(_) => false,
        Ok(other) => panic!("PAL_TEST_MACHINE_SERVERS is '{other}': set it to 1 or leave it unset"),
    };
    file.iter()
        .map(|(name, value)| {
            if name.ends_with(MACHINE_SUFFIX) {
                return (name.clone(), value.clone());
            }
            let overridden = std::env::var(name).ok().filter(|v| !v.trim().is_empty());
            let machine_value = name
                .strip_suffix("_PORT")
                .and_then(|base| file.get(&format!("{base}{MACHINE_SUFFIX}")))
                .filter(|_| machine);
            (name.clone(), overridden.or_else(|| machine_value.cloned()).unwrap_or_else(|| value.clone()))
        })
        .collect()
}

/// The entry `name` of `scripts/ports.env`, overrides applied; panics when missing.
pub fn port(name: &str) -> String {
    ports().remove(name).unwrap_or_else(|| panic!("{name} missing from scripts/ports.env"))
}

/// The entry `name`, split at whitespace: the ports of a group of servers.
pub fn port_list(name: &str) -> Vec<String> {
    port(name).split_whitespace().map(str::to_string).collect()
}

/// The standalone Redis, PostgreSQL and MariaDB the tests use, for the benchmarks
/// and examples (user postgres and root, no passwords, on loopback).
pub fn redis_url() -> String {
    format!("redis://127.0.0.1:{}", port("REDIS_PORT"))
}

/// The standalone PostgreSQL's URL.
pub fn postgres_url() -> String {
    format!("postgres://postgres@127.0.0.1:{}/postgres", port("PG_PORT"))
}

/// The standalone MariaDB's URL.
pub fn mariadb_url() -> String {
    format!("mysql://root@127.0.0.1:{}", port("MARIADB_PORT"))
}
