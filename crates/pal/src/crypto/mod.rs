//! Keyed hashing of cache keys and AES-256 sealing of cached values.
//!
//! Keys: HMAC-SHA-256 under `CACHE_KEY_SECRET` (a plain hash of a low-entropy id
//! such as an email can be reversed by guessing), base64url-encoded, with the
//! namespace before the first `:` left readable.
//!
//! Values: AES-256-GCM-SIV (RFC 8452) with a random 96-bit nonce per write from
//! the thread's CSPRNG, the storage key as associated data (a value copied to
//! another key does not open), and a small header:
//!
//! ```text
//! 0xA8 (format 2) | kid length (1 byte) | kid | nonce (12) | ciphertext | tag (16)
//! ```
//!
//! GCM-SIV derives a fresh key pair from every nonce, so the usage limit of the
//! configured key is not AES-GCM's 2^32 messages, and a repeated nonce reveals
//! only whether two sealed values (with their storage keys) were identical. Its
//! key is derived from each configured key with HKDF-SHA-256, so no key serves two
//! algorithms. Format 1 (`0xA7`, AES-256-GCM under the configured key itself) is
//! still opened, so values written before keep working; new writes use format 2.
//!
//! The first key of `CACHE_ENCRYPTION_KEYS` seals; every listed key opens, so keys
//! rotate without downtime. The AEADs are RustCrypto's `aes-gcm-siv` and `aes-gcm`
//! (see `benches/aead.rs`), built with their `zeroize` features: their key
//! schedules are wiped on drop.

pub mod config;
mod sealer;

pub use config::SealingKeys;
pub use sealer::{KEY_LEN, Sealer, generate_key_lines};
