//! Every environment variable pal reads, parsed and validated once at start-up:
//! the selection of providers here, everything else by the module that owns it
//! (each provider, the sealing keys, the database pool), all through one reader.
//! Settings made in code ([`SettingsBuilder`]) go through the same reader.

mod builder;
mod vars;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::audit::AuditSettings;
use crate::cache::{CacheConfig, CacheProvider};
use crate::crypto::{self, SealingKeys};
use crate::db::DbSettings;
use crate::env::{Env, Var, process_vars};
use crate::error::{ConfigError, ConfigErrors};
use crate::registry;

pub use builder::SettingsBuilder;
pub use vars::{owned_prefixes, variables};

/// pal's whole configuration, read from the environment (or built in code with
/// [`Settings::builder`]) and validated at once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `None` when the program read only the database's part ([`Parts`]).
    pub cache: Option<CacheSettings>,
    /// `None` when the program read only the cache's part and the cache needs no database.
    pub db: Option<DbSettings>,
    /// Where and how the audit log is kept.
    pub audit: AuditSettings,
    /// `METRICS_ENABLED`: whether the factory adds the instrumentation layers.
    pub metrics: bool,
    /// Problems that do not stop start-up, such as an unknown `CACHE_…` variable.
    pub warnings: Vec<String>,
}

/// The selected cache provider and the settings every provider shares.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CacheSettings {
    /// `CACHE_PROVIDER`: the provider selected.
    pub provider: &'static CacheProvider,
    /// The selected provider's own configuration; it builds the adapter.
    pub config: Arc<dyn CacheConfig>,
    /// `CACHE_KEY_PREFIX`: added to every key; empty by default.
    pub key_prefix: String,
    /// Keys for hashing cache keys and sealing values; `None` stores plaintext.
    pub sealing: Option<SealingKeys>,
    /// `CACHE_MAX_VALUE_BYTES`: the largest value, as stored.
    pub max_value_bytes: usize,
    /// `CACHE_NEAR_MAX_BYTES` and `CACHE_NEAR_TTL_MAX_MS`: the near cache, if any.
    pub near: crate::cache::near::NearSettings,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigErrors> {
        Settings::from_map(process_vars())
    }

    /// Reads the given variables as if they were the environment (for tests and tools).
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Settings, ConfigErrors> {
        Settings::from_map(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// Reads the given map as if it were the environment.
    pub fn from_map(vars: BTreeMap<String, String>) -> Result<Settings, ConfigErrors> {
        Settings::read_with(vars, &[], |_| ()).map(|(settings, ())| settings)
    }

    /// Reads pal's variables and an application's own (declared in `extra`, parsed
    /// by `read`) in one pass through one reader, so every problem of both is
    /// reported at once, in pal's words. A declared variable is never taken for a
    /// misspelling of pal's; an undeclared one is warned about only when it is
    /// within two edits of a declared name (`DB_PROVDER`), so `DB_NAME` or
    /// `REDIS_HOST` of the application's own pass in silence.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use pal::Settings;
    /// use pal::env::Var;
    ///
    /// /// The application's variables, declared as pal declares its own.
    /// const APP_VARS: &[Var] = &[
    ///     Var::new("NOTES_PAGE_SIZE", Some("20"), "Notes per page"),
    ///     Var::new("NOTES_BANNER", None, "Text shown above the notes"),
    /// ];
    ///
    /// struct AppConfig {
    ///     page_size: u32,
    ///     banner: Option<String>,
    /// }
    ///
    /// // In a service: pal::env::process_vars().
    /// let vars = BTreeMap::from([
    ///     ("CACHE_PROVIDER".to_string(), "memory".to_string()),
    ///     ("DB_PROVIDER".to_string(), "sqlite".to_string()),
    ///     ("NOTES_PAGE_SIZE".to_string(), "50".to_string()),
    /// ]);
    /// let (settings, app) = Settings::read_with(vars.clone(), APP_VARS, |env| AppConfig {
    ///     page_size: env.int("NOTES_PAGE_SIZE", 1, 1000),
    ///     banner: env.get("NOTES_BANNER").map(str::to_string),
    /// })
    /// .expect("valid settings");
    /// assert_eq!((app.page_size, app.banner), (50, None));
    /// assert_eq!(settings.cache_settings().unwrap().provider.name, "memory");
    ///
    /// // A bad value of the application's is reported with pal's own problems.
    /// let mut bad = vars;
    /// bad.insert("NOTES_PAGE_SIZE".into(), "lots".into());
    /// bad.insert("DB_POOL_MAX".into(), "many".into());
    /// let err = Settings::read_with(bad, APP_VARS, |env| env.int("NOTES_PAGE_SIZE", 1u32, 1000)).err().unwrap();
    /// assert_eq!(err.errors.len(), 2, "{err}");
    /// assert!(err.to_string().contains("NOTES_PAGE_SIZE=\"lots\" is not valid"), "{err}");
    /// ```
    pub fn read_with<T>(
        vars: BTreeMap<String, String>,
        extra: &[Var],
        read: impl FnOnce(&mut Env) -> T,
    ) -> Result<(Settings, T), ConfigErrors> {
        Settings::read_parts(vars, extra, Parts::ALL, read)
    }

    /// [`read_with`](Self::read_with) for a program that uses only some parts:
    /// the variables of a part it does not use are neither validated nor
    /// required, so a database tool does not need `REDIS_URL` or sealing keys. A
    /// cache that keeps data in the database (redis-hybrid) brings the database
    /// part with it.
    pub fn read_parts<T>(
        vars: BTreeMap<String, String>,
        extra: &[Var],
        parts: Parts,
        read: impl FnOnce(&mut Env) -> T,
    ) -> Result<(Settings, T), ConfigErrors> {
        let mut env = Env::new(vars, variables().into_iter().chain(extra.iter().cloned()));
        env.warn_misspelled();
        let cache = match parts.cache {
            true => Some(cache_settings(&mut env)),
            false => None,
        };
        let database_needed =
            parts.database || cache.as_ref().is_some_and(|c| c.as_ref().is_some_and(|c| c.config.needs_database()));
        let db = match database_needed {
            true => {
                let database = env.choice("DB_PROVIDER", &registry::database_names(), registry::database);
                Some(DbSettings::read(&mut env, database.map(|e| e.provider)))
            }
            false => None,
        };
        let audit = AuditSettings::read(&mut env);
        let metrics = env.bool("METRICS_ENABLED");
        let extra = read(&mut env);
        let warnings = env.finish()?;
        // Each reader records why it has nothing, so a part that was read and came
        // back empty has already failed `finish`.
        let incomplete = || ConfigErrors::from(ConfigError::Contradiction("the configuration is incomplete".into()));
        let cache = cache.map(|c| c.ok_or_else(incomplete)).transpose()?;
        let db = db
            .map(|d| {
                d.map(|mut d| {
                    d.metrics = metrics;
                    d
                })
                .ok_or_else(incomplete)
            })
            .transpose()?;
        Ok((Settings { cache, db, audit, metrics, warnings }, extra))
    }

    /// The cache's settings, or a `Config` error when this program did not read
    /// them (see [`Parts`]).
    pub fn cache_settings(&self) -> crate::Result<&CacheSettings> {
        self.cache.as_ref().ok_or_else(|| not_read("cache", "CACHE_PROVIDER"))
    }

    /// The database's settings, or a `Config` error when this program did not read
    /// them (see [`Parts`]).
    pub fn db_settings(&self) -> crate::Result<&DbSettings> {
        self.db.as_ref().ok_or_else(|| not_read("database", "DB_PROVIDER"))
    }
}

fn not_read(part: &str, var: &str) -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Config,
        format!(
            "the {part} was not configured: this program read its settings without the {part} part ({var} and its variables)"
        ),
    )
}

