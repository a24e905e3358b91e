//! A reader over a snapshot of the environment that parses typed values and
//! collects every problem instead of stopping at the first.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::url::{ConnUrl, HostPort};
use super::var::Var;
use crate::error::{ConfigError, ConfigErrors, redact_text};

/// Edits (insertions, deletions, substitutions, transpositions) a name may be
/// from a declared one to count as its misspelling.
const MAX_TYPO_EDITS: usize = 2;

/// The process environment, as text. Variables whose name or value is not UTF-8
/// cannot be pal's and are left out.
pub fn process_vars() -> BTreeMap<String, String> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect()
}

/// The declared name that `name` is most likely a misspelling of: the closest one,
/// when it is within two edits. Short names are a few edits from many others, so
/// only longer ones are guessed at.
pub(crate) fn misspelling_of<'a>(name: &str, declared: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let (closest, distance) = declared
        .into_iter()
        .map(|declared| (declared, strsim::damerau_levenshtein(name, declared)))
        .min_by_key(|(_, distance)| *distance)?;
    (distance <= MAX_TYPO_EDITS && name.len() > 2 * distance + 2).then_some(closest)
}

/// Reads declared variables from a snapshot of the environment. Every parse records
/// its problem and returns a placeholder, so one pass reports everything at once.
pub struct Env {
    vars: BTreeMap<String, String>,
    table: BTreeMap<&'static str, Var>,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Env {
    /// `table` declares every variable that may be read; reading any other is a bug.
    pub fn new(vars: BTreeMap<String, String>, table: impl IntoIterator<Item = Var>) -> Self {
        let table: BTreeMap<&'static str, Var> = table.into_iter().map(|v| (v.name, v)).collect();
        let mut env = Env { vars, table, errors: Vec::new(), warnings: Vec::new() };
        env.read_former_names();
        env
    }

    /// A renamed variable set under its old name reads as if set under the new
    /// one, with a warning; set under both names to different values, it is an error.
    fn read_former_names(&mut self) {
        let renamed: Vec<(&'static str, &'static str)> =
            self.table.values().filter_map(|v| v.formerly.map(|old| (old, v.name))).collect();
        for (old, new) in renamed {
            let Some(value) = self.value_of(old).map(str::to_string) else {
                continue;
            };
            match self.get(new) {
                Some(current) if current != value => {
                    self.contradiction(format!(
                        "{old} is the old name of {new}, and they are set differently: keep {new} only"
                    ));
                }
                Some(_) => self.warn(format!("{old} is the old name of {new}: remove it")),
                None => {
                    self.warn(format!("{old} is now called {new}: rename it (the old name still works, for now)"));
                    self.vars.insert(new.to_string(), value);
                }
            }
        }
    }

    /// Names that are set, declared or not.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// The declaration of `name`, or `None` when the table does not declare it.
    pub fn declaration(&self, name: &str) -> Option<&Var> {
        self.table.get(name)
    }

    /// Warns about every variable that is set, not declared, and within two edits
    /// of a declared name: most likely a typo such as `CACHE_PROVDER`. The
    /// application's own variables (`DB_NAME`, `REDIS_HOST`) share pal's prefixes
    /// but are not near misses of its names, so they pass in silence.
    pub fn warn_misspelled(&mut self) {
        let misspelled: Vec<String> = self
            .names()
            .filter(|name| !self.table.contains_key(*name) && !self.table.values().any(|v| v.formerly == Some(*name)))
            .filter_map(|name| {
                let closest = misspelling_of(name, self.table.keys().copied())?;
                Some(format!("{name} is set but pal does not read it; did you mean {closest}?"))
            })
            .collect();
        misspelled.into_iter().for_each(|w| self.warn(w));
    }

