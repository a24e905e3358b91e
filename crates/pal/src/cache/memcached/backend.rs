//! The adapter: memcached's meta protocol through the `memcache` crate's async client.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use memcache::exp::{AsyncMetaClient, Error as McError, Meta, MutationStatus};

use super::PROVIDER;
use super::keys::{StableRendezvous, wire_key};
use crate::cache::{CacheService, Capabilities, Ttl};
use crate::env::HostPort;
use crate::error::{Error, ErrorKind, Result};

/// Memcached treats expiry times up to 30 days as relative, larger ones as Unix time.
const MAX_RELATIVE_SECS: u64 = 30 * 24 * 3600;
/// Room for memcached's per-item header, key and CAS within the item size limit.
const ITEM_OVERHEAD: usize = 128;

pub struct MemcachedCache {
    client: AsyncMetaClient,
    servers: Vec<String>,
    max_item_bytes: usize,
}

impl MemcachedCache {
    /// Resolves the servers; connections are made at first use.
    pub async fn connect(
        servers: &[HostPort],
        connect_timeout: Duration,
        command_timeout: Duration,
        max_item_bytes: usize,
    ) -> Result<Self> {
        let addrs: Vec<String> = servers.iter().map(ToString::to_string).collect();
        let client = AsyncMetaClient::builder()
            .router(StableRendezvous)
            .connect_timeout(Some(connect_timeout))
            .io_timeout(Some(command_timeout))
            .connect_multiple_async(addrs.clone())
            .await
            .map_err(|e| Error::new(ErrorKind::Config, format!("MEMCACHED_SERVERS: {e}")))?;
        Ok(MemcachedCache { client, servers: addrs, max_item_bytes })
    }
}

/// The expiry to send for `ttl`. Memcached's clock ticks once a second, so an item
/// stored with N seconds lives between N-1 and N; one second more guarantees at
/// least the TTL asked for (and at most one second beyond it).
fn wire_ttl(ttl: Ttl) -> u32 {
    let secs = ttl.as_secs_ceil() + 1;
    let wire = if secs > MAX_RELATIVE_SECS {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + secs
    } else {
        secs
    };
    u32::try_from(wire).unwrap_or(u32::MAX)
}

fn map_error(e: McError) -> Error {
    Error::backend(PROVIDER.name, kind_of(&e), e)
}

fn kind_of(e: &McError) -> ErrorKind {
    match e {
        McError::Timeout { .. } => ErrorKind::Timeout,
        McError::Io(_) => ErrorKind::Connection,
        // The client wraps any failure of a written command with side effects; the
        // server's own answer inside still says what happened.
        McError::Ambiguous { source, .. } => match source.as_ref() {
            inner @ (McError::Rejected(_) | McError::Server(_) | McError::Timeout { .. }) => kind_of(inner),
            _ => ErrorKind::Connection,
        },
        McError::Rejected(msg) if msg.contains("non-numeric") => ErrorKind::NotAnInteger,
        McError::Server(msg) if msg.contains("too large") => ErrorKind::ValueTooLarge,
        McError::Usage(_) | McError::Rejected(_) => ErrorKind::InvalidInput,
        _ => ErrorKind::Backend,
    }
}

#[async_trait]
impl CacheService for MemcachedCache {
    fn provider(&self) -> &'static str {
        PROVIDER.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { max_value_bytes: Some(self.max_item_bytes), ..PROVIDER.capabilities }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let result = self.client.get(wire_key(key).as_bytes()).send().await.map_err(map_error)?;
        Ok(if result.hit() { result.value.map(Bytes::from) } else { None })
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let key = wire_key(key);
        if value.len() + key.len() + ITEM_OVERHEAD > self.max_item_bytes {
            return Err(Error::new(
                ErrorKind::ValueTooLarge,
                format!(
                    "a value of {} bytes does not fit memcached's item size limit of {} bytes \
                     (MEMCACHED_MAX_ITEM_BYTES; raise the server's -I to store larger values)",
                    value.len(),
                    self.max_item_bytes
                ),
            )
            .with_provider(PROVIDER.name));
        }
        let result = self.client.set(key.as_bytes(), &value).ttl_raw(wire_ttl(ttl)).send().await.map_err(map_error)?;
        match result.status {
            MutationStatus::Applied => Ok(()),
            other => {
                Err(Error::new(ErrorKind::Backend, format!("set was not stored ({other:?})"))
                    .with_provider(PROVIDER.name))
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let result = self.client.delete(wire_key(key).as_bytes()).send().await.map_err(map_error)?;
        Ok(result.status == MutationStatus::Applied)
    }

    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        let Ok(delta) = u64::try_from(by) else {
            return Err(Error::unsupported(
                PROVIDER.name,
                "memcached counters are unsigned: incr with a negative amount is not supported",
            ));
        };
        // `ma` with N (create on miss, with this TTL) and J (the initial value) is one
        // atomic server-side operation; an existing counter keeps its TTL. A created
        // counter starts at J without the delta applied, hence J = delta.
        let result = self
            .client
            .increment(wire_key(key).as_bytes())
            .delta(delta)
            .initial(delta, wire_ttl(ttl_on_create))
            .send()
            .await
            .map_err(map_error)?;
        let value = result.value.ok_or_else(|| {
            Error::new(ErrorKind::Backend, format!("incr returned no value ({:?})", result.status))
                .with_provider(PROVIDER.name)
        })?;
        i64::try_from(value).map_err(|_| {
            Error::new(ErrorKind::NotAnInteger, format!("the counter reached {value}, beyond a 64-bit signed integer"))
                .with_provider(PROVIDER.name)
        })
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let result = self
            .client
            .get(wire_key(key).as_bytes())
            .touch_raw(wire_ttl(ttl))
            .without_value()
            .send()
            .await
            .map_err(map_error)?;
        Ok(result.hit())
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let result = self
            .client
            .get(wire_key(key).as_bytes())
            .meta(Meta::default().ttl())
            .without_value()
            .no_lru_bump()
            .send()
            .await
            .map_err(map_error)?;
        if !result.hit() {
            return Ok(None);
        }
        Ok(Some(match result.item.ttl {
            Some(secs) if secs >= 0 => Duration::from_secs((secs as u64).saturating_sub(1)),
            _ => Duration::MAX,
        }))
    }

    async fn ping(&self) -> Result<()> {
        self.client.noop().await.map_err(|e| {
            let e = map_error(e);
            Error::new(e.kind(), format!("{} (servers: {})", e.message(), self.servers.join(",")))
                .with_provider(PROVIDER.name)
        })
    }
}
