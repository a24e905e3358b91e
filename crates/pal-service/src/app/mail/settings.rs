//! `SMTP_*`, read and checked when the configuration is: a relay that could
//! never carry a code (no sender, a template without the code, plaintext to
//! another machine, a certificate nothing would verify) stops start-up.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use percent_encoding::percent_decode_str;
use secrecy::SecretString;

use pal::env::{ConnUrl, Env};

use super::templates::Templates;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plaintext first, then STARTTLS, which the relay must offer.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=none`: no encryption, to a loopback relay only.
    Plaintext,
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::StartTls => "starttls",
            Security::Implicit => "tls",
            Security::Plaintext => "plaintext",
        })
    }
}

/// A user name and password for the relay, as the URL gave them (percent-decoded).
#[derive(Clone)]
pub struct Login {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: SecretString,
}

/// Where and how code mails are sent. Its `Debug` leaves the login out.
#[derive(Clone)]
pub struct MailSettings {
    /// The relay's host name or address, without brackets.
    pub host: String,
    /// The relay's port: 587 for `smtp://`, 465 for `smtps://` unless given.
    pub port: u16,
    /// How the connection is protected.
    pub security: Security,
    /// The login from the URL, when it has one.
    pub login: Option<Login>,
    /// `SMTP_FROM`: the sender of every code mail.
    pub from: Mailbox,
    /// `SMTP_CA_FILE` and its certificates (PEM), trusted instead of the public roots.
    pub ca: Option<(String, Vec<u8>)>,
    /// What the mails say.
    pub templates: Templates,
    /// `SMTP_TIMEOUT_MS`: the limit of one attempt, from connecting to the relay's last answer.
    pub timeout: Duration,
    /// `SMTP_MAX_ATTEMPTS`: tries of one mail, the first included.
    pub attempts: usize,
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("relay", &self.relay())
            .field("security", &self.security)
            .field("login", &self.login.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from.to_string())
            .field("ca", &self.ca.as_ref().map(|(file, _)| file))
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl MailSettings {
    /// Reads `SMTP_*`: `None` when `SMTP_URL` is unset (codes go to the log) or
    /// when something is wrong, which is then recorded.
    pub fn read(env: &mut Env) -> Option<MailSettings> {
        if !env.is_set("SMTP_URL") {
            let others = ["SMTP_FROM", "SMTP_CA_FILE", "SMTP_TEMPLATE_DIR"];
            let set: Vec<&str> = others.into_iter().filter(|name| env.is_set(name)).collect();
            for other in set {
                env.contradiction(format!(
                    "{other} is set but SMTP_URL is not, so no mail is sent and codes go to the log only: \
                     set SMTP_URL to the mail relay, or unset {other}"
                ));
            }
            return None;
        }
        let relay = env.url("SMTP_URL", &["smtp", "smtps"]).and_then(|url| relay(env, &url));
        let from = sender(env);
        let ca = ca_file(env, relay.as_ref());
        let templates = Templates::read(env);
        let timeout = env.millis("SMTP_TIMEOUT_MS");
        let attempts = env.int("SMTP_MAX_ATTEMPTS", 1usize, 10);
        let Relay { host, port, security, login } = relay?;
        Some(MailSettings {
            host,
            port,
            security,
            login,
            from: from?,
            ca: ca?,
            templates: templates?,
            timeout,
            attempts,
        })
    }

    /// `scheme://host:port` without the login, for logs.
    pub fn relay(&self) -> String {
        let scheme = if self.security == Security::Implicit { "smtps" } else { "smtp" };
        match self.host.contains(':') {
            true => format!("{scheme}://[{}]:{}", self.host, self.port),
            false => format!("{scheme}://{}:{}", self.host, self.port),
        }
    }
}

/// What `SMTP_URL` says.
struct Relay {
    host: String,
    port: u16,
    security: Security,
    login: Option<Login>,
}