    /// Whether a problem has been recorded so far.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// How many problems have been recorded so far.
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Every problem recorded, or the warnings when there was none.
    pub fn finish(self) -> Result<Vec<String>, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(self.warnings)
        } else {
            Err(ConfigErrors { errors: self.errors, notes: self.warnings })
        }
    }

    /// The value as set, trimmed; an empty value counts as unset so that `VAR=` in an
    /// env file means "use the default".
    pub fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(self.table.contains_key(name), "{name} is read but not declared");
        self.value_of(name)
    }

    /// What `name` is set to, trimmed, declared or not; `None` when unset or empty.
    fn value_of(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// Whether `name` is set to a non-empty value.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value, or the table's default.
    pub fn get_or_default(&self, name: &'static str) -> Option<&str> {
        self.get(name).or_else(|| self.table.get(name).and_then(|v| v.default))
    }

    /// The value or the table's default, as text; empty when there is neither.
    pub fn string(&self, name: &'static str) -> String {
        self.get_or_default(name).unwrap_or_default().to_string()
    }

    /// Records a warning; the same warning given twice is kept once.
    pub fn warn(&mut self, warning: String) {
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    /// A secret's text, wiped from memory when dropped.
    pub fn secret_text(&self, name: &'static str) -> Option<zeroize::Zeroizing<String>> {
        self.get(name).map(|s| zeroize::Zeroizing::new(s.to_string()))
    }

    /// Records a problem. The same problem found twice (two providers sharing a
    /// variable) is reported once.
    pub fn fail(&mut self, error: ConfigError) {
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    /// Records that `var` must be set `because`, with an example value.
    pub fn missing(&mut self, var: &'static str, because: &str, example: &str) {
        self.fail(ConfigError::Missing { var, because: because.to_string(), example: format!("{var}={example}") });
    }

    /// Records that variables cannot be used together; `message` names them.
    pub fn contradiction(&mut self, message: impl Into<String>) {
        self.fail(ConfigError::Contradiction(message.into()));
    }

    fn is_secret(&self, name: &str) -> bool {
        self.table.get(name).is_some_and(|v| v.secret)
    }

    /// Records that `var` is set to `value`, which is not valid because of `reason`.
    /// The value is printed as `***` when the variable is secret, and redacted otherwise.
    pub fn invalid(&mut self, var: &'static str, value: &str, reason: impl Into<String>) {
        // Lists and URLs can carry credentials even in variables that are not secret.
        let value = if self.is_secret(var) { "***".into() } else { redact_text(value) };
        self.fail(ConfigError::InvalidValue { var, value, reason: redact_text(&reason.into()) });
    }

    /// One of a fixed set of names, parsed by `parse`; `accepted` lists them all.
    pub fn choice<T>(
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

    /// `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`, in any case; `false` when
    /// unset without a default or not valid.
    pub fn bool(&mut self, name: &'static str) -> bool {
        let accepted = ["true", "false", "1", "0", "yes", "no", "on", "off"];
        self.choice(name, &accepted, |v| match v {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        })
        .unwrap_or(false)
    }

    /// Like [`bool`](Env::bool), but `None` when unset.
    pub fn opt_bool(&mut self, name: &'static str) -> Option<bool> {
        self.is_set(name).then(|| self.bool(name))
    }

    /// An integer within `min..=max`.
    pub fn int<T>(&mut self, name: &'static str, min: T, max: T) -> T
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

    /// A duration given in milliseconds, from 1 to 3,600,000 (one hour).
    pub fn millis(&mut self, name: &'static str) -> Duration {
        Duration::from_millis(self.int(name, 1u64, 3_600_000))
    }

    /// A URL whose scheme must be one of `schemes`. Returns `None` when unset.
    pub fn url(&mut self, name: &'static str, schemes: &[&str]) -> Option<ConnUrl> {
        let raw = self.get_or_default(name)?.to_string();
        self.parse_url(name, &raw, schemes, None)
    }

    /// A comma-separated list of URLs (a comma inside one is written `%2C`).
    /// Unset gives an empty list.
    pub fn urls(&mut self, name: &'static str, schemes: &[&str]) -> Vec<ConnUrl> {
        let Some(raw) = self.get(name).map(str::to_string) else {
            return Vec::new();
        };
        let mut urls = Vec::new();
        for (i, item) in raw.split(',').map(str::trim).enumerate() {
            urls.extend(self.parse_url(name, item, schemes, Some(i + 1)));
        }
        urls
    }

    /// One URL of `name` (the `position`th of its list), or a reported error.
    fn parse_url(
        &mut self,
        name: &'static str,
        raw: &str,
        schemes: &[&str],
        position: Option<usize>,
    ) -> Option<ConnUrl> {
        match ConnUrl::parse(raw, schemes) {
            Ok(url) => Some(url),
            Err(reason) => {
                // Without `scheme://` nothing tells where a password sits (a typo such as
                // `postgres//app:pw@db`), so a secret value is not shown at all.
                let secret = self.is_secret(name);
                let redacted = if secret && !raw.contains("://") { "***".to_string() } else { redact_text(raw) };
                let reason = match position {
                    Some(n) => format!("URL {n}: {reason}"),
                    None => reason,
                };
                self.fail(ConfigError::MalformedUrl { var: name, redacted, reason });
                None
            }
        }
    }

    /// A comma-separated list of `host[:port]`. Unset gives an empty list.
    pub fn hosts(&mut self, name: &'static str, default_port: u16) -> Vec<HostPort> {
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

    /// A secret's value, or `None` when unset; secrets have no default.
    pub fn secret(&self, name: &'static str) -> Option<SecretString> {
        self.get(name).map(|s| SecretString::from(s.to_string()))
    }
}
