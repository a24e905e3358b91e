//! [`Settings`] from code: an application that keeps its configuration in its
//! own files names pal's variables through typed setters, and the one environment
//! reader parses and validates them, exactly as if they had been set in the
//! environment.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Settings, variables};
use crate::env::{Env, Var, misspelling_of, process_vars};
use crate::error::{ConfigError, ConfigErrors, redact_text};

/// Builds [`Settings`] in code. Each setter stands for a documented variable
/// (the README's table, `pal vars`), and [`build`](Self::build) reads them with
/// the environment reader: a bad value gets the error it would get in the
/// environment, every problem is reported at once, and a variable set in code is
/// never validated differently from the same one set in a deployment.
///
/// Start [`empty`](Self::empty) ([`Settings::builder`]), where unset variables
/// take their defaults, or [`from_env`](Self::from_env), where the process
/// environment comes first and the setters override it.
///
/// ```
/// use pal::{CacheService, Settings, Ttl};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> pal::Result<()> {
/// let settings = Settings::builder()
///     .cache_provider("memory")
///     .database("sqlite", "sqlite::memory:")
///     .key_prefix("notes:")
///     .metrics(false)
///     // Any other declared variable, by its name.
///     .var("DB_POOL_MAX", "4")
///     .build()?;
/// assert_eq!(settings.cache_settings()?.provider.name, "memory");
/// assert_eq!(settings.db_settings()?.pool.max, 4);
///
/// let cache = pal::factory::build_cache(&settings).await?;
/// cache.set("greeting", "hello".into(), Ttl::from_secs(60)?).await?;
/// assert_eq!(cache.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
///
/// // Values are checked as in the environment, and names too: pal reads no `DB_POOL_MAXIMUM`.
/// let err = Settings::builder().database("sqlite", "sqlite::memory:").var("DB_POOL_MAXIMUM", "4").build();
/// assert!(err.unwrap_err().to_string().contains("DB_POOL_MAXIMUM is not a variable pal reads"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct SettingsBuilder {
    vars: BTreeMap<String, String>,
    /// The names given to [`var`](Self::var), checked against the declarations when building.
    named: BTreeSet<String>,
}

impl Settings {
    /// A builder with nothing set: unset variables take their defaults. See
    /// [`SettingsBuilder`].
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::empty()
    }
}

impl SettingsBuilder {
    /// Nothing set: every variable not set here takes its default.
    pub fn empty() -> SettingsBuilder {
        SettingsBuilder::default()
    }

    /// The process environment, which the setters override: a deployment's
    /// variables still apply where the code does not decide.
    pub fn from_env() -> SettingsBuilder {
        SettingsBuilder { vars: process_vars(), named: BTreeSet::new() }
    }

