//! `CACHE_KEY_SECRET`, `CACHE_ENCRYPTION_KEYS` and the opt-out: secure by default
//! for every cache that leaves the process.

use std::fmt;
#[cfg(feature = "sealing")]
use std::sync::Arc;

#[cfg(feature = "sealing")]
use base64::{Engine, engine::general_purpose::STANDARD};
use zeroize::Zeroizing;

use super::keys::KEY_LEN;
#[cfg(feature = "sealing")]
use super::sealer::Sealer;
use crate::env::{Env, Var};
use crate::error::ConfigError;
#[cfg(feature = "sealing")]
use crate::error::Result;

/// The variables of cache sealing.
pub const VARS: &[Var] = &[
    Var::secret(
        "CACHE_KEY_SECRET",
        "Base64 of at least 32 random bytes: the HMAC key that hashes cache keys (`pal keygen` makes one)",
    ),
    Var::secret(
        "CACHE_ENCRYPTION_KEYS",
        "kid:base64-32-byte-key[,kid:key…]: AES-256-GCM keys for cached values; the first encrypts, all decrypt",
    ),
    Var::new(
        "CACHE_INSECURE_NO_ENCRYPTION",
        Some("false"),
        "Store cache keys and values in plaintext on caches outside the process (not recommended)",
    ),
];

/// Decoded key material. `Debug` shows key ids only.
#[derive(Clone)]
pub struct SealingKeys {
    /// `CACHE_KEY_SECRET`, decoded: the HMAC key that hashes cache keys.
    pub key_secret: Zeroizing<Vec<u8>>,
    /// In order of preference: the first seals, all open.
    pub encryption_keys: Vec<(String, Zeroizing<[u8; KEY_LEN]>)>,
}

impl fmt::Debug for SealingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.encryption_keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SealingKeys").field("key_ids", &ids).finish_non_exhaustive()
    }
}

const HOW: &str = "run `pal keygen` and add its two lines to the environment; from Rust, \
                   `pal::crypto::generate_key_lines()` makes them";

/// The Cargo feature that builds the sealer.
const FEATURE: &str = "sealing";

#[cfg(feature = "sealing")]
fn invalid(env: &mut Env, var: &'static str, reason: String) {
    env.fail(ConfigError::InvalidValue { var, value: "***".into(), reason });
}

#[cfg(feature = "sealing")]
impl SealingKeys {
    /// The sealer these keys make.
    pub fn sealer(&self) -> Result<Arc<Sealer>> {
        Sealer::new(&self.key_secret, &self.encryption_keys).map(Arc::new)
    }
}

/// Reads the sealing variables. `outside` names the selected cache provider when it
/// stores data outside this process: it must then be sealed, or explicitly not.
/// Without the `sealing` feature, setting the keys is a configuration error that
/// names the feature, and a cache outside the process needs the opt-out.
pub fn read(env: &mut Env, outside: Option<&str>) -> Option<SealingKeys> {
    let insecure = env.bool("CACHE_INSECURE_NO_ENCRYPTION");
    let secret = env.secret_text("CACHE_KEY_SECRET");
    let keys = env.secret_text("CACHE_ENCRYPTION_KEYS");
    let leaves_process = outside.is_some();
    match (secret, keys) {
        (None, None) => {
            if let (Some(name), false) = (outside, insecure) {
                env.fail(unsealed_outside(name));
            } else if insecure && leaves_process {
                env.warn("CACHE_INSECURE_NO_ENCRYPTION=true: cache keys and values are stored in plaintext".into());
            }
            None
        }
        #[cfg(not(feature = "sealing"))]
        (secret, keys) => {
            let var = match (secret.is_some(), keys.is_some()) {
                (true, true) => "CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS",
                (true, false) => "CACHE_KEY_SECRET",
                _ => "CACHE_ENCRYPTION_KEYS",
            };
            env.fail(ConfigError::FeatureOff {
                var,
                what: "sealing (hashed cache keys, encrypted values)",
                feature: FEATURE,
                remedy: "build pal with it, or unset the sealing keys (a cache outside the process then needs \
                         CACHE_INSECURE_NO_ENCRYPTION=true)"
                    .into(),
            });
            None
        }
        #[cfg(feature = "sealing")]
        (Some(_), None) | (None, Some(_)) => {
            env.contradiction(format!("CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS must be set together ({HOW})"));
            None
        }
        #[cfg(feature = "sealing")]
        (Some(secret), Some(keys)) => {
            if insecure {
                env.contradiction(
                    "CACHE_INSECURE_NO_ENCRYPTION=true contradicts CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS being set: \
                     unset one or the other",
                );
                return None;
            }
            // Both are decoded, so a problem in each is reported at once.
            let (key_secret, encryption_keys) = (decode_secret(env, &secret), decode_keys(env, &keys));
            Some(SealingKeys { key_secret: key_secret?, encryption_keys: encryption_keys? })
        }
    }
}

