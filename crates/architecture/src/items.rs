//! What the reading finds: module paths, `use` paths, and findings with their line.

pub type ModPath = Vec<String>;

/// One `use` path, expanded from its tree: `use a::{b, c as d}` is two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// Any `pub`, `pub(crate)` or `pub(super)`: the name is visible outside.
    pub public: bool,
    pub path: ModPath,
    pub alias: Option<String>,
    pub line: usize,
}

/// Something found in the source, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub what: String,
    pub line: usize,
}
