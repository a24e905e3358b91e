//! The spools of one `AUDIT_SPOOL_DIR`. Each belongs to one database: it is named
//! after the database's [`DbTarget`] (`audit-spool-<key>.db`), which is known
//! without reaching the database, and only an audit log writing to that database
//! opens it. Events written for a server that is no longer the one at the address
//! are moved to `audit-spool-<key>-<server>.db`; a spool from before spools were
//! bound is `audit-spool.db`. Neither is delivered until an operator says where
//! ([`adopt`]).

use std::path::{Path, PathBuf};

use super::spool::{Binding, Spool};
use crate::db::{DbTarget, short_hash};
use crate::error::{Error, ErrorKind, Result};

/// The spool written before spools were bound to a database.
pub const LEGACY_SPOOL: &str = "audit-spool.db";

/// The spool of `target` in `dir`.
pub(super) fn path_for(dir: &Path, target: &DbTarget) -> PathBuf {
    dir.join(format!("audit-spool-{}.db", target.key()))
}

/// Where the events of `target` written for `server` go once another server answers there.
pub(super) fn aside_path(dir: &Path, target: &DbTarget, server: &str) -> PathBuf {
    dir.join(format!("audit-spool-{}-{}.db", target.key(), short_hash(server)))
}

/// One spool file, as `pal audit status` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolFile {
    /// The spool's file.
    pub path: PathBuf,
    /// The database its events are for (credential-free); `None` for a spool
    /// written before spools were bound to a database.
    pub target: Option<String>,
    /// The server's identity, recorded when it was first reached.
    pub server: Option<String>,
    /// Why its events were set aside, when they were refused by the server now at
    /// the target's address.
    pub set_aside: Option<String>,
    /// Events it holds, not yet delivered.
    pub events: u64,
}

impl SpoolFile {
    /// Whether this is the spool an audit log writing to `target` delivers.
    pub fn is_for(&self, target: &DbTarget) -> bool {
        self.path.file_name() == path_for(Path::new(""), target).file_name()
    }
}

/// Every spool in `dir`, by file name; none when `dir` does not exist.
pub async fn spools(dir: &Path) -> Result<Vec<SpoolFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Config,
                format!("AUDIT_SPOOL_DIR {} cannot be read: {e}", dir.display()),
            ));
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("audit-spool") && name.ends_with(".db"))
        })
        .collect();
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        files.push(describe(&path).await?);
    }
    Ok(files)
}

async fn describe(path: &Path) -> Result<SpoolFile> {
    let spool = Spool::open_file(path).await?;
    let described = async {
        let binding = spool.binding().await?;
        let events = spool.len().await?;
        Ok::<_, Error>(match binding {
            Some(Binding { target, server, note, .. }) => {
                SpoolFile { path: path.to_path_buf(), target: Some(target), server, set_aside: note, events }
            }
            None => SpoolFile { path: path.to_path_buf(), target: None, server: None, set_aside: None, events },
        })
    }
    .await;
    spool.close().await;
    described
}

/// Events in the spools of `dir` that an audit log writing to `target` does not
/// deliver: for other databases, set aside, or from before spools were bound.
pub async fn waiting_elsewhere(dir: &Path, target: &DbTarget) -> Result<u64> {
    Ok(spools(dir).await?.iter().filter(|spool| !spool.is_for(target)).map(|spool| spool.events).sum())
}

/// Moves the events of the spool `file` (a path, or a name in `dir`) behind
/// those waiting for `target`, binding them to it: the operator's way to deliver
/// a spool from before spools were bound, one set aside, or one whose database
/// moved. Removes `file` once empty; returns how many events moved.
pub async fn adopt(dir: &Path, file: &Path, target: &DbTarget) -> Result<u64> {
    let source = match file.exists() || file.components().count() > 1 {
        true => file.to_path_buf(),
        false => dir.join(file),
    };
    if !source.is_file() {
        return Err(Error::invalid_input(format!("{} is not a spool file", source.display())));
    }
    let own = path_for(dir, target);
    if own.exists() && same_file(&source, &own) {
        return Err(Error::invalid_input(format!(
            "{} is already the spool of {target}: its events are delivered there without adopting",
            source.display()
        )));
    }
    let from = Spool::open_file(&source).await?;
    let to = Spool::open(&own, target).await?;
    let moved = from.move_into(&to, i64::MAX).await;
    let left = from.len().await;
    from.close().await;
    let moved = moved?;
    if left? == 0 {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = source.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
    Ok(moved)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
