//! Memcached's key rules and key placement, made invisible to callers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use memcache::exp::Router;
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Memcached rejects keys over 250 bytes and keys containing spaces or control
/// characters.
const MAX_KEY_BYTES: usize = 250;
/// Marks keys that were mapped. Any key starting with it is mapped too, so a
/// mapped key can never equal a caller's key that was left as it was.
pub(super) const MAPPED: &str = "~h:";

/// The key as memcached will store it: the same key when memcached accepts it,
/// otherwise a deterministic digest of it (SHA-256, so distinct keys stay distinct).
pub(crate) fn wire_key(key: &str) -> std::borrow::Cow<'_, str> {
    let valid = key.len() <= MAX_KEY_BYTES
        && !key.is_empty()
        && !key.starts_with(MAPPED)
        && key.bytes().all(|b| b > b' ' && b != 0x7f);
    if valid {
        std::borrow::Cow::Borrowed(key)
    } else {
        let digest = Sha256::digest(key.as_bytes());
        std::borrow::Cow::Owned(format!("{MAPPED}{}", URL_SAFE_NO_PAD.encode(digest)))
    }
}

/// Rendezvous (highest random weight) hashing with a hash whose output is fixed
/// by its specification (XXH3), so every process and every build places a key on
/// the same server; adding a server moves only the keys it wins, about 1/n of them.
pub(crate) struct StableRendezvous;

impl Router for StableRendezvous {
    fn route(&self, key: &[u8], servers: &[String]) -> usize {
        let mut best = (0, 0u64);
        for (index, server) in servers.iter().enumerate() {
            let score = xxh3_64_with_seed(key, xxh3_64(server.as_bytes()));
            if index == 0 || score > best.1 {
                best = (index, score);
            }
        }
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_keys_pass_through() {
        assert_eq!(wire_key("session:abc"), "session:abc");
        assert_eq!(wire_key("ключ"), "ключ", "UTF-8 bytes above 0x7f are allowed");
    }

    #[test]
    fn invalid_keys_map_deterministically_and_injectively() {
        let long = "k".repeat(300);
        for key in [long.as_str(), "has space", "tab\tkey", "nl\n", "", "~h:already"] {
            let mapped = wire_key(key);
            assert!(mapped.starts_with(MAPPED) && mapped.len() <= MAX_KEY_BYTES, "{key:?} -> {mapped}");
            assert!(!mapped.contains(' '));
            assert_eq!(mapped, wire_key(key), "deterministic");
        }
        assert_ne!(wire_key("a b"), wire_key("a  b"));
    }

    #[test]
    fn placement_is_stable() {
        let servers: Vec<String> = (0..3).map(|i| format!("127.0.0.1:{}", 11211 + i)).collect();
        // Fixed by XXH3's specification: a change here would move keys between deploys.
        assert_eq!(StableRendezvous.route(b"user:1", &servers), StableRendezvous.route(b"user:1", &servers));
        let placed: Vec<usize> = (0..8).map(|i| StableRendezvous.route(format!("k{i}").as_bytes(), &servers)).collect();
        assert_eq!(placed, [0, 2, 2, 2, 1, 1, 2, 2]);
    }
}
