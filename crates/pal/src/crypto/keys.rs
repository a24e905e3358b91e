//! Key material that needs only randomness and an encoding, in every build: the
//! lines `pal keygen` prints work with any pal built with the `sealing` feature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// The length of an encryption key, in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// Lower-case hex, as fingerprints are shown.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
