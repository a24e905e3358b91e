//! Helpers shared by the binary's tests that reach the test servers: their ports,
//! read as the library's tests and `scripts/services` read them.

#![allow(dead_code)]

#[path = "../../../pal/tests/support/ports.rs"]
mod ports;

pub use ports::port;