/// A cache outside the process, with neither keys nor the opt-out.
fn unsealed_outside(name: &str) -> ConfigError {
    if cfg!(feature = "sealing") {
        ConfigError::Missing {
            var: "CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS",
            because: format!(
                "for CACHE_PROVIDER={name}, which stores data outside this process ({HOW}; \
                 or set CACHE_INSECURE_NO_ENCRYPTION=true to store plaintext)"
            ),
            example: "the two lines `pal keygen` prints".into(),
        }
    } else {
        ConfigError::Missing {
            var: "CACHE_INSECURE_NO_ENCRYPTION",
            because: format!(
                "to true for CACHE_PROVIDER={name}, which stores data outside this process: sealing is not part of \
                 this build (pal was compiled without the `{FEATURE}` feature), so it can only store plaintext"
            ),
            example: "CACHE_INSECURE_NO_ENCRYPTION=true".into(),
        }
    }
}

#[cfg(feature = "sealing")]
fn decode_secret(env: &mut Env, secret: &str) -> Option<Zeroizing<Vec<u8>>> {
    match STANDARD.decode(secret) {
        Ok(bytes) if bytes.len() >= KEY_LEN => Some(Zeroizing::new(bytes)),
        Ok(bytes) => {
            invalid(
                env,
                "CACHE_KEY_SECRET",
                format!("decodes to {} bytes; at least {KEY_LEN} are needed ({HOW})", bytes.len()),
            );
            None
        }
        Err(_) => {
            invalid(env, "CACHE_KEY_SECRET", format!("is not base64 ({HOW})"));
            None
        }
    }
}

#[cfg(feature = "sealing")]
fn decode_keys(env: &mut Env, list: &str) -> Option<Vec<(String, Zeroizing<[u8; KEY_LEN]>)>> {
    let mut keys: Vec<(String, Zeroizing<[u8; KEY_LEN]>)> = Vec::new();
    for (n, item) in list.split(',').map(str::trim).enumerate() {
        let Some((id, key)) = item.split_once(':') else {
            invalid(env, "CACHE_ENCRYPTION_KEYS", format!("entry {} is not kid:base64key", n + 1));
            return None;
        };
        let id_ok =
            !id.is_empty() && id.len() <= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            invalid(env, "CACHE_ENCRYPTION_KEYS", format!("key id {id:?} must be 1-16 letters, digits, _ or -"));
            return None;
        }
        if keys.iter().any(|(existing, _)| existing == id) {
            invalid(env, "CACHE_ENCRYPTION_KEYS", format!("key id {id:?} appears twice"));
            return None;
        }
        let decoded = Zeroizing::new(STANDARD.decode(key).unwrap_or_default());
        let Ok(bytes) = <[u8; KEY_LEN]>::try_from(decoded.as_slice()) else {
            invalid(
                env,
                "CACHE_ENCRYPTION_KEYS",
                format!("key {id:?} must be base64 of exactly {KEY_LEN} bytes ({HOW})"),
            );
            return None;
        };
        keys.push((id.to_string(), Zeroizing::new(bytes)));
    }
    Some(keys)
}
