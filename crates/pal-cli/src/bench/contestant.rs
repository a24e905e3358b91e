//! Who is measured: pal as configured, pal without its sealing layer, and the raw
//! client of the same server (or library), each doing the same operation on keys
//! of its own. Dispatch is an enum, so no contestant pays for boxing but pal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use pal::cache::Peer;
use pal::expiring::ExpiringStore;
use pal::{CacheService, CacheServiceExt, Ttl};
use serde::{Deserialize, Serialize};

use super::Op;
use super::args::BATCH;
use super::raw_sql::RawSessions;

/// Keys each contestant cycles through (and fills before GETs).
pub(super) const KEYS: u64 = 10_000;
const TTL_SECS: u64 = 300;

/// A small session, as the reference service stores one.
#[derive(Serialize, Deserialize)]
struct Session {
    user_id: u64,
    email: String,
    roles: Vec<String>,
    csrf: String,
}

fn session() -> Session {
    Session {
        user_id: 42,
        email: "ana@example.com".into(),
        roles: vec!["user".into(), "billing".into()],
        csrf: "b3f1c2d4e5f60718293a4b5c6d7e8f90".into(),
    }
}

/// moka with the TTL carried in the value: the least a cache with per-entry
/// expiry needs, as pal's memory adapter has.
struct ValueTtl;

impl Expiry<String, (Bytes, Duration)> for ValueTtl {
    fn expire_after_create(&self, _: &String, v: &(Bytes, Duration), _: Instant) -> Option<Duration> {
        Some(v.1)
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &(Bytes, Duration),
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.1)
    }
}

pub(super) enum Client {
    Pal(Arc<dyn CacheService>),
    Redis(redis::aio::MultiplexedConnection),
    Moka(moka::sync::Cache<String, (Bytes, Duration)>),
    Memcache(memcache::exp::AsyncMetaClient),
    PalSessions(Arc<dyn ExpiringStore>),
    RawSessions(RawSessions),
}

pub(super) struct Contestant {
    pub name: String,
    /// Whether this is pal (the numerator of every ratio).
    pub is_pal: bool,
    /// Keys of its own, so contestants never read each other's values.
    prefix: String,
    client: Client,
}

impl Contestant {
    pub(super) fn new(name: impl Into<String>, is_pal: bool, index: usize, client: Client) -> Arc<Contestant> {
        Arc::new(Contestant { name: name.into(), is_pal, prefix: format!("pal-bench:{index}:"), client })
    }

    fn key(&self, task: usize, i: u64) -> String {
        // Tasks start apart and stride through the key space.
        let n = (task as u64 * 7919 + i) % KEYS;
        format!("{}{n}", self.prefix)
    }

    /// Writes every key once, so GETs hit.
    pub(super) async fn fill(&self, value: &Bytes) -> Result<(), String> {
        for i in 0..KEYS {
            self.run(Op::Set, 0, i, value).await?;
        }
        Ok(())
    }

    /// The keys of one batch: `BATCH` consecutive keys of the task's stride.
    fn batch(&self, task: usize, i: u64) -> Vec<String> {
        (0..BATCH).map(|j| self.key(task, i * BATCH + j)).collect()
    }

