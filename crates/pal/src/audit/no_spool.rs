//! Without the embedded database's feature there is no spool: a configuration that needs
//! one is refused when the audit log starts.

use std::path::Path;

use super::sink::AuditEvent;
use crate::db::DbTarget;
use crate::error::{Error, Result};

pub(crate) enum Spool {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    pub key: String,
    pub target: String,
    pub server: Option<String>,
    pub note: Option<String>,
}

fn not_built() -> Error {
    Error::not_built("AUDIT_SPOOL_DIR", "the audit spool", crate::db::sqlite::PROVIDER.feature)
}

impl Spool {
    pub(crate) async fn open(_path: &Path, _target: &DbTarget) -> Result<Spool> {
        Err(not_built())
    }

    pub(crate) async fn create(_path: &Path, _binding: &Binding) -> Result<Spool> {
        Err(not_built())
    }

    pub(crate) async fn open_file(_path: &Path) -> Result<Spool> {
        Err(not_built())
    }

    pub(crate) fn path(&self) -> &Path {
        match *self {}
    }

    pub(crate) async fn binding(&self) -> Result<Option<Binding>> {
        match *self {}
    }

    pub(crate) async fn record_server(&self, _server: &str) -> Result<Option<String>> {
        match *self {}
    }

    pub(crate) async fn rebind_server(&self, _server: &str) -> Result<()> {
        match *self {}
    }

    pub(crate) async fn append(&self, _event: AuditEvent) -> Result<()> {
        match *self {}
    }

    pub(crate) async fn append_all(&self, _events: &[AuditEvent]) -> Result<()> {
        match *self {}
    }

    pub(crate) async fn oldest(&self, _limit: usize) -> Result<(Vec<AuditEvent>, i64)> {
        match *self {}
    }

    pub(crate) async fn remove_through(&self, _seq: i64) -> Result<()> {
        match *self {}
    }

    pub(crate) async fn len(&self) -> Result<u64> {
        match *self {}
    }

    pub(crate) async fn first_seq(&self) -> Result<Option<i64>> {
        match *self {}
    }

    pub(crate) async fn last_seq(&self) -> Result<i64> {
        match *self {}
    }

    pub(crate) async fn move_into(&self, _to: &Spool, _through: i64) -> Result<u64> {
        match *self {}
    }

    pub(crate) async fn close(&self) {
        match *self {}
    }
}
