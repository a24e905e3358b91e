use std::sync::Arc;

use futures::future::BoxFuture;

use super::cache::MemoryCache;
use crate::cache::{CacheConfig, CacheService};
use crate::env::{Env, Var};
use crate::error::Result;

pub(super) const VARS: &[Var] = &[
    Var::new("CACHE_MEMORY_MAX_ENTRIES", Some("100000"), "memory: maximum number of entries before eviction"),
    Var::new(
        "CACHE_MEMORY_MAX_BYTES",
        Some("auto"),
        "memory: maximum bytes of keys and values (with a per-entry overhead) before eviction: a number, \
         with K, M or G (powers of 1024), or auto for 1/16 of physical memory, at least 64M",
    ),
];

const MIB: u64 = 1 << 20;

#[derive(Debug)]
struct MemoryConfig {
    max_entries: u64,
    max_bytes: u64,
}

/// Reads the `memory` variables; see [`Configure`](crate::cache::Configure).
pub fn configure(env: &mut Env, _selected: bool) -> Option<Arc<dyn CacheConfig>> {
    let max_entries = env.int("CACHE_MEMORY_MAX_ENTRIES", 1u64, u64::MAX / 2);
    let raw = env.string("CACHE_MEMORY_MAX_BYTES");
    let max_bytes = match parse_size(&raw) {
        Some(bytes) if bytes >= MIB => bytes,
        _ => {
            env.invalid(
                "CACHE_MEMORY_MAX_BYTES",
                &raw,
                "expected auto, or a size of at least 1M such as 268435456, 512M or 2G",
            );
            MIB
        }
    };
    Some(Arc::new(MemoryConfig { max_entries, max_bytes }))
}

/// `auto`, or bytes with an optional K, M or G suffix (powers of 1024).
fn parse_size(raw: &str) -> Option<u64> {
    if raw.eq_ignore_ascii_case("auto") {
        return Some((physical_memory() / 16).max(64 * MIB));
    }
    let upper = raw.to_ascii_uppercase();
    let (digits, unit) = match upper.trim_end_matches('B').trim_end_matches('I') {
        d if d.ends_with('K') => (&d[..d.len() - 1], 1 << 10),
        d if d.ends_with('M') => (&d[..d.len() - 1], MIB),
        d if d.ends_with('G') => (&d[..d.len() - 1], 1 << 30),
        d => (d, 1),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(unit)
}

/// The machine's memory, from /proc/meminfo; 1 GiB where that cannot be read.
fn physical_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(1 << 30, |kib| kib * 1024)
}

impl CacheConfig for MemoryConfig {
    fn target(&self) -> String {
        format!("in-process, max {} entries, {} MiB", self.max_entries, self.max_bytes / MIB)
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn CacheService>>> {
        Box::pin(async move {
            Ok(Arc::new(MemoryCache::bounded(self.max_entries, self.max_bytes)) as Arc<dyn CacheService>)
        })
    }

    fn peer(&self) -> Option<crate::cache::Peer> {
        Some(crate::cache::Peer::Moka { max_entries: self.max_entries })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("64KiB"), Some(64 << 10));
        assert_eq!(parse_size("lots"), None);
        assert!(parse_size("auto").unwrap() >= 64 << 20);
    }
}
