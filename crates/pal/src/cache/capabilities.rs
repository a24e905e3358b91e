//! What a cache provider can and cannot do, declared by the provider itself (as
//! OpenDAL's services declare a `Capability`): settings decide from it whether
//! sealing is required, and the conformance suite which cases expect an error.

use std::time::Duration;

/// What a cache provider can do, declared by the provider itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Data is stored outside this process, so it is sealed unless
    /// `CACHE_INSECURE_NO_ENCRYPTION=true` opts out.
    pub leaves_process: bool,
    /// `incr` accepts negative amounts; where not, such a call is `Unsupported`.
    pub signed_counters: bool,
    /// The largest value stored; a larger one fails with `ValueTooLarge` naming
    /// the limit. `None`: no limit below what fits in memory.
    pub max_value_bytes: Option<usize>,
    /// What sets `max_value_bytes`, for messages: a variable, or the server's own rule.
    pub max_value_source: &'static str,
    /// How long past its TTL a key may still be read (the server's clock resolution).
    pub expiry_resolution: Duration,
    /// The server tells clients which keys changed (Redis 6+ `CLIENT TRACKING`),
    /// so a near cache (`CACHE_NEAR_MAX_BYTES`) can stay coherent in front of it.
    pub invalidations: bool,
}

/// The largest string value Redis stores (its `proto-max-bulk-len`, 512 MiB).
pub const REDIS_MAX_VALUE_BYTES: usize = 512 * 1024 * 1024;

impl Capabilities {
    /// A Redis-protocol server: outside the process, signed counters, Redis's
    /// value limit and millisecond expiry: the common case, which providers adjust.
    pub const SERVER: Capabilities = Capabilities {
        leaves_process: true,
        signed_counters: true,
        max_value_bytes: Some(REDIS_MAX_VALUE_BYTES),
        max_value_source: "Redis's largest value, its proto-max-bulk-len",
        expiry_resolution: Duration::from_millis(1),
        invalidations: true,
    };
}
