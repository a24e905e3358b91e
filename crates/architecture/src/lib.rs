//! Reads a crate's source with `syn` and answers structural questions about it:
//! which module imports which (following `pub use` re-exports to the module that
//! defines an item), whether the import graph has a loop, what reads the process
//! environment, and what keeps state in process memory. The tests of this crate
//! apply it to every crate of the workspace; its own unit tests plant each kind of
//! violation and expect it found.

mod items;
mod modules;
mod visit;

pub use items::{Finding, ModPath, Use};
pub use modules::{Module, parse_file_modules, read_crate};

use std::collections::{BTreeMap, BTreeSet};

/// `a::b`, or `crate` for the root.
pub fn name(m: &[String]) -> String {
    if m.is_empty() { "crate".into() } else { m.join("::") }
}

/// Every module of a crate, and how to find what a path names.
pub struct Tree {
    /// Every module's path.
    pub modules: BTreeSet<ModPath>,
    /// Per module: re-exported name → the absolute path it stands for.
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
}

impl Tree {
    /// The tree of `modules`, with the re-exports their `pub use` items make.
    pub fn build(modules: &[Module]) -> Tree {
        let set: BTreeSet<ModPath> = modules.iter().map(|m| m.path.clone()).collect();
        let mut reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>> = BTreeMap::new();
        for m in modules {
            for u in m.uses.iter().filter(|u| u.public) {
                let Some(abs) = absolute(&set, &m.path, &u.path) else { continue };
                if let Some(name) = u.alias.clone().or_else(|| u.path.last().cloned()) {
                    reexports.entry(m.path.clone()).or_default().insert(name, abs);
                }
            }
        }
        Tree { modules: set, reexports }
    }

    /// The module that defines what the absolute `path` names.
    pub fn resolve(&self, path: &[String]) -> ModPath {
        self.resolve_at(path, 0)
    }

    fn resolve_at(&self, path: &[String], depth: usize) -> ModPath {
        let mut current: ModPath = Vec::new();
        for seg in path {
            let mut next = current.clone();
            next.push(seg.clone());
            if self.modules.contains(&next) {
                current = next;
                continue;
            }
            if depth < 16
                && let Some(target) = self.reexports.get(&current).and_then(|r| r.get(seg))
                && target.as_slice() != path
            {
                return self.resolve_at(target, depth + 1);
            }
            return current;
        }
        current
    }
}

/// A path as written in `module` made absolute (without the leading `crate`);
/// `None` for a path into another crate.
pub fn absolute(modules: &BTreeSet<ModPath>, module: &[String], path: &[String]) -> Option<ModPath> {
    let mut segs = path.iter().peekable();
    let first = segs.peek()?.as_str();
    let child = modules.contains(&[module, &[first.to_string()]].concat());
    let mut base: ModPath = match first {
        "crate" => {
            segs.next();
            Vec::new()
        }
        "super" | "self" => module.to_vec(),
        // A child module, as paths may name it directly.
        _ if child => module.to_vec(),
        _ => return None,
    };
    while let Some(seg) = segs.peek() {
        match seg.as_str() {
            "super" => {
                base.pop()?;
            }
            "self" => {}
            _ => break,
        }
        segs.next();
    }
    base.extend(segs.cloned());
    Some(base)
}

