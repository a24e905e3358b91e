//! Which SQLite database an adapter is for: its file, by canonical path from the
//! URL, and by what the file system says of the file itself.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::db::DbTarget;
use crate::error::{Error, ErrorKind, Result};

pub(super) fn target(provider: &str, file: Option<&Path>) -> DbTarget {
    match file {
        Some(file) => DbTarget::file(provider, file),
        None => DbTarget::in_memory(provider),
    }
}

/// The file's device and inode, with its birth time where the file system keeps
/// one: a file put in the place of another, even one given back the freed inode
/// number, was born at another moment.
pub(super) fn of_file(file: &Path) -> Result<String> {
    let meta = std::fs::metadata(file).map_err(|e| {
        Error::new(ErrorKind::Connection, format!("the database file {} cannot be read: {e}", file.display()))
    })?;
    let born = meta.created().ok().map(|t| DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Nanos, true));
    let place = place(&meta);
    Ok(match born {
        Some(born) => format!("file {place}, created {born}"),
        None => format!("file {place}"),
    })
}

#[cfg(unix)]
fn place(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("inode {} on device {}", meta.ino(), meta.dev())
}

#[cfg(not(unix))]
fn place(_meta: &std::fs::Metadata) -> String {
    "of unknown inode".to_string()
}