    pub(super) async fn run(&self, op: Op, task: usize, i: u64, value: &Bytes) -> Result<(), String> {
        let op = match op {
            Op::HotGet if i % 100 == 99 => Op::Set,
            Op::HotGet => Op::Get,
            other => other,
        };
        let key = self.key(task, i);
        let batch = match op {
            Op::GetMany | Op::SetMany => self.batch(task, i),
            _ => Vec::new(),
        };
        let names: Vec<&str> = batch.iter().map(String::as_str).collect();
        let ttl = Ttl::from_secs(TTL_SECS).map_err(|e| e.to_string())?;
        let err = |e: &dyn std::fmt::Display| e.to_string();
        match &self.client {
            Client::Pal(c) => match op {
                Op::Get | Op::HotGet => c.get(&key).await.map(drop).map_err(|e| err(&e)),
                Op::Set => c.set(&key, value.clone(), ttl).await.map_err(|e| err(&e)),
                Op::Incr => c.incr(&format!("{key}:n"), 1, ttl).await.map(drop).map_err(|e| err(&e)),
                Op::Session => {
                    c.set_session(&key, &session(), ttl).await.map_err(|e| err(&e))?;
                    c.get_session::<Session>(&key).await.map(drop).map_err(|e| err(&e))
                }
                Op::DbSession => Err("not a cache operation".into()),
                Op::GetMany => c.get_many(&names).await.map(drop).map_err(|e| err(&e)),
                Op::SetMany => {
                    let entries: Vec<(&str, Bytes)> = names.iter().map(|k| (*k, value.clone())).collect();
                    c.set_many(&entries, ttl).await.map_err(|e| err(&e))
                }
                Op::GetOrLoad => {
                    c.get_or_load(&key, ttl, || async { Ok(value.clone()) }).await.map(drop).map_err(|e| err(&e))
                }
            },
            Client::Redis(conn) => {
                let mut conn = conn.clone();
                let millis = TTL_SECS * 1000;
                match op {
                    Op::GetMany => redis::cmd("MGET")
                        .arg(&names)
                        .query_async::<Vec<Option<Vec<u8>>>>(&mut conn)
                        .await
                        .map(drop)
                        .map_err(|e| err(&e)),
                    Op::SetMany => {
                        let mut pipeline = redis::pipe();
                        for name in &names {
                            pipeline.cmd("SET").arg(*name).arg(&value[..]).arg("PX").arg(millis).ignore();
                        }
                        pipeline.query_async::<()>(&mut conn).await.map_err(|e| err(&e))
                    }
                    Op::Get | Op::GetOrLoad | Op::HotGet => redis::cmd("GET")
                        .arg(&key)
                        .query_async::<Option<Vec<u8>>>(&mut conn)
                        .await
                        .map(drop)
                        .map_err(|e| err(&e)),
                    Op::Set => redis::cmd("SET")
                        .arg(&key)
                        .arg(&value[..])
                        .arg("PX")
                        .arg(millis)
                        .query_async::<()>(&mut conn)
                        .await
                        .map_err(|e| err(&e)),
                    // The same atomic fixed-window counter pal's adapter sends.
                    Op::Incr => redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(format!("{key}:n"))
                        .arg(0)
                        .arg("NX")
                        .arg("PX")
                        .arg(millis)
                        .ignore()
                        .cmd("INCRBY")
                        .arg(format!("{key}:n"))
                        .arg(1)
                        .query_async::<(i64,)>(&mut conn)
                        .await
                        .map(drop)
                        .map_err(|e| err(&e)),
                    Op::Session => {
                        let json = serde_json::to_vec(&session()).map_err(|e| err(&e))?;
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(json)
                            .arg("PX")
                            .arg(millis)
                            .query_async::<()>(&mut conn)
                            .await
                            .map_err(|e| err(&e))?;
                        let got: Vec<u8> =
                            redis::cmd("GET").arg(&key).query_async(&mut conn).await.map_err(|e| err(&e))?;
                        serde_json::from_slice::<Session>(&got).map(drop).map_err(|e| err(&e))
                    }
                    Op::DbSession => Err("not a cache operation".into()),
                }
            }
            Client::Moka(cache) => {
                let ttl = Duration::from_secs(TTL_SECS);
                match op {
                    Op::Get | Op::GetOrLoad | Op::HotGet => {
                        drop(cache.get(&key).map(|(v, _)| v));
                        Ok(())
                    }
                    Op::GetMany => {
                        names.iter().for_each(|k| drop(cache.get(*k)));
                        Ok(())
                    }
                    Op::SetMany => {
                        names.iter().for_each(|k| cache.insert(k.to_string(), (value.clone(), ttl)));
                        Ok(())
                    }
                    Op::Set => {
                        cache.insert(key, (value.clone(), ttl));
                        Ok(())
                    }
                    Op::Incr => {
                        let entry = cache.entry(format!("{key}:n")).and_upsert_with(|old| {
                            let n = old
                                .and_then(|e| std::str::from_utf8(&e.value().0).ok()?.parse::<i64>().ok())
                                .unwrap_or(0);
                            (Bytes::from((n + 1).to_string()), ttl)
                        });
                        drop(entry);
                        Ok(())
                    }
                    Op::Session => {
                        let json = serde_json::to_vec(&session()).map_err(|e| err(&e))?;
                        cache.insert(key.clone(), (Bytes::from(json), ttl));
                        let got = cache.get(&key).ok_or("the session just written is missing")?;
                        serde_json::from_slice::<Session>(&got.0).map(drop).map_err(|e| err(&e))
                    }
                    Op::DbSession => Err("not a cache operation".into()),
                }
            }
            Client::Memcache(client) => match op {
                Op::Get | Op::GetOrLoad | Op::HotGet => {
                    client.get(key.as_bytes()).send().await.map(drop).map_err(|e| err(&e))
                }
                Op::GetMany => client
                    .run_many(names.iter().map(|k| memcache::exp::Get::new(k.as_bytes())))
                    .await
                    .map(drop)
                    .map_err(|e| err(&e)),
                Op::SetMany => client
                    .run_many(
                        names
                            .iter()
                            .map(|k| memcache::exp::Set::new(k.as_bytes(), &value[..]).ttl_raw(TTL_SECS as u32)),
                    )
                    .await
                    .map(drop)
                    .map_err(|e| err(&e)),
                Op::Set => client
                    .set(key.as_bytes(), &value[..])
                    .ttl_raw(TTL_SECS as u32)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| err(&e)),
                Op::Incr => client
                    .increment(format!("{key}:n").as_bytes())
                    .delta(1)
                    .initial(1, TTL_SECS as u32)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| err(&e)),
                Op::Session => {
                    let json = serde_json::to_vec(&session()).map_err(|e| err(&e))?;
                    client.set(key.as_bytes(), &json).ttl_raw(TTL_SECS as u32).send().await.map_err(|e| err(&e))?;
                    let got = client.get(key.as_bytes()).send().await.map_err(|e| err(&e))?;
                    let value = got.value.ok_or("the session just written is missing")?;
                    serde_json::from_slice::<Session>(&value).map(drop).map_err(|e| err(&e))
                }
                Op::DbSession => Err("not a cache operation".into()),
            },
            Client::PalSessions(store) => {
                let expires = chrono::Utc::now() + chrono::Duration::seconds(TTL_SECS as i64);
                store.upsert(&key, value, expires).await.map_err(|e| err(&e))?;
                store.get(&key).await.map(drop).map_err(|e| err(&e))
            }
            Client::RawSessions(raw) => raw.round_trip(&key, value).await,
        }
    }
}

