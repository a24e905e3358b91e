//! Every method of [`CacheService`] reaches the provider through every layer, and
//! through the stacks the factory builds, unless a layer answers it on purpose.

use std::sync::Arc;

use super::recorder::{Call, Recorder, Seen};
#[cfg(feature = "sealing")]
use crate::cache::Sealed;
use crate::cache::{BuildContext, CacheService, Ttl, instrumented, prefixed, value_limit};
use crate::settings::Settings;

const KEY: &str = "k";
/// The factory's stacks are sealed in builds with sealing, and plaintext in the others.
#[cfg(feature = "sealing")]
const SEALING: &[(&str, &str)] = &[
    ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc="),
    ("CACHE_ENCRYPTION_KEYS", "test1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg="),
];
#[cfg(not(feature = "sealing"))]
const SEALING: &[(&str, &str)] = &[("CACHE_INSECURE_NO_ENCRYPTION", "true")];
/// What the sealing layer answers itself: stored keys are hashes, which a
/// caller's prefix cannot select.
const SEALING_ANSWERS: &[Call] = if cfg!(feature = "sealing") { &[Call::Sample] } else { &[] };

/// Makes `call` with [`KEY`] wherever it names a key. Answers do not matter here,
/// only which calls reach the provider; no wildcard, so a new [`Call`] is made too.
async fn invoke(cache: &dyn CacheService, call: Call) {
    let ttl = Ttl::from_secs(60).unwrap();
    match call {
        Call::Provider => {
            cache.provider();
        }
        Call::Capabilities => {
            cache.capabilities();
        }
        Call::Get => {
            let _ = cache.get(KEY).await;
        }
        Call::Set => {
            let _ = cache.set(KEY, "v".into(), ttl).await;
        }
        Call::Delete => {
            let _ = cache.delete(KEY).await;
        }
        Call::Incr => {
            let _ = cache.incr(KEY, 1, ttl).await;
        }
        Call::Touch => {
            let _ = cache.touch(KEY, ttl).await;
        }
        Call::Ttl => {
            let _ = cache.ttl(KEY).await;
        }
        Call::GetWithTtl => {
            let _ = cache.get_with_ttl(KEY).await;
        }
        Call::GetMany => {
            let _ = cache.get_many(&[KEY]).await;
        }
        Call::SetMany => {
            let _ = cache.set_many(&[(KEY, "v".into())], ttl).await;
        }
        Call::DeleteMany => {
            let _ = cache.delete_many(&[KEY]).await;
        }
        Call::Add => {
            let _ = cache.add(KEY, "v".into(), ttl).await;
        }
        Call::DeleteIf => {
            let _ = cache.delete_if(KEY, b"v").await;
        }
        Call::TouchIf => {
            let _ = cache.touch_if(KEY, b"v", ttl).await;
        }
        Call::Ping => {
            let _ = cache.ping().await;
        }
        Call::Health => {
            let _ = cache.health().await;
        }
        Call::Transport => {
            let _ = cache.transport().await;
        }
        Call::CheckConfiguration => {
            let _ = cache.check_configuration().await;
        }
        Call::Sample => {
            let _ = cache.sample(KEY, 10).await;
        }
    }
}

/// Whether `call`, as [`invoke`] makes it, names [`KEY`].
fn names_the_key(call: Call) -> bool {
    match call {
        Call::Get
        | Call::Set
        | Call::Delete
        | Call::Incr
        | Call::Touch
        | Call::Ttl
        | Call::GetWithTtl
        | Call::GetMany
        | Call::SetMany
        | Call::DeleteMany
        | Call::Add
        | Call::DeleteIf
        | Call::TouchIf
        | Call::Sample => true,
        Call::Provider
        | Call::Capabilities
        | Call::Ping
        | Call::Health
        | Call::Transport
        | Call::CheckConfiguration => false,
    }
}

/// A recorder under one or more layers, and what the layers do on purpose.
struct Layered {
    name: &'static str,
    recorder: Arc<Recorder>,
    cache: Arc<dyn CacheService>,
    /// The key the provider gets for the one the caller names.
    key: Box<dyn Fn(&str) -> String>,
    /// Calls a layer answers itself: none reaches the provider.
    answered: &'static [Call],
    /// Calls that reach the provider as another call.
    becomes: &'static [(Call, Call)],
}

