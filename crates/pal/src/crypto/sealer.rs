use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

const FORMAT_V1: u8 = 0xA7;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
pub const KEY_LEN: usize = 32;
/// Namespaces longer than this are not kept readable: they are more likely data.
const MAX_NAMESPACE: usize = 32;

/// Hashes keys and seals values. Holds key material only inside types that wipe it.
pub struct Sealer {
    mac: Hmac<Sha256>,
    /// `(key id, cipher)`; the first one seals.
    ciphers: Vec<(String, Aes256Gcm)>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.ciphers.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish_non_exhaustive()
    }
}

fn integrity(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Integrity, what)
}

impl Sealer {
    /// `keys` in order of preference: the first seals, all open.
    pub fn new(key_secret: &[u8], keys: &[(String, Zeroizing<[u8; KEY_LEN]>)]) -> Result<Sealer> {
        let mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key_secret)
            .map_err(|_| Error::new(ErrorKind::Config, "CACHE_KEY_SECRET cannot be used as an HMAC key"))?;
        if keys.is_empty() {
            return Err(Error::new(ErrorKind::Config, "CACHE_ENCRYPTION_KEYS lists no key"));
        }
        let ciphers = keys.iter().map(|(id, key)| (id.clone(), <Aes256Gcm as KeyInit>::new((&**key).into()))).collect();
        Ok(Sealer { mac, ciphers })
    }

    /// The storage key for `key`: the namespace (up to the first `:`) stays readable
    /// so operators can tell sessions from counters; the rest is a keyed hash.
    pub fn hash_key(&self, key: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        let digest = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        match key.find(':') {
            Some(i)
                if i > 0
                    && i < MAX_NAMESPACE
                    && key[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                format!("{}{digest}", &key[..=i])
            }
            _ => digest,
        }
    }

    /// Encrypts `plaintext` for storage under `storage_key`.
    pub fn seal(&self, storage_key: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let (kid, cipher) = &self.ciphers[0];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::new(ErrorKind::Backend, format!("no randomness for a nonce: {e}")))?;
        let ciphertext = cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: storage_key.as_bytes() })
            .map_err(|_| Error::new(ErrorKind::Backend, "encryption failed"))?;
        let mut out = Vec::with_capacity(2 + kid.len() + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.push(kid.len() as u8);
        out.extend_from_slice(kid.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts a value read from `storage_key`. Anything tampered, truncated, sealed
    /// for another key, or not sealed at all is an `Integrity` error.
    pub fn open(&self, storage_key: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let [format, kid_len, rest @ ..] = sealed else {
            return Err(integrity("stored value is too short to be sealed"));
        };
        if *format != FORMAT_V1 {
            return Err(integrity("stored value is not in pal's sealed format"));
        }
        let kid_len = usize::from(*kid_len);
        if rest.len() < kid_len + NONCE_LEN + TAG_LEN {
            return Err(integrity("stored value is truncated"));
        }
        let (kid, rest) = rest.split_at(kid_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| integrity("stored value is truncated"))?;
        let kid = std::str::from_utf8(kid).map_err(|_| integrity("stored value has a malformed key id"))?;
        let (_, cipher) = self.ciphers.iter().find(|(id, _)| id == kid).ok_or_else(|| {
            integrity(format!("stored value was sealed with key id {kid:?}, which is not in CACHE_ENCRYPTION_KEYS"))
        })?;
        cipher
            .decrypt(&nonce, Payload { msg: ciphertext, aad: storage_key.as_bytes() })
            .map_err(|_| integrity("stored value failed authentication (tampered, or sealed for another key)"))
    }

    /// The configured key ids, the sealing one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.ciphers.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Whether stored bytes are in the sealed format (rather than a plain counter).
    pub fn is_sealed(bytes: &[u8]) -> bool {
        bytes.first() == Some(&FORMAT_V1)
    }
}

/// Fresh key lines for `pal keygen`, ready to paste into an environment file.
pub fn generate_key_lines() -> Result<String> {
    let mut secret = Zeroizing::new([0u8; KEY_LEN]);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(secret.as_mut())
        .and_then(|()| getrandom::fill(key.as_mut()))
        .map_err(|e| Error::new(ErrorKind::Backend, format!("no randomness: {e}")))?;
    // The date says when; the random part keeps two keys made the same day apart.
    let mut suffix = [0u8; 2];
    getrandom::fill(&mut suffix).map_err(|e| Error::new(ErrorKind::Backend, format!("no randomness: {e}")))?;
    let kid = format!("{}{:02x}{:02x}", chrono::Utc::now().format("k%Y%m%d"), suffix[0], suffix[1]);
    Ok(format!(
        "CACHE_KEY_SECRET={}\nCACHE_ENCRYPTION_KEYS={kid}:{}\n",
        STANDARD.encode(secret.as_ref()),
        STANDARD.encode(key.as_ref())
    ))
}

#[cfg(test)]
mod tests;
