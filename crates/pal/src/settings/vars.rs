//! The table of every variable the library reads, assembled from the modules
//! that own them. Defaults live in those declarations and only there: the parser,
//! `pal --help`, the README table and `.env.example` are all derived from it.

use crate::crypto;
use crate::db::config_vars;
use crate::env::Var;
use crate::registry::{self, CACHES, DATABASES};

/// Every variable, in the order `pal --help` lists them.
pub fn variables() -> Vec<Var> {
    let mut vars = vec![
        Var::new("CACHE_PROVIDER", None, "")
            .with_default(registry::DEFAULT_CACHE.name)
            .with_help(format!("Cache provider: {}", registry::cache_names().join(" | "))),
        Var::new("CACHE_KEY_PREFIX", Some(""), "Prefix added to every cache key (a namespace shared by all providers)"),
    ];
    vars.extend(crate::cache::limit::VARS.iter().cloned());
    vars.extend(crate::cache::near::VARS.iter().cloned());
    for var in crypto::config::VARS {
        vars.push(match var.name {
            "CACHE_INSECURE_NO_ENCRYPTION" => var.clone().with_help(format!(
                "Store cache keys and values in plaintext on {} (not recommended)",
                listed(CACHES.iter().map(|e| e.provider).filter(|p| p.capabilities.leaves_process).map(|p| p.name))
            )),
            _ => var.clone(),
        });
    }
    vars.extend(CACHES.iter().flat_map(|e| e.provider.vars.iter().cloned()));
    vars.push(
        Var::new("DB_PROVIDER", None, "")
            .with_default(registry::DEFAULT_DATABASE.name)
            .with_help(format!("Database provider: {}", registry::database_names().join(" | "))),
    );
    let embedded: Vec<_> = DATABASES.iter().map(|e| e.provider).filter(|p| p.capabilities.embedded).collect();
    for var in config_vars() {
        vars.push(match var.name {
            "DATABASE_URL" => {
                let mut schemes: Vec<String> = Vec::new();
                for p in DATABASES.iter().map(|e| e.provider) {
                    let scheme = format!("{}://…", p.url_schemes[0]);
                    if !schemes.contains(&scheme) {
                        schemes.push(scheme);
                    }
                }
                let defaults = embedded
                    .iter()
                    .filter_map(|p| p.default_url.map(|url| format!("; {} defaults to {url}", p.name)))
                    .collect::<String>();
                var.clone().with_help(format!("Database URL ({}){defaults}", schemes.join(", ")))
            }
            "DB_AUTO_MIGRATE" => var.clone().with_help(format!(
                "Apply migrations at start-up (default: true for {}, false otherwise)",
                listed(embedded.iter().map(|p| p.name))
            )),
            _ => var.clone(),
        });
    }
    vars.extend(DATABASES.iter().flat_map(|e| e.provider.vars.iter().cloned()));
    vars.extend(crate::audit::VARS.iter().cloned());
    vars.extend(crate::telemetry::VARS.iter().cloned());
    vars
}

/// Prefixes of the variables above. A variable with one of these prefixes that is
/// not in the table is most likely a typo, and is reported as a warning.
pub fn owned_prefixes() -> Vec<&'static str> {
    let mut prefixes = vec!["CACHE_", "DB_", "METRICS_", "AUDIT_"];
    prefixes.extend(CACHES.iter().flat_map(|e| e.provider.var_prefixes.iter().copied()));
    prefixes
}

/// `a`, `a and b`, `a, b and c`.
fn listed<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => "none".to_string(),
    }
}
