//! The tool's own variables, and every variable pal reads rendered for people:
//! `--help`, the README table and `.env.example` all come from here.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use pal::env::{Env, Var};

use pal_service::app::config::{self as service, ServiceSettings};
use pal_service::app::mail::{self, MailSettings};

pub(crate) const VARS: &[Var] = &[
    Var::new(
        "BIND",
        Some("127.0.0.1"),
        "pal serve: address to listen on (an IP address, or a host name: every address it resolves to)",
    ),
    Var::new("PORT", Some("8080"), "pal serve: port to listen on"),
    Var::new(
        "METRICS_BIND",
        Some(""),
        "pal serve: address of a separate /metrics listener (empty: /metrics is served on BIND:PORT)",
    ),
    Var::new(
        "METRICS_PORT",
        Some(""),
        "pal serve: port of the separate /metrics listener (needs METRICS_BIND, or binds BIND)",
    ),
    Var::new("RUST_LOG", Some("info"), "Log filter (tracing EnvFilter syntax)"),
    Var::new("LOG_FORMAT", Some("text"), "Log lines: text | json (one JSON object per line, same fields)"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// What the tools read beside the library's settings.
#[derive(Debug, Clone)]
pub(crate) struct ToolSettings {
    pub log_filter: String,
    pub log_format: LogFormat,
    /// `pal serve`'s listeners and routes; read (and validated) only for `pal serve`.
    pub serve: Option<ServeSettings>,
}

/// Where `pal serve` listens and what its routes allow.
#[derive(Debug, Clone)]
pub(crate) struct ServeSettings {
    /// Every address `BIND` names: an IP address, or each address a host name
    /// resolves to (`localhost`: 127.0.0.1 and ::1), as other servers listen.
    pub bind: Vec<IpAddr>,
    pub port: u16,
    /// Where `/metrics` listens when not on `BIND:PORT`.
    pub metrics_addr: Option<Vec<SocketAddr>>,
    /// The reference service's routes.
    pub service: ServiceSettings,
    /// Where one-time codes are mailed; `None`: to the log only.
    pub mail: Option<MailSettings>,
}

impl ToolSettings {
    /// `serves`: whether the command is `pal serve`; other commands neither need
    /// nor validate its variables.
    pub(crate) fn read(env: &mut Env, serves: bool) -> ToolSettings {
        let log_format = env
            .choice("LOG_FORMAT", &["text", "json"], |v| match v {
                "text" => Some(LogFormat::Text),
                "json" => Some(LogFormat::Json),
                _ => None,
            })
            .unwrap_or(LogFormat::Text);
        let serve = serves.then(|| ServeSettings::read(env));
        ToolSettings { log_filter: env.string("RUST_LOG"), log_format, serve }
    }
}

impl ServeSettings {
    fn read(env: &mut Env) -> ServeSettings {
        let raw = env.string("BIND");
        let bind = addresses(env, "BIND", &raw).unwrap_or_else(|| vec![IpAddr::from([127, 0, 0, 1])]);
        let port = env.int("PORT", 1u16, u16::MAX);
        let metrics_addr = metrics_addr(env, &bind, port);
        let service = ServiceSettings::read(env, &bind);
        let mail = MailSettings::read(env);
        ServeSettings { bind, port, metrics_addr, service, mail }
    }
}

/// The addresses `raw` names: itself when it is an IP address, else every address
/// the host name resolves to (IPv4 first), once each. Records why when there is none.
fn addresses(env: &mut Env, var: &'static str, raw: &str) -> Option<Vec<IpAddr>> {
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(vec![ip]);
    }
    let resolved = (raw, 0u16).to_socket_addrs().map(|found| found.map(|a| a.ip()).collect::<Vec<_>>());
    match resolved {
        Ok(mut found) if !found.is_empty() => {
            found.sort_by_key(|ip| ip.is_ipv6());
            found.dedup();
            Some(found)
        }
        Ok(_) => {
            env.invalid(
                var,
                raw,
                "the host name resolves to no address; use an IP address such as 127.0.0.1 or 0.0.0.0",
            );
            None
        }
        Err(e) => {
            env.invalid(
                var,
                raw,
                format!("expected an IP address such as 127.0.0.1 or 0.0.0.0, or a host name that resolves ({e})"),
            );
            None
        }
    }
}

/// `METRICS_BIND` and `METRICS_PORT`: either one asks for a listener of its own;
/// the other then defaults to `BIND`, or to `PORT + 1`.
fn metrics_addr(env: &mut Env, bind: &[IpAddr], port: u16) -> Option<Vec<SocketAddr>> {
    let raw_bind = env.string("METRICS_BIND");
    let raw_port = env.string("METRICS_PORT");
    if raw_bind.is_empty() && raw_port.is_empty() {
        return None;
    }
    let metrics_bind = match raw_bind.as_str() {
        "" => bind.to_vec(),
        raw => addresses(env, "METRICS_BIND", raw).unwrap_or_else(|| bind.to_vec()),
    };
    let metrics_port = match raw_port.as_str() {
        "" => port.checked_add(1).unwrap_or(port),
        _ => env.int("METRICS_PORT", 1u16, u16::MAX),
    };
    if metrics_port == port && metrics_bind.iter().any(|ip| bind.contains(ip)) {
        env.contradiction(format!(
            "METRICS_BIND/METRICS_PORT name an address of BIND:PORT (port {port}): leave both empty to serve \
             /metrics there, or choose another port"
        ));
    }
    Some(metrics_bind.into_iter().map(|ip| SocketAddr::new(ip, metrics_port)).collect())
}

/// The variables of `./.env`, when the file exists. A line that cannot be read is
/// reported, not skipped: the file is configuration.
pub(crate) fn dotenv_file() -> Result<BTreeMap<String, String>, String> {
    let path = std::path::Path::new(".env");
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!(".env cannot be read: {e}")),
    };
    iter.map(|item| item.map_err(|e| format!(".env: {}", pal::error::redact_text(&e.to_string())))).collect()
}

