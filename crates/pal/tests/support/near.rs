//! What the near cache's tests share: waiting for it to track, and for a key to
//! be answered from its memory.

use std::time::{Duration, Instant};

use pal::CacheService;
use pal::cache::near::NearCache;

/// Waits until the near cache receives invalidations in a round after `after`
/// (0: the first round).
pub(crate) async fn tracking(near: &NearCache, after: u64) {
    super::eventually(Duration::from_secs(20), || async {
        let stats = near.stats();
        stats.active && stats.rounds > after
    })
    .await
    .unwrap_or_else(|| panic!("the near cache tracks: {:?}", near.stats()));
}

/// Reads `key` through `cache` until it reads `value` answered from memory; a
/// read that fails on the way is read again.
pub(crate) async fn cached(cache: &dyn CacheService, near: &NearCache, key: &str, value: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let hits = near.stats().hits;
        let got = cache.get(key).await;
        if got.as_ref().is_ok_and(|v| v.as_deref() == Some(value)) && near.stats().hits > hits {
            return;
        }
        assert!(Instant::now() < deadline, "{key} never became a near hit (last read {got:?})");
    }
}
