use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, AES_256_GCM_SIV, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

pub use format::{FINGERPRINT_LEN, Format, Header};
use format::{FORMAT_FINGERPRINTED, NONCE_LEN, TAG_LEN};

use super::keys::{KEY_LEN, hex};
use crate::error::{Error, ErrorKind, Result};

/// What derives the GCM-SIV key from a configured key, so that no key serves two
/// algorithms.
const SIV_KEY_INFO: &[u8] = b"pal sealed values: AES-256-GCM-SIV";
/// What the fingerprint of `CACHE_KEY_SECRET` is the keyed hash of.
const FINGERPRINT_INPUT: &[u8] = b"pal key fingerprint";
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
    /// A short keyed hash of `CACHE_KEY_SECRET`: it tells which secret sealed a
    /// value without revealing the secret.
    fingerprint: [u8; FINGERPRINT_LEN],
    /// The first one seals; all open.
    keys: Vec<SealingKey>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("fingerprint", &self.fingerprint())
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
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
        if keys.iter().any(|(id, _)| id.len() > usize::from(u8::MAX)) {
            return Err(Error::new(ErrorKind::Config, "a key id of CACHE_ENCRYPTION_KEYS is longer than 255 bytes"));
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
        let mut fingerprint = [0u8; FINGERPRINT_LEN];
        let mut keyed = mac.clone();
        keyed.update(FINGERPRINT_INPUT);
        fingerprint.copy_from_slice(&keyed.finalize().into_bytes()[..FINGERPRINT_LEN]);
        Ok(Sealer { mac, fingerprint, keys })
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

    /// Encrypts `plaintext` for storage under `storage_key`, in format 3: one
    /// allocation (the output), and a nonce from the thread's CSPRNG rather than a
    /// system call.
    pub fn seal(&self, storage_key: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let head = 1 + FINGERPRINT_LEN + 1 + key.id.len();
        let mut out = Vec::with_capacity(head + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT_FINGERPRINTED);
        out.extend_from_slice(&self.fingerprint);
        // Checked in `new`: every key id fits its length byte.
        out.push(key.id.len() as u8);
        out.extend_from_slice(key.id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let (header, text) = out.split_at_mut(head + NONCE_LEN);
        let tag = format::with_aad(&header[..head], storage_key, |aad| {
            key.siv.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), text)
        })
        .map_err(|_| Error::new(ErrorKind::Backend, "encryption failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// How many bytes [`seal`](Self::seal) adds to a value: its header, nonce and tag.
    pub fn overhead(&self) -> usize {
        1 + FINGERPRINT_LEN + 1 + self.keys[0].id.len() + NONCE_LEN + TAG_LEN
    }

    /// Reads a sealed value's header without opening it: its format, the
    /// fingerprint of the secret it names, its key id. An `Integrity` error when the
    /// bytes are not a sealed value.
    pub fn header(sealed: &[u8]) -> Result<Header<'_>> {
        format::parse(sealed)
    }

    /// The configured key that opens a value with this header, and its cipher.
    fn cipher(&self, header: &Header<'_>) -> Result<&LessSafeKey> {
        let kid = header.key_id;
        let key = self.keys.iter().find(|k| k.id == kid).ok_or_else(|| {
            integrity(format!("stored value was sealed with key id {kid:?}, which is not in CACHE_ENCRYPTION_KEYS"))
        })?;
        Ok(if header.format == Format::Gcm { &key.gcm } else { &key.siv })
    }

    /// Opens ciphertext and tag in place: `text` is what follows `header` (the
    /// bytes up to and with the nonce, which starts at `nonce_at`). Returns the
    /// plaintext's length.
    fn open_in_place(
        cipher: &LessSafeKey,
        (format, nonce_at): (Format, usize),
        storage_key: &str,
        header: &[u8],
        text: &mut [u8],
    ) -> Result<usize> {
        let nonce = Nonce::try_assume_unique_for_key(&header[nonce_at..])
            .map_err(|_| integrity("stored value is truncated"))?;
        let opened = match format {
            Format::Fingerprinted => format::with_aad(&header[..nonce_at], storage_key, |aad| {
                cipher.open_in_place(nonce, Aad::from(aad), text).map(|p| p.len())
            }),
            Format::Gcm | Format::GcmSiv => {
                cipher.open_in_place(nonce, Aad::from(storage_key.as_bytes()), text).map(|p| p.len())
            }
        };
        opened.map_err(|_| {
            // Nothing of a forgery is kept.
            zeroize::Zeroize::zeroize(text);
            integrity("stored value failed authentication (tampered, or sealed for another key)")
        })
    }

    /// Decrypts a value read from `storage_key`, in any format. Anything tampered,
    /// truncated, sealed for another key, or not sealed at all is an `Integrity`
    /// error.
    pub fn open(&self, storage_key: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let parsed = format::parse(sealed)?;
        let at = parsed.nonce_at + NONCE_LEN;
        let mut plain = sealed[at..].to_vec();
        let layout = (parsed.format, parsed.nonce_at);
        let len = Self::open_in_place(self.cipher(&parsed)?, layout, storage_key, &sealed[..at], &mut plain)?;
        plain.truncate(len);
        Ok(plain)
    }

    /// As [`open`](Self::open), decrypting in the buffer the value was read into
    /// when nothing else holds it, so a read costs no copy.
    pub fn open_bytes(&self, storage_key: &str, sealed: Bytes) -> Result<Bytes> {
        let parsed = format::parse(&sealed)?;
        let (cipher, layout) = (self.cipher(&parsed)?, (parsed.format, parsed.nonce_at));
        let at = parsed.nonce_at + NONCE_LEN;
        match sealed.try_into_mut() {
            Ok(mut buffer) => {
                let (header, text) = buffer.split_at_mut(at);
                let len = Self::open_in_place(cipher, layout, storage_key, header, text)?;
                Ok(buffer.freeze().slice(at..at + len))
            }
            Err(shared) => self.open(storage_key, &shared).map(Bytes::from),
        }
    }

    /// The configured key ids, the sealing one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The fingerprint of `CACHE_KEY_SECRET` that values sealed here carry, in hex:
    /// four bytes of HMAC-SHA-256 under the secret, which tell secrets apart without
    /// revealing them.
    pub fn fingerprint(&self) -> String {
        hex(&self.fingerprint)
    }

    /// Whether stored bytes are in a sealed format (rather than a plain counter).
    pub fn is_sealed(bytes: &[u8]) -> bool {
        format::is_sealed(bytes)
    }
}

mod format;
#[cfg(test)]
mod tests;
