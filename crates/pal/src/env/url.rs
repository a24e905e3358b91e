//! Connection URLs and host lists: the shared shapes of provider addresses.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::error::redact_text;

/// A connection URL whose secret parts never leave through `Debug` or `Display`.
#[derive(Clone)]
pub struct ConnUrl {
    raw: SecretString,
    redacted: String,
    scheme: String,
    address: String,
}

impl ConnUrl {
    /// Parses `raw`, accepting only the given schemes (any scheme when `schemes` is
    /// empty). The error says why, without repeating the URL.
    pub fn parse(raw: &str, schemes: &[&str]) -> Result<ConnUrl, String> {
        let parsed = url::Url::parse(raw).map_err(|e| e.to_string())?;
        let scheme = parsed.scheme().to_ascii_lowercase();
        if !schemes.is_empty() && !schemes.contains(&scheme.as_str()) {
            return Err(format!("scheme {scheme:?} is not accepted here; expected one of: {}", schemes.join(", ")));
        }
        let address = match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => parsed.path().to_string(),
        };
        Ok(ConnUrl { raw: SecretString::from(raw.to_string()), redacted: redact_text(raw), scheme, address })
    }

    /// The URL with its credentials, for handing to a driver and nothing else.
    pub fn expose(&self) -> &str {
        self.raw.expose_secret()
    }

    /// The URL with any credentials replaced by `***`, for logs and errors.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The scheme, in lower case.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `host:port` as written (or the path of a file URL): names a server in logs
    /// and metrics without credentials.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl fmt::Debug for ConnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnUrl({:?})", self.redacted)
    }
}

impl fmt::Display for ConnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// `host:port`, with IPv6 hosts in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// The host name or address, without brackets for IPv6.
    pub host: String,
    /// The port, from 1 to 65535.
    pub port: u16,
}

impl HostPort {
    /// Parses `host`, `host:port` or `[ipv6]:port`, using `default_port` when the port is
    /// left out. URLs and credentials are rejected.
    pub fn parse(item: &str, default_port: u16) -> Result<HostPort, String> {
        if item.is_empty() {
            return Err("empty entry".into());
        }
        if item.contains("://") || item.contains('@') || item.contains('/') {
            return Err("a bare host:port is expected, not a URL".into());
        }
        let (host, port) = match item.strip_prefix('[') {
            Some(v6) => {
                let (host, rest) = v6.split_once(']').ok_or("unclosed '[' in IPv6 address")?;
                (host, rest.strip_prefix(':'))
            }
            None => match item.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (item, None),
            },
        };
        if host.is_empty() || host.contains(':') && !item.starts_with('[') {
            return Err("missing or malformed host".into());
        }
        let port = match port {
            None => default_port,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(format!("port {p:?} is not a number from 1 to 65535"))?,
        };
        Ok(HostPort { host: host.to_string(), port })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}