/// Module → the modules it imports. Every `use` counts, whatever its visibility,
/// and so does every path written in code; only naming a module's own
/// descendants does not (a facade re-exporting its children depends on nothing).
pub fn edges(modules: &[Module]) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let tree = Tree::build(modules);
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for m in modules {
        let written = m.uses.iter().map(|u| &u.path).chain(m.paths.iter().map(|(p, _)| p));
        for path in written {
            let Some(abs) = absolute(&tree.modules, &m.path, path) else { continue };
            let target = tree.resolve(&abs);
            if !target.starts_with(&m.path) {
                edges.entry(m.path.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

/// Every loop of the import graph, each as `a → b → a`.
pub fn cycles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<String> {
    fn visit(
        m: &ModPath,
        edges: &BTreeMap<ModPath, BTreeSet<ModPath>>,
        stack: &mut Vec<ModPath>,
        done: &mut BTreeSet<ModPath>,
        loops: &mut Vec<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(at) = stack.iter().position(|s| s == m) {
            let cycle: Vec<String> = stack[at..].iter().chain([m]).map(|p| name(p)).collect();
            loops.push(cycle.join(" → "));
            return;
        }
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, stack, done, loops);
        }
        stack.pop();
        done.insert(m.clone());
    }
    let (mut done, mut loops) = (BTreeSet::new(), Vec::new());
    for m in edges.keys() {
        visit(m, edges, &mut Vec::new(), &mut done, &mut loops);
    }
    loops
}

/// `std::env` functions that read or change the process environment.
const ENV_FUNCTIONS: &[&str] = &["var", "var_os", "vars", "vars_os", "set_var", "remove_var"];

/// Where `module` reads (or changes) the process environment: `std::env`'s
/// functions however they are imported or called, and `dotenvy`'s loaders (its
/// `…_iter` functions only parse a file, and are not reads).
pub fn env_reads(module: &Module) -> Vec<Finding> {
    let written = module.uses.iter().map(|u| (&u.path, u.line)).chain(module.paths.iter().map(|(p, l)| (p, *l)));
    let mut found = Vec::new();
    for (path, line) in written {
        let path: Vec<&str> = path.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
        let std_env = path.windows(2).any(|w| w[0] == "env" && ENV_FUNCTIONS.contains(&w[1]));
        let dotenvy = path.first() == Some(&"dotenvy")
            && path.get(1).is_some_and(|f| f.chars().next().is_some_and(char::is_lowercase) && !f.ends_with("_iter"));
        if std_env || dotenvy {
            found.push(Finding { what: path.join("::"), line });
        }
    }
    found
}

/// What would keep requests' state in this process: collections, locks, cells,
/// atomics and statics, wherever a type or a path names them.
pub const PROCESS_STATE: &[&str] = &[
    "HashMap", "HashSet", "BTreeMap", "BTreeSet", "VecDeque", "DashMap", "DashSet", "Mutex", "RwLock", "Cell",
    "RefCell", "OnceLock", "OnceCell", "LazyLock", "LazyCell", "Lazy", "ArcSwap",
];

/// What in `module` would keep state in process memory: its statics, every path
/// naming one of [`PROCESS_STATE`] or an atomic, and `thread_local!` or
/// `lazy_static!`, in line order.
pub fn process_state(module: &Module) -> Vec<Finding> {
    let mut found: Vec<Finding> = module.statics.clone();
    for (path, line) in &module.paths {
        for seg in path {
            if PROCESS_STATE.contains(&seg.as_str()) || (seg.starts_with("Atomic") && seg.len() > "Atomic".len()) {
                found.push(Finding { what: path.join("::"), line: *line });
            }
        }
    }
    for mac in &module.macros {
        if matches!(mac.what.as_str(), "thread_local" | "lazy_static") {
            found.push(Finding { what: format!("{}!", mac.what), line: mac.line });
        }
    }
    found.sort_by_key(|f| f.line);
    found.dedup();
    found
}

/// Where `module` names one of `crates`, in a `use`, a path or `extern crate`,
/// anywhere in the path (`pal::cache::redis::X` names `redis` too).
pub fn names_crates(module: &Module, crates: &[&str]) -> Vec<Finding> {
    let written = module.uses.iter().map(|u| (&u.path, u.line)).chain(module.paths.iter().map(|(p, l)| (p, *l)));
    let mut found: Vec<Finding> = written
        .filter(|(path, _)| path.iter().any(|s| crates.contains(&s.as_str())))
        .map(|(path, line)| Finding { what: path.join("::"), line })
        .collect();
    found.extend(module.extern_crates.iter().filter(|e| crates.contains(&e.what.as_str())).cloned());
    found
}

#[cfg(test)]
mod tests;
