//! The one place that turns the selected provider into an adapter, and wraps it
//! in the layers every cache gets. Application code receives trait objects and
//! never learns which provider it got.

use std::sync::Arc;

use crate::audit::{AuditSink, SqlAuditSink};
use crate::cache::near::NearCache;
use crate::cache::{BuildContext, CacheService, prefixed, value_limit};
#[cfg(feature = "sealing")]
use crate::cache::{KeyCheck, Sealed};
#[cfg(feature = "sealing")]
use crate::crypto::Sealer;
use crate::db::migrate::Tables;
use crate::db::{Connect, DatabaseService};
use crate::error::{Error, ErrorKind, Result};
#[cfg(feature = "sealing")]
use crate::expiring::SealedExpiringStore;
use crate::expiring::{ExpiringStore, SqlExpiringStore};
use crate::registry;
use crate::settings::Settings;

/// Builds the configured cache. Connection problems surface at the first call
/// (or `ping`), not here, so a server that is briefly down does not stop start-up.
pub async fn build_cache(settings: &Settings) -> Result<Arc<dyn CacheService>> {
    Ok(build_cache_with_near(settings).await?.0)
}

/// As [`build_cache`], with the near cache in front (`CACHE_NEAR_MAX_BYTES`)
/// handed back too, for its [`stats`](NearCache::stats).
pub async fn build_cache_with_near(settings: &Settings) -> Result<(Arc<dyn CacheService>, Option<Arc<NearCache>>)> {
    let near = settings.cache_settings()?.near;
    let store = near.enabled().then(|| crate::cache::near::store(near));
    let unsealed = build_cache_unsealed(settings, store.clone()).await?;
    let sealed = seal_and_limit(settings, unsealed)?;
    match store {
        Some(store) => {
            let near = near_cache(settings, sealed, store)?;
            Ok((near.clone(), Some(near)))
        }
        None => Ok((sealed, None)),
    }
}

/// The near cache outermost, above sealing, so it holds opened values and a hit
/// costs no cryptography; the tracker tells it what changes on the server.
fn near_cache(
    settings: &Settings,
    sealed: Arc<dyn CacheService>,
    store: Arc<crate::cache::near::Store>,
) -> Result<Arc<NearCache>> {
    let cache = settings.cache_settings()?;
    let tracking = cache.config.track(&cache.key_prefix, store.clone()).unwrap_or_else(|| {
        Err(Error::new(
            ErrorKind::Config,
            format!("CACHE_PROVIDER={} sends no invalidations: unset CACHE_NEAR_MAX_BYTES", cache.provider.name),
        ))
    })?;
    if settings.metrics {
        crate::cache::near::publish_metrics(&store, cache.provider.name);
    }
    let names = crate::cache::near::KeyNames {
        prefix: cache.key_prefix.clone(),
        #[cfg(feature = "sealing")]
        sealer: sealer(settings)?,
    };
    let keep_own_writes = cache.config.writes_reach_tracked_server();
    Ok(Arc::new(NearCache::new(sealed, store, names, keep_own_writes, tracking)))
}

/// The layers over the unsealed cache: sealing, when its keys are set, and the value limit.
pub(crate) fn seal_and_limit(settings: &Settings, unsealed: Arc<dyn CacheService>) -> Result<Arc<dyn CacheService>> {
    // Sealing goes outside the prefix, so the prefix (like the namespace) stays
    // readable, and outside the hybrid, so its database copy and journal hold only
    // hashed keys and sealed values. Without the `sealing` feature, settings with
    // sealing keys were refused when they were read.
    #[cfg(feature = "sealing")]
    let (sealed, overhead) = match sealer(settings)? {
        Some(sealer) => {
            let overhead = sealer.overhead();
            (Arc::new(Sealed::new(unsealed, sealer)) as Arc<dyn CacheService>, overhead)
        }
        None => (unsealed, 0),
    };
    #[cfg(not(feature = "sealing"))]
    let (sealed, overhead) = (unsealed, 0);
    // The value limit goes outermost, counting what sealing adds: it refuses before
    // sealing copies the value, and before the hybrid writes its database copy.
    Ok(value_limit(sealed, settings.cache_settings()?.max_value_bytes, overhead))
}

