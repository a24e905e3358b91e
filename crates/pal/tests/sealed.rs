//! Sealed storage seen from the servers' side: sessions written through pal are
//! read back with each store's own client, and neither the email, the user id
//! nor any JSON field name may appear in raw keys or values.

mod suite;
mod support;

use std::sync::Arc;

use pal::factory::{build_cache, build_database, build_expiring_store, sealer};
use pal::{CacheService, CacheServiceExt, Settings, Ttl};
use serde::Serialize;

const EMAIL: &str = "ana.secret@example.com";
const USER_ID: &str = "user-7f3a9c";
const FIELDS: [&str; 3] = ["email", "user_id", "display_name"];

#[derive(Serialize)]
struct Session {
    email: &'static str,
    user_id: &'static str,
    display_name: &'static str,
}

const SESSION: Session = Session { email: EMAIL, user_id: USER_ID, display_name: "Ana" };

fn assert_opaque(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for needle in [EMAIL, USER_ID, "ana.secret"].iter().chain(FIELDS.iter()) {
        assert!(!text.contains(needle), "{what} reveals {needle:?}: {text:?}");
    }
}

async fn settings_for(vars: &[(&str, &str)]) -> (Settings, Arc<dyn CacheService>, String) {
    let prefix = format!("sealtest{}:", uuid::Uuid::new_v4().simple());
    let mut all = vars.to_vec();
    all.push(("CACHE_KEY_PREFIX", prefix.as_str()));
    all.push(("DB_PROVIDER", "sqlite"));
    let settings = Settings::from_vars(support::sealed(&all)).unwrap();
    let cache = build_cache(&settings).await.unwrap();
    (settings, cache, prefix)
}

/// A raw value is pal's sealed format holding `plaintext`: the format byte, the key
/// id, a nonce, and a ciphertext that opens, bound to its storage key, to exactly
/// the session. A mere encoding of the JSON (base64, hex) fails every one of these.
fn assert_sealed(settings: &Settings, storage_key: &str, raw: &[u8], plaintext: &[u8]) {
    assert_eq!(raw.first(), Some(&0xA9), "not in the sealed format: {raw:?}");
    let header = 1 + 4 + 1 + usize::from(raw[5]);
    assert_eq!(raw.len(), header + 12 + plaintext.len() + 16, "header, nonce, ciphertext, tag");
    let sealer = sealer(settings).unwrap().expect("sealing is on");
    assert_eq!(sealer.open(storage_key, raw).unwrap(), plaintext, "opens to the session");
    assert!(sealer.open("another:key", raw).is_err(), "bound to its storage key");
}

/// The key a session is stored under on the server.
fn storage_key(settings: &Settings, prefix: &str, session_id: &str) -> String {
    let sealer = sealer(settings).unwrap().expect("sealing is on");
    format!("{prefix}{}", sealer.hash_key(&format!("session:{session_id}")))
}

async fn check_redis_like(port: &str, provider_vars: &[(&str, &str)]) {
    let (settings, cache, prefix) = settings_for(provider_vars).await;
    cache.set_session(EMAIL, &SESSION, Ttl::from_secs(60).unwrap()).await.unwrap();
    cache.set_session(USER_ID, &SESSION, Ttl::from_secs(60).unwrap()).await.unwrap();
    let mut raw = support::node(port).await;
    let mut keys: Vec<Vec<u8>> = support::scan(&mut raw, &format!("{prefix}*")).await;
    let record = format!("{prefix}{}", pal::cache::RECORD_KEY);
    assert!(keys.iter().any(|k| *k == record.as_bytes()), "the first write left the key record");
    keys.retain(|k| *k != record.as_bytes());
    assert_eq!(keys.len(), 2, "both sessions are on the server");
    for key in &keys {
        assert_opaque("a raw key", key);
        assert!(String::from_utf8_lossy(key).starts_with(&format!("{prefix}session:")), "the namespace stays readable");
        let value: Vec<u8> = redis::cmd("GET").arg(key).query_async(&mut raw).await.unwrap();
        assert_opaque("a raw value", &value);
        // The storage key without the prefix layer's part is what the value is bound to.
        let bound_to = String::from_utf8_lossy(key).strip_prefix(&prefix).unwrap().to_string();
        assert_sealed(&settings, &bound_to, &value, &serde_json::to_vec(&SESSION).unwrap());
    }
    let expected = storage_key(&settings, &prefix, EMAIL);
    assert!(keys.iter().any(|k| k == expected.as_bytes()));
    let back: serde_json::Value = cache.get_session(EMAIL).await.unwrap().unwrap();
    assert_eq!(back["email"], EMAIL, "pal still reads its own sessions");
}

#[tokio::test]
async fn redis_holds_no_readable_session_data() {
    let port = support::port("REDIS_PORT");
    let url = format!("redis://127.0.0.1:{port}");
    check_redis_like(&port, &[("CACHE_PROVIDER", "redis"), ("REDIS_URL", &url)]).await;
}

#[tokio::test]
async fn valkey_as_keydb_holds_no_readable_session_data() {
    let port = support::port("VALKEY_PORT");
    let url = format!("redis://127.0.0.1:{port}");
    check_redis_like(&port, &[("CACHE_PROVIDER", "keydb"), ("KEYDB_URL", &url)]).await;
}

