//! How a module declares an environment variable it reads. Each declaration lives
//! beside the code that parses the variable (a provider's own folder, the sealing
//! keys in `crypto`, the database pool in `db`); the registry collects them for
//! validation, `pal --help`, the README table and `.env.example`.

use std::borrow::Cow;

/// One environment variable: its name, default (as it would be written in the
/// environment) and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// The variable's name, such as `PAL_CACHE`.
    pub name: &'static str,
    /// The default, as it would be written in the environment; `None` when there is none.
    pub default: Option<&'static str>,
    /// What the variable means, for `pal --help` and the generated documentation.
    pub help: Cow<'static, str>,
    /// Values of secret variables are never printed.
    pub secret: bool,
    /// The name it had before, still read (with a warning) when the new name is unset.
    pub formerly: Option<&'static str>,
}

impl Var {
    /// An ordinary variable, printed as set.
    pub const fn new(name: &'static str, default: Option<&'static str>, help: &'static str) -> Var {
        Var { name, default, help: Cow::Borrowed(help), secret: false, formerly: None }
    }

    /// A variable whose value is never printed; secrets have no default.
    pub const fn secret(name: &'static str, help: &'static str) -> Var {
        Var { name, default: None, help: Cow::Borrowed(help), secret: true, formerly: None }
    }

    /// A variable renamed from `old`: a setting under the old name keeps working,
    /// with a warning naming the new one.
    pub const fn renamed(
        name: &'static str,
        old: &'static str,
        default: Option<&'static str>,
        help: &'static str,
    ) -> Var {
        Var { name, default, help: Cow::Borrowed(help), secret: false, formerly: Some(old) }
    }

    /// The same variable with a help text composed at run time (from the registry).
    pub fn with_help(self, help: String) -> Var {
        Var { help: Cow::Owned(help), ..self }
    }

    /// The same variable with a default chosen at run time (from the registry).
    pub fn with_default(self, default: &'static str) -> Var {
        Var { default: Some(default), ..self }
    }
}
