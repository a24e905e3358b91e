//! The tool's own variables, and every variable pal reads rendered for people:
//! `--help`, the README table and `.env.example` all come from here.

use std::collections::BTreeMap;
use std::net::IpAddr;

use pal::env::{Env, Var};
use pal::error::ConfigError;

pub const VARS: &[Var] = &[
    Var::new("BIND", Some("127.0.0.1"), "pal serve: address to listen on"),
    Var::new("PORT", Some("8080"), "pal serve: port to listen on"),
    Var::new("RUST_LOG", Some("info"), "Log filter (tracing EnvFilter syntax)"),
];

/// What the tools read beside the library's settings.
#[derive(Debug, Clone)]
pub struct ToolSettings {
    pub bind: IpAddr,
    pub port: u16,
    pub log_filter: String,
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
        ToolSettings { bind, port: env.int("PORT", 1u16, u16::MAX), log_filter: env.string("RUST_LOG") }
    }
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

/// Every variable: the library's, then the tool's own.
pub fn all() -> Vec<Var> {
    pal::settings::variables().into_iter().chain(VARS.iter().cloned()).collect()
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
