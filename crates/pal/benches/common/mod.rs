//! Throughput measurement shared by the network benches: many concurrent tasks
//! for a fixed time, rounds alternating between pal and its peers so that noise
//! on a shared machine hits every contestant alike, medians reported.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub(crate) const TASKS: usize = 50;
pub(crate) const ROUND: Duration = Duration::from_millis(1000);
pub(crate) const ROUNDS: usize = 9;

/// Operations per second of `op(task, i)` run by `TASKS` tasks for one round.
pub(crate) async fn round<F, Fut>(op: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    round_of(TASKS, op).await
}

/// Operations per second of `op(task, i)` run by `tasks` tasks for one round.
pub(crate) async fn round_of<F, Fut>(tasks: usize, op: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let (op, stop, count) = (op.clone(), stop.clone(), count.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    op(task, i).await;
                    i += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(ROUND).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Spreads task `task`'s `i`-th operation over `keys` keys.
pub(crate) fn key(prefix: &str, task: usize, i: usize, keys: usize) -> String {
    format!("{prefix}{}", (task * 7919 + i) % keys)
}

/// A small session, as the reference service stores one: what the session
/// benchmarks write and read.
#[derive(Serialize, Deserialize)]
pub(crate) struct Session {
    pub user_id: u64,
    pub email: String,
    pub roles: Vec<String>,
    pub csrf: String,
}

pub(crate) fn session() -> Session {
    Session {
        user_id: 42,
        email: "ana@example.com".into(),
        roles: vec!["user".into(), "billing".into()],
        csrf: "b3f1c2d4e5f60718293a4b5c6d7e8f90".into(),
    }
}
