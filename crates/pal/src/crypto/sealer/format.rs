//! The sealed formats' headers: what each one says, read without opening the value,
//! and where its parts lie.
//!
//! ```text
//! format 1: 0xA7 | kid length | kid | nonce (12) | ciphertext | tag (16)    AAD: storage key
//! format 2: 0xA8 | kid length | kid | nonce (12) | ciphertext | tag (16)    AAD: storage key
//! format 3: 0xA9 | fingerprint (4) | kid length | kid | nonce (12) | ciphertext | tag (16)
//!           AAD: the header up to the nonce, then the storage key
//! ```

use crate::error::{Error, ErrorKind, Result};

/// Format 1: AES-256-GCM under the configured key. Still opened; no longer written.
pub(super) const FORMAT_GCM: u8 = 0xA7;
/// Format 2: AES-256-GCM-SIV under a key derived from the configured one. Still
/// opened; no longer written.
pub(super) const FORMAT_GCM_SIV: u8 = 0xA8;
/// Format 3: format 2 with the fingerprint of `CACHE_KEY_SECRET` in the header.
pub(super) const FORMAT_FINGERPRINTED: u8 = 0xA9;
/// The length of the fingerprint in a format 3 header, in bytes.
pub const FINGERPRINT_LEN: usize = 4;
pub(super) const NONCE_LEN: usize = 12;
pub(super) const TAG_LEN: usize = 16;

/// The format a sealed value was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// AES-256-GCM (`0xA7`).
    Gcm,
    /// AES-256-GCM-SIV (`0xA8`).
    GcmSiv,
    /// AES-256-GCM-SIV with the secret's fingerprint (`0xA9`): the one written now.
    Fingerprinted,
}

/// What a sealed value's header says. Nothing in it is authenticated until the
/// value opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// The format it was written in.
    pub format: Format,
    /// The fingerprint of the `CACHE_KEY_SECRET` it was sealed under; formats 1
    /// and 2 carry none.
    pub fingerprint: Option<[u8; FINGERPRINT_LEN]>,
    /// The id of the key it was sealed with, as in `CACHE_ENCRYPTION_KEYS`.
    pub key_id: &'a str,
    /// Where the nonce starts; in format 3 everything before it is associated data.
    pub(super) nonce_at: usize,
}

fn integrity(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Integrity, what)
}

/// Whether stored bytes start like a sealed value (rather than a plain counter).
pub(super) fn is_sealed(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(&(FORMAT_GCM | FORMAT_GCM_SIV | FORMAT_FINGERPRINTED)))
}

/// Reads a sealed value's header; an `Integrity` error when it is not one or is
/// too short to hold its nonce and tag.
pub(super) fn parse(sealed: &[u8]) -> Result<Header<'_>> {
    let (format, fingerprint, rest) = match sealed {
        [FORMAT_GCM, rest @ ..] => (Format::Gcm, None, rest),
        [FORMAT_GCM_SIV, rest @ ..] => (Format::GcmSiv, None, rest),
        [FORMAT_FINGERPRINTED, a, b, c, d, rest @ ..] => (Format::Fingerprinted, Some([*a, *b, *c, *d]), rest),
        [] | [FORMAT_FINGERPRINTED, ..] => return Err(integrity("stored value is too short to be sealed")),
        _ => return Err(integrity("stored value is not in pal's sealed format")),
    };
    let [kid_len, rest @ ..] = rest else { return Err(integrity("stored value is too short to be sealed")) };
    let kid_len = usize::from(*kid_len);
    if rest.len() < kid_len + NONCE_LEN + TAG_LEN {
        return Err(integrity("stored value is truncated"));
    }
    let key_id = std::str::from_utf8(&rest[..kid_len]).map_err(|_| integrity("stored value has a malformed key id"))?;
    let nonce_at = sealed.len() - rest.len() + kid_len;
    Ok(Header { format, fingerprint, key_id, nonce_at })
}

/// Calls `f` with format 3's associated data: `head` (the header up to the nonce)
/// then the storage key, assembled on the stack when it fits, as it does for every
/// storage key pal makes (at most 75 bytes) with a key id under 100 bytes.
pub(super) fn with_aad<R>(head: &[u8], storage_key: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    const ON_STACK: usize = 192;
    let len = head.len() + storage_key.len();
    if len <= ON_STACK {
        let mut buffer = [0u8; ON_STACK];
        buffer[..head.len()].copy_from_slice(head);
        buffer[head.len()..len].copy_from_slice(storage_key.as_bytes());
        f(&buffer[..len])
    } else {
        let mut buffer = Vec::with_capacity(len);
        buffer.extend_from_slice(head);
        buffer.extend_from_slice(storage_key.as_bytes());
        f(&buffer)
    }
}
