//! Which file is which module, and what each module writes: its `use`
//! declarations, the paths in its code, its statics and its macro calls.

use std::path::{Path, PathBuf};

use crate::items::{Finding, ModPath, Use};
use crate::visit::Collector;

/// A module: a file, or a `mod name { … }` inside one. Test-only items
/// (`#[cfg(test)]`, `#[cfg(all(test, …))]`) are left out.
#[derive(Debug, Clone)]
pub struct Module {
    /// Its path from the crate root.
    pub path: ModPath,
    /// The file it is in.
    pub file: PathBuf,
    /// Its `use` items, each path on its own.
    pub uses: Vec<Use>,
    /// Every path written in code (types, expressions, patterns, macro arguments), with its line.
    pub paths: Vec<(ModPath, usize)>,
    /// `static` items, anywhere in the module.
    pub statics: Vec<Finding>,
    /// Macro calls, by their path's last segment (`thread_local`).
    pub macros: Vec<Finding>,
    /// `extern crate` names.
    pub extern_crates: Vec<Finding>,
    /// String literals, in code and in macro arguments.
    pub strings: Vec<Finding>,
}

fn module_of(root: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(root).unwrap_or(file).with_extension("");
    let mut parts: ModPath = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// Every module of the crate whose source root is `src`. A file that does not
/// parse is a failure of the check, not a file skipped.
pub fn read_crate(src: &Path) -> Vec<Module> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.extend(parse_file_modules(module_of(src, &path), &path, &text));
            }
        }
    }
    // Test modules kept in files of their own (`tests.rs` beside `mod.rs`).
    out.retain(|m| m.path.last().map(String::as_str) != Some("tests"));
    out
}

/// The modules of one file: the file's own, then its inline ones.
pub fn parse_file_modules(module: ModPath, file: &Path, text: &str) -> Vec<Module> {
    let parsed = syn::parse_file(text)
        .unwrap_or_else(|e| panic!("{}:{}: does not parse: {e}", file.display(), e.span().start().line));
    let mut out = Vec::new();
    collect(module, file, &parsed.items, &mut out);
    out
}

fn collect(path: ModPath, file: &Path, items: &[syn::Item], out: &mut Vec<Module>) {
    let mut collector = Collector::default();
    let mut inline = Vec::new();
    for item in items.iter().filter(|item| !test_only(item)) {
        match item {
            syn::Item::Mod(m) => {
                if let Some((_, content)) = &m.content {
                    inline.push((m.ident.to_string(), content.clone()));
                }
            }
            other => collector.item(other),
        }
    }
    out.push(Module {
        path: path.clone(),
        file: file.to_path_buf(),
        uses: collector.uses,
        paths: collector.paths,
        statics: collector.statics,
        macros: collector.macros,
        extern_crates: collector.extern_crates,
        strings: collector.strings,
    });
    for (name, content) in inline {
        let mut child = path.clone();
        child.push(name);
        collect(child, file, &content, out);
    }
}

/// `#[cfg(test)]`, or a `cfg` that needs `test` with others (`all(test, …)`).
fn test_only(item: &syn::Item) -> bool {
    let attrs: &[syn::Attribute] = match item {
        syn::Item::Mod(m) => &m.attrs,
        syn::Item::Fn(f) => &f.attrs,
        syn::Item::Use(u) => &u.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Struct(s) => &s.attrs,
        syn::Item::Const(c) => &c.attrs,
        syn::Item::Static(s) => &s.attrs,
        _ => return false,
    };
    attrs.iter().filter(|a| a.path().is_ident("cfg")).any(|a| {
        let tokens = a.meta.require_list().map(|l| l.tokens.to_string()).unwrap_or_default();
        let tokens = tokens.replace(' ', "");
        tokens == "test" || tokens.starts_with("all(test,")
    })
}
