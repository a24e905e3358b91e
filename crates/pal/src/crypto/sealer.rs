use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, AES_256_GCM_SIV, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// Format 1: AES-256-GCM under the configured key. Still opened; no longer written.
const FORMAT_GCM: u8 = 0xA7;
/// Format 2: AES-256-GCM-SIV under a key derived from the configured one.
const FORMAT_GCM_SIV: u8 = 0xA8;
/// What derives format 2's key from a configured key, so that no key serves two
/// algorithms.
const SIV_KEY_INFO: &[u8] = b"pal sealed values: AES-256-GCM-SIV";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
pub const KEY_LEN: usize = 32;
/// Namespaces longer than this are not kept readable: they are more likely data.
const MAX_NAMESPACE: usize = 32;
/// The length of a base64url-encoded HMAC-SHA-256 digest.
const DIGEST_CHARS: usize = 43;

/// One configured key, ready for both formats. AWS-LC keeps each key schedule in
/// memory it allocated itself and cleanses when the key is dropped (`OPENSSL_free`
/// wipes every allocation before freeing it).
struct SealingKey {
    id: String,
    gcm: LessSafeKey,
    siv: LessSafeKey,
}

/// Hashes keys and seals values. Holds key material only inside types that wipe it.
pub struct Sealer {
    mac: Hmac<Sha256>,
    /// The first one seals; all open.
    keys: Vec<SealingKey>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("key_ids", &self.key_ids()).finish_non_exhaustive()
    }
}

fn integrity(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Integrity, what)
}

fn siv_key(key: &[u8; KEY_LEN]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut derived = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(None, key)
        .expand(SIV_KEY_INFO, derived.as_mut())
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    derived
}

impl Sealer {
    /// `keys` in order of preference: the first seals, all open.
    pub fn new(key_secret: &[u8], keys: &[(String, Zeroizing<[u8; KEY_LEN]>)]) -> Result<Sealer> {
        let mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key_secret)
            .map_err(|_| Error::new(ErrorKind::Config, "CACHE_KEY_SECRET cannot be used as an HMAC key"))?;
        if keys.is_empty() {
            return Err(Error::new(ErrorKind::Config, "CACHE_ENCRYPTION_KEYS lists no key"));
        }
        let cipher = |algorithm, key: &[u8]| {
            UnboundKey::new(algorithm, key)
                .map(LessSafeKey::new)
                .map_err(|_| Error::new(ErrorKind::Config, "an encryption key cannot be used with AES-256"))
        };
        let keys = keys
            .iter()
            .map(|(id, key)| {
                Ok(SealingKey {
                    id: id.clone(),
                    gcm: cipher(&AES_256_GCM, &key[..])?,
                    siv: cipher(&AES_256_GCM_SIV, &siv_key(key)[..])?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Sealer { mac, keys })
    }

    /// The storage key for `key`: the namespace (up to the first `:`) stays readable
    /// so operators can tell sessions from counters; the rest is a keyed hash.
    pub fn hash_key(&self, key: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        let digest = mac.finalize().into_bytes();
        let namespace = match key.find(':') {
            Some(i)
                if i > 0
                    && i < MAX_NAMESPACE
                    && key[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                &key[..=i]
            }
            _ => "",
        };
        let mut out = String::with_capacity(namespace.len() + DIGEST_CHARS);
        out.push_str(namespace);
        URL_SAFE_NO_PAD.encode_string(digest, &mut out);
        out
    }

    /// Encrypts `plaintext` for storage under `storage_key`, in format 2: one
    /// allocation (the output), and a nonce from the thread's CSPRNG rather than a
    /// system call.
    pub fn seal(&self, storage_key: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let header = 2 + key.id.len() + NONCE_LEN;
        let mut out = Vec::with_capacity(header + plaintext.len() + TAG_LEN);
        out.push(FORMAT_GCM_SIV);
        out.push(key.id.len() as u8);
        out.extend_from_slice(key.id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = key
            .siv
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(storage_key.as_bytes()),
                &mut out[header..],
            )
            .map_err(|_| Error::new(ErrorKind::Backend, "encryption failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// How many bytes [`seal`](Self::seal) adds to a value: its header and tag.
    pub fn overhead(&self) -> usize {
        2 + self.keys[0].id.len() + NONCE_LEN + TAG_LEN
    }

    /// Reads the header: the key that opens the value, its nonce, and where the
    /// ciphertext (with its tag) starts.
    fn header(&self, sealed: &[u8]) -> Result<(&LessSafeKey, Nonce, usize)> {
        let [format, kid_len, rest @ ..] = sealed else {
            return Err(integrity("stored value is too short to be sealed"));
        };
        if !matches!(*format, FORMAT_GCM | FORMAT_GCM_SIV) {
            return Err(integrity("stored value is not in pal's sealed format"));
        }
        let kid_len = usize::from(*kid_len);
        if rest.len() < kid_len + NONCE_LEN + TAG_LEN {
            return Err(integrity("stored value is truncated"));
        }
        let (kid, rest) = rest.split_at(kid_len);
        let kid = std::str::from_utf8(kid).map_err(|_| integrity("stored value has a malformed key id"))?;
        let key = self.keys.iter().find(|k| k.id == kid).ok_or_else(|| {
            integrity(format!("stored value was sealed with key id {kid:?}, which is not in CACHE_ENCRYPTION_KEYS"))
        })?;
        let nonce =
            Nonce::try_assume_unique_for_key(&rest[..NONCE_LEN]).map_err(|_| integrity("stored value is truncated"))?;
        let cipher = if *format == FORMAT_GCM { &key.gcm } else { &key.siv };
        Ok((cipher, nonce, 2 + kid_len + NONCE_LEN))
    }

    /// Opens ciphertext and tag in place; returns the plaintext's length.
    fn open_in_place(cipher: &LessSafeKey, nonce: Nonce, storage_key: &str, text: &mut [u8]) -> Result<usize> {
        match cipher.open_in_place(nonce, Aad::from(storage_key.as_bytes()), text) {
            Ok(opened) => Ok(opened.len()),
            Err(_) => {
                // Nothing of a forgery is kept.
                zeroize::Zeroize::zeroize(text);
                Err(integrity("stored value failed authentication (tampered, or sealed for another key)"))
            }
        }
    }

    /// Decrypts a value read from `storage_key`, in either format. Anything
    /// tampered, truncated, sealed for another key, or not sealed at all is an
    /// `Integrity` error.
    pub fn open(&self, storage_key: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let (cipher, nonce, at) = self.header(sealed)?;
        let mut plain = sealed[at..].to_vec();
        let len = Self::open_in_place(cipher, nonce, storage_key, &mut plain)?;
        plain.truncate(len);
        Ok(plain)
    }

    /// As [`open`](Self::open), decrypting in the buffer the value was read into
    /// when nothing else holds it, so a read costs no copy.
    pub fn open_bytes(&self, storage_key: &str, sealed: Bytes) -> Result<Bytes> {
        let (cipher, nonce, at) = self.header(&sealed)?;
        match sealed.try_into_mut() {
            Ok(mut buffer) => {
                let len = Self::open_in_place(cipher, nonce, storage_key, &mut buffer[at..])?;
                Ok(buffer.freeze().slice(at..at + len))
            }
            Err(shared) => self.open(storage_key, &shared).map(Bytes::from),
        }
    }

    /// The configured key ids, the sealing one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Whether stored bytes are in a sealed format (rather than a plain counter).
    pub fn is_sealed(bytes: &[u8]) -> bool {
        matches!(bytes.first(), Some(&(FORMAT_GCM | FORMAT_GCM_SIV)))
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
