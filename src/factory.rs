//! The one place that knows provider names: it turns [`Settings`] into adapters.
//! Application code receives trait objects and never learns which provider it got.

use std::sync::Arc;

use crate::cache::CacheService;
use crate::db::{AuditSink, DatabaseService, SessionStore, SqlAuditSink, SqlSessionStore};
use crate::error::Result;
use crate::settings::{ConfigError, ConfigErrors, Settings};

/// The cache providers `CACHE_PROVIDER` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheProvider {
    Redis,
    RedisHybrid,
    Memory,
    KeyDb,
    Memcached,
}

impl CacheProvider {
    pub const NAMES: &'static [&'static str] = &["redis", "redis-hybrid", "memory", "keydb", "memcached"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "redis" => CacheProvider::Redis,
            "redis-hybrid" => CacheProvider::RedisHybrid,
            "memory" => CacheProvider::Memory,
            "keydb" => CacheProvider::KeyDb,
            "memcached" => CacheProvider::Memcached,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            CacheProvider::Redis => "redis",
            CacheProvider::RedisHybrid => "redis-hybrid",
            CacheProvider::Memory => "memory",
            CacheProvider::KeyDb => "keydb",
            CacheProvider::Memcached => "memcached",
        }
    }

    /// Whether the provider is configured through the `REDIS_*` variables.
    pub fn uses_redis(self) -> bool {
        matches!(self, CacheProvider::Redis | CacheProvider::RedisHybrid)
    }
}

/// The database providers `DB_PROVIDER` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbProvider {
    Postgresql,
    Mysql,
    Cockroachdb,
    Sqlite,
}

impl DbProvider {
    pub const NAMES: &'static [&'static str] = &["postgresql", "mysql", "cockroachdb", "sqlite"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "postgresql" => DbProvider::Postgresql,
            "mysql" => DbProvider::Mysql,
            "cockroachdb" => DbProvider::Cockroachdb,
            "sqlite" => DbProvider::Sqlite,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DbProvider::Postgresql => "postgresql",
            DbProvider::Mysql => "mysql",
            DbProvider::Cockroachdb => "cockroachdb",
            DbProvider::Sqlite => "sqlite",
        }
    }

    pub fn url_schemes(self) -> &'static [&'static str] {
        match self {
            DbProvider::Postgresql | DbProvider::Cockroachdb => &["postgres", "postgresql"],
            DbProvider::Mysql => &["mysql", "mariadb"],
            DbProvider::Sqlite => &["sqlite"],
        }
    }

    pub fn example_url(self) -> &'static str {
        match self {
            DbProvider::Postgresql => "postgres://app:password@127.0.0.1:5432/app",
            DbProvider::Mysql => "mysql://app:password@127.0.0.1:3306/app",
            DbProvider::Cockroachdb => "postgresql://app@127.0.0.1:26257/app?sslmode=disable",
            DbProvider::Sqlite => "sqlite://pal.db",
        }
    }

    /// The URL used when `DATABASE_URL` is unset: only the embedded database has one.
    pub fn default_url(self) -> Option<&'static str> {
        (self == DbProvider::Sqlite).then_some("sqlite://pal.db")
    }

    pub fn embedded(self) -> bool {
        self == DbProvider::Sqlite
    }

    pub fn supports_replicas(self) -> bool {
        self != DbProvider::Sqlite
    }
}

// Only reachable in builds with a provider family's feature turned off.
#[allow(dead_code)]
fn not_built(var: &'static str, provider: &'static str, feature: &'static str) -> crate::Error {
    let why = format!("is not part of this build (pal was compiled without the `{feature}` feature)");
    ConfigErrors::from(ConfigError::NotBuilt { var, provider, why }).into()
}

