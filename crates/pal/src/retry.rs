//! Waits between retries, on backon: capped exponential backoff with jitter, so
//! callers that failed together do not retry in lockstep.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// The delays before each of up to `retries` retries: from `first`, doubling up to
/// `cap`, each plus a random share of itself.
pub fn backoff(first: Duration, cap: Duration, retries: usize) -> impl Iterator<Item = Duration> + Send + use<> {
    ExponentialBuilder::new().with_min_delay(first).with_max_delay(cap).with_max_times(retries).with_jitter().build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_and_stops() {
        let delays: Vec<Duration> = backoff(Duration::from_millis(10), Duration::from_millis(40), 4).collect();
        assert_eq!(delays.len(), 4);
        for (delay, base) in delays.iter().zip([10, 20, 40, 40]) {
            let base = Duration::from_millis(base);
            assert!(*delay >= base && *delay <= base * 2, "{delay:?} for a base of {base:?}");
        }
    }
}