impl Layered {
    fn new(name: &'static str, recorder: Arc<Recorder>, cache: Arc<dyn CacheService>) -> Self {
        Layered { name, recorder, cache, key: Box::new(str::to_string), answered: &[], becomes: &[] }
    }

    /// What went wrong: each call that did not arrive as expected.
    async fn misrouted(&self) -> Vec<String> {
        let mut wrong = Vec::new();
        for &call in Call::ALL {
            // What building the stack and the previous call asked is not this call's.
            self.recorder.take();
            invoke(self.cache.as_ref(), call).await;
            let seen = self.recorder.take();
            if self.answered.contains(&call) {
                if seen.iter().any(|(c, _)| *c == call) {
                    wrong.push(format!("{}: {call:?} reached the provider, though a layer answers it", self.name));
                }
                continue;
            }
            let arrives = self.becomes.iter().find(|(from, _)| *from == call).map_or(call, |(_, to)| *to);
            let expected: Seen = (arrives, names_the_key(call).then(|| (self.key)(KEY)));
            if !seen.contains(&expected) {
                wrong.push(format!(
                    "{}: {call:?} did not reach the provider as {expected:?}; it saw {seen:?}",
                    self.name
                ));
            }
        }
        wrong
    }
}

/// Sealed values differ at every write, so sealing compares opened values: it
/// reads the stored one first, and asks the provider to compare only what it read
/// (here nothing: the recorder holds no value).
const SEALED_COMPARES: &[(Call, Call)] =
    if cfg!(feature = "sealing") { &[(Call::DeleteIf, Call::Get), (Call::TouchIf, Call::Get)] } else { &[] };

