//! The README's variable table and `.env.example` are generated from the same
//! declarations the parser reads (`pal vars`); this keeps them from drifting.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn pal_vars(format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pal")).env_clear().args(["vars", "--format", format]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

const BEGIN: &str = "<!-- pal vars --format markdown -->\n";
const END: &str = "<!-- end of pal vars -->";

#[test]
fn readme_variable_table_is_what_pal_vars_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find(BEGIN).expect("the README marks where the table starts") + BEGIN.len();
    let end = readme[start..].find(END).expect("the README marks where the table ends") + start;
    let expected = pal_vars("markdown");
    assert!(
        readme[start..end] == expected,
        "the README's variable table is out of date; replace it with `cargo run -q -- vars --format markdown`:\n{expected}"
    );
}

#[test]
fn dotenv_example_is_what_pal_vars_prints() {
    let file = std::fs::read_to_string(root().join(".env.example")).unwrap();
    assert!(
        file == pal_vars("dotenv"),
        ".env.example is out of date; regenerate it with `cargo run -q -- vars --format dotenv > .env.example`"
    );
}

#[test]
fn every_variable_is_listed_once_with_its_default() {
    let text = pal_vars("text");
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  ").filter(|l| !l.starts_with(' ')))
        .map(|l| l.split('=').next().unwrap())
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "a variable is declared twice: {names:?}");
    for expected in ["CACHE_PROVIDER=redis", "DB_PROVIDER=postgresql", "MEMCACHED_MAX_ITEM_BYTES=1048576", "PORT=8080"]
    {
        assert!(text.contains(&format!("  {expected}\n")), "{expected} missing from:\n{text}");
    }
}

#[test]
fn readme_quickstart_has_the_two_commands() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("CACHE_PROVIDER=memory DB_PROVIDER=sqlite cargo run --release -- serve"));
    assert!(readme.contains("\nscripts/test\n"));
}
