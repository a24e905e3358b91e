//! Configuration errors. Each names the variable to fix and says how; together
//! they print as one message, so a start-up failure lists everything at once.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{var}={value:?} is not valid; accepted values: {}", accepted.join(", "))]
    UnknownValue { var: &'static str, value: String, accepted: Vec<&'static str> },

    #[error("{var}={value:?} is not valid: {reason}")]
    InvalidValue { var: &'static str, value: String, reason: String },

    #[error("{var} must be set {because}, e.g. {example}")]
    Missing { var: &'static str, because: String, example: String },

    #[error("{var} is not a valid URL ({redacted}): {reason}")]
    MalformedUrl { var: &'static str, redacted: String, reason: String },

    #[error("{0}")]
    Contradiction(String),

    #[error("{var}={provider}: the {provider} adapter {why}")]
    NotBuilt { var: &'static str, provider: &'static str, why: String },
}

/// One or more configuration errors, reported together, with notes that may
/// explain them (such as a misspelled variable name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
    pub notes: Vec<String>,
}

impl ConfigErrors {
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
