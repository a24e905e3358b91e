//! Without the embedded database's feature there is no spool: a configuration that needs
//! one is refused when the audit log starts.

use std::path::Path;

use super::sink::AuditEvent;
use crate::error::{Error, Result};

pub enum Spool {}

impl Spool {
    pub async fn open(_dir: &Path) -> Result<Spool> {
        Err(Error::not_built("AUDIT_SPOOL_DIR", "the audit spool", crate::db::sqlite::PROVIDER.feature))
    }

    pub async fn append(&self, _event: AuditEvent) -> Result<()> {
        match *self {}
    }

    pub async fn append_all(&self, _events: &[AuditEvent]) -> Result<()> {
        match *self {}
    }

    pub async fn oldest(&self, _limit: usize) -> Result<(Vec<AuditEvent>, i64)> {
        match *self {}
    }

    pub async fn remove_through(&self, _seq: i64) -> Result<()> {
        match *self {}
    }

    pub async fn len(&self) -> Result<u64> {
        match *self {}
    }
}
