//! The README's variable table is derived from the same table the parser uses;
//! this keeps the two from drifting apart.

#[test]
fn readme_lists_every_variable_with_its_default() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for var in pal::settings::vars::VARS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", var.name)))
            .unwrap_or_else(|| panic!("README has no row for {}", var.name));
        let expected = match var.default {
            Some("") => "*(empty)*".to_string(),
            Some(d) => format!("`{d}`"),
            None => "—".to_string(),
        };
        assert!(
            row.contains(&format!("| {expected} |")),
            "README row for {} should show default {expected}: {row}",
            var.name
        );
    }
}

#[test]
fn readme_quickstart_has_the_two_commands() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("CACHE_PROVIDER=memory DB_PROVIDER=sqlite cargo run --release -- serve"));
    assert!(readme.contains("\nscripts/test\n"));
}
