//! The replicated pairs (`scripts/services`: pg_replication, a streaming replica
//! made with pg_basebackup; mariadb_replication, GTID replication): what each is
//! called, how to stop its replica applying changes, a namespace of a test's own
//! on both sides, and guards that set a replica back whatever the test's outcome.

use std::sync::Arc;
use std::time::Duration;

use pal::db::{ConsistencyToken, Dialect};
use pal::{DatabaseService, Result};

use crate::servers::{self, database};

/// One replicated pair, and how to stop its replica applying changes.
pub struct Pair {
    /// The provider, as `DB_PROVIDER` spells it.
    pub provider: &'static str,
    /// The primary's admin URL.
    pub primary: fn() -> String,
    /// The replica's admin URL.
    pub replica: fn() -> String,
    /// The `scripts/services` name of the replica alone.
    pub replica_service: &'static str,
    /// Its entry in `scripts/ports.env`.
    pub replica_port: &'static str,
    /// Tests that stop the replica, or stop it applying, hold this lock.
    pub lock: &'static str,
    /// Stops the replica applying changes.
    pub pause: &'static [&'static str],
    /// Starts it applying them again.
    pub resume: &'static [&'static str],
    /// Makes the replica apply changes late.
    pub delay: &'static [&'static str],
    /// Makes it apply them on time again.
    pub undelay: &'static [&'static str],
}

/// The PostgreSQL streaming pair.
pub const POSTGRES: Pair = Pair {
    provider: "postgresql",
    primary: servers::pg_primary,
    replica: servers::pg_replica,
    replica_service: "pg_replica",
    replica_port: "PG_REPLICA_PORT",
    lock: "pg_replication",
    pause: &["SELECT pg_wal_replay_pause()"],
    resume: &["SELECT pg_wal_replay_resume()"],
    // Replay paused while the primary writes: the replica receives and falls behind.
    delay: &["SELECT pg_wal_replay_pause()"],
    undelay: &["SELECT pg_wal_replay_resume()"],
};

/// The MariaDB GTID pair.
pub const MARIADB: Pair = Pair {
    provider: "mysql",
    primary: servers::mariadb_primary,
    replica: servers::mariadb_replica,
    replica_service: "mariadb_replica",
    replica_port: "MARIADB_REPLICA_PORT",
    lock: "mariadb_replication",
    pause: &["STOP SLAVE SQL_THREAD"],
    resume: &["START SLAVE SQL_THREAD"],
    // Delayed replication: the SQL thread runs, a fixed time behind the primary.
    delay: &["STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 3", "START SLAVE"],
    undelay: &["STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 0", "START SLAVE"],
};

/// A schema (PostgreSQL) or database (MariaDB) of the test's own, created on the
/// primary and seen on the replica: the URLs of both sides, and a direct handle
/// on each.
pub struct Namespace {
    /// The primary's URL, inside the namespace.
    pub primary_url: String,
    /// The replica's URL, inside the namespace.
    pub replica_url: String,
    /// A handle on the primary.
    pub primary: Arc<dyn DatabaseService>,
    /// A handle on the replica.
    pub replica: Arc<dyn DatabaseService>,
    /// The schema's or database's name.
    pub name: String,
}

