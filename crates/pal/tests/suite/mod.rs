//! The conformance suites: one body of cases per trait, run unchanged against
//! every provider. Each provider's test file supplies a constructor and invokes
//! `cache_conformance!` or `db_conformance!`, which expand to one test per case.

// Each test crate uses only one of the two suites.
#![allow(dead_code, unused_macros)]

pub mod cache;
pub mod db;
pub mod hybrid;
pub mod servers;

/// A key namespace unique to one test run, so tests sharing a server never collide.
pub fn namespace() -> String {
    format!("t{}:", uuid::Uuid::new_v4().simple())
}