/// The parts of the configuration a program uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// Whether the cache's variables are read.
    pub cache: bool,
    /// Whether the database's variables are read.
    pub database: bool,
}

impl Parts {
    /// Both providers.
    pub const ALL: Parts = Parts { cache: true, database: true };
    /// The cache alone (with the database when the cache keeps data there).
    pub const CACHE: Parts = Parts { cache: true, database: false };
    /// The database alone.
    pub const DATABASE: Parts = Parts { cache: false, database: true };
    /// Neither provider: the audit, metrics and a tool's own variables only.
    pub const NONE: Parts = Parts { cache: false, database: false };
}

/// Selects the cache provider and reads every provider's variables, so a bad
/// value is reported whichever provider is selected.
fn cache_settings(env: &mut Env) -> Option<CacheSettings> {
    let selected = env.choice("CACHE_PROVIDER", &registry::cache_names(), registry::cache);
    let mut config = None;
    for entry in registry::CACHES {
        let is_selected = selected.is_some_and(|s| std::ptr::eq(s, entry));
        let parsed = (entry.configure)(env, is_selected);
        if is_selected {
            config = parsed;
        }
    }
    let outside = selected.map(|e| e.provider).filter(|p| p.capabilities.leaves_process).map(|p| p.name);
    let sealing = crypto::config::read(env, outside);
    let key_prefix = env.string("CACHE_KEY_PREFIX");
    let max_value_bytes = crate::cache::limit::read(env);
    let tracks = selected.is_some_and(|e| e.provider.capabilities.invalidations);
    let near = crate::cache::near::read(env, selected.map(|e| e.provider), tracks);
    Some(CacheSettings { provider: selected?.provider, config: config?, key_prefix, sealing, max_value_bytes, near })
}

#[cfg(test)]
mod tests;
