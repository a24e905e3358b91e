//! Group commit of the database copies that writes wait for. Concurrent writes
//! share one multi-row statement, so one commit (one WAL flush) serves many of
//! them; each write still returns only after its own row is committed, so an
//! acknowledged write survives Redis dying.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::store::HybridStore;
use crate::error::{Error, ErrorKind, Result};
use crate::expiring::ExpiringRow;

/// Copies one flush takes at most.
const MAX_BATCH: usize = 256;
/// Flushes in flight at once; each holds one database connection.
const FLUSHERS: usize = 2;
/// Copies waiting for a flush; beyond this, writers wait for room.
const QUEUE: usize = 8192;

struct Copy {
    key: String,
    data: Bytes,
    expires_at: DateTime<Utc>,
    committed: oneshot::Sender<Result<()>>,
}

/// One queue per flusher, and a key always goes to the same one: two flushers never
/// hold locks on the same row, so writes of one hot key wait for one commit rather
/// than for a deadlock between two statements to be detected and broken.
pub(super) struct Copier {
    queues: Vec<mpsc::Sender<Copy>>,
    flushers: Vec<JoinHandle<()>>,
}

impl Copier {
    pub(super) fn start(store: Arc<HybridStore>) -> Copier {
        let (queues, flushers) = (0..FLUSHERS)
            .map(|_| {
                let (queue, receiver) = mpsc::channel(QUEUE / FLUSHERS);
                (queue, tokio::spawn(flush(receiver, store.clone())))
            })
            .unzip();
        Copier { queues, flushers }
    }

    /// Stores `data` under `key` in the database; returns once it is committed.
    pub(super) async fn put(&self, key: &str, data: Bytes, expires_at: DateTime<Utc>) -> Result<()> {
        let (committed, outcome) = oneshot::channel();
        let queue = &self.queues[flusher_of(key)];
        let copy = Copy { key: key.to_string(), data, expires_at, committed };
        queue.send(copy).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// The flusher that writes `key`'s copies.
fn flusher_of(key: &str) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    (BuildHasherDefault::<DefaultHasher>::default().hash_one(key) % FLUSHERS as u64) as usize
}

impl Drop for Copier {
    fn drop(&mut self) {
        self.flushers.iter().for_each(JoinHandle::abort);
    }
}

fn stopped() -> Error {
    Error::new(ErrorKind::Backend, "the database copy writer has stopped").with_provider(super::PROVIDER.name)
}

/// Takes what has queued up and stores it in one statement. While the flusher is
/// busy, copies accumulate, so batches grow with the load. A flush takes a power of
/// two of them and leaves the rest to its next flush: every flush is then one
/// statement of one of a few shapes (see `SqlExpiringStore::upsert_many`), with no
/// transaction around several. Copies of one key in a batch become one row, the
/// last written; every writer among them is answered by that commit, which holds
/// its write or a later one.
async fn flush(mut receiver: mpsc::Receiver<Copy>, store: Arc<HybridStore>) {
    loop {
        let mut batch = Vec::new();
        let Some(first) = receiver.recv().await else { return };
        batch.push(first);
        let take = (1 + receiver.len()).min(MAX_BATCH);
        while batch.len() < 1 << take.ilog2() {
            match receiver.try_recv() {
                Ok(copy) => batch.push(copy),
                Err(_) => break,
            }
        }
        let rows: Vec<ExpiringRow<'_>> = batch.iter().map(|c| (c.key.as_str(), &c.data[..], c.expires_at)).collect();
        let outcome = store.put_many(&rows).await;
        metrics::histogram!(crate::telemetry::HYBRID_COPY_BATCH_ROWS).record(batch.len() as f64);
        for copy in batch {
            let _ = copy.committed.send(outcome.clone());
        }
    }
}
