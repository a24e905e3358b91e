//! The variables every database provider shares: where it is, how the pool
//! behaves, migrations and transaction retries.

use std::sync::Arc;
use std::time::Duration;

use super::provider::DbProvider;
use super::service::DatabaseService;
use super::tls::UrlTlsSettings;
use crate::env::{ConnUrl, Env, Var};
use crate::error::Result;

/// Opens a provider's adapter on a lazy pool: connection problems surface at
/// first use, so a server that is briefly down does not stop start-up.
pub type Connect = fn(&DbSettings) -> Result<Arc<dyn DatabaseService>>;

/// The shared variables, in the order they are listed. `DATABASE_URL`,
/// `DB_REPLICA_URL` and `DB_AUTO_MIGRATE` mention the providers in their help,
/// which the settings complete from the registry.
pub fn vars() -> impl Iterator<Item = &'static Var> {
    URL_VARS[..2].iter().chain(REPLICA_VARS).chain(POOL_VARS).chain(&URL_VARS[2..]).chain(RETRY_VARS)
}

const REPLICA_VARS: &[Var] = &[
    Var::new("DB_REPLICA_CHECK_INTERVAL_MS", Some("1000"), "How often each replica's health and lag are checked"),
    Var::new(
        "DB_REPLICA_MAX_LAG_MS",
        Some("5000"),
        "A replica further behind than this (or not applying changes) gets no reads until it catches up; 0: no limit",
    ),
    Var::new(
        "DB_REPLICA_WAIT_MS",
        Some("200"),
        "How long a read with a consistency token waits for a replica to replay it before going to the primary",
    ),
];

const POOL_VARS: &[Var] = &[
    Var::new("DB_POOL_MAX", Some("10"), "Maximum connections in the database pool"),
    Var::new("DB_POOL_MIN", Some("0"), "Connections the pool keeps open when idle"),
    Var::new("DB_POOL_ACQUIRE_TIMEOUT_MS", Some("5000"), "Longest wait for a pooled connection (including connecting)"),
    Var::new("DB_IDLE_TIMEOUT_S", Some("600"), "Idle connections above DB_POOL_MIN are closed after this"),
    Var::new("DB_STATEMENT_TIMEOUT_MS", Some("30000"), "Longest a single statement may run"),
];

const RETRY_VARS: &[Var] =
    &[Var::new("DB_TX_MAX_RETRIES", Some("5"), "Retries of a transaction aborted by a serialization failure")];

const URL_VARS: &[Var] = &[
    Var::secret("DATABASE_URL", "Database URL"),
    Var::secret(
        "DB_REPLICA_URL",
        "Read replica URLs, comma-separated, for read/write splitting (same scheme as DATABASE_URL)",
    ),
    Var::new("DB_AUTO_MIGRATE", None, "Apply migrations at start-up"),
];

/// The selected database provider and the variables every provider shares.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DbSettings {
    /// `DB_PROVIDER`: the provider selected.
    pub provider: &'static DbProvider,
    /// `DATABASE_URL`, or the provider's default URL when it has one and it is unset.
    pub url: ConnUrl,
    /// TLS as `DATABASE_URL` asks for it, checked; in-process for an embedded database.
    pub tls: UrlTlsSettings,
    /// `DB_REPLICA_URL`, each with its TLS as its URL asks for it.
    pub replicas: Vec<ReplicaTarget>,
    /// How reads are routed among the replicas.
    pub replication: ReplicationSettings,
    /// The connection pool.
    pub pool: PoolSettings,
    /// `DB_AUTO_MIGRATE`: apply migrations at start-up; on by default for an embedded
    /// database only.
    pub auto_migrate: bool,
    /// `DB_TX_MAX_RETRIES`: retries of a transaction aborted by a serialization failure,
    /// from 0 to 100.
    pub tx_max_retries: u32,
    /// `METRICS_ENABLED`: whether the adapter records what only it can see (pool acquire waits).
    pub metrics: bool,
}

/// One read replica of `DB_REPLICA_URL`.
#[derive(Debug, Clone)]
pub struct ReplicaTarget {
    /// The replica's URL.
    pub url: ConnUrl,
    /// TLS as the replica's URL asks for it, checked.
    pub tls: UrlTlsSettings,
}

/// How reads are routed among replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicationSettings {
    /// `DB_REPLICA_CHECK_INTERVAL_MS`: how often each replica's health and lag are checked.
    pub check_interval: Duration,
    /// `None`: any lag is accepted, and so is a replica that applies nothing.
    pub max_lag: Option<Duration>,
    /// `DB_REPLICA_WAIT_MS`: how long a read with a consistency token waits for a
    /// replica to replay it before it goes to the primary.
    pub wait: Duration,
}

