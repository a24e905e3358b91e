//! What every cache layer is built on: a [`CacheService`] around another one,
//! forwarding whatever it does not change.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;

use super::capabilities::Capabilities;
use super::service::{CacheService, Sampled};
use super::ttl::Ttl;
use crate::error::Result;
use crate::tls::Transport;

#[cfg(test)]
mod recorder;
#[cfg(test)]
mod tests;

/// A cache around another one, [`inner`](CacheLayer::inner). Each method forwards
/// to the inner cache unless the layer overrides it, and every [`CacheService`]
/// method goes through here, its default bodies included: a layer writes only
/// what it changes, and one that writes nothing else cannot answer with the
/// trait's default where the provider beneath has its own (`check_configuration`,
/// `sample`, `health`).
///
/// A method added to [`CacheService`] goes here too, forwarding, and into the
/// impl below, and the forwarding tests' recorder (`layer/recorder.rs`) records
/// it: clippy's `missing_trait_methods`, denied on that impl, on the recorder and
/// on redis-hybrid (the one cache made of two), fails until it is in each, and
/// the tests then call it through every layer.
#[async_trait]
pub trait CacheLayer: Send + Sync + 'static {
    /// The cache this layer wraps.
    fn inner(&self) -> &dyn CacheService;

    /// Forwards to the inner cache's [`provider`](CacheService::provider).
    fn provider(&self) -> &'static str {
        self.inner().provider()
    }

    /// Forwards to the inner cache's [`capabilities`](CacheService::capabilities).
    fn capabilities(&self) -> Capabilities {
        self.inner().capabilities()
    }

    /// Forwards to the inner cache's [`get`](CacheService::get).
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.inner().get(key).await
    }

    /// Forwards to the inner cache's [`set`](CacheService::set).
    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.inner().set(key, value, ttl).await
    }

    /// Forwards to the inner cache's [`delete`](CacheService::delete).
    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner().delete(key).await
    }

    /// Forwards to the inner cache's [`incr`](CacheService::incr).
    async fn incr(&self, key: &str, by: i64, ttl_on_create: Ttl) -> Result<i64> {
        self.inner().incr(key, by, ttl_on_create).await
    }

    /// Forwards to the inner cache's [`touch`](CacheService::touch).
    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        self.inner().touch(key, ttl).await
    }

    /// Forwards to the inner cache's [`ttl`](CacheService::ttl).
    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        self.inner().ttl(key).await
    }

    /// Forwards to the inner cache's [`get_with_ttl`](CacheService::get_with_ttl).
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Bytes, Duration)>> {
        self.inner().get_with_ttl(key).await
    }

    /// Forwards to the inner cache's [`get_many`](CacheService::get_many).
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        self.inner().get_many(keys).await
    }

    /// Forwards to the inner cache's [`set_many`](CacheService::set_many).
    async fn set_many(&self, entries: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        self.inner().set_many(entries, ttl).await
    }

    /// Forwards to the inner cache's [`delete_many`](CacheService::delete_many).
    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        self.inner().delete_many(keys).await
    }

    /// Forwards to the inner cache's [`add`](CacheService::add).
    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        self.inner().add(key, value, ttl).await
    }

    /// Forwards to the inner cache's [`delete_if`](CacheService::delete_if).
    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool> {
        self.inner().delete_if(key, expected).await
    }

    /// Forwards to the inner cache's [`touch_if`](CacheService::touch_if).
    async fn touch_if(&self, key: &str, expected: &[u8], ttl: Ttl) -> Result<bool> {
        self.inner().touch_if(key, expected, ttl).await
    }

    /// Forwards to the inner cache's [`ping`](CacheService::ping).
    async fn ping(&self) -> Result<()> {
        self.inner().ping().await
    }

    /// Forwards to the inner cache's [`health`](CacheService::health).
    async fn health(&self) -> Result<Option<String>> {
        self.inner().health().await
    }

    /// Forwards to the inner cache's [`transport`](CacheService::transport).
    async fn transport(&self) -> Result<Transport> {
        self.inner().transport().await
    }

    /// Forwards to the inner cache's [`check_configuration`](CacheService::check_configuration).
    async fn check_configuration(&self) -> Result<Vec<String>> {
        self.inner().check_configuration().await
    }

    /// Forwards to the inner cache's [`sample`](CacheService::sample).
    async fn sample(&self, prefix: &str, limit: usize) -> Result<Option<Sampled>> {
        self.inner().sample(prefix, limit).await
    }
}

