//! Certificate and key files, read and checked once, when the configuration is
//! read. Messages name the file and what is wrong with it, never its contents.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

/// A client certificate chain and its key, as PEM, checked to belong together.
#[derive(Clone)]
pub struct ClientPair {
    /// The certificate chain, as PEM.
    pub cert: Vec<u8>,
    /// The private key, as PEM; wiped from memory when dropped.
    pub key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ClientPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientPair(<redacted>)")
    }
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn certificates(path: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path} is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(certs)
}

/// Reads a CA bundle: at least one certificate, each one usable as a trust anchor.
pub fn check_ca(path: &str) -> Result<Vec<u8>, String> {
    let pem = read(path)?;
    let mut store = RootCertStore::empty();
    for cert in certificates(path, &pem)? {
        store.add(cert).map_err(|e| format!("{path} holds a certificate that is not a usable CA: {e}"))?;
    }
    Ok(pem)
}

/// Reads a client certificate and its private key, and checks that the key is the
/// one the certificate was issued for.
pub fn check_client_pair(cert_path: &str, key_path: &str) -> Result<ClientPair, String> {
    let cert = read(cert_path)?;
    let chain = certificates(cert_path, &cert)?;
    let key = Zeroizing::new(read(key_path)?);
    let der = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|e| format!("{key_path} is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"))?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("{key_path} holds a private key this TLS library cannot use: {e}"))?;
    match CertifiedKey::new(chain, Arc::clone(&signing)).keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(ClientPair { cert, key })
        }
        Err(rustls::Error::InconsistentKeys(_)) => {
            Err(format!("the key in {key_path} does not belong to the certificate in {cert_path}"))
        }
        Err(e) => Err(format!("{cert_path} cannot be used with {key_path}: {e}")),
    }
}

/// Whether no public CA can have issued the server's certificate: they certify
/// public DNS names only, never an IP address, `localhost` or a single-label name.
pub fn public_roots_cannot_apply(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().is_ok()
        || host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || !host.contains('.')
}

#[cfg(test)]
mod tests;
