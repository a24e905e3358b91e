//! The conformance suites: one body of cases per trait, run unchanged against
//! every provider. Each provider's test file supplies a constructor and invokes
//! `cache_conformance!` or `db_conformance!`, which expand to one test per case.

// Each test crate uses only one of the two suites.
#![allow(dead_code, unused_macros, unused_imports)]

pub(crate) mod cache;
pub(crate) mod cache_ops;
pub(crate) mod db;
pub(crate) mod hybrid;
pub(crate) mod servers;

pub(crate) use pal_test_support::namespace;
