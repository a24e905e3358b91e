//! Keyed hashing of cache keys and AES-256-GCM sealing of cached values.
//!
//! Keys: HMAC-SHA-256 under `CACHE_KEY_SECRET` (a plain hash of a low-entropy id
//! such as an email can be reversed by guessing), base64url-encoded, with the
//! namespace before the first `:` left readable. Values: AES-256-GCM with a fresh
//! random 96-bit nonce per write, the storage key as associated data (a value
//! copied to another key does not open), and a small header:
//!
//! ```text
//! 0xA7 (format 1) | kid length (1 byte) | kid | nonce (12) | ciphertext + tag (16)
//! ```
//!
//! The first key of `CACHE_ENCRYPTION_KEYS` seals; every listed key opens, so keys
//! rotate without downtime. The AEAD is RustCrypto's `aes-gcm` (see `benches/aead.rs`
//! for the measurement against `ring`): it zeroizes its key schedule on drop.

pub mod config;
mod sealer;

pub use config::SealingKeys;
pub use sealer::{KEY_LEN, Sealer, generate_key_lines};
