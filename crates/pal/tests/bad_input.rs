//! Bad input to the server providers: clear errors (or harmless storage), never a
//! panic, never a secret in a message.

mod suite;
mod support;
use suite::servers;

use std::time::{Duration, Instant};

use pal::factory::build_database;
use pal::{ErrorKind, Settings, Value};

const SECRET: &str = "wrong-s3cret";

fn config_error(provider: &str, url: &str) -> String {
    let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)];
    let err = Settings::from_vars(vars).expect_err(url).to_string();
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    err
}

#[test]
fn malformed_urls_name_the_variable_and_hide_the_password() {
    for (provider, url) in [
        ("postgresql", "postgres://app:wrong-s3cret@:notaport/db"),
        ("mysql", "mysql://app:wrong-s3cret@127.0.0.1:99999/db"),
        ("cockroachdb", "postgres//app:wrong-s3cret@127.0.0.1/db"),
        ("postgresql", "wrong-s3cret"),
    ] {
        config_error(provider, url);
    }
}

#[test]
fn a_scheme_of_another_provider_lists_the_accepted_ones() {
    let err = config_error("postgresql", "mysql://app:wrong-s3cret@127.0.0.1/db");
    assert!(err.contains("postgres, postgresql"), "{err}");
    let err = config_error("mysql", "postgres://app@127.0.0.1/db");
    assert!(err.contains("mysql, mariadb"), "{err}");
    let err = config_error("cockroachdb", "sqlite://pal.db");
    assert!(err.contains("postgres, postgresql"), "{err}");
}

#[tokio::test]
async fn driver_options_it_cannot_use_are_configuration_errors() {
    // TLS options are read with the configuration, so a bad one stops start-up.
    for (provider, url) in [
        ("postgresql", "postgres://app:wrong-s3cret@127.0.0.1/db?sslmode=sometimes"),
        ("mysql", "mysql://app:wrong-s3cret@127.0.0.1/db?ssl-mode=sometimes"),
    ] {
        let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)];
        let err = Settings::from_vars(vars).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL") && err.contains("sometimes") && !err.contains(SECRET), "{err}");
    }
    // Other options reach the driver, which refuses them when the adapter is built.
    for (provider, url) in [
        ("postgresql", "postgres://app:wrong-s3cret@127.0.0.1/db?statement-cache-capacity=lots"),
        ("mysql", "mysql://app:wrong-s3cret@127.0.0.1/db?statement-cache-capacity=lots"),
    ] {
        let vars = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)];
        let settings = Settings::from_vars(vars).unwrap();
        let err = build_database(&settings).await.err().expect(url);
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains("DATABASE_URL") && !err.to_string().contains(SECRET), "{err}");
    }
}

async fn wrong_password(provider: &str, url: &str) {
    // A long acquire timeout: an authentication error retried until it expires
    // would take 10 s, one reported at once well under 2 s.
    let db = servers::database(provider, url, &[("DB_POOL_ACQUIRE_TIMEOUT_MS", "10000")]).await;
    let started = Instant::now();
    let err = db.ping().await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert_eq!(err.kind(), ErrorKind::Connection, "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("password authentication failed") || shown.contains("Access denied"), "{shown}");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "{provider}: authentication errors are not retried until the timeout: {took:?}"
    );
}

#[tokio::test]
async fn wrong_passwords_fail_clearly_and_are_redacted() {
    let _lock = servers::exclusive("postgres_fault");
    servers::services("start", "postgres_fault");
    let wrong = servers::postgres_fault_with_password("wrong-s3cret");
    wrong_password("postgresql", &wrong).await;
    wrong_password("cockroachdb", &wrong).await;
    let mysql = format!("mysql://root:wrong-s3cret@127.0.0.1:{}/test", support::port("MARIADB_PORT"));
    wrong_password("mysql", &mysql).await;
}

#[tokio::test]
async fn nothing_listening_is_a_connection_error_within_the_acquire_timeout() {
    for (provider, url) in [("postgresql", "postgres://app@127.0.0.1:9/db"), ("mysql", "mysql://app@127.0.0.1:9/db")] {
        let db = servers::database(provider, url, &[("DB_POOL_ACQUIRE_TIMEOUT_MS", "500")]).await;
        let started = Instant::now();
        let err = db.ping().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{provider}: {err}");
        assert!(started.elapsed() < Duration::from_secs(2), "{provider}: {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn syntax_errors_and_unknown_databases_are_reported_as_such() {
    for (provider, url) in [("postgresql", servers::postgres()), ("mysql", servers::mariadb())] {
        let db = servers::database(provider, &url, &[]).await;
        let err = db.query("SELECT FROM WHERE", &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax, "{provider}: {err}");
        let err = db.query("SELECT 1 AS a; SELECT 2 AS b", &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{provider}: {err}");
    }
    let missing = format!("{}/pal_no_such_database", servers::mariadb());
    // A database the URL names but the server lacks is a configuration error.
    let err = servers::database("mysql", &missing, &[]).await.ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("pal_no_such_database"), "{err}");
    let missing = format!("postgres://postgres@127.0.0.1:{}/pal_no_such_database", support::port("PG_PORT"));
    let err = servers::database("postgresql", &missing, &[]).await.ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("pal_no_such_database"), "{err}");
}

#[tokio::test]
async fn values_a_postgres_parameter_cannot_hold_are_rejected_before_running() {
    let subject = servers::postgres_subject("postgresql", &[]).await;
    let db = subject.db.clone();
    db.execute("CREATE TABLE typed (id BIGINT PRIMARY KEY, small SMALLINT, addr INET)", &[]).await.unwrap();
    let insert = "INSERT INTO typed (id, small) VALUES ($1, $2)";
    for (params, expected) in [
        (vec![Value::Text("1; DROP TABLE typed; --".into()), Value::Null], "parameter $1"),
        (vec![Value::Bytes(vec![1, 2]), Value::Null], "parameter $1"),
        (vec![Value::Int(1), Value::Int(1 << 20)], "parameter $2"),
    ] {
        let err = db.execute(insert, &params).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.message().contains(expected), "{err}");
    }
    // Text the server can read as the parameter's type is accepted (the CLI binds text).
    db.execute(
        "INSERT INTO typed (id, small, addr) VALUES ($1, $2, $3::text::inet)",
        &["7".into(), "3".into(), "192.0.2.1".into()],
    )
    .await
    .unwrap();
    let err = db.query("SELECT addr FROM typed", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.message().contains("addr::text"), "{err}");
    let rows = db.query("SELECT addr::text AS addr FROM typed", &[]).await.unwrap();
    assert_eq!(rows[0].get::<String>("addr").unwrap(), "192.0.2.1/32");
    assert_eq!(db.query("SELECT COUNT(*) AS n FROM typed", &[]).await.unwrap()[0].get::<i64>("n").unwrap(), 1);
    subject.finish().await;
}