    fn set(mut self, name: &str, value: impl Into<String>) -> SettingsBuilder {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    fn flag(self, name: &str, on: bool) -> SettingsBuilder {
        self.set(name, if on { "true" } else { "false" })
    }

    /// `CACHE_PROVIDER`: `memory`, `redis`, `redis-hybrid`, `keydb` or `memcached`.
    pub fn cache_provider(self, name: impl Into<String>) -> SettingsBuilder {
        self.set("CACHE_PROVIDER", name)
    }

    /// `DB_PROVIDER` and `DATABASE_URL`: `postgresql`, `mysql`, `cockroachdb` or
    /// `sqlite`, and where it is.
    pub fn database(self, provider: impl Into<String>, url: impl Into<String>) -> SettingsBuilder {
        self.set("DB_PROVIDER", provider).set("DATABASE_URL", url)
    }

    /// `REDIS_URL`: the Redis server of `redis` and `redis-hybrid`.
    pub fn redis_url(self, url: impl Into<String>) -> SettingsBuilder {
        self.set("REDIS_URL", url)
    }

    /// `CACHE_KEY_PREFIX`: added to every cache key.
    pub fn key_prefix(self, prefix: impl Into<String>) -> SettingsBuilder {
        self.set("CACHE_KEY_PREFIX", prefix)
    }

    /// `CACHE_KEY_SECRET` and `CACHE_ENCRYPTION_KEYS`: hash cache keys and seal
    /// values (the two values `pal keygen` or
    /// [`generate_key_lines`](crate::crypto::generate_key_lines) prints). Refused
    /// at build in a pal built without the `sealing` feature.
    pub fn sealing_keys(self, key_secret: impl Into<String>, encryption_keys: impl Into<String>) -> SettingsBuilder {
        self.set("CACHE_KEY_SECRET", key_secret).set("CACHE_ENCRYPTION_KEYS", encryption_keys)
    }

    /// `CACHE_INSECURE_NO_ENCRYPTION`: store plaintext on a cache outside the process.
    pub fn insecure_no_encryption(self, on: bool) -> SettingsBuilder {
        self.flag("CACHE_INSECURE_NO_ENCRYPTION", on)
    }

    /// `METRICS_ENABLED`: whether the factory adds the instrumentation layers.
    pub fn metrics(self, on: bool) -> SettingsBuilder {
        self.flag("METRICS_ENABLED", on)
    }

    /// `DB_AUTO_MIGRATE`: whether pal's tables are created or migrated at start-up.
    pub fn auto_migrate(self, on: bool) -> SettingsBuilder {
        self.flag("DB_AUTO_MIGRATE", on)
    }

    /// Any other declared variable, by its documented name and as it would be
    /// written in the environment. A name that is not declared (pal's, or the
    /// application's own given to [`build_with`](Self::build_with)) makes the
    /// build fail rather than be ignored.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> SettingsBuilder {
        let name = name.into();
        self.named.insert(name.clone());
        self.set(&name, value)
    }

    /// Reads the settings, or every problem with them.
    pub fn build(self) -> Result<Settings, ConfigErrors> {
        self.build_with(&[], |_| ()).map(|(settings, ())| settings)
    }

    /// As [`Settings::read_with`]: pal's variables and the application's own
    /// (declared in `extra`, read by `read`), in one pass. Names given to
    /// [`var`](Self::var) may be pal's or in `extra`.
    pub fn build_with<T>(
        mut self,
        extra: &[Var],
        read: impl FnOnce(&mut Env) -> T,
    ) -> Result<(Settings, T), ConfigErrors> {
        let table: Vec<Var> = variables().into_iter().chain(extra.iter().cloned()).collect();
        let declared: Vec<&'static str> = table.iter().map(|v| v.name).collect();
        let mut unknown = Vec::new();
        for name in self.named.iter().filter(|name| !declared.contains(&name.as_str())) {
            // Not read, so not warned about as a misspelling as well.
            self.vars.remove(name);
            // A renamed variable is set in code under its new name.
            let closest = table
                .iter()
                .find(|v| v.formerly == Some(name.as_str()))
                .map(|v| v.name)
                .or_else(|| misspelling_of(name, declared.iter().copied()));
            unknown.push(ConfigError::UnknownVariable { var: name.clone(), closest });
        }
        let outcome = Settings::read_with(self.vars, extra, read);
        if unknown.is_empty() {
            return outcome;
        }
        // Reported with whatever else is wrong, so one build lists everything.
        let mut errors = ConfigErrors { errors: unknown, notes: Vec::new() };
        if let Err(more) = outcome {
            errors.errors.extend(more.errors);
            errors.notes = more.notes;
        }
        Err(errors)
    }
}

/// Shows pal's variables only, secret values as `***` and credentials in the
/// others redacted: the rest of a process environment may hold anything.
impl fmt::Debug for SettingsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = variables();
        let mut map = f.debug_map();
        for (name, value) in &self.vars {
            match table.iter().find(|v| v.name == name) {
                Some(var) if var.secret => map.entry(name, &"***"),
                Some(_) => map.entry(name, &redact_text(value)),
                None => continue,
            };
        }
        map.finish_non_exhaustive()
    }
}
