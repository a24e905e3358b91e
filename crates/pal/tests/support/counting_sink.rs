//! An audit sink that counts, per event id, the deliveries the inner sink
//! acknowledged. The `audit_log` table cannot show a second delivery (its id is
//! the primary key and the insert skips stored ids), so exactly-once is checked
//! here: within one process an acknowledged event is never delivered again, and a
//! process that replays a spool really delivers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pal::audit::{AuditEvent, AuditSink};
use pal::db::DbTarget;

pub(crate) struct CountingSink {
    inner: Arc<dyn AuditSink>,
    acknowledged: Mutex<HashMap<String, u32>>,
}

impl CountingSink {
    pub(crate) fn new(inner: Arc<dyn AuditSink>) -> Arc<CountingSink> {
        Arc::new(CountingSink { inner, acknowledged: Mutex::new(HashMap::new()) })
    }

    /// Events whose delivery the inner sink acknowledged, each once.
    pub(crate) fn delivered(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    /// Events delivered again after the inner sink had acknowledged them.
    pub(crate) fn delivered_twice(&self) -> Vec<String> {
        let counts = self.acknowledged.lock().unwrap();
        let mut twice: Vec<String> = counts.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id.clone()).collect();
        twice.sort();
        twice
    }
}

#[async_trait]
impl AuditSink for CountingSink {
    async fn insert_batch(&self, events: &[AuditEvent]) -> pal::Result<()> {
        // A batch whose outcome the sink could not tell (it failed) may still have
        // been stored, and is delivered again: only acknowledged ones are counted.
        self.inner.insert_batch(events).await?;
        let mut counts = self.acknowledged.lock().unwrap();
        for event in events {
            *counts.entry(event.id.to_string()).or_default() += 1;
        }
        Ok(())
    }

    fn target(&self) -> DbTarget {
        self.inner.target()
    }

    async fn server_identity(&self) -> pal::Result<Option<String>> {
        self.inner.server_identity().await
    }
}
