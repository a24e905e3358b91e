//! The cache abstraction: one object-safe trait every provider implements, typed
//! values, sessions, get-or-load and locks every provider gets for free, one folder per provider (each
//! declares its name, variables and capabilities) and one file per layer.

mod capabilities;
pub(crate) mod counter;
mod ext;
mod layer;
mod load;
mod lock;
pub mod near;
mod provider;
mod service;
#[cfg(feature = "tower-sessions")]
pub mod tower_sessions;
mod ttl;

// Providers.
pub mod hybrid;
pub mod keydb;
pub mod memcached;
pub mod memory;
pub mod redis;

// Layers: the same trait in and out, around any provider.
mod instrumented;
pub(crate) mod limit;
mod prefix;
#[cfg(feature = "sealing")]
mod sealed;

pub use capabilities::{Capabilities, REDIS_MAX_VALUE_BYTES};
pub use ext::CacheServiceExt;
pub use instrumented::{Instrumented, instrumented};
pub use layer::CacheLayer;
pub use limit::{ValueLimit, value_limit};
pub use load::{LoadOptions, Loaded, ReadThrough, get_or_load};
pub use lock::Lock;
pub use prefix::{Prefixed, prefixed};
pub use provider::{BuildContext, CacheConfig, CacheProvider, Configure, Peer};
#[cfg(feature = "sealing")]
pub use sealed::{
    Found, KeyCheck, KeyRecord, KeyReport, RECORD_KEY, Recorded, SAMPLE_SIZE, SampleReport, Sealed, TheseKeys,
};
pub use service::{CacheService, Sampled};
pub(crate) use service::{distinct, last_of_each};
pub use ttl::Ttl;
