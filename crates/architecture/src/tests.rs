//! Each kind of violation, planted in a small source, is found.

use super::*;

fn module(path: &str, text: &str) -> Vec<Module> {
    let path: ModPath = path.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
    parse_file_modules(path, std::path::Path::new("planted.rs"), text)
}

fn crate_of(files: &[(&str, &str)]) -> Vec<Module> {
    files.iter().flat_map(|(path, text)| module(path, text)).collect()
}

fn edge(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>, from: &str, to: &str) -> bool {
    let split = |s: &str| -> ModPath { s.split("::").map(str::to_string).collect() };
    edges.get(&split(from)).is_some_and(|targets| targets.contains(&split(to)))
}

#[test]
fn every_use_is_an_edge_whatever_its_visibility() {
    let modules = crate_of(&[
        ("", "pub mod cache; pub mod factory; pub use cache::Ttl;"),
        ("cache", "mod ttl; pub use ttl::Ttl;"),
        ("cache::ttl", "pub(crate) use crate::factory::build;\npub struct Ttl;"),
        ("factory", "use crate::Ttl;\npub fn build() {}"),
    ]);
    let edges = edges(&modules);
    assert!(edge(&edges, "cache::ttl", "factory"), "a pub(crate) use of a module elsewhere: {edges:?}");
    assert!(edge(&edges, "factory", "cache::ttl"), "resolved through two re-exports: {edges:?}");
    assert!(!edges.contains_key(&vec!["cache".to_string()]), "a facade re-exporting its child depends on nothing");
    assert_eq!(cycles(&edges), ["cache::ttl → factory → cache::ttl"]);
}

#[test]
fn paths_in_code_types_and_macro_arguments_are_edges() {
    let modules = crate_of(&[
        ("", "pub mod a; pub mod b; pub mod c; pub mod d;"),
        ("a", "pub fn f() -> crate::b::T { todo!() }"),
        ("b", "pub struct T; fn g() { let _ = super::c::X; }"),
        ("c", "pub const X: u8 = 1; fn h() { tracing::info!(x = crate::d::Y, \"m\"); }"),
        ("d", "pub const Y: u8 = 1; fn k() { use crate::a::f; f(); }"),
    ]);
    let edges = edges(&modules);
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")] {
        assert!(edge(&edges, from, to), "{from} → {to}: {edges:?}");
    }
    assert_eq!(cycles(&edges).len(), 1);
}

#[test]
fn test_only_items_and_inline_test_modules_are_left_out() {
    let modules = crate_of(&[
        ("", "pub mod a; pub mod b;"),
        ("a", "#[cfg(test)]\nmod tests { use crate::b::X; }\n#[cfg(all(test, feature = \"x\"))]\nuse crate::b::Y;"),
        ("b", "pub struct X; pub struct Y; mod inner { use crate::a; }"),
    ]);
    let edges = edges(&modules);
    assert!(!edges.contains_key(&vec!["a".to_string()]), "{edges:?}");
    assert!(edge(&edges, "b::inner", "a"), "inline modules are modules: {edges:?}");
}

#[test]
fn every_way_of_reading_the_environment_is_found() {
    let planted = [
        "fn f() { let _ = std::env::var(\"X\"); }",
        "fn f() { let _ = std::env::var_os(\"X\"); }",
        "use std::env; fn f() { for _ in env::vars() {} }",
        "use std::env::vars_os; fn f() { vars_os(); }",
        "use std::env::var as read; fn f() { read(\"X\"); }",
        "fn f() { unsafe { std::env::set_var(\"X\", \"1\") } }",
        "fn f() { dotenvy::from_path(\".env\").ok(); }",
        "fn f() { dotenvy::dotenv().ok(); }",
        "fn f() { let _ = format!(\"{:?}\", std::env::var(\"X\")); }",
    ];
    for text in planted {
        let found: Vec<Finding> = module("a", text).iter().flat_map(env_reads).collect();
        assert!(!found.is_empty(), "not found in {text:?}");
    }
    for fine in [
        "fn f() { let _ = dotenvy::from_path_iter(\".env\"); }",
        "fn f() { let _ = env!(\"CARGO_PKG_NAME\"); }",
        "// std::env::var(\"X\") in a comment\nfn f() {}",
        "fn f() { let _ = \"std::env::var\"; }",
        "fn f(env: &Env) { env.var(\"X\"); }",
    ] {
        let found: Vec<Finding> = module("a", fine).iter().flat_map(env_reads).collect();
        assert!(found.is_empty(), "{fine:?} was taken for a read: {found:?}");
    }
}

