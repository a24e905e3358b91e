//! `pal check` with a wrong database password: a clear error, never the password.
//! (The library's `tests/bad_input.rs` has the rest.)

mod support;

use support::servers;

const SECRET: &str = "wrong-s3cret";

#[test]
fn pal_check_with_a_wrong_password_exits_1_without_the_password() {
    let _lock = support::exclusive("postgres_fault");
    servers::services("start", "postgres_fault");
    let out = support::pal_command()
        .envs([
            ("CACHE_PROVIDER", "memory"),
            ("DB_PROVIDER", "postgresql"),
            ("DATABASE_URL", &servers::postgres_fault_with_password("wrong-s3cret")),
        ])
        .arg("check")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("DOWN: ") && text.contains("pal:***@127.0.0.1"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}
