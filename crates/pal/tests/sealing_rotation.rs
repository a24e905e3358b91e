//! Sealing through every provider that stores data outside the process, checked
//! on the raw stored bytes: the documented header with the sealing key's id, a
//! fresh nonce per write, key rotation (`k1` → `k2,k1` → `k2`), and tampering.

mod suite;
mod support;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pal::{CacheService, ErrorKind, Settings, Ttl};

const SECRET: (&str, &str) = ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc=");
const K1: &str = "k1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg=";
const K2: &str = "k2:lGG2IZsafEFdou6ycAsE+/Q3awBmrucHKea7Nj8vR0g=";
const FORMAT: u8 = 0xA9;
/// The format byte and the secret's fingerprint, before the key id's length.
const FINGERPRINTED: usize = 1 + 4;
const NONCE: usize = 12;
const TAG: usize = 16;

/// Reads and overwrites what a provider stores, with that store's own client.
#[async_trait]
trait Raw: Send + Sync {
    async fn get(&self, storage_key: &str) -> Vec<u8>;
    async fn set(&self, storage_key: &str, bytes: Vec<u8>);
}

struct RedisRaw(String);

#[async_trait]
impl Raw for RedisRaw {
    async fn get(&self, key: &str) -> Vec<u8> {
        let value: Option<Vec<u8>> =
            redis::cmd("GET").arg(key).query_async(&mut support::node(&self.0).await).await.unwrap();
        value.unwrap_or_else(|| panic!("{key} is not in Redis"))
    }
    async fn set(&self, key: &str, bytes: Vec<u8>) {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(bytes)
            .arg("KEEPTTL")
            .query_async(&mut support::node(&self.0).await)
            .await
            .unwrap();
    }
}

struct MemcachedRaw(String);

#[async_trait]
impl Raw for MemcachedRaw {
    async fn get(&self, key: &str) -> Vec<u8> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let mut conn = BufReader::new(tokio::net::TcpStream::connect(format!("127.0.0.1:{}", self.0)).await.unwrap());
        conn.get_mut().write_all(format!("mg {key} v\r\n").as_bytes()).await.unwrap();
        let mut header = String::new();
        conn.read_line(&mut header).await.unwrap();
        let size: usize = header
            .strip_prefix("VA ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{key} is not in memcached: {header:?}"));
        let mut value = vec![0; size];
        conn.read_exact(&mut value).await.unwrap();
        value
    }
    async fn set(&self, key: &str, bytes: Vec<u8>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let mut conn = BufReader::new(tokio::net::TcpStream::connect(format!("127.0.0.1:{}", self.0)).await.unwrap());
        let mut request = format!("ms {key} {} T60\r\n", bytes.len()).into_bytes();
        request.extend_from_slice(&bytes);
        request.extend_from_slice(b"\r\n");
        conn.get_mut().write_all(&request).await.unwrap();
        let mut reply = String::new();
        conn.read_line(&mut reply).await.unwrap();
        assert!(reply.starts_with("HD"), "{reply:?}");
    }
}

/// The hybrid's database copy, in the `sessions` table. Reading through pal then
/// needs Redis not to hold the key, so `set` also removes the Redis copy.
struct HybridDbRaw {
    url: String,
    redis: RedisRaw,
    prefix: String,
}

#[async_trait]
impl Raw for HybridDbRaw {
    async fn get(&self, key: &str) -> Vec<u8> {
        let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
        let row: (Vec<u8>,) =
            sqlx::query_as("SELECT data FROM pal_sessions WHERE id = $1").bind(key).fetch_one(&pool).await.unwrap();
        pool.close().await;
        row.0
    }
    async fn set(&self, key: &str, bytes: Vec<u8>) {
        let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
        sqlx::query("UPDATE pal_sessions SET data = $1 WHERE id = $2")
            .bind(bytes)
            .bind(key)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let _: i64 = redis::cmd("DEL")
            .arg(format!("{}{key}", self.prefix))
            .query_async(&mut support::node(&self.redis.0).await)
            .await
            .unwrap();
    }
}