/// The key check of the configured sealed cache (`pal cache keycheck`): its key
/// record and a sample of what it stores, against the configured keys. A `Config`
/// error when sealing is off or the cache keeps nothing outside the process.
#[cfg(feature = "sealing")]
pub async fn build_key_check(settings: &Settings) -> Result<KeyCheck> {
    let Some(sealer) = sealer(settings)? else {
        return Err(Error::new(
            ErrorKind::Config,
            "sealing is off (CACHE_INSECURE_NO_ENCRYPTION=true): values name no CACHE_KEY_SECRET and there is no key \
             record to check",
        ));
    };
    let unsealed = build_cache_unsealed(settings, None).await?;
    if !unsealed.capabilities().leaves_process {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "CACHE_PROVIDER={} keeps its values inside each process: there is no key record to check",
                unsealed.provider()
            ),
        ));
    }
    Ok(KeyCheck::new(unsealed, sealer))
}

/// The configured cache without the sealing layer, whatever the sealing
/// variables say: for the key check, which reads stored values as they are.
async fn build_cache_unsealed(
    settings: &Settings,
    near: Option<Arc<crate::cache::near::Store>>,
) -> Result<Arc<dyn CacheService>> {
    let cache = settings.cache_settings()?;
    // A cache that keeps data in the database applies `DB_AUTO_MIGRATE` itself, so
    // no entry point can build it over tables that do not exist yet.
    let database = match cache.config.needs_database() {
        true => {
            let db = build_database(settings).await?;
            match auto_migrate(settings, db.as_ref(), &[Tables::Cache]).await {
                // An unreachable database must not stop start-up (Redis may serve);
                // the cache's health check says what is missing.
                Err(e) if e.is_temporary() => {
                    tracing::warn!(error = %e, "DB_AUTO_MIGRATE: the database cannot be reached now")
                }
                other => drop(other?),
            }
            Some(db)
        }
        false => None,
    };
    let adapter = cache.config.build().await?;
    layer_unsealed(settings, adapter, BuildContext { database, near })
}

/// The layers beneath sealing, around the provider's adapter: metrics, the key
/// prefix and those the provider consists of.
pub(crate) fn layer_unsealed(
    settings: &Settings,
    mut adapter: Arc<dyn CacheService>,
    context: BuildContext,
) -> Result<Arc<dyn CacheService>> {
    let cache = settings.cache_settings()?;
    if settings.metrics {
        adapter = crate::cache::instrumented(adapter);
    }
    let adapter = prefixed(adapter, &cache.key_prefix);
    let layered = cache.config.layer(adapter.clone(), context)?;
    // A provider made of parts (redis-hybrid: Redis, then the database) is measured
    // as a part, Redis's own hit rate and latency, and as the whole the
    // application sees.
    Ok(match settings.metrics && !Arc::ptr_eq(&layered, &adapter) {
        true => crate::cache::instrumented(layered),
        false => layered,
    })
}

/// Builds the configured database. Like the cache, it connects at first use.
pub async fn build_database(settings: &Settings) -> Result<Arc<dyn DatabaseService>> {
    let db_settings = settings.db_settings()?;
    let name = db_settings.provider.name;
    let entry = registry::database(name)
        .ok_or_else(|| Error::new(ErrorKind::Config, format!("DB_PROVIDER={name} is not a registered provider")))?;
    let db = (entry.connect)(db_settings)?;
    layer_database(settings, db, entry.connect)
}

