//! How a connection is protected, in the words `pal check` prints.

use std::fmt;

/// What a TLS connection checked about the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Encrypted, but any certificate is accepted (`sslmode=require`, `REQUIRED`).
    None,
    /// The certificate chains to a trusted CA; the host name is not compared.
    Chain,
    /// The chain, and the host name against the certificate.
    Full,
}

/// How a provider's connections are protected, as `pal check` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Nothing leaves the process.
    InProcess,
    /// Unencrypted network connections.
    Plaintext,
    /// Encrypted with TLS.
    Tls {
        /// What the client checks about the server's certificate.
        verified: Verification,
        /// Where the trusted CA comes from, when not the public roots built in.
        ca: Option<String>,
        /// Whether pal presents a client certificate.
        client_cert: bool,
        /// The protocol version the server reports, when it was asked.
        version: Option<String>,
    },
    /// Several connections, each protected its own way (sentinels and master,
    /// the hybrid's Redis and database).
    Parts(Vec<(&'static str, Transport)>),
}

impl Transport {
    /// TLS whose protocol version is not known yet.
    pub fn tls(verified: Verification, ca: Option<String>, client_cert: bool) -> Transport {
        Transport::Tls { verified, ca, client_cert, version: None }
    }

    /// Whether every connection is encrypted.
    pub fn encrypted(&self) -> bool {
        match self {
            Transport::InProcess | Transport::Tls { .. } => true,
            Transport::Plaintext => false,
            Transport::Parts(parts) => parts.iter().all(|(_, t)| t.encrypted()),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::InProcess => f.write_str("in process"),
            Transport::Plaintext => f.write_str("plaintext"),
            Transport::Tls { verified, ca, client_cert, version } => {
                f.write_str(match verified {
                    Verification::None => "tls, server not verified",
                    Verification::Chain => "tls verify-ca",
                    Verification::Full => "tls verify-full",
                })?;
                let mut details = Vec::new();
                if let Some(version) = version {
                    details.push(version.clone());
                }
                if let Some(ca) = ca {
                    details.push(format!("CA {ca}"));
                }
                if *client_cert {
                    details.push("client certificate".to_string());
                }
                if !details.is_empty() {
                    write!(f, " ({})", details.join(", "))?;
                }
                Ok(())
            }
            Transport::Parts(parts) => {
                let parts: Vec<String> = parts.iter().map(|(name, t)| format!("{name}: {t}")).collect();
                f.write_str(&parts.join("; "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_was_verified() {
        let full = Transport::tls(Verification::Full, Some("REDIS_TLS_CA_FILE".into()), true);
        assert_eq!(full.to_string(), "tls verify-full (CA REDIS_TLS_CA_FILE, client certificate)");
        assert_eq!(Transport::tls(Verification::None, None, false).to_string(), "tls, server not verified");
        let mixed = Transport::Parts(vec![("sentinels", Transport::Plaintext), ("master", full)]);
        assert!(mixed.to_string().starts_with("sentinels: plaintext; master: tls verify-full"), "{mixed}");
        assert!(!mixed.encrypted());
        assert!(Transport::InProcess.encrypted());
    }
}
