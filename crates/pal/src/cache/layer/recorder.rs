//! A provider that records each call it gets: what the forwarding tests put
//! beneath the layers, to see which calls reach it.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::cache::{CacheService, Capabilities, Sampled, Ttl};
use crate::error::Result;
use crate::tls::Transport;

/// Declares [`Call`] and [`Call::ALL`] from one list, so the tests cannot leave a
/// method out of the list they go through.
macro_rules! calls {
    ($($call:ident),+ $(,)?) => {
        /// A method of [`CacheService`]. [`Recorder`] must name one for each method
        /// it implements, and it implements them all (clippy's
        /// `missing_trait_methods` is denied on it); the tests' `invoke` matches
        /// every variant, so a new one is called through every layer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Call {
            $($call),+
        }

        impl Call {
            pub(super) const ALL: &[Call] = &[$(Call::$call),+];
        }
    };
}

calls!(
    Provider,
    Capabilities,
    Get,
    Set,
    Delete,
    Incr,
    Touch,
    Ttl,
    GetWithTtl,
    GetMany,
    SetMany,
    DeleteMany,
    Add,
    DeleteIf,
    TouchIf,
    Ping,
    Health,
    Transport,
    CheckConfiguration,
    Sample
);

/// A call as it arrived: the method, and the key (or the prefix) it named.
pub(super) type Seen = (Call, Option<String>);

/// Answers every call as an empty cache on a server would, and records it.
#[derive(Default)]
pub(super) struct Recorder {
    seen: Mutex<Vec<Seen>>,
}

impl Recorder {
    /// The calls since the last `take`.
    pub(super) fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn record(&self, call: Call, key: Option<&str>) {
        self.seen.lock().unwrap().push((call, key.map(str::to_string)));
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl CacheService for Recorder {
    fn provider(&self) -> &'static str {
        self.record(Call::Provider, None);
        "recorder"
    }

    fn capabilities(&self) -> Capabilities {
        self.record(Call::Capabilities, None);
        Capabilities::SERVER
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.record(Call::Get, Some(key));
        Ok(None)
    }

    async fn set(&self, key: &str, _value: Bytes, _ttl: Ttl) -> Result<()> {
        self.record(Call::Set, Some(key));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.record(Call::Delete, Some(key));
        Ok(false)
    }

    async fn incr(&self, key: &str, by: i64, _ttl_on_create: Ttl) -> Result<i64> {
        self.record(Call::Incr, Some(key));
        Ok(by)
    }

    async fn touch(&self, key: &str, _ttl: Ttl) -> Result<bool> {
        self.record(Call::Touch, Some(key));
        Ok(false)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        self.record(Call::Ttl, Some(key));
        Ok(None)
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Bytes, Duration)>> {
        self.record(Call::GetWithTtl, Some(key));
        Ok(None)
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        self.record(Call::GetMany, Some(&keys.join(",")));
        Ok(vec![None; keys.len()])
    }

    async fn set_many(&self, entries: &[(&str, Bytes)], _ttl: Ttl) -> Result<()> {
        let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
        self.record(Call::SetMany, Some(&keys.join(",")));
        Ok(())
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        self.record(Call::DeleteMany, Some(&keys.join(",")));
        Ok(0)
    }

    async fn add(&self, key: &str, _value: Bytes, _ttl: Ttl) -> Result<bool> {
        self.record(Call::Add, Some(key));
        Ok(true)
    }

    async fn delete_if(&self, key: &str, _expected: &[u8]) -> Result<bool> {
        self.record(Call::DeleteIf, Some(key));
        Ok(false)
    }

    async fn touch_if(&self, key: &str, _expected: &[u8], _ttl: Ttl) -> Result<bool> {
        self.record(Call::TouchIf, Some(key));
        Ok(false)
    }

    async fn ping(&self) -> Result<()> {
        self.record(Call::Ping, None);
        Ok(())
    }

    async fn health(&self) -> Result<Option<String>> {
        self.record(Call::Health, None);
        Ok(None)
    }

    async fn transport(&self) -> Result<Transport> {
        self.record(Call::Transport, None);
        Ok(Transport::Plaintext)
    }

    async fn check_configuration(&self) -> Result<Vec<String>> {
        self.record(Call::CheckConfiguration, None);
        Ok(Vec::new())
    }

    async fn sample(&self, prefix: &str, _limit: usize) -> Result<Option<Sampled>> {
        self.record(Call::Sample, Some(prefix));
        Ok(Some(Vec::new()))
    }
}