struct Subject {
    vars: Vec<(&'static str, String)>,
    raw: Box<dyn Raw>,
    /// Prefix of the stored key in the raw store.
    prefix: String,
}

impl Subject {
    /// Deletes the key record this subject's writes left.
    async fn forget_record(&self) {
        let vars: Vec<(&str, &str)> = self.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        support::forget_key_record(&vars).await;
    }

    async fn cache(&self, keys: &str) -> Arc<dyn CacheService> {
        let mut vars: Vec<(&str, &str)> = self.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.extend([SECRET, ("CACHE_ENCRYPTION_KEYS", keys)]);
        pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap()
    }

    fn storage_key(&self, key: &str) -> String {
        let vars = [SECRET, ("CACHE_ENCRYPTION_KEYS", K1), ("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")];
        let sealer = pal::factory::sealer(&Settings::from_vars(vars).unwrap()).unwrap().unwrap();
        format!("{}{}", self.prefix, sealer.hash_key(key))
    }
}

/// The key id in a sealed value's header, after checking the header's layout.
fn key_id(raw: &[u8], plaintext_len: usize) -> String {
    assert_eq!(raw[0], FORMAT, "sealed values start with the format byte: {raw:?}");
    let kid_len = usize::from(raw[FINGERPRINTED]);
    let header = FINGERPRINTED + 1 + kid_len;
    assert_eq!(raw.len(), header + NONCE + plaintext_len + TAG, "header, nonce, ciphertext and tag");
    String::from_utf8(raw[header - kid_len..header].to_vec()).unwrap()
}

async fn rotate_and_tamper(name: &str, subject: Subject) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let ttl = Ttl::from_secs(120).unwrap();
    let (old, fresh, twice) = (format!("rot:{run}:old"), format!("rot:{run}:new"), format!("rot:{run}:twice"));
    let value = Bytes::from_static(b"{\"user\":\"ana\",\"role\":\"admin\"}");

    let k1 = subject.cache(K1).await;
    k1.set(&old, value.clone(), ttl).await.unwrap();
    let raw_old = subject.raw.get(&subject.storage_key(&old)).await;
    assert_eq!(key_id(&raw_old, value.len()), "k1", "{name}");
    k1.set(&twice, value.clone(), ttl).await.unwrap();
    let first = subject.raw.get(&subject.storage_key(&twice)).await;
    k1.set(&twice, value.clone(), ttl).await.unwrap();
    let second = subject.raw.get(&subject.storage_key(&twice)).await;
    let nonce = FINGERPRINTED + 1 + 2;
    assert_ne!(first[nonce..nonce + NONCE], second[nonce..nonce + NONCE], "{name}: a fresh nonce per write");
    assert_ne!(first, second, "{name}: the same value sealed twice differs");
    drop(k1);

    let rotated = subject.cache(&format!("{K2},{K1}")).await;
    assert_eq!(rotated.get(&old).await.unwrap().as_deref(), Some(&value[..]), "{name}: k1's value still opens");
    rotated.set(&fresh, value.clone(), ttl).await.unwrap();
    assert_eq!(key_id(&subject.raw.get(&subject.storage_key(&fresh)).await, value.len()), "k2", "{name}: k2 seals");
    drop(rotated);

    let retired = subject.cache(K2).await;
    let err = retired.get(&old).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{name}: k1 retired: {err}");
    assert!(err.to_string().contains("\"k1\""), "{name}: the error names the missing key id: {err}");
    assert_eq!(retired.get(&fresh).await.unwrap().as_deref(), Some(&value[..]), "{name}");

