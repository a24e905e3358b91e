//! TLS for every connection that leaves the process: one crypto provider for
//! all of them, certificate files checked when the configuration is read (so a
//! wrong path or a key that does not match its certificate stops start-up, not
//! the first connection), and how a connection is protected, as `pal check`
//! reports it.

mod files;
mod transport;

pub use files::{ClientPair, check_ca, check_client_pair, public_roots_cannot_apply};
pub use transport::{Transport, Verification};

/// Installs ring as the process's rustls crypto provider, once. The Redis client
/// asks rustls for the process default and panics when none is installed or
/// several are compiled in; sqlx's rustls backend uses ring explicitly, so every
/// connection ends up on the same provider. An application that installed its own
/// provider first keeps it.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