// Written out as `async_trait` expands the trait's methods, rather than as `async
// fn`s: each hands back the layer's own future, so passing through here costs no
// allocation of its own.
#[deny(clippy::missing_trait_methods)]
impl<L: CacheLayer> CacheService for L {
    fn provider(&self) -> &'static str {
        CacheLayer::provider(self)
    }

    fn capabilities(&self) -> Capabilities {
        CacheLayer::capabilities(self)
    }

    fn get<'s, 'k, 'f>(&'s self, key: &'k str) -> BoxFuture<'f, Result<Option<Bytes>>>
    where
        's: 'f,
        'k: 'f,
    {
        CacheLayer::get(self, key)
    }

    fn set<'s, 'k, 'f>(&'s self, key: &'k str, value: Bytes, ttl: Ttl) -> BoxFuture<'f, Result<()>>
    where
        's: 'f,
        'k: 'f,
    {
        CacheLayer::set(self, key, value, ttl)
    }

    fn delete<'s, 'k, 'f>(&'s self, key: &'k str) -> BoxFuture<'f, Result<bool>>
    where
        's: 'f,
        'k: 'f,
    {
        CacheLayer::delete(self, key)
    }

    fn incr<'s, 'k, 'f>(&'s self, key: &'k str, by: i64, ttl_on_create: Ttl) -> BoxFuture<'f, Result<i64>>
    where
        's: 'f,
        'k: 'f,
    {
        CacheLayer::incr(self, key, by, ttl_on_create)
    }

    fn touch<'s, 'k, 'f>(&'s self, key: &'k str, ttl: Ttl) -> BoxFuture<'f, Result<bool>>
    where
        's: 'f,
        'k: 'f,
    {
        CacheLayer::touch(self, key, ttl)
    }

    fn ttl<'s, 'k, 'f>(&'s self, key: &'k str) -> BoxFuture<'f, Result<Option<Duration>>>
    where
        's: 'f,
        'k: 'f,
    {
        CacheLayer::ttl(self, key)
    }

    fn get_with_ttl<'s, 'k, 'f>(&'s self, key: &'k str) -> BoxFuture<'f, Result<Option<(Bytes, Duration)>>>
    where
        's: 'f,
        'k: 'f,
    {
        CacheLayer::get_with_ttl(self, key)
    }

    fn get_many<'s, 'k, 'a, 'f>(&'s self, keys: &'k [&'a str]) -> BoxFuture<'f, Result<Vec<Option<Bytes>>>>
    where
        's: 'f,
        'k: 'f,
        'a: 'f,
    {
        CacheLayer::get_many(self, keys)
    }

    fn set_many<'s, 'e, 'a, 'f>(&'s self, entries: &'e [(&'a str, Bytes)], ttl: Ttl) -> BoxFuture<'f, Result<()>>
    where
        's: 'f,
        'e: 'f,
        'a: 'f,
    {
        CacheLayer::set_many(self, entries, ttl)
    }

    fn delete_many<'s, 'k, 'a, 'f>(&'s self, keys: &'k [&'a str]) -> BoxFuture<'f, Result<u64>>
    where
        's: 'f,
        'k: 'f,
        'a: 'f,
    {
        CacheLayer::delete_many(self, keys)
    }

    fn add<'s, 'k, 'f>(&'s self, key: &'k str, value: Bytes, ttl: Ttl) -> BoxFuture<'f, Result<bool>>
    where
        's: 'f,
        'k: 'f,
    {
        CacheLayer::add(self, key, value, ttl)
    }

    fn delete_if<'s, 'k, 'e, 'f>(&'s self, key: &'k str, expected: &'e [u8]) -> BoxFuture<'f, Result<bool>>
    where
        's: 'f,
        'k: 'f,
        'e: 'f,
    {
        CacheLayer::delete_if(self, key, expected)
    }

    fn touch_if<'s, 'k, 'e, 'f>(&'s self, key: &'k str, expected: &'e [u8], ttl: Ttl) -> BoxFuture<'f, Result<bool>>
    where
        's: 'f,
        'k: 'f,
        'e: 'f,
    {
        CacheLayer::touch_if(self, key, expected, ttl)
    }

    fn ping<'s, 'f>(&'s self) -> BoxFuture<'f, Result<()>>
    where
        's: 'f,
    {
        CacheLayer::ping(self)
    }

    fn health<'s, 'f>(&'s self) -> BoxFuture<'f, Result<Option<String>>>
    where
        's: 'f,
    {
        CacheLayer::health(self)
    }

    fn transport<'s, 'f>(&'s self) -> BoxFuture<'f, Result<Transport>>
    where
        's: 'f,
    {
        CacheLayer::transport(self)
    }

    fn check_configuration<'s, 'f>(&'s self) -> BoxFuture<'f, Result<Vec<String>>>
    where
        's: 'f,
    {
        CacheLayer::check_configuration(self)
    }

    fn sample<'s, 'p, 'f>(&'s self, prefix: &'p str, limit: usize) -> BoxFuture<'f, Result<Option<Sampled>>>
    where
        's: 'f,
        'p: 'f,
    {
        CacheLayer::sample(self, prefix, limit)
    }
}
