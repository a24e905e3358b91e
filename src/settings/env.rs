//! A reader over a snapshot of the environment that parses typed values and
//! collects every problem instead of stopping at the first.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::errors::ConfigError;
use super::vars;
use crate::redact::redact_text;

pub(crate) struct Env {
    vars: BTreeMap<String, String>,
    pub(crate) errors: Vec<ConfigError>,
    pub(crate) warnings: Vec<String>,
}

impl Env {
    pub(crate) fn new(vars: BTreeMap<String, String>) -> Self {
        Env { vars, errors: Vec::new(), warnings: Vec::new() }
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// The value as set, trimmed; an empty value counts as unset so that `VAR=` in an
    /// env file means "use the default".
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(vars::lookup(name).is_some(), "{name} missing from the variable table");
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub(crate) fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value, or the table's default.
    pub(crate) fn get_or_default(&self, name: &'static str) -> Option<&str> {
        self.get(name).or_else(|| vars::lookup(name).and_then(|v| v.default))
    }

    pub(crate) fn string(&self, name: &'static str) -> String {
        self.get_or_default(name).unwrap_or_default().to_string()
    }

    pub(crate) fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// A secret's text, wiped from memory when dropped.
    pub(crate) fn secret_text(&self, name: &'static str) -> Option<zeroize::Zeroizing<String>> {
        self.get(name).map(|s| zeroize::Zeroizing::new(s.to_string()))
    }

    pub(crate) fn fail(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    fn invalid(&mut self, var: &'static str, value: &str, reason: impl Into<String>) {
        // Lists and URLs can carry credentials even in variables that are not secret.
        let value = if vars::lookup(var).is_some_and(|v| v.secret) { "***".into() } else { redact_text(value) };
        self.fail(ConfigError::InvalidValue { var, value, reason: redact_text(&reason.into()) });
    }

    /// One of a fixed set of names, parsed by `parse`; `accepted` lists them all.
    pub(crate) fn choice<T>(
        &mut self,
        name: &'static str,
        accepted: &[&'static str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let value = self.get_or_default(name)?.to_string();
        let parsed = parse(&value.to_ascii_lowercase());
        if parsed.is_none() {
            self.fail(ConfigError::UnknownValue { var: name, value, accepted: accepted.to_vec() });
        }
        parsed
    }

    pub(crate) fn bool(&mut self, name: &'static str) -> bool {
        let accepted = ["true", "false", "1", "0", "yes", "no", "on", "off"];
        self.choice(name, &accepted, |v| match v {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        })
        .unwrap_or(false)
    }

    pub(crate) fn opt_bool(&mut self, name: &'static str) -> Option<bool> {
        self.is_set(name).then(|| self.bool(name))
    }

    /// An integer within `min..=max`.
    pub(crate) fn int<T>(&mut self, name: &'static str, min: T, max: T) -> T
    where
        T: FromStr + PartialOrd + Copy + fmt::Display + Default,
    {
        let Some(raw) = self.get_or_default(name).map(str::to_string) else {
            return T::default();
        };
        match raw.parse::<T>() {
            Ok(n) if n >= min && n <= max => n,
            _ => {
                self.invalid(name, &raw, format!("expected a whole number from {min} to {max}"));
                min
            }
        }
    }

    pub(crate) fn millis(&mut self, name: &'static str) -> Duration {
        Duration::from_millis(self.int(name, 1u64, 3_600_000))
    }

    /// A URL whose scheme must be one of `schemes`. Returns `None` when unset.
    pub(crate) fn url(&mut self, name: &'static str, schemes: &[&str]) -> Option<ConnUrl> {
        let raw = self.get_or_default(name)?.to_string();
        match ConnUrl::parse(&raw, schemes) {
            Ok(url) => Some(url),
            Err(reason) => {
                // Without `scheme://` nothing tells where a password sits (a typo such as
                // `postgres//app:pw@db`), so a secret value is not shown at all.
                let secret = vars::lookup(name).is_some_and(|v| v.secret);
                let redacted = if secret && !raw.contains("://") { "***".to_string() } else { redact_text(&raw) };
                self.fail(ConfigError::MalformedUrl { var: name, redacted, reason });
                None
            }
        }
    }

    /// A comma-separated list of `host[:port]`. Unset gives an empty list.
    pub(crate) fn hosts(&mut self, name: &'static str, default_port: u16) -> Vec<HostPort> {
        let Some(raw) = self.get(name).map(str::to_string) else {
            return Vec::new();
        };
        let mut hosts = Vec::new();
        for item in raw.split(',').map(str::trim) {
            match HostPort::parse(item, default_port) {
                Ok(h) => hosts.push(h),
                Err(reason) => self.invalid(name, &raw, format!("{item:?}: {reason}; expected host:port[,host:port…]")),
            }
        }
        hosts
    }

    pub(crate) fn secret(&self, name: &'static str) -> Option<SecretString> {
        self.get(name).map(|s| SecretString::from(s.to_string()))
    }
}

/// A connection URL whose secret parts never leave through `Debug` or `Display`.
#[derive(Clone)]
pub struct ConnUrl {
    raw: SecretString,
    redacted: String,
    scheme: String,
}

impl ConnUrl {
    pub fn parse(raw: &str, schemes: &[&str]) -> Result<ConnUrl, String> {
        let parsed = url::Url::parse(raw).map_err(|e| e.to_string())?;
        let scheme = parsed.scheme().to_ascii_lowercase();
        if !schemes.is_empty() && !schemes.contains(&scheme.as_str()) {
            return Err(format!("scheme {scheme:?} is not accepted here; expected one of: {}", schemes.join(", ")));
        }
        Ok(ConnUrl { raw: SecretString::from(raw.to_string()), redacted: redact_text(raw), scheme })
    }

    /// The URL with its credentials, for handing to a driver and nothing else.
    pub fn expose(&self) -> &str {
        self.raw.expose_secret()
    }

    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
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
    pub host: String,
    pub port: u16,
}

impl HostPort {
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
