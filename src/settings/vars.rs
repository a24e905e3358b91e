//! The table of every environment variable pal reads. Defaults live here and only
//! here: the parser, `pal --help` and the README table are all derived from it.

/// One environment variable: its name, default (as it would be written in the
/// environment) and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Var {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
    /// Values of secret variables are never printed.
    pub secret: bool,
}

const fn var(name: &'static str, default: Option<&'static str>, help: &'static str) -> Var {
    Var { name, default, help, secret: false }
}

const fn secret(name: &'static str, help: &'static str) -> Var {
    Var { name, default: None, help, secret: true }
}

pub const VARS: &[Var] = &[
    // Cache selection and behaviour.
    var("CACHE_PROVIDER", Some("redis"), "Cache provider: redis | redis-hybrid | memory | keydb | memcached"),
    var("CACHE_KEY_PREFIX", Some(""), "Prefix added to every cache key (a namespace shared by all providers)"),
    var("CACHE_MEMORY_MAX_ENTRIES", Some("100000"), "memory: maximum number of entries before eviction"),
    secret(
        "CACHE_KEY_SECRET",
        "Base64 of at least 32 random bytes: the HMAC key that hashes cache keys (`pal keygen` makes one)",
    ),
    secret(
        "CACHE_ENCRYPTION_KEYS",
        "kid:base64-32-byte-key[,kid:key…]: AES-256-GCM keys for cached values; the first encrypts, all decrypt",
    ),
    var(
        "CACHE_INSECURE_NO_ENCRYPTION",
        Some("false"),
        "Store cache keys and values in plaintext on redis, keydb, memcached and redis-hybrid (not recommended)",
    ),
    // Redis, KeyDB.
    secret(
        "REDIS_URL",
        "redis: redis://[user:password@]host[:port][/db] or rediss://… (standalone; required unless cluster or sentinel)",
    ),
    var("REDIS_CLUSTER_ENABLED", Some("false"), "redis: use Redis Cluster, seeded from REDIS_CLUSTER_NODES"),
    var("REDIS_CLUSTER_NODES", None, "redis: comma-separated cluster seed nodes, host:port"),
    var("REDIS_SENTINEL_ENABLED", Some("false"), "redis: find the master through Sentinel"),
    var("REDIS_SENTINEL_MASTER", Some("mymaster"), "redis: name of the master the sentinels monitor"),
    var("REDIS_SENTINEL_NODES", None, "redis: comma-separated sentinels, host:port"),
    secret("REDIS_SENTINEL_PASSWORD", "redis: password of the sentinels themselves, when they require one"),
    var("REDIS_CONNECT_TIMEOUT_MS", Some("2000"), "redis, keydb: connection timeout"),
    var("REDIS_COMMAND_TIMEOUT_MS", Some("1000"), "redis, keydb: timeout of every command"),
    secret("KEYDB_URL", "keydb: redis://… URL of the KeyDB server (or set KEYDB_HOST and KEYDB_PORT)"),
    var("KEYDB_HOST", None, "keydb: host, when KEYDB_URL is not set"),
    var("KEYDB_PORT", Some("6379"), "keydb: port, used with KEYDB_HOST"),
    // Memcached.
    var("MEMCACHED_SERVERS", None, "memcached: comma-separated servers, host:port; keys are sharded across them"),
    var("MEMCACHED_CONNECT_TIMEOUT_MS", Some("1000"), "memcached: connection timeout"),
    var("MEMCACHED_COMMAND_TIMEOUT_MS", Some("1000"), "memcached: timeout of every command"),
    var(
        "MEMCACHED_MAX_ITEM_BYTES",
        Some("1048576"),
        "memcached: the servers' item size limit (their -I); larger values fail with ValueTooLarge",
    ),
    // redis-hybrid.
    var("POSTGRES_FALLBACK_ENABLED", Some("true"), "redis-hybrid: fall back to the database when Redis fails"),
    var("POSTGRES_FALLBACK_CACHE", Some("true"), "redis-hybrid: also write cached sessions to the database"),
    var(
        "FALLBACK_RETRY_ATTEMPTS",
        Some("3"),
        "redis-hybrid: attempts on Redis for a transient error before falling back",
    ),
    var(
        "CACHE_BREAKER_FAILURE_THRESHOLD",
        Some("5"),
        "redis-hybrid: consecutive Redis failures that open the circuit breaker",
    ),
    var(
        "CACHE_BREAKER_COOLDOWN_MS",
        Some("5000"),
        "redis-hybrid: time the breaker stays open before probing Redis again",
    ),
    var(
        "CACHE_JOURNAL_DRAIN_INTERVAL_MS",
        Some("5000"),
        "redis-hybrid: how often each instance invalidates journaled keys in Redis (the staleness bound after another instance's outage)",
    ),
    // Database selection and pools.
    var("DB_PROVIDER", Some("postgresql"), "Database provider: postgresql | mysql | cockroachdb | sqlite"),
    secret(
        "DATABASE_URL",
        "Database URL (postgres://…, mysql://…, sqlite://path or sqlite::memory:); sqlite defaults to sqlite://pal.db",
    ),
    secret("DB_REPLICA_URL", "Read replica URL for read/write splitting (same scheme as DATABASE_URL)"),
    var("DB_POOL_MAX", Some("10"), "Maximum connections in the database pool"),
    var("DB_POOL_MIN", Some("0"), "Connections the pool keeps open when idle"),
    var("DB_POOL_ACQUIRE_TIMEOUT_MS", Some("5000"), "Longest wait for a pooled connection (including connecting)"),
    var("DB_IDLE_TIMEOUT_S", Some("600"), "Idle connections above DB_POOL_MIN are closed after this"),
    var("DB_STATEMENT_TIMEOUT_MS", Some("30000"), "Longest a single statement may run"),
    var("DB_AUTO_MIGRATE", None, "Apply migrations at start-up (default: true for sqlite, false otherwise)"),
    var("DB_TX_MAX_RETRIES", Some("5"), "Retries of a transaction aborted by a serialization failure"),
    // HTTP service and logging.
    var("BIND", Some("127.0.0.1"), "pal serve: address to listen on"),
    var("PORT", Some("8080"), "pal serve: port to listen on"),
    var("RUST_LOG", Some("info"), "Log filter (tracing EnvFilter syntax)"),
];

/// Prefixes of the variables above. A variable with one of these prefixes that is not
/// in the table is most likely a typo, and is reported as a warning.
pub const OWNED_PREFIXES: &[&str] =
    &["CACHE_", "REDIS_", "KEYDB_", "MEMCACHED_", "DB_", "POSTGRES_FALLBACK", "FALLBACK_"];

pub fn lookup(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.name == name)
}

/// The table as plain text, for `pal --help`: `NAME=default` then the meaning,
/// a layout that stays readable when the terminal wraps it.
pub fn help_table() -> String {
    let mut out = String::from("Environment variables (NAME=default):\n");
    for v in VARS {
        let default = match v.default {
            Some(d) => format!("={d}"),
            None => String::new(),
        };
        out.push_str(&format!("  {}{}\n      {}\n", v.name, default, v.help));
    }
    out
}
