//! The library's structure, checked from its source: imports point one way, from
//! the layers above to the layers below, with no loop anywhere; only the
//! environment reader reads the environment; only a provider's own folder spells
//! its name.
//!
//! An import is a `use` (or a `crate::`/`super::` path in code) that names an
//! item; it is resolved to the module that defines the item, following `pub use`
//! re-exports. A re-export itself is not an import: a facade `mod.rs` that
//! re-exports its children does not depend on them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

/// Bottom to top. A module may import modules of its own rank or below.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &["error"]),
    ("configuration and primitives", &["env", "retry", "namespace", "crypto"]),
    (
        "traits and their shared shapes",
        &[
            "cache::service",
            "cache::capabilities",
            "cache::ttl",
            "cache::session",
            "cache::provider",
            "db::service",
            "db::value",
            "db::placeholders",
            "db::migrate",
            "db::provider",
            "db::config",
            "db::rows",
            "db::sqlx_error",
            "db::deadline",
        ],
    ),
    (
        "adapters",
        &[
            "cache::memory",
            "cache::redis",
            "cache::keydb",
            "cache::memcached",
            "db::network",
            "db::postgres",
            "db::mysql",
            "db::sqlite",
        ],
    ),
    ("stores over the traits", &["session", "audit"]),
    ("layers", &["cache::prefix", "cache::sealed", "cache::hybrid"]),
    ("assembly", &["registry", "settings", "factory", "health"]),
];

/// Database modules a cache module may name: the trait and its shapes, never a dialect.
const DB_FOR_CACHES: &[&str] = &["db::service", "db::value", "db::provider", "db::config"];

struct Source {
    file: PathBuf,
    module: ModPath,
    text: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn module_of(root: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: ModPath = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn sources(root: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = without_tests(&std::fs::read_to_string(&path).unwrap());
                out.push(Source { module: module_of(root, &path), file: path, text });
            }
        }
    }
    out.retain(|s| s.module.last().map(String::as_str) != Some("tests"));
    out
}

/// The text without inline `#[cfg(test)] mod tests { … }` blocks and comments.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" && lines.peek().is_some_and(|l| l.starts_with("mod ") && l.ends_with('{')) {
            for l in lines.by_ref() {
                if l == "}" {
                    break;
                }
            }
            continue;
        }
        let code = line.split("//").next().unwrap_or("");
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every `use` statement: whether it re-exports (`pub use`), its expanded paths,
/// and where it stands in the text.
fn use_statements(text: &str) -> Vec<(bool, Vec<ModPath>, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("use ") {
        let at = from + found;
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let prefix = text[line_start..at].trim();
        if !(prefix.is_empty() || prefix.starts_with("pub")) {
            from = at + 4;
            continue;
        }
        let end = text[at..].find(';').map_or(text.len(), |i| at + i);
        let mut paths = Vec::new();
        expand(&normalize(&text[at + 4..end]), &mut Vec::new(), &mut paths);
        out.push((prefix.starts_with("pub"), paths, line_start..end));
        from = end;
    }
    out
}

/// One space between words, none around punctuation: `a::{b as c, d}`.
fn normalize(body: &str) -> String {
    let joined = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = joined;
    for (from, to) in [(", ", ","), ("{ ", "{"), (" }", "}"), (":: ", "::"), (" ::", "::"), (" {", "{"), (" ,", ",")] {
        out = out.replace(from, to);
    }
    out
}

/// `a::{b, c::{d as e}}` → `a::b`, `a::c::d` (`self` is the module). An alias
/// is kept after the path's last segment, as `d as e`.
fn expand(body: &str, prefix: &mut ModPath, out: &mut Vec<ModPath>) {
    let (head, group) = match body.find('{') {
        Some(i) if body.ends_with('}') => (&body[..i], Some(&body[i + 1..body.len() - 1])),
        _ => (body, None),
    };
    let depth = prefix.len();
    let (head, alias) = match head.split_once(" as ") {
        Some((path, alias)) => (path, Some(alias)),
        None => (head, None),
    };
    for seg in head.split("::").filter(|s| !s.is_empty()) {
        if seg != "self" || prefix.is_empty() {
            prefix.push(seg.to_string());
        }
    }
    match group {
        None => {
            let mut path = prefix.clone();
            if let Some(alias) = alias {
                path.push(format!("as {alias}"));
            }
            out.push(path);
        }
        Some(group) => {
            for item in split_top(group) {
                expand(item, prefix, out);
            }
        }
    }
    prefix.truncate(depth);
}

fn split_top(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items.into_iter().filter(|s| !s.is_empty()).collect()
}

