//! Group commit of the database copies that writes wait for. Concurrent writes
//! share one multi-row statement, so one commit (one WAL flush) serves many of
//! them; each write still returns only after its own row is committed, so an
//! acknowledged write survives Redis dying.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, mpsc, oneshot};
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

pub(super) struct Copier {
    queue: mpsc::Sender<Copy>,
    flushers: Vec<JoinHandle<()>>,
}

impl Copier {
    pub(super) fn start(store: Arc<HybridStore>) -> Copier {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let receiver = Arc::new(Mutex::new(receiver));
        let flushers = (0..FLUSHERS).map(|_| tokio::spawn(flush(receiver.clone(), store.clone()))).collect();
        Copier { queue, flushers }
    }

    /// Stores `data` under `key` in the database; returns once it is committed.
    pub(super) async fn put(&self, key: &str, data: Bytes, expires_at: DateTime<Utc>) -> Result<()> {
        let (committed, outcome) = oneshot::channel();
        let copy = Copy { key: key.to_string(), data, expires_at, committed };
        self.queue.send(copy).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

impl Drop for Copier {
    fn drop(&mut self) {
        self.flushers.iter().for_each(JoinHandle::abort);
    }
}

fn stopped() -> Error {
    Error::new(ErrorKind::Backend, "the database copy writer has stopped").with_provider(super::PROVIDER.name)
}

/// Takes what has queued up and stores it in one statement. While every flusher is
/// busy, copies accumulate, so batches grow with the load. A flush takes a power of
/// two of them and leaves the rest to the next flusher: every flush is then one
/// statement of one of a few shapes (see `SqlExpiringStore::upsert_many`), with no
/// transaction around several.
async fn flush(receiver: Arc<Mutex<mpsc::Receiver<Copy>>>, store: Arc<HybridStore>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else { return };
            batch.push(first);
            let take = (1 + receiver.len()).min(MAX_BATCH);
            while batch.len() < 1 << take.ilog2() {
                match receiver.try_recv() {
                    Ok(copy) => batch.push(copy),
                    Err(_) => break,
                }
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
