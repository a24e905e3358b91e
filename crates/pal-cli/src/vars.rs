//! The tool's own variables, and every variable pal reads rendered for people:
//! `--help`, the README table and `.env.example` all come from here.

use std::collections::BTreeMap;
use std::net::IpAddr;

use pal::env::{Env, Var};
use pal::error::ConfigError;

use crate::server::app::config::{self as service, ServiceSettings};

pub const VARS: &[Var] = &[
    Var::new("BIND", Some("127.0.0.1"), "pal serve: address to listen on"),
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
pub enum LogFormat {
    Text,
    Json,
}

/// What the tools read beside the library's settings.
#[derive(Debug, Clone)]
pub struct ToolSettings {
    pub bind: IpAddr,
    pub port: u16,
    pub log_filter: String,
    pub log_format: LogFormat,
    /// Where `/metrics` listens when not on `BIND:PORT`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The reference service's routes.
    pub service: ServiceSettings,
}

impl ToolSettings {
    pub fn read(env: &mut Env) -> ToolSettings {
        let raw = env.string("BIND");
        let bind = raw.parse().unwrap_or_else(|_| {
            env.fail(ConfigError::InvalidValue {
                var: "BIND",
                value: raw,
                reason: "expected an IP address such as 127.0.0.1 or 0.0.0.0".into(),
            });
            IpAddr::from([127, 0, 0, 1])
        });
        let port = env.int("PORT", 1u16, u16::MAX);
        let log_format = env
            .choice("LOG_FORMAT", &["text", "json"], |v| match v {
                "text" => Some(LogFormat::Text),
                "json" => Some(LogFormat::Json),
                _ => None,
            })
            .unwrap_or(LogFormat::Text);
        let metrics_addr = metrics_addr(env, bind, port);
        let service = ServiceSettings::read(env, bind);
        ToolSettings { bind, port, log_filter: env.string("RUST_LOG"), log_format, metrics_addr, service }
    }
}

/// `METRICS_BIND` and `METRICS_PORT`: either one asks for a listener of its own;
/// the other then defaults to `BIND`, or to `PORT + 1`.
fn metrics_addr(env: &mut Env, bind: IpAddr, port: u16) -> Option<std::net::SocketAddr> {
    let raw_bind = env.string("METRICS_BIND");
    let raw_port = env.string("METRICS_PORT");
    if raw_bind.is_empty() && raw_port.is_empty() {
        return None;
    }
    let metrics_bind = match raw_bind.as_str() {
        "" => bind,
        raw => raw.parse().unwrap_or_else(|_| {
            env.invalid("METRICS_BIND", raw, "expected an IP address such as 127.0.0.1 or 0.0.0.0");
            bind
        }),
    };
    let metrics_port = match raw_port.as_str() {
        "" => port.checked_add(1).unwrap_or(port),
        _ => env.int("METRICS_PORT", 1u16, u16::MAX),
    };
    if metrics_bind == bind && metrics_port == port {
        env.contradiction(format!(
            "METRICS_BIND/METRICS_PORT name the address of BIND:PORT ({bind}:{port}): leave both empty to serve \
             /metrics there, or choose another port"
        ));
    }
    Some(std::net::SocketAddr::new(metrics_bind, metrics_port))
}

/// The variables of `./.env`, when the file exists. A line that cannot be read is
/// reported, not skipped: the file is configuration.
pub fn dotenv_file() -> Result<BTreeMap<String, String>, String> {
    let path = std::path::Path::new(".env");
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!(".env cannot be read: {e}")),
    };
    iter.map(|item| item.map_err(|e| format!(".env: {}", pal::error::redact_text(&e.to_string())))).collect()
}

/// The tool's own variables: the listener and logs, then the reference service's.
pub fn declared() -> Vec<Var> {
    VARS.iter().chain(service::VARS).cloned().collect()
}

/// Every variable: the library's, then the tool's own.
pub fn all() -> Vec<Var> {
    pal::settings::variables().into_iter().chain(declared()).collect()
}

fn default_shown(var: &Var) -> String {
    var.default.map(|d| format!("={d}")).unwrap_or_default()
}

/// Plain text for `pal --help`: `NAME=default` then the meaning, a layout that
/// stays readable when the terminal wraps it.
pub fn help_table() -> String {
    let mut out = String::from("Environment variables (NAME=default):\n");
    for v in all() {
        out.push_str(&format!("  {}{}\n      {}\n", v.name, default_shown(&v), v.help));
    }
    out
}

/// The README's table.
pub fn markdown_table() -> String {
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
pub fn dotenv_example() -> String {
    let mut out = String::from(
        "# Every variable pal reads (`pal vars --format dotenv`), commented out at its default.\n\
         # Copy to .env and uncomment what you change; the environment wins over the file.\n",
    );
    for v in all() {
        out.push_str(&format!("\n# {}\n#{}={}\n", v.help, v.name, v.default.unwrap_or_default()));
    }
    out
}