/// The raw client for a provider's peer; `None` with the reason when it cannot
/// be built (a TLS server with a private CA, say).
pub(super) async fn peer(peer: &Peer, index: usize) -> Result<Arc<Contestant>, String> {
    let client = match peer {
        Peer::Redis(url) => {
            let client = redis::Client::open(url.expose()).map_err(|e| e.to_string())?;
            let conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
            (Client::Redis(conn), "redis-rs")
        }
        Peer::Memcached(server) => {
            let client = memcache::exp::AsyncMetaClient::builder()
                .connect_multiple_async([server.to_string()])
                .await
                .map_err(|e| e.to_string())?;
            (Client::Memcache(client), "memcache")
        }
        Peer::Moka { max_entries } => {
            let cache = moka::sync::Cache::builder().max_capacity(*max_entries).expire_after(ValueTtl).build();
            (Client::Moka(cache), "moka")
        }
        _ => return Err("no raw client for this provider".into()),
    };
    Ok(Contestant::new(client.1, false, index, client.0))
}

/// A session store on the database, through pal.
pub(super) fn pal_sessions(store: Arc<dyn ExpiringStore>, index: usize) -> Arc<Contestant> {
    Contestant::new("pal", true, index, Client::PalSessions(store))
}

/// The same statements pal's store sends, on a raw sqlx pool.
pub(super) fn raw_sessions(raw: RawSessions, index: usize) -> Arc<Contestant> {
    Contestant::new("sqlx", false, index, Client::RawSessions(raw))
}
