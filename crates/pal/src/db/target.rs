//! Which database a configuration names, known without connecting: what local
//! state kept for a database (the audit spool) is bound to, so it can only ever
//! reach that database.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A database as its configuration names it: the provider and the server's
/// address and database name, or an embedded database's file. Never credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DbTarget {
    description: String,
}

impl DbTarget {
    /// A database on a server: `provider://host:port/database`.
    pub fn server(provider: &str, host: &str, port: u16, database: &str) -> DbTarget {
        let host = host.to_ascii_lowercase();
        let host = match host.contains(':') && !host.starts_with('[') {
            true => format!("[{host}]"),
            false => host,
        };
        DbTarget { description: format!("{provider}://{host}:{port}/{database}") }
    }

    /// A database on a server reached through a Unix socket.
    pub fn socket(provider: &str, socket: &Path, port: u16, database: &str) -> DbTarget {
        DbTarget { description: format!("{provider}://unix:{}:{port}/{database}", socket.display()) }
    }

    /// An embedded database's file, by its canonical path (resolved as far as it
    /// exists), so every spelling of one file names the same database.
    pub fn file(provider: &str, path: &Path) -> DbTarget {
        DbTarget { description: format!("{provider}://{}", canonical(path).display()) }
    }

    /// An embedded database that lives only in the process's memory.
    pub fn in_memory(provider: &str) -> DbTarget {
        DbTarget { description: format!("{provider}::memory:") }
    }

    /// Readable, without credentials: `postgresql://db.internal:5432/app`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// A short, stable name for files bound to this database: 16 hex digits of
    /// the description's SHA-256.
    pub fn key(&self) -> String {
        short_hash(&self.description)
    }
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// 16 hex digits of `text`'s SHA-256: stable across builds and platforms.
pub fn short_hash(text: &str) -> String {
    crate::crypto::hex(&Sha256::digest(text.as_bytes())[..8])
}

/// `path` made absolute with its existing part resolved (symbolic links, `..`); the
/// part that does not exist yet is kept as written.
fn canonical(path: &Path) -> PathBuf {
    let Ok(absolute) = std::path::absolute(path) else { return path.to_path_buf() };
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(resolved) = existing.canonicalize() {
            return missing.iter().rev().fold(resolved, |path, part| path.join(part));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_names_no_credentials_and_one_file_whatever_its_spelling() {
        let target = DbTarget::server("postgresql", "DB.Example", 5432, "app");
        assert_eq!(target.description(), "postgresql://db.example:5432/app");
        assert_eq!(DbTarget::server("mysql", "::1", 3306, "a").description(), "mysql://[::1]:3306/a");
        assert_ne!(target.key(), DbTarget::server("postgresql", "db.example", 5433, "app").key());
        assert_eq!(target.key().len(), 16);

        let dir = tempfile::tempdir().unwrap();
        let direct = DbTarget::file("sqlite", &dir.path().join("pal.db"));
        let roundabout = DbTarget::file("sqlite", &dir.path().join("sub/../pal.db"));
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(direct, DbTarget::file("sqlite", &dir.path().join("sub/../pal.db")));
        assert_eq!(direct.key(), DbTarget::file("sqlite", &dir.path().join("./pal.db")).key());
        // Before `sub` existed its `..` could not be resolved: still one absolute path.
        assert!(roundabout.description().starts_with("sqlite:///"), "{roundabout}");
        let missing = DbTarget::file("sqlite", &dir.path().join("not/yet/pal.db"));
        assert!(missing.description().ends_with("/not/yet/pal.db"), "{missing}");
    }
}