/// The layers around the primary's adapter: the replica router, when replicas are
/// named (each opened with `connect`), and metrics.
pub(crate) fn layer_database(
    settings: &Settings,
    primary: Arc<dyn DatabaseService>,
    connect: Connect,
) -> Result<Arc<dyn DatabaseService>> {
    let db = crate::db::with_replicas(settings.db_settings()?, connect, primary)?;
    Ok(match settings.metrics {
        true => crate::db::instrumented(db),
        false => db,
    })
}

/// Applies the pending migrations of `tables` (pal's tables of the parts in use)
/// when `DB_AUTO_MIGRATE` is on; returns their names.
pub async fn auto_migrate(settings: &Settings, db: &dyn DatabaseService, tables: &[Tables]) -> Result<Vec<String>> {
    if !settings.db_settings()?.auto_migrate {
        return Ok(Vec::new());
    }
    db.migrate(tables).await
}

/// The sealer for `CACHE_KEY_SECRET` / `CACHE_ENCRYPTION_KEYS`, when they are set.
#[cfg(feature = "sealing")]
pub fn sealer(settings: &Settings) -> Result<Option<Arc<Sealer>>> {
    settings.cache_settings()?.sealing.as_ref().map(|keys| keys.sealer()).transpose()
}

/// Durable sessions on the configured database, sealed like the cache when
/// sealing keys are set: it reads and writes the very rows the hybrid cache keeps
/// for sessions, so a tool can inspect or revoke them with Redis down.
pub fn build_expiring_store(settings: &Settings, db: Arc<dyn DatabaseService>) -> Result<Arc<dyn ExpiringStore>> {
    let store: Arc<dyn ExpiringStore> = Arc::new(SqlExpiringStore::new(db));
    #[cfg(feature = "sealing")]
    if let Some(sealer) = sealer(settings)? {
        return Ok(Arc::new(SealedExpiringStore::new(store, sealer)));
    }
    // Whether to seal is the cache's part of the settings, in every build.
    #[cfg(not(feature = "sealing"))]
    settings.cache_settings()?;
    Ok(store)
}

/// The audit log on the configured database (`AUDIT_…` variables), its flusher
/// started; with `DB_AUTO_MIGRATE` on, its table is created first. Call
/// [`AuditLog::shutdown`](crate::audit::AuditLog::shutdown) before the process exits.
pub async fn build_audit_log(settings: &Settings, db: Arc<dyn DatabaseService>) -> Result<crate::audit::AuditLog> {
    match auto_migrate(settings, db.as_ref(), &[Tables::Audit]).await {
        // The audit log rides out an unreachable database: events wait for it.
        Err(e) if e.is_temporary() => tracing::warn!(error = %e, "DB_AUTO_MIGRATE: the database cannot be reached now"),
        other => drop(other?),
    }
    let sink: Arc<dyn AuditSink> = Arc::new(SqlAuditSink::new(db));
    crate::audit::AuditLog::start(sink, settings.audit.clone()).await
}

/// Run by `scripts/test` in a build with only the `sqlite` family:
/// `cargo test -p pal --lib --no-default-features --features sqlite`.
#[cfg(all(
    test,
    not(feature = "redis"),
    not(feature = "memcached"),
    not(feature = "postgres"),
    not(feature = "mysql")
))]
mod not_built {
    use super::*;

    async fn error_for(vars: &[(&str, &str)]) -> Error {
        let mut all = vec![("CACHE_INSECURE_NO_ENCRYPTION", "true")];
        all.extend_from_slice(vars);
        let settings = Settings::from_vars(all).expect("the variables are valid");
        match vars.iter().find(|(k, _)| *k == "DB_PROVIDER").map(|(_, v)| *v) {
            Some("sqlite") => build_cache(&settings).await.err().expect("the cache is not built"),
            _ => build_database(&settings).await.err().expect("the database is not built"),
        }
    }