    // One flipped byte anywhere in the stored value fails authentication.
    let key = subject.storage_key(&fresh);
    let sealed = subject.raw.get(&key).await;
    // The fingerprint, the key id's length, the key id, the nonce, the tag.
    for at in [1, FINGERPRINTED, FINGERPRINTED + 2, FINGERPRINTED + 1 + 2 + 3, sealed.len() - 1] {
        let mut tampered = sealed.clone();
        tampered[at] ^= 0x01;
        subject.raw.set(&key, tampered).await;
        let err = retired.get(&fresh).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{name}: byte {at} flipped: {err}");
    }
    subject.raw.set(&key, sealed).await;
    assert_eq!(retired.get(&fresh).await.unwrap().as_deref(), Some(&value[..]), "{name}: restored");
    subject.forget_record().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    let port = support::port("REDIS_PORT");
    let prefix = support::run_prefix("rot");
    let vars = vec![
        ("CACHE_PROVIDER", "redis".to_string()),
        ("REDIS_URL", format!("redis://127.0.0.1:{port}")),
        ("CACHE_KEY_PREFIX", prefix.clone()),
        ("DB_PROVIDER", "sqlite".to_string()),
    ];
    rotate_and_tamper("redis", Subject { vars, raw: Box::new(RedisRaw(port)), prefix }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached() {
    let port = support::port("MEMCACHED_PORT");
    let prefix = support::run_prefix("rot");
    let vars = vec![
        ("CACHE_PROVIDER", "memcached".to_string()),
        ("MEMCACHED_SERVERS", format!("127.0.0.1:{port}")),
        ("CACHE_KEY_PREFIX", prefix.clone()),
        ("DB_PROVIDER", "sqlite".to_string()),
    ];
    rotate_and_tamper("memcached", Subject { vars, raw: Box::new(MemcachedRaw(port)), prefix }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_hybrid_database_copy() {
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let port = support::port("REDIS_PORT");
    let prefix = format!("hy{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let vars = vec![
        ("CACHE_PROVIDER", "redis-hybrid".to_string()),
        ("REDIS_URL", format!("redis://127.0.0.1:{port}")),
        ("CACHE_KEY_PREFIX", prefix.clone()),
        ("DB_PROVIDER", "postgresql".to_string()),
        ("DATABASE_URL", url.clone()),
        ("DB_AUTO_MIGRATE", "true".to_string()),
    ];
    let raw = HybridDbRaw { url: url.clone(), redis: RedisRaw(port), prefix };
    rotate_and_tamper("redis-hybrid", Subject { vars, raw: Box::new(raw), prefix: String::new() }).await;
    teardown.await;
}

#[tokio::test]
async fn sealed_session_store() {
    let (url, teardown) = suite::servers::fresh_postgres_schema().await;
    let store_with = |keys: &'static str| {
        let url = url.clone();
        async move {
            let vars = [
                ("CACHE_PROVIDER", "memory"),
                ("DB_PROVIDER", "postgresql"),
                ("DATABASE_URL", url.as_str()),
                SECRET,
                ("CACHE_ENCRYPTION_KEYS", keys),
            ];
            let settings = Settings::from_vars(vars).unwrap();
            let db = pal::factory::build_database(&settings).await.unwrap();
            db.migrate(pal::db::migrate::Tables::ALL).await.unwrap();
            (pal::factory::build_expiring_store(&settings, db.clone()).unwrap(), db)
        }
    };
    let expires = chrono::Utc::now() + chrono::Duration::seconds(60);
    let data = b"{\"user\":\"ana\"}";
    let (k1, db) = store_with(K1).await;
    k1.upsert("s1", data, expires).await.unwrap();
    let raw: Vec<u8> = db.query("SELECT data FROM pal_sessions", &[]).await.unwrap()[0].get("data").unwrap();
    assert_eq!(key_id(&raw, data.len()), "k1");
    let (rotated, _) = store_with(Box::leak(format!("{K2},{K1}").into_boxed_str())).await;
    assert_eq!(&rotated.get("s1").await.unwrap().unwrap().data[..], data);
    let (retired, db) = store_with(K2).await;
    assert_eq!(retired.get("s1").await.unwrap_err().kind(), ErrorKind::Integrity);
    let mut tampered = raw.clone();
    *tampered.last_mut().unwrap() ^= 1;
    db.execute("UPDATE pal_sessions SET data = $1", &[pal::Value::Bytes(tampered)]).await.unwrap();
    assert_eq!(rotated.get("s1").await.unwrap_err().kind(), ErrorKind::Integrity, "tampered");
    teardown.await;
}