/// Builds the configured cache. Connection problems surface at the first call
/// (or `ping`), not here, so a server that is briefly down does not stop start-up.
pub async fn build_cache(settings: &Settings) -> Result<Arc<dyn CacheService>> {
    let cache = &settings.cache;
    let built: Arc<dyn CacheService> = match cache.provider {
        CacheProvider::Memory => Arc::new(crate::cache::memory::MemoryCache::new(cache.memory_max_entries)),
        #[cfg(feature = "redis")]
        CacheProvider::Redis => Arc::new(redis_cache("redis", cache.redis.topology.as_ref(), settings)?),
        #[cfg(feature = "redis")]
        CacheProvider::KeyDb => {
            let topology = cache.keydb_url.clone().map(crate::settings::RedisTopology::Standalone);
            Arc::new(redis_cache("keydb", topology.as_ref(), settings)?)
        }
        #[cfg(not(feature = "redis"))]
        CacheProvider::Redis => return Err(not_built("CACHE_PROVIDER", "redis", "redis")),
        #[cfg(not(feature = "redis"))]
        CacheProvider::KeyDb => return Err(not_built("CACHE_PROVIDER", "keydb", "redis")),
        #[cfg(feature = "redis")]
        CacheProvider::RedisHybrid => return hybrid_cache(settings).await,
        #[cfg(not(feature = "redis"))]
        CacheProvider::RedisHybrid => return Err(not_built("CACHE_PROVIDER", "redis-hybrid", "redis")),
        #[cfg(feature = "memcached")]
        CacheProvider::Memcached => {
            let m = &cache.memcached;
            Arc::new(
                crate::cache::memcached::MemcachedCache::connect(
                    &m.servers,
                    m.connect_timeout,
                    m.command_timeout,
                    m.max_item_bytes,
                )
                .await?,
            )
        }
        #[cfg(not(feature = "memcached"))]
        CacheProvider::Memcached => return Err(not_built("CACHE_PROVIDER", "memcached", "memcached")),
    };
    seal(settings, crate::cache::prefixed(built, &cache.key_prefix))
}

/// Sealing goes outermost: outside the prefix layer, so the prefix (like the
/// namespace) stays readable, and outside the hybrid layer, so its database copy
/// and journal hold only hashed keys and sealed values.
fn seal(settings: &Settings, cache: Arc<dyn CacheService>) -> Result<Arc<dyn CacheService>> {
    Ok(match sealer(settings)? {
        Some(sealer) => Arc::new(crate::cache::Sealed::new(cache, sealer)),
        None => cache,
    })
}

/// Redis in front of the configured database. With `POSTGRES_FALLBACK_ENABLED=false`
/// it is plain Redis. The database needs the schema (`pal migrate` or `DB_AUTO_MIGRATE`).
#[cfg(feature = "redis")]
async fn hybrid_cache(settings: &Settings) -> Result<Arc<dyn CacheService>> {
    let cache = &settings.cache;
    let redis: Arc<dyn CacheService> = Arc::new(redis_cache("redis", cache.redis.topology.as_ref(), settings)?);
    let redis = crate::cache::prefixed(redis, &cache.key_prefix);
    if !cache.fallback.enabled {
        return seal(settings, redis);
    }
    let db = build_database(settings).await?;
    let fallback = &cache.fallback;
    let config = crate::cache::hybrid::HybridConfig {
        write_through: fallback.cache,
        attempts: fallback.retry_attempts,
        breaker_threshold: fallback.breaker_threshold,
        breaker_cooldown: fallback.breaker_cooldown,
        drain_interval: fallback.drain_interval,
    };
    let fallback_store = Arc::new(crate::db::CacheFallback::new(db));
    seal(settings, Arc::new(crate::cache::hybrid::HybridCache::new(redis, fallback_store, config)))
}

/// The sealer for `CACHE_KEY_SECRET` / `CACHE_ENCRYPTION_KEYS`, when they are set.
pub fn sealer(settings: &Settings) -> Result<Option<Arc<crate::crypto::Sealer>>> {
    let Some(keys) = &settings.cache.sealing else { return Ok(None) };
    Ok(Some(Arc::new(crate::crypto::Sealer::new(&keys.key_secret, &keys.encryption_keys)?)))
}

#[cfg(feature = "redis")]
fn redis_cache(
    provider: &'static str,
    topology: Option<&crate::settings::RedisTopology>,
    settings: &Settings,
) -> Result<crate::cache::redis::RedisCache> {
    // Settings guarantee a topology for the selected provider; this guards direct callers.
    let topology = topology.ok_or_else(|| {
        crate::Error::new(crate::ErrorKind::Config, format!("CACHE_PROVIDER={provider} has no server configured"))
    })?;
    let redis = &settings.cache.redis;
    crate::cache::redis::RedisCache::new(provider, topology, redis.connect_timeout, redis.command_timeout)
}

