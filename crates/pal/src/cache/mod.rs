//! The cache abstraction: one object-safe trait every provider implements, typed
//! session helpers every provider gets for free, one folder per provider (each
//! declares its name, variables and capabilities) and one file per layer.

mod capabilities;
mod provider;
mod service;
mod session;
mod ttl;

// Providers.
pub mod hybrid;
pub mod keydb;
pub mod memcached;
pub mod memory;
pub mod redis;

// Layers: the same trait in and out, around any provider.
mod instrumented;
mod prefix;
mod sealed;

pub use capabilities::Capabilities;
pub use instrumented::{Instrumented, instrumented};
pub use prefix::{Prefixed, prefixed};
pub use provider::{BuildContext, CacheConfig, CacheProvider, Configure, Peer};
pub use sealed::{
    Found, KeyCheck, KeyRecord, KeyReport, RECORD_KEY, Recorded, SAMPLE_SIZE, SampleReport, Sealed, TheseKeys,
};
pub use service::{CacheService, Sampled};
pub use session::CacheServiceExt;
pub use ttl::Ttl;
