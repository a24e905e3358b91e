//! One measurement: `tasks` concurrent tasks repeat one operation for a fixed time,
//! each timing every call into its own histogram (merged at the end), so latency
//! percentiles come from every call, not a sample.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies are kept in microseconds, from 1 µs to 60 s, to 3 significant digits.
pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub(super) struct Round {
    pub ops: u64,
    pub errors: u64,
    /// The first error seen, to show why a contestant failed.
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latencies: Histogram<u64>,
}

impl Round {
    pub(super) fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `op(task, i)` from `tasks` tasks for `length`; `i` counts each task's calls.
pub(super) async fn round<F, Fut>(tasks: usize, length: Duration, op: F) -> Round
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let (op, stop) = (op.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = histogram();
                let (mut ops, mut errors, mut first_error) = (0u64, 0u64, None);
                while !stop.load(Ordering::Relaxed) {
                    // An in-process cache answers without ever waiting: spending the
                    // task's budget makes it yield now and then, so the timer that ends
                    // the round still runs.
                    tokio::task::consume_budget().await;
                    let call = Instant::now();
                    match op(task, ops + errors).await {
                        Ok(()) => {
                            ops += 1;
                            let micros = call.elapsed().as_micros().clamp(1, 60_000_000) as u64;
                            latencies.saturating_record(micros);
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
                (ops, errors, first_error, latencies)
            })
        })
        .collect();
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut round = Round { ops: 0, errors: 0, first_error: None, elapsed: Duration::ZERO, latencies: histogram() };
    for handle in handles {
        if let Ok((ops, errors, first_error, latencies)) = handle.await {
            round.ops += ops;
            round.errors += errors;
            round.first_error = round.first_error.or(first_error);
            let _ = round.latencies.add(&latencies);
        }
    }
    round.elapsed = started.elapsed();
    round
}