/// Whether `host` is this machine: plaintext cannot be read on the way there.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn relay(env: &mut Env, url: &ConnUrl) -> Option<Relay> {
    let mut invalid = |why: String| env.invalid("SMTP_URL", url.redacted(), why);
    let Ok(parsed) = url::Url::parse(url.expose()) else { return None };
    let implicit = url.scheme() == "smtps";
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        invalid("no host: expected smtp://[user:password@]host[:port] or smtps://…".into());
        return None;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
        invalid("nothing may follow host:port but ?tls=none (smtp:// to a loopback relay only)".into());
        return None;
    }
    let mut plaintext = false;
    for (key, value) in parsed.query_pairs() {
        match (key.as_ref(), value.as_ref(), implicit) {
            ("tls", "none", false) => plaintext = true,
            ("tls", "required", false) => {}
            ("tls", _, true) => invalid("smtps:// is TLS from the first byte; tls= applies to smtp:// only".into()),
            ("tls", other, false) => invalid(format!(
                "tls={other} is not known: smtp:// always requires STARTTLS, and tls=none (loopback only) turns TLS off"
            )),
            (other, _, _) => invalid(format!("{other}= is not known; the only parameter is tls=none")),
        }
    }
    if plaintext && !is_loopback(&host) {
        invalid(format!(
            "tls=none sends codes and any password in plaintext, which is allowed only to a loopback relay \
             (127.0.0.1, ::1, localhost), not to {host}: use smtp://{host}:587 (STARTTLS) or smtps://{host}:465"
        ));
        return None;
    }
    let login = login(&parsed).map_err(invalid).ok()?;
    let security = match (implicit, plaintext) {
        (true, _) => Security::Implicit,
        (false, true) => Security::Plaintext,
        (false, false) => Security::StartTls,
    };
    let port = parsed.port().unwrap_or(if implicit { 465 } else { 587 });
    Some(Relay { host, port, security, login })
}

/// The URL's user and password, percent-decoded: both, or neither.
fn login(url: &url::Url) -> Result<Option<Login>, String> {
    let decode = |part: &str, what: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| format!("the {what} is not UTF-8 once percent-decoded"))
    };
    match (url.username(), url.password()) {
        ("", None) => Ok(None),
        ("", Some(_)) => Err("a password without a user name: write smtp://user:password@host".into()),
        (_, None) => Err("a user name without a password: write smtp://user:password@host".into()),
        (user, Some(password)) => Ok(Some(Login {
            user: decode(user, "user name")?,
            password: SecretString::from(decode(password, "password")?),
        })),
    }
}

fn sender(env: &mut Env) -> Option<Mailbox> {
    let Some(raw) = env.get("SMTP_FROM").map(str::to_string) else {
        env.missing("SMTP_FROM", "when SMTP_URL is set (the sender of the code mails)", "no-reply@example.com");
        return None;
    };
    match raw.parse::<Mailbox>() {
        Ok(mailbox) => Some(mailbox),
        Err(e) => {
            env.invalid(
                "SMTP_FROM",
                &raw,
                format!("not a mail address ({e}); expected no-reply@example.com or pal <no-reply@example.com>"),
            );
            None
        }
    }
}

/// `SMTP_CA_FILE`, checked now and against the relay: `Some(None)` when it is
/// unset and need not be.
fn ca_file(env: &mut Env, relay: Option<&Relay>) -> Option<Option<(String, Vec<u8>)>> {
    let file = env.get("SMTP_CA_FILE").map(str::to_string);
    let ca = match file {
        None => None,
        Some(file) => match pal::tls::check_ca(&file) {
            Ok(pem) => Some((file, pem)),
            Err(why) => {
                env.invalid("SMTP_CA_FILE", &file, why);
                return None;
            }
        },
    };
    let relay = relay?;
    match (relay.security, &ca) {
        (Security::Plaintext, Some(_)) => {
            env.contradiction(
                "SMTP_CA_FILE is set but SMTP_URL has tls=none, so no certificate is checked: \
                 remove tls=none to use STARTTLS, or unset SMTP_CA_FILE",
            );
            None
        }
        (Security::StartTls | Security::Implicit, None) if pal::tls::public_roots_cannot_apply(&relay.host) => {
            env.contradiction(format!(
                "SMTP_URL names {}, which no public CA certifies, so TLS to it cannot be verified: set \
                 SMTP_CA_FILE to the CA that signed the relay's certificate",
                relay.host
            ));
            None
        }
        _ => Some(ca),
    }
}

#[cfg(test)]
mod tests;
