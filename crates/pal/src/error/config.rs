//! Configuration errors. Each names the variable to fix and says how; together
//! they print as one message, so a start-up failure lists everything at once.

use std::fmt;

/// One problem with the configuration, naming the variable to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable holds a value outside a fixed set of choices.
    #[error("{var}={value:?} is not valid; accepted values: {}", accepted.join(", "))]
    UnknownValue {
        /// The variable's name.
        var: &'static str,
        /// The value as it was set.
        value: String,
        /// Every value the variable accepts.
        accepted: Vec<&'static str>,
    },

    /// A variable holds a value that does not parse or is out of range.
    #[error("{var}={value:?} is not valid: {reason}")]
    InvalidValue {
        /// The variable's name.
        var: &'static str,
        /// The value as it was set.
        value: String,
        /// Why the value is rejected.
        reason: String,
    },

    /// A variable that the rest of the configuration requires is not set.
    #[error("{var} must be set {because}, e.g. {example}")]
    Missing {
        /// The variable's name.
        var: &'static str,
        /// Why it is required, worded to follow "must be set".
        because: String,
        /// A value that would be accepted.
        example: String,
    },

    /// A variable that must hold a URL does not parse as one.
    #[error("{var} is not a valid URL ({redacted}): {reason}")]
    MalformedUrl {
        /// The variable's name.
        var: &'static str,
        /// The value with any credentials replaced by `***`.
        redacted: String,
        /// What the URL parser rejected.
        reason: String,
    },

    /// Variables that are valid one by one but cannot be used together; the
    /// message names them.
    #[error("{0}")]
    Contradiction(String),

    /// A variable selects a provider whose Cargo feature was off when pal was
    /// compiled.
    #[error("{var}={provider}: the {provider} adapter {why}")]
    NotBuilt {
        /// The variable's name.
        var: &'static str,
        /// The provider it selects.
        provider: &'static str,
        /// Why the provider is unavailable, worded to follow "the … adapter".
        why: String,
    },

    /// A variable set in code (`SettingsBuilder::var`) that is not declared: neither
    /// pal nor the application reads it.
    #[error(
        "{var} is not a variable pal reads{}",
        .closest.map(|c| format!(" (did you mean {c}?)")).unwrap_or_default()
    )]
    UnknownVariable {
        /// The name as it was given.
        var: String,
        /// The declared name it most likely misspells.
        closest: Option<&'static str>,
    },

    /// Variables ask for a capability whose Cargo feature was off when pal was
    /// compiled (sealing keys without the `sealing` feature).
    #[error("{var}: {what} is not part of this build (pal was compiled without the `{feature}` feature); {remedy}")]
    FeatureOff {
        /// The variables that ask for it.
        var: &'static str,
        /// The capability they ask for.
        what: &'static str,
        /// The Cargo feature that builds it.
        feature: &'static str,
        /// What to do instead.
        remedy: String,
    },
}

/// One or more configuration errors, reported together, with notes that may
/// explain them (such as a misspelled variable name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The problems, in the order they were found.
    pub errors: Vec<ConfigError>,
    /// Hints printed after the problems, such as a likely misspelling.
    pub notes: Vec<String>,
}

impl ConfigErrors {
    /// The problems, in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.errors.iter()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors { errors: vec![e], notes: Vec::new() }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [one] => write!(f, "configuration error: {one}")?,
            many => {
                write!(f, "{} configuration errors:", many.len())?;
                for e in many {
                    write!(f, "\n  - {e}")?;
                }
            }
        }
        for note in &self.notes {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
