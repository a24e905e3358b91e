//! TLS as a database URL asks for it, in the parameter names each ecosystem
//! documents (`sslmode`, `sslrootcert`… for PostgreSQL, `ssl-mode`, `ssl-ca`…
//! for MySQL). The driver reads the same parameters; pal reads them first, so a
//! file that is missing or does not parse, a key that is not its certificate's, or
//! a verification that cannot succeed stops start-up with the parameter named.

use crate::env::ConnUrl;
use crate::tls::{self, Transport, Verification};

/// What a URL asks of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Unencrypted (`disable`, `DISABLED`).
    Disable,
    /// Encrypted when the server offers it (`prefer`, `allow`, `PREFERRED`).
    Prefer,
    /// Encrypted, any certificate accepted.
    Require,
    /// Encrypted, the certificate chained to a trusted CA (`verify-ca`, `VERIFY_CA`).
    VerifyCa,
    /// Encrypted, the chain and the host name checked (`verify-full`, `VERIFY_IDENTITY`).
    VerifyFull,
}

/// How a dialect's URLs spell TLS.
pub struct UrlTls {
    /// Accepted names of each parameter, the documented one first.
    pub mode: &'static [&'static str],
    /// Accepted names of the CA file parameter, the documented one first.
    pub ca: &'static [&'static str],
    /// Accepted names of the client certificate parameter, the documented one first.
    pub cert: &'static [&'static str],
    /// Accepted names of the client key parameter, the documented one first.
    pub key: &'static [&'static str],
    /// Every documented mode value, as documented; values compare case-insensitively.
    pub modes: &'static [(&'static str, TlsMode)],
    /// The mode when the URL names none.
    pub default: TlsMode,
    /// libpq verifies the chain under `require` when a root certificate is given.
    pub require_with_ca_verifies: bool,
}

/// What the URL asked for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTlsSettings {
    /// The mode the URL asks for, or the dialect's default.
    pub mode: TlsMode,
    /// The CA file, when the URL names one (a CA is public; key paths are never kept).
    pub ca: Option<String>,
    /// Whether pal presents a client certificate.
    pub client_cert: bool,
}

impl UrlTlsSettings {
    /// Nothing leaves the process.
    pub const IN_PROCESS: UrlTlsSettings = UrlTlsSettings { mode: TlsMode::Disable, ca: None, client_cert: false };

    /// The connection's protection, given whether the server reports it encrypted
    /// and with which protocol version.
    pub fn transport(&self, encrypted: bool, version: Option<String>) -> Transport {
        if !encrypted {
            return Transport::Plaintext;
        }
        let verified = match self.mode {
            TlsMode::VerifyFull => Verification::Full,
            TlsMode::VerifyCa => Verification::Chain,
            TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => Verification::None,
        };
        Transport::Tls { verified, ca: self.ca.clone(), client_cert: self.client_cert, version }
    }
}

impl UrlTls {
    /// Reads and checks the TLS parameters of `url`. The error names the parameter
    /// and says what to change; it quotes paths, never file contents.
    pub fn read(&self, url: &ConnUrl) -> Result<UrlTlsSettings, String> {
        let parsed = url::Url::parse(url.expose()).map_err(|e| e.to_string())?;
        let param = |names: &[&str]| {
            parsed
                .query_pairs()
                .find(|(k, _)| names.contains(&k.as_ref()))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
        };
        let mut mode = match param(self.mode) {
            None => self.default,
            Some((name, value)) => match self.modes.iter().find(|(m, _)| m.eq_ignore_ascii_case(&value)) {
                Some((_, mode)) => *mode,
                None => {
                    let known: Vec<&str> = self.modes.iter().map(|(m, _)| *m).collect();
                    return Err(format!("{name}={value} is not a TLS mode; use one of: {}", known.join(", ")));
                }
            },
        };
        let ca = match param(self.ca) {
            Some((name, path)) => {
                tls::check_ca(&path).map_err(|why| format!("{name}: {why}"))?;
                Some((name, path))
            }
            None => None,
        };
        let client = match (param(self.cert), param(self.key)) {
            (Some((cert_name, cert)), Some((key_name, key))) => {
                tls::check_client_pair(&cert, &key).map_err(|why| format!("{cert_name}/{key_name}: {why}"))?;
                Some(cert_name)
            }
            (None, None) => None,
            (Some((given, _)), None) => return Err(format!("{given} is set without {}: give both", self.key[0])),
            (None, Some((given, _))) => return Err(format!("{given} is set without {}: give both", self.cert[0])),
        };
        if mode == TlsMode::Disable
            && let Some(name) = ca.as_ref().map(|(n, _)| n.clone()).or(client.clone())
        {
            let (mode_name, value) = param(self.mode).unwrap_or_else(|| (self.mode[0].to_string(), String::new()));
            return Err(format!(
                "{mode_name}={value} turns TLS off, yet {name} is set: remove {name} or choose a mode that encrypts"
            ));
        }
        if mode == TlsMode::Require && ca.is_some() && self.require_with_ca_verifies {
            mode = TlsMode::VerifyCa;
        }
        if matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull) && ca.is_none() {
            let host = parsed.host_str().unwrap_or_default();
            if tls::public_roots_cannot_apply(host) {
                let (mode_name, value) = param(self.mode).unwrap_or_default();
                return Err(format!(
                    "{mode_name}={value} verifies the server against the public CAs pal carries, and none of them \
                     certifies {host}: add {}=/path/to/ca.pem with the CA that signed the server's certificate",
                    self.ca[0]
                ));
            }
        }
        Ok(UrlTlsSettings { mode, ca: ca.map(|(_, path)| path), client_cert: client.is_some() })
    }
}

#[cfg(test)]
mod tests;
