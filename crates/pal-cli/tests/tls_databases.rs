//! `pal check` against PostgreSQL over TLS (`scripts/services`: postgres_tls): the
//! transport column says what was verified. (The library's `tests/tls_databases.rs`
//! has the rest.)

mod support;

fn pg_url(host: &str, user: &str, query: &str) -> String {
    format!("postgres://{user}@{host}:{}/postgres?{query}", support::port("PG_TLS_PORT"))
}

fn verify_full() -> String {
    format!("sslmode=verify-full&sslrootcert={}", support::tls_file("ca.pem"))
}

/// `pal check` as an operator runs it: the transport column says what was verified.
#[test]
fn pal_check_shows_how_each_connection_is_protected() {
    let url = pg_url("127.0.0.1", "postgres", &verify_full());
    let out = support::pal_command()
        .envs([
            ("CACHE_PROVIDER", "memory"),
            ("DB_PROVIDER", "postgresql"),
            ("DATABASE_URL", url.as_str()),
            ("DB_AUTO_MIGRATE", "true"),
        ])
        .arg("check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("tls verify-full"), "{text}");
    assert!(text.contains("in process"), "{text}");
}