/// The tool's own variables: the listener and logs, then the reference service's,
/// then its code delivery's.
pub(crate) fn declared() -> Vec<Var> {
    VARS.iter().chain(service::VARS).chain(mail::VARS).cloned().collect()
}

/// Every variable: the library's, then the tool's own.
pub(crate) fn all() -> Vec<Var> {
    pal::settings::variables().into_iter().chain(declared()).collect()
}

fn default_shown(var: &Var) -> String {
    var.default.map(|d| format!("={d}")).unwrap_or_default()
}

/// Plain text for `pal --help`: `NAME=default` then the meaning, a layout that
/// stays readable when the terminal wraps it.
pub(crate) fn help_table() -> String {
    let mut out = String::from("Environment variables (NAME=default):\n");
    for v in all() {
        out.push_str(&format!("  {}{}\n      {}\n", v.name, default_shown(&v), v.help));
    }
    out
}

/// The README's table.
pub(crate) fn markdown_table() -> String {
    let mut out = String::from("| Variable | Default | Meaning |\n|---|---|---|\n");
    for v in all() {
        let default = match v.default {
            Some("") => "*(empty)*".to_string(),
            Some(d) => format!("`{d}`"),
            None => "—".to_string(),
        };
        let secret = if v.secret { " (secret)" } else { "" };
        out.push_str(&format!("| `{}` | {default} | {}{secret} |\n", v.name, v.help.replace('|', "\\|")));
    }
    out
}

/// A `.env` to start from: every variable commented out at its default, so the
/// file as it is changes nothing.
pub(crate) fn dotenv_example() -> String {
    let mut out = String::from(
        "# Every variable pal reads (`pal vars --format dotenv`), commented out at its default.\n\
         # Copy to .env and uncomment what you change; the environment wins over the file.\n",
    );
    for v in all() {
        out.push_str(&format!("\n# {}\n#{}={}\n", v.help, v.name, v.default.unwrap_or_default()));
    }
    out
}
