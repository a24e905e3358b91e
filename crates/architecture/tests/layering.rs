//! The library's structure, checked from its source: imports point one way, from
//! the layers above to the layers below, with no loop anywhere; only the
//! environment reader reads the environment; only a provider's own folder spells
//! its name.
//!
//! An import is any `use` (whatever its visibility) or path in code that names an
//! item; it is resolved to the module that defines the item, following `pub use`
//! re-exports. Naming a module's own descendants is not an import: a facade
//! `mod.rs` that re-exports its children does not depend on them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pal_architecture::{ModPath, Module, cycles, edges, env_reads, name, read_crate};

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
            "cache::ext",
            "cache::load",
            "cache::lock",
            "cache::near::store",
            "cache::provider",
            "cache::counter",
            "cache::layer",
            "db::service",
            "db::grammar",
            "db::layer",
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
            "db::target",
            "db::pool",
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
    ("stores over the traits", &["expiring", "audit", "cache::tower_sessions"]),
    (
        "layers",
        &[
            "cache::prefix",
            "cache::sealed",
            "cache::instrumented",
            "cache::limit",
            "cache::hybrid",
            "cache::near",
            "db::instrumented",
            "db::replica",
        ],
    ),
    ("assembly", &["registry", "settings", "factory", "health"]),
];

/// Database modules a cache module may name, with their own submodules: the
/// trait and its shapes, and the questions every dialect answers; never a dialect.
const DB_FOR_CACHES: &[&str] = &["db::service", "db::grammar", "db::value", "db::provider", "db::config"];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn library() -> Vec<Module> {
    read_crate(&crates_dir().join("pal/src"))
}

/// Crates of test code only: what the tests of every crate share about the test
/// servers (`crates/test-support`, a dev-dependency). Like a crate's `tests/`
/// folder, which is not read either, it reads the environment (the servers' ports)
/// and spells provider names (the servers it sets up).
const TEST_CODE: &[&str] = &["test-support"];

/// Every crate of the workspace with a source folder, by name, but test code.
fn workspace() -> Vec<(String, Vec<Module>)> {
    let mut crates = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let test_code = dir.file_name().is_some_and(|name| TEST_CODE.iter().any(|t| name == *t));
        if dir.join("src").is_dir() && !test_code {
            crates.push((dir.file_name().unwrap().to_string_lossy().into_owned(), read_crate(&dir.join("src"))));
        }
    }
    assert!(crates.len() >= 3, "the workspace's crates were found: {}", crates.len());
    crates
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

fn library_edges() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let edges = edges(&library());
    assert!(edges.len() > 30, "the source was read: {} modules import something", edges.len());
    edges
}

#[test]
fn no_module_of_the_library_imports_one_that_imports_it_back() {
    let loops = cycles(&library_edges());
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

/// No crate of the workspace has an import loop: a module never imports one that
/// imports it back, directly or through others.
#[test]
fn no_module_of_any_crate_imports_one_that_imports_it_back() {
    let mut loops = Vec::new();
    for (krate, modules) in workspace() {
        loops.extend(cycles(&edges(&modules)).into_iter().map(|cycle| format!("{krate}: {cycle}")));
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn imports_point_down_the_layers() {
    let mut wrong = Vec::new();
    for (from, targets) in library_edges() {
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
    for (from, targets) in library_edges() {
        for to in targets {
            let (f, t) = (name(&from), name(&to));
            let outside_error = f.starts_with("error") && !t.starts_with("error");
            let shared = |d: &&str| t == *d || t.starts_with(&format!("{d}::"));
            let cache_to_dialect = f.starts_with("cache") && t.starts_with("db") && !DB_FOR_CACHES.iter().any(shared);
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
    let mut offenders = Vec::new();
    for (krate, modules) in workspace() {
        for m in modules.iter().filter(|m| !m.file.ends_with("pal/src/env/reader.rs")) {
            for read in env_reads(m) {
                offenders.push(format!("{krate}: {}:{}: {}", m.file.display(), read.line, read.what));
            }
        }
    }
    assert!(offenders.is_empty(), "these read the environment themselves:\n{}", offenders.join("\n"));
}

#[test]
fn only_a_providers_own_folder_spells_its_name() {
    let names = pal::registry::CACHES
        .iter()
        .map(|e| e.provider.name)
        .chain(pal::registry::DATABASES.iter().map(|e| e.provider.name));
    let modules: Vec<Module> = workspace().into_iter().flat_map(|(_, modules)| modules).collect();
    let mut wrong = Vec::new();
    for provider in names {
        // The folder of the module whose declaration says `name: "<provider>"`.
        let declaring = |m: &&Module| {
            let text = std::fs::read_to_string(&m.file).unwrap();
            text.contains(&format!("name: \"{provider}\","))
        };
        let home = modules
            .iter()
            .find(declaring)
            .unwrap_or_else(|| panic!("no module declares {provider}"))
            .file
            .parent()
            .unwrap()
            .to_path_buf();
        for m in modules.iter().filter(|m| !m.file.starts_with(&home)) {
            for s in m.strings.iter().filter(|s| s.what == provider) {
                wrong.push(format!(
                    "{}:{} spells {provider:?}, which belongs to {}",
                    m.file.display(),
                    s.line,
                    home.display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
