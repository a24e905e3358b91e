//! What a cache provider can and cannot do, declared by the provider itself (as
//! OpenDAL's services declare a `Capability`): settings decide from it whether
//! sealing is required, and the conformance suite which cases expect an error.

use std::time::Duration;

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
    /// How long past its TTL a key may still be read (the server's clock resolution).
    pub expiry_resolution: Duration,
}

impl Capabilities {
    /// A cache outside the process with signed counters, no size limit of its own
    /// and millisecond expiry: the common case, which providers adjust.
    pub const SERVER: Capabilities = Capabilities {
        leaves_process: true,
        signed_counters: true,
        max_value_bytes: None,
        expiry_resolution: Duration::from_millis(1),
    };
}