/// `crate::…`, `super::…` and `self::…` paths written in code, outside `use`.
fn inline_paths(text: &str) -> Vec<ModPath> {
    let mut code = text.to_string();
    for (_, _, range) in use_statements(text).into_iter().rev() {
        code.replace_range(range, "");
    }
    let mut out = Vec::new();
    for line in code.lines() {
        for start in ["crate::", "super::", "self::"] {
            let mut rest = line;
            while let Some(i) = rest.find(start) {
                let boundary =
                    i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric() && rest.as_bytes()[i - 1] != b'_';
                let tail = &rest[i..];
                let len =
                    tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(tail.len());
                if boundary {
                    out.push(tail[..len].split("::").filter(|s| !s.is_empty()).map(str::to_string).collect());
                }
                rest = &tail[len.max(1)..];
            }
        }
    }
    out
}

/// A path without the alias `expand` kept, and the alias.
fn unalias(mut path: ModPath) -> (ModPath, Option<String>) {
    let alias = path.last().and_then(|l| l.strip_prefix("as ")).map(str::to_string);
    if alias.is_some() {
        path.pop();
    }
    (path, alias)
}

/// A path as written in `module` made absolute (without the leading `crate`);
/// `None` for a path into another crate.
fn absolute(modules: &BTreeSet<ModPath>, module: &ModPath, path: &ModPath) -> Option<ModPath> {
    let mut segs = path.iter().peekable();
    let first = segs.peek()?.as_str();
    let child = modules.contains(&[module.as_slice(), &[first.to_string()]].concat());
    let mut base = match first {
        "crate" => {
            segs.next();
            Vec::new()
        }
        "super" | "self" => module.clone(),
        // A child module, as `use` paths may name it directly.
        _ if child => module.clone(),
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

struct Tree {
    modules: BTreeSet<ModPath>,
    /// Per module: re-exported name → the absolute path it stands for.
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
}

impl Tree {
    fn build(sources: &[Source]) -> Tree {
        let mut modules: BTreeSet<ModPath> = sources.iter().map(|s| s.module.clone()).collect();
        // Inline modules such as `mod absent { … }`.
        for s in sources {
            for line in s.text.lines() {
                let l = line.trim();
                if let Some(name) = l.strip_prefix("mod ").or_else(|| l.strip_prefix("pub mod "))
                    && let Some(name) = name.strip_suffix(" {")
                {
                    let mut m = s.module.clone();
                    m.push(name.to_string());
                    modules.insert(m);
                }
            }
        }
        let mut reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>> = BTreeMap::new();
        for s in sources {
            for (public, paths, _) in use_statements(&s.text) {
                if !public {
                    continue;
                }
                for p in paths {
                    let (path, alias) = unalias(p);
                    if let (Some(abs), Some(name)) =
                        (absolute(&modules, &s.module, &path), alias.or(path.last().cloned()))
                    {
                        reexports.entry(s.module.clone()).or_default().insert(name, abs);
                    }
                }
            }
        }
        Tree { modules, reexports }
    }

    /// The module that defines what `path` names.
    fn resolve(&self, path: &ModPath, depth: usize) -> ModPath {
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
                && target != path
            {
                return self.resolve(target, depth + 1);
            }
            return current;
        }
        current
    }
}

fn name(m: &ModPath) -> String {
    if m.is_empty() { "crate".into() } else { m.join("::") }
}

fn rank(m: &ModPath) -> Option<usize> {
    let n = name(m);
    LAYERS
        .iter()
        .enumerate()
        .filter_map(|(i, (_, prefixes))| {
            prefixes.iter().filter(|p| n == **p || n.starts_with(&format!("{p}::"))).map(|p| (p.len(), i)).max()
        })
        .max()
        .map(|(_, i)| i)
}

fn edges() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let sources = sources(&src_dir());
    let tree = Tree::build(&sources);
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for s in &sources {
        let mut paths: Vec<ModPath> =
            use_statements(&s.text).into_iter().filter(|(public, ..)| !public).flat_map(|(_, p, _)| p).collect();
        paths.extend(inline_paths(&s.text));
        for p in paths {
            let Some(abs) = absolute(&tree.modules, &s.module, &unalias(p).0) else { continue };
            let target = tree.resolve(&abs, 0);
            // A file's own inline modules are part of it.
            if target != s.module && !target.starts_with(&s.module) {
                edges.entry(s.module.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

#[test]
fn the_parser_reads_use_statements_as_written() {
    let text = "use super::{self as x, a::{B, c::D as F}, E};\npub use crate::f::G;\n    use self::h::I;\n";
    let uses = use_statements(text);
    assert_eq!(uses.len(), 3);
    assert!(!uses[0].0 && uses[1].0);
    let flat: Vec<String> = uses.iter().flat_map(|(_, p, _)| p.iter().map(|p| p.join("::"))).collect();
    assert_eq!(flat, ["super::as x", "super::a::B", "super::a::c::D::as F", "super::E", "crate::f::G", "self::h::I"]);
    let module: ModPath = vec!["cache".into(), "redis".into()];
    let modules: BTreeSet<ModPath> = [module.clone(), vec!["cache".into(), "redis".into(), "config".into()]].into();
    assert_eq!(absolute(&modules, &module, &vec!["super".into(), "Ttl".into()]).unwrap(), ["cache", "Ttl"]);
    let child = absolute(&modules, &module, &vec!["config".into(), "VARS".into()]).unwrap();
    assert_eq!(child, ["cache", "redis", "config", "VARS"]);
    assert_eq!(absolute(&modules, &module, &vec!["redis".into(), "cmd".into()]), None, "another crate");
    assert_eq!(inline_paths("use crate::a::B;\nlet x = crate::db::Value::Null; my_crate::x();").len(), 1);
    assert_eq!(normalize("a::{\n    b as c,\n    d::{e, f},\n}"), "a::{b as c,d::{e,f},}");
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let edges = edges();
    assert!(edges.len() > 30, "the source was read: {} modules import something", edges.len());
    // Depth-first search for a back edge; report the loop it closes.
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
            let cycle: Vec<String> = stack[at..].iter().chain([m]).map(name).collect();
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
        visit(m, &edges, &mut Vec::new(), &mut done, &mut loops);
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn imports_point_down_the_layers() {
    let mut wrong = Vec::new();
    for (from, targets) in edges() {
        let Some(from_rank) = rank(&from) else {
            // Only facades and the crate root are unranked, and they import nothing.
            wrong.push(format!("{} is in no layer of LAYERS", name(&from)));
            continue;
        };
        for to in targets {
            match rank(&to) {
                Some(to_rank) if to_rank <= from_rank => {}
                Some(to_rank) => wrong.push(format!(
                    "{} ({}) imports {} ({})",
                    name(&from),
                    LAYERS[from_rank].0,
                    name(&to),
                    LAYERS[to_rank].0
                )),
                None => wrong.push(format!("{} imports {}, which is in no layer", name(&from), name(&to))),
            }
        }
    }
    assert!(wrong.is_empty(), "imports that run the wrong way:\n{}", wrong.join("\n"));
}

#[test]
fn error_imports_nothing_of_pal_and_caches_no_database_dialect() {
    let mut wrong = Vec::new();
    for (from, targets) in edges() {
        for to in targets {
            let (f, t) = (name(&from), name(&to));
            let outside_error = f.starts_with("error") && !t.starts_with("error");
            let cache_to_dialect =
                f.starts_with("cache") && t.starts_with("db") && !DB_FOR_CACHES.iter().any(|d| t == *d);
            let db_to_cache = f.starts_with("db") && t.starts_with("cache");
            if outside_error || cache_to_dialect || db_to_cache {
                wrong.push(format!("{f} imports {t}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn only_the_environment_reader_reads_the_environment() {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pal-cli/src");
    let mut offenders = Vec::new();
    for root in [src_dir(), tools] {
        for s in sources(&root) {
            let reads = ["std::env::var", "env::var(", "vars_os", "from_default_env", "dotenvy::dotenv(", "set_var"]
                .iter()
                .any(|needle| s.text.contains(needle));
            if reads && !s.file.ends_with("env/reader.rs") {
                offenders.push(s.file.display().to_string());
            }
        }
    }
    assert!(offenders.is_empty(), "these files read the environment themselves: {offenders:?}");
}

#[test]
fn only_a_providers_own_folder_spells_its_name() {
    let names = pal::registry::CACHES
        .iter()
        .map(|e| e.provider.name)
        .chain(pal::registry::DATABASES.iter().map(|e| e.provider.name));
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pal-cli/src");
    let all: Vec<Source> = sources(&src_dir()).into_iter().chain(sources(&tools)).collect();
    let mut wrong = Vec::new();
    for provider in names {
        let literal = format!("\"{provider}\"");
        let declared = format!("name: {literal},");
        let home = all
            .iter()
            .find(|s| s.text.contains(&declared))
            .unwrap_or_else(|| panic!("no module declares {provider}"))
            .file
            .parent()
            .unwrap()
            .to_path_buf();
        for s in all.iter().filter(|s| s.text.contains(&literal) && !s.file.starts_with(&home)) {
            wrong.push(format!("{} spells {literal}, which belongs to {}", s.file.display(), home.display()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
