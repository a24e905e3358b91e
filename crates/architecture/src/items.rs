//! What the reading finds: module paths, `use` paths, and findings with their line.

/// A module's path from the crate root, one segment per element; empty for the root.
pub type ModPath = Vec<String>;

/// One `use` path, expanded from its tree: `use a::{b, c as d}` is two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// Any `pub`, `pub(crate)` or `pub(super)`: the name is visible outside.
    pub public: bool,
    /// The path as written, `self`, `super` and `crate` included.
    pub path: ModPath,
    /// The name it is imported as, when renamed with `as`.
    pub alias: Option<String>,
    /// The line it is on.
    pub line: usize,
}

/// Something found in the source, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found, as it reads in the source.
    pub what: String,
    /// The line it is on.
    pub line: usize,
}