#[test]
fn every_kind_of_process_state_is_found() {
    let planted = [
        "static SESSIONS: Mutex<HashMap<String, S>> = todo!();",
        "static COUNT: u64 = 0;",
        "fn f() { static SEEN: AtomicU64 = AtomicU64::new(0); }",
        "struct S { seen: std::collections::HashSet<String> }",
        "struct S { seen: dashmap::DashMap<String, u8> }",
        "struct S { seen: DashSet<String> }",
        "static CONFIG: once_cell::sync::Lazy<u8> = todo!();",
        "static CONFIG: OnceLock<u8> = OnceLock::new();",
        "struct S { n: std::sync::atomic::AtomicUsize }",
        "thread_local! { static X: u8 = 1; }",
        "fn f() { let m = std::collections::BTreeMap::<u8, u8>::new(); }",
    ];
    for text in planted {
        let found: Vec<Finding> = module("a", text).iter().flat_map(process_state).collect();
        assert!(!found.is_empty(), "not found in {text:?}");
    }
    for fine in [
        "// a HashMap would be lost on restart\nfn f() {}",
        "fn f() -> &'static str { \"HashMap\" }",
        "const URL: &str = \"http://x//HashMap\"; fn g() {}",
    ] {
        let found: Vec<Finding> = module("a", fine).iter().flat_map(process_state).collect();
        assert!(found.is_empty(), "{fine:?} was taken for state: {found:?}");
    }
    // A URL in a line keeps the rest of the line in view.
    let text = "fn f() { let _u = \"http://example.com/\"; let _m: HashMap<u8, u8> = todo!(); }";
    assert!(!module("a", text).iter().flat_map(process_state).collect::<Vec<_>>().is_empty());
}

#[test]
fn naming_a_driver_crate_is_found_anywhere_in_a_path() {
    let drivers = ["redis", "sqlx", "memcache", "moka"];
    for text in [
        "fn f() { let c = redis::Client::open(url); }",
        "use sqlx::PgPool;",
        "use   moka::sync::Cache;",
        "fn f() { memcache::connect(\"x\"); }",
        "extern crate redis;",
        "use redis as r;",
        "fn f() { let name = pal::cache::redis::PROVIDER.name; }",
    ] {
        let found: Vec<Finding> = module("a", text).iter().flat_map(|m| names_crates(m, &drivers)).collect();
        assert!(!found.is_empty(), "{text:?} was not found");
    }
    for fine in [
        "use pal::CacheService;",
        "// redis:: in a comment\nfn f() {}",
        "fn f() { let provider = state.cache.provider(); }",
        "fn f() { let sessions = my_redis_like::thing; }",
        "fn f() { let _ = \"redis://127.0.0.1\"; }",
    ] {
        let found: Vec<Finding> = module("a", fine).iter().flat_map(|m| names_crates(m, &drivers)).collect();
        assert!(found.is_empty(), "{fine:?} was taken for a driver: {found:?}");
    }
}

#[test]
fn string_literals_are_read_in_code_and_macro_arguments_not_in_comments_or_tests() {
    let text = "// \"redis\" in a comment\nfn f() { let _ = \"memory\"; tracing::info!(provider = \"redis\", \"x\"); }\n\
                #[cfg(test)]\nmod tests { const P: &str = \"sqlite\"; }";
    let strings: Vec<String> =
        module("a", text).iter().flat_map(|m| m.strings.iter().map(|s| s.what.clone())).collect();
    assert_eq!(strings, ["memory", "redis", "x"]);
}
