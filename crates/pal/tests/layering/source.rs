//! Reading the library's source: which file is which module, what each `use`
//! names, and where a named item is defined.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub type ModPath = Vec<String>;

pub struct Source {
    pub file: PathBuf,
    pub module: ModPath,
    pub text: String,
}

fn module_of(root: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: ModPath = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

pub fn sources(root: &Path) -> Vec<Source> {
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

/// The text without inline test modules (`#[cfg(test)]`, or a `cfg` that needs
/// `test` among others, possibly over several lines, then `mod … {`) and comments.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("#[cfg(") {
            let mut attribute = line.to_string();
            while !attribute.trim_end().ends_with(")]") {
                match lines.next() {
                    Some(more) => attribute.push_str(more.trim()),
                    None => break,
                }
            }
            let test_only = attribute.starts_with("#[cfg(test)]") || attribute.starts_with("#[cfg(all(test,");
            if test_only && lines.peek().is_some_and(|l| l.starts_with("mod ") && l.ends_with('{')) {
                for l in lines.by_ref() {
                    if l == "}" {
                        break;
                    }
                }
                continue;
            }
            out.push_str(&attribute);
            out.push('\n');
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
pub fn use_statements(text: &str) -> Vec<(bool, Vec<ModPath>, std::ops::Range<usize>)> {
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
pub fn normalize(body: &str) -> String {
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
pub fn inline_paths(text: &str) -> Vec<ModPath> {
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
pub fn unalias(mut path: ModPath) -> (ModPath, Option<String>) {
    let alias = path.last().and_then(|l| l.strip_prefix("as ")).map(str::to_string);
    if alias.is_some() {
        path.pop();
    }
    (path, alias)
}

/// A path as written in `module` made absolute (without the leading `crate`);
/// `None` for a path into another crate.
pub fn absolute(modules: &BTreeSet<ModPath>, module: &ModPath, path: &ModPath) -> Option<ModPath> {
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

pub struct Tree {
    pub modules: BTreeSet<ModPath>,
    /// Per module: re-exported name → the absolute path it stands for.
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
}

impl Tree {
    pub fn build(sources: &[Source]) -> Tree {
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
    pub fn resolve(&self, path: &ModPath, depth: usize) -> ModPath {
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
