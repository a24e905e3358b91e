//! PostgreSQL and MariaDB over TLS, on servers that refuse plaintext
//! (`scripts/services`: postgres_tls, mariadb_tls), with certificates the script
//! makes: the database suite over verified TLS, what each mode verifies, client
//! certificates, and configuration mistakes stopped at start-up.

#[macro_use]
mod suite;
mod support;

use std::sync::Arc;

use pal::factory::build_database;
use pal::{DatabaseService, ErrorKind, Settings};
use suite::db::DbSubject;

fn file(name: &str) -> String {
    support::root().join(".services/tls").join(name).canonicalize().unwrap().to_str().unwrap().to_string()
}

fn pg_url(host: &str, user: &str, query: &str) -> String {
    format!("postgres://{user}@{host}:{}/postgres?{query}", support::port("PG_TLS_PORT"))
}

fn verify_full() -> String {
    format!("sslmode=verify-full&sslrootcert={}", file("ca.pem"))
}

fn mariadb_url(query: &str) -> String {
    format!("mysql://root@127.0.0.1:{}/mysql?{query}", support::port("MARIADB_TLS_PORT"))
}

fn verify_identity() -> String {
    format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", file("ca.pem"))
}

fn settings(provider: &str, url: &str) -> Result<Settings, pal::error::ConfigErrors> {
    Settings::from_vars([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", provider), ("DATABASE_URL", url)])
}

/// A connection refused for the reason the test expects, not for any other: the
/// kind is `Connection` and the message names the cause.
fn refused(err: &pal::Error, causes: &[&str]) {
    assert_eq!(err.kind(), pal::ErrorKind::Connection, "{err}");
    let text = err.to_string();
    assert!(causes.iter().all(|c| text.contains(c)), "expected {causes:?} in: {text}");
}

async fn database(provider: &str, url: &str) -> Arc<dyn DatabaseService> {
    build_database(&settings(provider, url).unwrap_or_else(|e| panic!("{e}"))).await.unwrap()
}

/// The database suite in a schema of its own on the TLS server, verify-full.
async fn postgres_tls() -> DbSubject {
    let admin = database("postgresql", &pg_url("127.0.0.1", "postgres", &verify_full())).await;
    let schema = format!("pal_tls_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    admin.execute(&format!("CREATE SCHEMA {schema}"), &[]).await.unwrap();
    let url = pg_url("127.0.0.1", "postgres", &format!("{}&options=-c%20search_path%3D{schema}", verify_full()));
    let db = database("postgresql", &url).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let teardown = async move {
        let _ = admin.execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), &[]).await;
    };
    DbSubject { db, guard: None, teardown: Some(Box::pin(teardown)) }
}

/// The database suite in a database of its own on the TLS MariaDB, VERIFY_IDENTITY.
async fn mariadb_tls() -> DbSubject {
    let admin = database("mysql", &mariadb_url(&verify_identity())).await;
    let name = format!("pal_tls_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    admin.execute(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"), &[]).await.unwrap();
    let url = mariadb_url(&verify_identity()).replace("/mysql?", &format!("/{name}?"));
    let db = database("mysql", &url).await;
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let teardown = async move {
        let _ = admin.execute(&format!("DROP DATABASE IF EXISTS {name}"), &[]).await;
    };
    DbSubject { db, guard: None, teardown: Some(Box::pin(teardown)) }
}

mod postgres_suite {
    use super::*;
    db_conformance!(postgres_tls);
}

mod mariadb_suite {
    use super::*;
    db_conformance!(mariadb_tls);
}

#[tokio::test]
async fn postgres_verify_full_is_encrypted_and_says_so() {
    let db = database("postgresql", &pg_url("127.0.0.1", "postgres", &verify_full())).await;
    let rows = db.query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap();
    assert!(rows[0].get::<bool>("ssl").unwrap());
    let transport = db.transport().await.unwrap().to_string();
    assert!(transport.starts_with("tls verify-full (TLSv1."), "{transport}");
    assert!(transport.contains(&file("ca.pem")), "{transport}");
}

#[tokio::test]
async fn postgres_refuses_a_wrong_ca_and_a_host_the_certificate_does_not_name() {
    let other = format!("sslmode=verify-full&sslrootcert={}", file("other-ca.pem"));
    let err = database("postgresql", &pg_url("127.0.0.1", "postgres", &other)).await.ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
    // 127.0.0.2 is loopback too, but the certificate names 127.0.0.1 and localhost only.
    let err = database("postgresql", &pg_url("127.0.0.2", "postgres", &verify_full())).await.ping().await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
    // verify-ca checks the chain only, so the same host is accepted.
    let chain = format!("sslmode=verify-ca&sslrootcert={}", file("ca.pem"));
    let db = database("postgresql", &pg_url("127.0.0.2", "postgres", &chain)).await;
    assert_eq!(db.transport().await.unwrap().to_string().split(" (").next(), Some("tls verify-ca"));
}