async fn assert_routed(stacks: Vec<Layered>) {
    let mut wrong = Vec::new();
    for layered in &stacks {
        wrong.extend(layered.misrouted().await);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn settings(vars: &[(&str, &str)]) -> Settings {
    Settings::from_vars(vars.iter().chain(SEALING).copied()).unwrap()
}

#[cfg(feature = "sealing")]
fn sealer() -> Arc<crate::crypto::Sealer> {
    crate::factory::sealer(&settings(&[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")])).unwrap().unwrap()
}

/// The key the provider gets under the factory's stack with `CACHE_KEY_PREFIX=app:`:
/// prefixed, and hashed when sealing is built.
fn stored_key() -> Box<dyn Fn(&str) -> String> {
    #[cfg(feature = "sealing")]
    {
        let sealer = sealer();
        Box::new(move |k| format!("app:{}", sealer.hash_key(k)))
    }
    #[cfg(not(feature = "sealing"))]
    Box::new(|k| format!("app:{k}"))
}

#[tokio::test]
async fn every_call_reaches_the_provider_through_each_layer() {
    let recorder = || Arc::new(Recorder::default());
    let (r1, r2, r3) = (recorder(), recorder(), recorder());
    #[cfg_attr(not(feature = "sealing"), allow(unused_mut))]
    let mut stacks = vec![
        Layered { key: Box::new(|k| format!("app:{k}")), ..Layered::new("prefix", r1.clone(), prefixed(r1, "app:")) },
        Layered::new("value limit", r2.clone(), value_limit(r2, 1024, 0)),
        Layered::new("metrics", r3.clone(), instrumented(r3)),
    ];
    #[cfg(feature = "sealing")]
    {
        let (r4, sealer) = (recorder(), sealer());
        let hashed = sealer.clone();
        stacks.push(Layered {
            key: Box::new(move |k| hashed.hash_key(k)),
            answered: SEALING_ANSWERS,
            becomes: SEALED_COMPARES,
            ..Layered::new("sealing", r4.clone(), Arc::new(Sealed::new(r4, sealer)))
        });
    }
    assert_routed(stacks).await;
}

/// Metrics, the key prefix, sealing and the value limit, as `build_cache` stacks them.
#[tokio::test]
async fn every_call_reaches_the_provider_through_the_stack_the_factory_builds() {
    let settings = settings(&[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("CACHE_KEY_PREFIX", "app:")]);
    assert!(settings.metrics, "the stack has its metrics layer");
    let recorder = Arc::new(Recorder::default());
    let unsealed = crate::factory::layer_unsealed(&settings, recorder.clone(), BuildContext::default()).unwrap();
    let cache = crate::factory::seal_and_limit(&settings, unsealed).unwrap();
    assert_routed(vec![Layered {
        key: stored_key(),
        answered: SEALING_ANSWERS,
        becomes: SEALED_COMPARES,
        ..Layered::new("factory stack", recorder, cache)
    }])
    .await;
}

// `test` again, though within the tests: the layering check leaves a module out
// by its own attributes.
#[cfg(all(test, feature = "sqlite"))]
mod hybrid {
    use std::time::Duration;

    use super::*;
    use crate::cache::hybrid::{HybridCache, HybridConfig};
    use crate::db::DatabaseService;

    async fn database() -> Arc<dyn DatabaseService> {
        let settings = Settings::from_vars([
            ("CACHE_PROVIDER", "memory"),
            ("DB_PROVIDER", "sqlite"),
            ("DATABASE_URL", "sqlite::memory:"),
            ("METRICS_ENABLED", "false"),
        ])
        .unwrap();
        let db = crate::factory::build_database(&settings).await.unwrap();
        db.migrate(crate::db::migrate::Tables::ALL).await.unwrap();
        db
    }

    /// Redis gets every call but those the hybrid answers as a whole (its name,
    /// what it can do); its health is asked as a ping, beside the database's.
    const ANSWERED: &[Call] = &[Call::Provider, Call::Capabilities];
    /// Batched writes are the hybrid's writes one by one (each with its database
    /// copy, which the copier batches).
    const BECOMES: &[(Call, Call)] =
        &[(Call::Health, Call::Ping), (Call::SetMany, Call::Set), (Call::DeleteMany, Call::Delete)];

    #[tokio::test]
    async fn every_call_but_the_hybrids_own_reaches_redis() {
        let config = HybridConfig {
            write_through: false,
            attempts: 1,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(5),
            drain_interval: Duration::from_secs(60),
            journal_wait: Duration::from_secs(1),
            purge_interval: Duration::from_secs(60),
        };
        let redis = Arc::new(Recorder::default());
        let cache = Arc::new(HybridCache::new(redis.clone(), database().await, config));
        assert_routed(vec![Layered {
            answered: ANSWERED,
            becomes: BECOMES,
            ..Layered::new("redis-hybrid", redis, cache)
        }])
        .await;
    }

    /// Metrics and the key prefix around Redis, the hybrid, metrics around it,
    /// sealing and the value limit, as `build_cache` stacks them for redis-hybrid.
    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn every_call_but_the_hybrids_own_reaches_redis_through_the_stack_the_factory_builds() {
        let settings = settings(&[
            ("CACHE_PROVIDER", "redis-hybrid"),
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("CACHE_KEY_PREFIX", "app:"),
            ("DB_PROVIDER", "sqlite"),
            ("DATABASE_URL", "sqlite::memory:"),
        ]);
        let redis = Arc::new(Recorder::default());
        let context = BuildContext { database: Some(database().await), ..BuildContext::default() };
        let unsealed = crate::factory::layer_unsealed(&settings, redis.clone(), context).unwrap();
        let cache = crate::factory::seal_and_limit(&settings, unsealed).unwrap();
        const STACK_ANSWERS: &[Call] = if cfg!(feature = "sealing") {
            &[Call::Provider, Call::Capabilities, Call::Sample]
        } else {
            &[Call::Provider, Call::Capabilities]
        };
        assert_routed(vec![Layered {
            key: stored_key(),
            answered: STACK_ANSWERS,
            becomes: if cfg!(feature = "sealing") {
                &[
                    (Call::Health, Call::Ping),
                    (Call::SetMany, Call::Set),
                    (Call::DeleteMany, Call::Delete),
                    (Call::DeleteIf, Call::Get),
                    (Call::TouchIf, Call::Get),
                ]
            } else {
                BECOMES
            },
            ..Layered::new("redis-hybrid factory stack", redis, cache)
        }])
        .await;
    }
}