/// Builds the configured database. Like the cache, it connects at first use.
pub async fn build_database(settings: &Settings) -> Result<Arc<dyn DatabaseService>> {
    let db = &settings.db;
    let built: Arc<dyn DatabaseService> = match db.provider {
        #[cfg(feature = "sqlite")]
        DbProvider::Sqlite => Arc::new(crate::db::sqlite::SqliteDatabase::connect(&db.url, &db.pool)?),
        #[cfg(not(feature = "sqlite"))]
        DbProvider::Sqlite => return Err(not_built("DB_PROVIDER", "sqlite", "sqlite")),
        #[cfg(feature = "postgres")]
        DbProvider::Postgresql => {
            use crate::db::postgres::{Flavor, connect};
            connect(&db.url, &db.pool, db.tx_max_retries, Flavor::Postgres)?
        }
        #[cfg(feature = "postgres")]
        DbProvider::Cockroachdb => {
            use crate::db::postgres::{Flavor, connect};
            connect(&db.url, &db.pool, db.tx_max_retries, Flavor::Cockroach)?
        }
        #[cfg(not(feature = "postgres"))]
        DbProvider::Postgresql => return Err(not_built("DB_PROVIDER", "postgresql", "postgres")),
        #[cfg(not(feature = "postgres"))]
        DbProvider::Cockroachdb => return Err(not_built("DB_PROVIDER", "cockroachdb", "postgres")),
        #[cfg(feature = "mysql")]
        DbProvider::Mysql => crate::db::mysql::connect(&db.url, &db.pool, db.tx_max_retries)?,
        #[cfg(not(feature = "mysql"))]
        DbProvider::Mysql => return Err(not_built("DB_PROVIDER", "mysql", "mysql")),
    };
    Ok(built)
}

/// Applies pending migrations when `DB_AUTO_MIGRATE` is on; returns their names.
pub async fn auto_migrate(settings: &Settings, db: &dyn DatabaseService) -> Result<Vec<String>> {
    if !settings.db.auto_migrate {
        return Ok(Vec::new());
    }
    db.migrate().await
}

/// Where the cache points, with credentials redacted, for `pal check` and logs.
pub fn cache_target(settings: &Settings) -> String {
    use crate::settings::RedisTopology;
    let cache = &settings.cache;
    match cache.provider {
        CacheProvider::Memory => format!("in-process, max {} entries", cache.memory_max_entries),
        CacheProvider::Redis | CacheProvider::RedisHybrid => match &cache.redis.topology {
            Some(RedisTopology::Standalone(url)) => url.redacted().to_string(),
            Some(RedisTopology::Sentinel { master, nodes, .. }) => format!("sentinel {master} via {}", join(nodes)),
            Some(RedisTopology::Cluster { nodes, .. }) => format!("cluster via {}", join(nodes)),
            None => "-".to_string(),
        },
        CacheProvider::KeyDb => cache.keydb_url.as_ref().map_or("-".into(), |u| u.redacted().to_string()),
        CacheProvider::Memcached => join(&cache.memcached.servers),
    }
}

/// Where the database points, with credentials redacted.
pub fn database_target(settings: &Settings) -> String {
    settings.db.url.redacted().to_string()
}

fn join(items: &[impl std::fmt::Display]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// The session store the hybrid cache falls back to, sealed like the cache when
/// sealing keys are configured.
pub fn build_session_store(settings: &Settings, db: Arc<dyn DatabaseService>) -> Result<Arc<dyn SessionStore>> {
    let store: Arc<dyn SessionStore> = Arc::new(SqlSessionStore::new(db));
    Ok(match sealer(settings)? {
        Some(sealer) => Arc::new(crate::db::SealedSessionStore::new(store, sealer)),
        None => store,
    })
}

/// The durable side of the audit log.
pub fn build_audit_sink(db: Arc<dyn DatabaseService>) -> Arc<dyn AuditSink> {
    Arc::new(SqlAuditSink::new(db))
}
