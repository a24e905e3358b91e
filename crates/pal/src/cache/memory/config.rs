use std::sync::Arc;

use futures::future::BoxFuture;

use super::cache::MemoryCache;

use crate::cache::{CacheConfig, CacheService};
use crate::env::Env;
use crate::error::Result;

#[derive(Debug)]
struct MemoryConfig {
    max_entries: u64,
}

pub fn configure(env: &mut Env, _selected: bool) -> Option<Arc<dyn CacheConfig>> {
    Some(Arc::new(MemoryConfig { max_entries: env.int("CACHE_MEMORY_MAX_ENTRIES", 1u64, u64::MAX / 2) }))
}

impl CacheConfig for MemoryConfig {
    fn target(&self) -> String {
        format!("in-process, max {} entries", self.max_entries)
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>> {
        Box::pin(async move { Ok(Arc::new(MemoryCache::new(self.max_entries)) as Arc<dyn CacheService>) })
    }
}