/// The connection pool's limits and timeouts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolSettings {
    /// `DB_POOL_MAX`: the most connections open at once.
    pub max: u32,
    /// `DB_POOL_MIN`: connections kept open when idle; at most `max`.
    pub min: u32,
    /// `DB_POOL_ACQUIRE_TIMEOUT_MS`: the longest wait for a pooled connection, connecting included.
    pub acquire_timeout: Duration,
    /// `DB_IDLE_TIMEOUT_S`: idle connections above `min` are closed after this.
    pub idle_timeout: Duration,
    /// `DB_STATEMENT_TIMEOUT_MS`: the longest a single statement may run.
    pub statement_timeout: Duration,
}

impl DbSettings {
    /// Reads the shared variables for `provider`, or only checks them when no
    /// provider could be selected.
    pub fn read(env: &mut Env, provider: Option<&'static DbProvider>) -> Option<DbSettings> {
        let errors_before = env.error_count();
        let pool = PoolSettings {
            max: env.int("DB_POOL_MAX", 1u32, 10_000),
            min: env.int("DB_POOL_MIN", 0u32, 10_000),
            acquire_timeout: env.millis("DB_POOL_ACQUIRE_TIMEOUT_MS"),
            idle_timeout: Duration::from_secs(env.int("DB_IDLE_TIMEOUT_S", 1u64, 86_400)),
            statement_timeout: env.millis("DB_STATEMENT_TIMEOUT_MS"),
        };
        if pool.min > pool.max && env.error_count() == errors_before {
            env.contradiction(format!(
                "DB_POOL_MIN={} is larger than DB_POOL_MAX={}: the pool cannot keep more idle connections than it may open",
                pool.min, pool.max
            ));
        }
        let tx_max_retries = env.int("DB_TX_MAX_RETRIES", 0u32, 100);
        let replication = ReplicationSettings {
            check_interval: env.millis("DB_REPLICA_CHECK_INTERVAL_MS"),
            max_lag: match env.int("DB_REPLICA_MAX_LAG_MS", 0u64, 86_400_000) {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            wait: Duration::from_millis(env.int("DB_REPLICA_WAIT_MS", 0u64, 60_000)),
        };
        let auto_migrate = env.opt_bool("DB_AUTO_MIGRATE");
        let provider = provider?;
        let schemes = provider.url_schemes;
        let url = match env.url("DATABASE_URL", schemes) {
            Some(url) => Some(url),
            None if env.is_set("DATABASE_URL") => None,
            None => match provider.default_url {
                Some(default) => ConnUrl::parse(default, schemes).ok(),
                None => {
                    env.missing("DATABASE_URL", &format!("for DB_PROVIDER={}", provider.name), provider.example_url);
                    None
                }
            },
        };
        let replica_urls = env.urls("DB_REPLICA_URL", schemes);
        if !replica_urls.is_empty() && !provider.capabilities.replicas {
            env.contradiction(format!(
                "DB_REPLICA_URL is set but DB_PROVIDER={} has no replicas pal can route reads to: unset DB_REPLICA_URL",
                provider.name
            ));
        }
        let tls = url.as_ref().and_then(|url| tls_of(env, "DATABASE_URL", provider, url));
        let replicas = replica_urls
            .into_iter()
            .filter_map(|url| Some(ReplicaTarget { tls: tls_of(env, "DB_REPLICA_URL", provider, &url)?, url }))
            .collect();
        Some(DbSettings {
            provider,
            url: url?,
            tls: tls?,
            replicas,
            replication,
            pool,
            auto_migrate: auto_migrate.unwrap_or(provider.capabilities.embedded),
            tx_max_retries,
            metrics: true,
        })
    }
}

impl DbSettings {
    /// The settings a replica's adapter is opened with: the primary's, on its URL.
    pub fn for_replica(&self, replica: &ReplicaTarget) -> DbSettings {
        DbSettings { url: replica.url.clone(), tls: replica.tls.clone(), replicas: Vec::new(), ..self.clone() }
    }
}

/// The TLS parameters of `url`, checked (files read, key against certificate).
fn tls_of(env: &mut Env, var: &'static str, provider: &DbProvider, url: &ConnUrl) -> Option<UrlTlsSettings> {
    let Some(spec) = provider.tls else { return Some(UrlTlsSettings::IN_PROCESS) };
    match spec.read(url) {
        Ok(settings) => Some(settings),
        Err(why) => {
            env.invalid(var, url.redacted(), why);
            None
        }
    }
}