#[tokio::test]
async fn memcached_holds_no_readable_session_data() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let port = support::port("MEMCACHED_PORT");
    let servers = format!("127.0.0.1:{port}");
    let (settings, cache, prefix) =
        settings_for(&[("CACHE_PROVIDER", "memcached"), ("MEMCACHED_SERVERS", &servers)]).await;
    cache.set_session(EMAIL, &SESSION, Ttl::from_secs(60).unwrap()).await.unwrap();
    let key = storage_key(&settings, &prefix, EMAIL);
    assert_opaque("the raw key", key.as_bytes());
    // The text protocol, spoken directly: `mg <key> v` answers `VA <size>` and the value.
    let mut conn = BufReader::new(tokio::net::TcpStream::connect(&servers).await.unwrap());
    conn.get_mut().write_all(format!("mg {key} v\r\n").as_bytes()).await.unwrap();
    let mut header = String::new();
    conn.read_line(&mut header).await.unwrap();
    let size: usize = header
        .strip_prefix("VA ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not stored under the expected key: {header:?}"));
    let mut value = vec![0; size];
    conn.read_exact(&mut value).await.unwrap();
    assert_opaque("the raw value", &value);
    let bound_to = key.strip_prefix(&prefix).unwrap();
    assert_sealed(&settings, bound_to, &value, &serde_json::to_vec(&SESSION).unwrap());
}

/// Writes a session through pal's sealed session store on `provider` at `url`, and
/// returns what the `sessions` table holds, read with `read_raw` (not through pal).
async fn session_row_through_pal(provider: &str, url: &str) {
    let settings = Settings::from_vars(support::sealed(&[
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", provider),
        ("DATABASE_URL", url),
    ]))
    .unwrap();
    let db = build_database(&settings).await.unwrap();
    db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
    let store = build_expiring_store(&settings, db).unwrap();
    let data = serde_json::to_vec(&SESSION).unwrap();
    store.upsert(EMAIL, &data, chrono::Utc::now() + chrono::Duration::seconds(60)).await.unwrap();
    store.upsert(USER_ID, &data, chrono::Utc::now() + chrono::Duration::seconds(60)).await.unwrap();
    assert_eq!(&store.get(EMAIL).await.unwrap().unwrap().data[..], &data[..], "pal reads its own session");
}

fn assert_rows_opaque(rows: &[(String, Vec<u8>)]) {
    assert_eq!(rows.len(), 2, "both sessions are in the table");
    for (id, data) in rows {
        assert_opaque("a raw session id", id.as_bytes());
        assert_opaque("a raw session payload", data);
    }
}

#[tokio::test]
async fn the_sqlite_session_table_holds_no_readable_session_data() {
    use sqlx::Row as _;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sealed.db").display());
    session_row_through_pal("sqlite", &url).await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT id, data FROM pal_sessions").fetch_all(&pool).await.unwrap();
    assert_rows_opaque(&rows.iter().map(|r| (r.get("id"), r.get("data"))).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_postgresql_session_table_holds_no_readable_session_data() {
    use sqlx::Row as _;
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    session_row_through_pal("postgresql", &url).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT id, data FROM pal_sessions").fetch_all(&pool).await.unwrap();
    assert_rows_opaque(&rows.iter().map(|r| (r.get("id"), r.get("data"))).collect::<Vec<_>>());
    pool.close().await;
    teardown.await;
}

#[tokio::test]
async fn the_mariadb_session_table_holds_no_readable_session_data() {
    use sqlx::Row as _;
    let (url, teardown) = suite::servers::fresh_mariadb_database().await;
    session_row_through_pal("mysql", &url).await;
    let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT id, data FROM pal_sessions").fetch_all(&pool).await.unwrap();
    assert_rows_opaque(&rows.iter().map(|r| (r.get("id"), r.get("data"))).collect::<Vec<_>>());
    pool.close().await;
    teardown.await;
}

#[tokio::test]
async fn a_value_sealed_for_one_key_does_not_open_under_another() {
    let port = support::port("REDIS_PORT");
    let url = format!("redis://127.0.0.1:{port}");
    let (settings, cache, prefix) = settings_for(&[("CACHE_PROVIDER", "redis"), ("REDIS_URL", &url)]).await;
    cache.set_session("a", &SESSION, Ttl::from_secs(60).unwrap()).await.unwrap();
    cache.set_session("b", &SESSION, Ttl::from_secs(60).unwrap()).await.unwrap();
    let mut raw = support::node(&port).await;
    let a: Vec<u8> = redis::cmd("GET").arg(storage_key(&settings, &prefix, "a")).query_async(&mut raw).await.unwrap();
    let _: () = redis::cmd("SET")
        .arg(storage_key(&settings, &prefix, "b"))
        .arg(a)
        .arg("KEEPTTL")
        .query_async(&mut raw)
        .await
        .unwrap();
    let err = cache.get_session::<serde_json::Value>("b").await.unwrap_err();
    assert_eq!(err.kind(), pal::ErrorKind::Integrity, "{err}");
    let _: () = redis::cmd("SET")
        .arg(storage_key(&settings, &prefix, "b"))
        .arg("{\"email\":\"forged\"}")
        .arg("KEEPTTL")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(cache.get_session::<serde_json::Value>("b").await.unwrap_err().kind(), pal::ErrorKind::Integrity);
}