#[tokio::test]
async fn postgres_require_encrypts_without_verifying_and_disable_is_refused_by_the_server() {
    let db = database("postgresql", &pg_url("127.0.0.2", "postgres", "sslmode=require")).await;
    let transport = db.transport().await.unwrap().to_string();
    assert!(transport.starts_with("tls, server not verified (TLSv1."), "{transport}");
    // As libpq: require with a root certificate verifies the chain, so the wrong CA fails.
    let wrong = format!("sslmode=require&sslrootcert={}", file("other-ca.pem"));
    let err = database("postgresql", &pg_url("127.0.0.1", "postgres", &wrong)).await.ping().await.unwrap_err();
    refused(&err, &["UnknownIssuer", "did not verify"]);
    // The default, prefer, encrypts when the server offers it.
    let db = database("postgresql", &pg_url("127.0.0.1", "postgres", "")).await;
    assert!(db.transport().await.unwrap().to_string().starts_with("tls, server not verified"));
    let err =
        database("postgresql", &pg_url("127.0.0.1", "postgres", "sslmode=disable")).await.ping().await.unwrap_err();
    assert!(err.to_string().contains("no encryption") || err.to_string().contains("pg_hba"), "{err}");
}

#[tokio::test]
async fn postgres_client_certificates_authenticate() {
    let with = |cert: &str, key: &str| format!("{}&sslcert={}&sslkey={}", verify_full(), file(cert), file(key));
    let db = database("postgresql", &pg_url("127.0.0.1", "pal_cert", &with("client.pem", "client.key"))).await;
    let rows = db.query("SELECT current_user AS u", &[]).await.unwrap();
    assert_eq!(rows[0].get::<String>("u").unwrap(), "pal_cert");
    assert!(db.transport().await.unwrap().to_string().contains("client certificate"));
    // Without a certificate, or with one from another CA, the role is refused.
    let bare = database("postgresql", &pg_url("127.0.0.1", "pal_cert", &verify_full())).await;
    refused(&bare.ping().await.unwrap_err(), &["requires a valid client certificate"]);
    let stranger = with("stranger.pem", "stranger.key");
    let err = database("postgresql", &pg_url("127.0.0.1", "pal_cert", &stranger)).await.ping().await.unwrap_err();
    refused(&err, &["UnknownCA"]);
}

#[tokio::test]
async fn mariadb_verify_identity_is_encrypted_and_a_wrong_ca_is_refused() {
    let db = database("mysql", &mariadb_url(&verify_identity())).await;
    let rows = db.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'", &[]).await.unwrap();
    assert!(!rows[0].values()[1].to_string().is_empty(), "{:?}", rows[0]);
    let transport = db.transport().await.unwrap().to_string();
    assert!(transport.starts_with("tls verify-full (TLSv1."), "{transport}");
    let other = format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", file("other-ca.pem"));
    let err = database("mysql", &mariadb_url(&other)).await.ping().await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
    // The server requires secure transport: plaintext is refused, never used silently.
    // The TLS user is created REQUIRE SSL: the server denies it a plaintext login.
    let err = database("mysql", &mariadb_url("ssl-mode=DISABLED")).await.ping().await.unwrap_err();
    refused(&err, &["Access denied"]);
}

#[test]
fn mistakes_stop_start_up_naming_the_parameter() {
    let error = |provider: &str, url: &str| settings(provider, url).unwrap_err().to_string();
    let missing =
        error("postgresql", &pg_url("127.0.0.1", "postgres", "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"));
    assert!(
        missing.contains("DATABASE_URL") && missing.contains("sslrootcert: cannot read /nonexistent/ca.pem"),
        "{missing}"
    );
    let not_pem = error(
        "postgresql",
        &pg_url("127.0.0.1", "postgres", &format!("sslmode=verify-full&sslrootcert={}", file("client.key"))),
    );
    assert!(not_pem.contains("holds no PEM certificate"), "{not_pem}");
    let mismatched = format!("{}&sslcert={}&sslkey={}", verify_full(), file("client.pem"), file("server.key"));
    let text = error("postgresql", &pg_url("127.0.0.1", "pal_cert", &mismatched));
    assert!(text.contains("does not belong to the certificate"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let no_ca = error("postgresql", &pg_url("127.0.0.1", "postgres", "sslmode=verify-full"));
    assert!(no_ca.contains("sslrootcert=/path/to/ca.pem") && no_ca.contains("127.0.0.1"), "{no_ca}");
    let mode = error("mysql", &mariadb_url("ssl-mode=ALWAYS"));
    assert!(mode.contains("ssl-mode=ALWAYS") && mode.contains("VERIFY_IDENTITY"), "{mode}");
    let replica = Settings::from_vars([
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &pg_url("127.0.0.1", "postgres", &verify_full())),
        ("DB_REPLICA_URL", &pg_url("127.0.0.1", "postgres", "sslmode=verify-ca")),
    ])
    .unwrap_err()
    .to_string();
    assert!(replica.contains("DB_REPLICA_URL") && replica.contains("sslrootcert"), "{replica}");
}
