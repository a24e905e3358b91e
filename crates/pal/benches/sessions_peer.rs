//! pal's sealed sessions against a session library's Redis store, in one run on
//! the same Redis: `tower-sessions` with `tower-sessions-redis-store` (fred, a
//! pool of 6 connections, values in MessagePack and not encrypted) creating and
//! loading a session, and pal writing and reading the same session through its
//! cache (sealed, and with sealing off), from 1, 50 and 256 concurrent tasks,
//! rounds alternating. A peer in a bench of its own, as a dev-dependency only.
//!
//! `scripts/services up && cargo bench -p pal --bench sessions_peer`

mod common;
use pal_test_support::ports;

use std::collections::HashMap;
use std::sync::Arc;

use common::{ROUNDS, Session, median, round_of, session};
use pal::{CacheService, CacheServiceExt, Settings, Ttl};
use tower_sessions_core::SessionStore;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

const SEALING: [(&str, &str); 2] = [
    ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc="),
    ("CACHE_ENCRYPTION_KEYS", "b1:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg="),
];

async fn pal(sealed: bool) -> Arc<dyn CacheService> {
    let redis = ports::redis_url();
    let mut vars = vec![("CACHE_PROVIDER", "redis"), ("REDIS_URL", redis.as_str()), ("DB_PROVIDER", "sqlite")];
    match sealed {
        true => vars.extend(SEALING),
        false => vars.push(("CACHE_INSECURE_NO_ENCRYPTION", "true")),
    }
    pal::factory::build_cache(&Settings::from_vars(vars).unwrap()).await.unwrap()
}

#[derive(Clone)]
enum Contestant {
    Pal(Arc<dyn CacheService>),
    TowerSessions(Arc<RedisStore<Pool>>),
}

async fn round_trip(c: &Contestant) {
    match c {
        Contestant::Pal(cache) => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let ttl = Ttl::from_secs(300).unwrap();
            cache.set_session(&id, &session(), ttl).await.unwrap();
            let _: Session = cache.get_session(&id).await.unwrap().unwrap();
        }
        Contestant::TowerSessions(store) => {
            let s = session();
            let data = HashMap::from([
                ("user_id".to_string(), serde_json::json!(s.user_id)),
                ("email".to_string(), serde_json::json!(s.email)),
                ("roles".to_string(), serde_json::json!(s.roles)),
                ("csrf".to_string(), serde_json::json!(s.csrf)),
            ]);
            let expiry_date = time::OffsetDateTime::now_utc() + time::Duration::seconds(300);
            let mut record = Record { id: Id::default(), data, expiry_date };
            store.create(&mut record).await.unwrap();
            let loaded = store.load(&record.id).await.unwrap().unwrap();
            assert_eq!(loaded.data.len(), 4);
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pool = Pool::new(Config::from_url(&ports::redis_url()).unwrap(), None, None, None, 6).unwrap();
        pool.init().await.unwrap();
        let contestants = [
            ("pal sealed", Contestant::Pal(pal(true).await)),
            ("pal plaintext", Contestant::Pal(pal(false).await)),
            ("tower-sessions", Contestant::TowerSessions(Arc::new(RedisStore::new(pool)))),
        ];
        println!("session write + read, {ROUNDS} alternating rounds per point; median ops/s");
        for tasks in [1, 50, 256] {
            let mut rates: Vec<Vec<f64>> = contestants.iter().map(|_| Vec::new()).collect();
            for round in 0..ROUNDS {
                for k in 0..contestants.len() {
                    let which = (round + k) % contestants.len();
                    let c = contestants[which].1.clone();
                    rates[which].push(
                        round_of(tasks, move |_, _| {
                            let c = c.clone();
                            async move { round_trip(&c).await }
                        })
                        .await,
                    );
                }
            }
            let m: Vec<f64> = rates.into_iter().map(median).collect();
            println!(
                "{tasks:>3} tasks: pal sealed {:>8.0}  pal plaintext {:>8.0}  tower-sessions {:>8.0}  \
                 sealed/tower-sessions {:.2}  plaintext/tower-sessions {:.2}",
                m[0],
                m[1],
                m[2],
                m[0] / m[2],
                m[1] / m[2]
            );
        }
    });
}
