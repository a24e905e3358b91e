//! Keyed hashing of cache keys and AES-256 sealing of cached values.
//!
//! Keys: HMAC-SHA-256 under `CACHE_KEY_SECRET` (a plain hash of a low-entropy id
//! such as an email can be reversed by guessing), base64url-encoded, with the
//! namespace before the first `:` left readable.
//!
//! Values: AES-256-GCM-SIV (RFC 8452) with a random 96-bit nonce per write from
//! the thread's CSPRNG, and a small header that names the secret (a 4-byte keyed
//! hash of `CACHE_KEY_SECRET`) and the key:
//!
//! ```text
//! 0xA9 (format 3) | fingerprint (4) | kid length (1 byte) | kid | nonce (12) | ciphertext | tag (16)
//! ```
//!
//! The associated data is that header up to the nonce, then the storage key: a
//! value copied to another key does not open, and the fingerprint cannot be
//! changed without the value failing. A sample of stored values therefore tells
//! which secret wrote them (`cache::KeyCheck`).
//!
//! GCM-SIV derives a fresh key pair from every nonce, so the usage limit of the
//! configured key is not AES-GCM's 2^32 messages, and a repeated nonce reveals
//! only whether two sealed values (with their storage keys) were identical. Its
//! key is derived from each configured key with HKDF-SHA-256, so no key serves two
//! algorithms. Format 1 (`0xA7`, AES-256-GCM under the configured key itself) and
//! format 2 (`0xA8`, format 3 without the fingerprint, the storage key alone as
//! associated data) are still opened, so values written before keep working; new
//! writes use format 3.
//!
//! The first key of `CACHE_ENCRYPTION_KEYS` seals; every listed key opens, so keys
//! rotate without downtime. The AEADs are AWS-LC's (`aws-lc-rs`, chosen by
//! measurement in `benches/aead.rs`), which wipes key schedules when they are
//! dropped.
//!
//! The sealer is the `sealing` feature (on by default). Without it, pal builds
//! without AWS-LC, and a configuration that sets the sealing keys is refused at
//! start-up, naming the feature; [`generate_key_lines`] and [`hex`] need no
//! cipher and stay.

pub mod config;
mod keys;
#[cfg(feature = "sealing")]
mod sealer;

pub use config::SealingKeys;
pub use keys::{KEY_LEN, generate_key_lines, hex};
#[cfg(feature = "sealing")]
pub use sealer::{FINGERPRINT_LEN, Format, Header, Sealer};
