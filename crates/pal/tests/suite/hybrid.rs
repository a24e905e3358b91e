//! Building blocks for the redis-hybrid tests (`pal_test_support::hybrid`), and a
//! hybrid over a given Redis URL and a migrated PostgreSQL schema.

use std::sync::Arc;

use pal::cache::hybrid::HybridCache;
use pal::cache::redis::{self as redis_provider, RedisCache};
use pal::{CacheService, DatabaseService};

pub(crate) use pal_test_support::hybrid::*;

pub(crate) fn redis_at(url: &str) -> Arc<dyn CacheService> {
    let (topology, timeouts) = redis_address(url);
    Arc::new(RedisCache::new(&redis_provider::PROVIDER, &topology, timeouts).unwrap())
}

pub(crate) fn hybrid(redis_url: &str, db: &Arc<dyn DatabaseService>) -> Arc<HybridCache> {
    Arc::new(HybridCache::new(redis_at(redis_url), db.clone(), config()))
}
