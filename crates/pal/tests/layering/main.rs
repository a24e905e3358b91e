//! The library's structure, checked from its source: imports point one way, from
//! the layers above to the layers below, with no loop anywhere; only the
//! environment reader reads the environment; only a provider's own folder spells
//! its name.
//!
//! An import is a `use` (or a `crate::`/`super::` path in code) that names an
//! item; it is resolved to the module that defines the item, following `pub use`
//! re-exports. A re-export itself is not an import: a facade `mod.rs` that
//! re-exports its children does not depend on them.

mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use source::{ModPath, Source, Tree, absolute, inline_paths, normalize, sources, unalias, use_statements};

/// Bottom to top. A module may import modules of its own rank or below.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &["error"]),
    ("configuration and primitives", &["env", "retry", "namespace", "crypto", "tls", "telemetry"]),
    (
        "traits and their shared shapes",
        &[
            "cache::service",
            "cache::capabilities",
            "cache::ttl",
            "cache::session",
            "cache::provider",
            "cache::counter",
            "db::service",
            "db::value",
            "db::placeholders",
            "db::migrate",
            "db::provider",
            "db::config",
            "db::tls",
            "db::rows",
            "db::sqlx_error",
            "db::deadline",
            "db::position",
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
    (
        "layers",
        &[
            "cache::prefix",
            "cache::sealed",
            "cache::instrumented",
            "cache::limit",
            "cache::hybrid",
            "db::instrumented",
            "db::replica",
        ],
    ),
    ("assembly", &["registry", "settings", "factory", "health"]),
];

/// Database modules a cache module may name: the trait and its shapes, never a dialect.
const DB_FOR_CACHES: &[&str] = &["db::service", "db::value", "db::provider", "db::config"];

fn src_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
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