impl Namespace {
    /// Creates a namespace of its own on `pair`'s primary, and waits until the replica has it too.
    pub async fn new(pair: &Pair) -> Namespace {
        let name = format!("pal_r_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let (primary_admin, replica_admin) = ((pair.primary)(), (pair.replica)());
        let admin = database(pair.provider, &primary_admin, &[("DB_POOL_MAX", "2")]).await;
        let (primary_url, replica_url) = match admin.dialect() {
            Dialect::Postgres => {
                admin.execute(&format!("CREATE SCHEMA {name}"), &[]).await.unwrap();
                let option = format!("?options=-c%20search_path%3D{name}");
                (format!("{primary_admin}{option}"), format!("{replica_admin}{option}"))
            }
            _ => {
                admin.execute(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"), &[]).await.unwrap();
                (format!("{primary_admin}/{name}"), format!("{replica_admin}/{name}"))
            }
        };
        let primary = database(pair.provider, &primary_url, &[]).await;
        // The replica has the namespace once it has replayed its creation.
        let token = primary.write_position().await.unwrap().expect("the primary keeps positions");
        let replica_admin = database(pair.provider, &replica_admin, &[("DB_POOL_MAX", "1")]).await;
        assert!(
            replica_admin.replayed(&token, Duration::from_secs(30)).await.unwrap(),
            "the replica did not replay the creation of {name} within 30 s"
        );
        let replica = database(pair.provider, &replica_url, &[("DB_POOL_MAX", "2")]).await;
        Namespace { primary_url, replica_url, primary, replica, name }
    }

    /// pal as an application builds it: the primary, with the replica for reads.
    pub async fn routed(&self, pair: &Pair, extra: &[(&str, &str)]) -> Arc<dyn DatabaseService> {
        let mut vars = vec![("DB_REPLICA_URL", self.replica_url.as_str())];
        vars.extend_from_slice(extra);
        database(pair.provider, &self.primary_url, &vars).await
    }

    /// Drops the namespace on the primary; errors are ignored.
    pub async fn drop_it(self) {
        let sql = match self.primary.dialect() {
            Dialect::Postgres => format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            _ => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let _ = self.primary.execute(&sql, &[]).await;
    }
}

/// Runs `statements` on `pair`'s replica, in order.
pub async fn on_replica(pair: &Pair, statements: &[&str]) -> Result<()> {
    let replica = database(pair.provider, &(pair.replica)(), &[("DB_POOL_MAX", "1")]).await;
    for sql in statements {
        replica.execute(sql, &[]).await?;
    }
    Ok(())
}

/// Runs `change` on the replica, and `undo` when dropped, on a runtime of its own,
/// so a failed assertion never leaves the shared pair changed.
pub struct Changed {
    pair: &'static Pair,
    undo: &'static [&'static str],
}

impl Changed {
    /// Runs `change` on the replica now and `undo` when dropped.
    pub async fn new(pair: &'static Pair, change: &[&str], undo: &'static [&'static str]) -> Changed {
        on_replica(pair, change).await.unwrap();
        Changed { pair, undo }
    }

    /// The replica paused: it applies no changes until dropped.
    pub async fn paused(pair: &'static Pair) -> Changed {
        Changed::new(pair, pair.pause, pair.resume).await
    }
}

/// Guards the shared MariaDB pair against a read path that writes (what the read
/// path tests would catch): a write on the replica, which its root user may make,
/// gets a GTID of the replica's own, and strict GTID mode then stops replication
/// at the primary's next change. When dropped, a replica whose binary log holds a
/// change of its own (server id 2) forgets it and replicates again.
pub struct NoErrantWrites(pub &'static Pair);

impl Drop for NoErrantWrites {
    fn drop(&mut self) {
        let pair = self.0;
        let repaired = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let replica = database(pair.provider, &(pair.replica)(), &[("DB_POOL_MAX", "1")]).await;
                let state = replica.query("SELECT @@gtid_binlog_state AS s", &[]).await?[0].get::<String>("s")?;
                // 2: the replica's own server id, as scripts/services starts it.
                if !state.split(',').any(|gtid| gtid.split('-').nth(1) == Some("2")) {
                    return Ok::<_, pal::Error>(false);
                }
                for sql in ["STOP SLAVE", "RESET MASTER", "START SLAVE"] {
                    replica.execute(sql, &[]).await?;
                }
                Ok::<_, pal::Error>(true)
            })
        })
        .join();
        match repaired {
            Ok(Ok(false)) => {}
            Ok(Ok(true)) => {
                eprintln!("the replica had been written to: its binary log was reset, replication restarted")
            }
            other => eprintln!("could not check the replica for writes of its own: {other:?}"),
        }
    }
}

impl Drop for Changed {
    fn drop(&mut self) {
        let (pair, undo) = (self.pair, self.undo);
        let undone = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(on_replica(pair, undo))
        })
        .join();
        assert!(matches!(undone, Ok(Ok(_))), "the replica was not set back: {undone:?}");
    }
}

/// A table `kv` with one row, seen by the replica.
pub async fn one_row(db: &Arc<dyn DatabaseService>, ns: &Namespace) -> ConsistencyToken {
    db.execute("CREATE TABLE kv (k INTEGER PRIMARY KEY, v BIGINT NOT NULL)", &[]).await.unwrap();
    db.execute("INSERT INTO kv (k, v) VALUES (1, 0)", &[]).await.unwrap();
    let token = db.write_position().await.unwrap().unwrap();
    assert!(ns.replica.replayed(&token, Duration::from_secs(30)).await.unwrap());
    token
}