    #[tokio::test]
    async fn a_provider_left_out_of_the_build_is_a_configuration_error_naming_its_feature() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[("CACHE_PROVIDER", "redis"), ("REDIS_URL", "redis://h"), ("DB_PROVIDER", "sqlite")], "redis"),
            (&[("CACHE_PROVIDER", "memcached"), ("MEMCACHED_SERVERS", "h:1"), ("DB_PROVIDER", "sqlite")], "memcached"),
            (
                &[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", "postgres://h/d")],
                "postgres",
            ),
            (
                &[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "cockroachdb"), ("DATABASE_URL", "postgres://h/d")],
                "postgres",
            ),
            (&[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "mysql"), ("DATABASE_URL", "mysql://h/d")], "mysql"),
        ];
        for (vars, feature) in cases {
            let err = error_for(vars).await;
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{err}");
            let text = err.to_string();
            assert!(
                text.contains("not part of this build") && text.contains(&format!("`{feature}` feature")),
                "{text}"
            );
        }
    }
}

/// Run by `scripts/test` in builds without sealing:
/// `cargo test -p pal-layer --lib --no-default-features --features sqlite`.
#[cfg(all(test, not(feature = "sealing")))]
mod sealing_not_built {
    use super::*;
    use crate::Ttl;

    const KEYS: [(&str, &str); 2] = [
        ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc="),
        ("CACHE_ENCRYPTION_KEYS", "k1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg="),
    ];

    fn refused(vars: &[(&str, &str)]) -> Error {
        Settings::from_vars(vars.iter().copied()).expect_err("the settings are refused").into()
    }

    #[test]
    fn sealing_keys_are_a_configuration_error_naming_the_feature() {
        let embedded = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")];
        let cases: [(Vec<(&str, &str)>, &str); 4] = [
            ([&embedded[..], &KEYS].concat(), "CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS:"),
            ([&embedded[..], &KEYS[..1]].concat(), "CACHE_KEY_SECRET:"),
            ([&embedded[..], &KEYS[1..]].concat(), "CACHE_ENCRYPTION_KEYS:"),
            (
                [&[("CACHE_PROVIDER", "redis"), ("REDIS_URL", "redis://h"), ("DB_PROVIDER", "sqlite")][..], &KEYS]
                    .concat(),
                "CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS:",
            ),
        ];
        for (vars, named) in cases {
            let err = refused(&vars);
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            let text = err.to_string();
            assert!(text.starts_with("configuration error: "), "one error: {text}");
            assert!(text.contains(named), "names what is set: {text}");
            assert!(text.contains("not part of this build") && text.contains("`sealing` feature"), "{text}");
            assert!(!text.contains("aOE41jf") && !text.contains("dT3jvNcs"), "no key is shown: {text}");
        }
    }

    #[tokio::test]
    async fn caches_outside_the_process_still_need_the_opt_out_and_memory_runs_without() {
        let redis = [("CACHE_PROVIDER", "redis"), ("REDIS_URL", "redis://h"), ("DB_PROVIDER", "sqlite")];
        let text = refused(&redis).to_string();
        assert!(
            text.contains("CACHE_INSECURE_NO_ENCRYPTION must be set to true for CACHE_PROVIDER=redis")
                && text.contains("`sealing` feature"),
            "{text}"
        );
        let plaintext = Settings::from_vars(redis.into_iter().chain([("CACHE_INSECURE_NO_ENCRYPTION", "true")]))
            .expect("plaintext, as asked");
        assert!(plaintext.warnings.iter().any(|w| w.contains("plaintext")), "{:?}", plaintext.warnings);

        let memory = Settings::from_vars([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")]).unwrap();
        let cache = build_cache(&memory).await.unwrap();
        cache.set("k", "v".into(), Ttl::from_secs(60).unwrap()).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn key_lines_are_still_made() {
        let lines = crate::crypto::generate_key_lines().unwrap();
        assert!(lines.starts_with("CACHE_KEY_SECRET=") && lines.contains("\nCACHE_ENCRYPTION_KEYS=k"), "{lines}");
    }
}
