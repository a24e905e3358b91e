//! An application's own migrations through pal's runner, on every dialect.

use pal::ErrorKind;
use pal::db::migrate::{MigrateApp, Migration};

use super::{DbSubject, table};

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn migration(version: i64, name: &str, sql: String) -> Migration {
    Migration { version, name: leak(format!("{version:04}_{name}")), sql: leak(sql) }
}

async fn count(s: &DbSubject, sql: &str) -> i64 {
    s.db.query(sql, &[]).await.unwrap()[0].get::<i64>("n").unwrap()
}

/// Ordered, applied once, checked against edits; a failing migration stops the
/// run with what came before applied; concurrent runners apply each once.
pub(crate) async fn application_migrations_apply_once_in_order(s: &DbSubject) {
    let t = table("appm");
    let app = format!("app_{t}");
    let list = vec![
        migration(1, "notes", format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")),
        migration(2, "tag", format!("ALTER TABLE {t} ADD COLUMN tag TEXT")),
        migration(3, "seed", format!("INSERT INTO {t} (id, body, tag) VALUES (1, 'first', 'x')")),
    ];
    let applied = s.db.migrate_app(&app, &list).await.unwrap();
    assert_eq!(applied, ["0001_notes", "0002_tag", "0003_seed"]);
    assert!(s.db.migrate_app(&app, &list).await.unwrap().is_empty(), "a second run applies nothing");
    assert_eq!(count(s, &format!("SELECT COUNT(*) AS n FROM {t}")).await, 1, "the seed ran once");

    // An applied migration edited afterwards is caught, naming it.
    let mut edited = list.clone();
    edited[1] = migration(2, "tag", format!("ALTER TABLE {t} ADD COLUMN label TEXT"));
    let e = s.db.migrate_app(&app, &edited).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
    assert!(e.message().contains("0002_tag") && e.message().contains("changed after it was applied"), "{e}");
    // So is an older build that lacks an applied migration.
    let e = s.db.migrate_app(&app, &list[..2]).await.unwrap_err();
    assert!(e.message().contains("not among the migrations given"), "{e}");
    // Out of order is the caller's mistake.
    let reversed = [list[1], list[0]];
    assert_eq!(s.db.migrate_app(&app, &reversed).await.unwrap_err().kind(), ErrorKind::Usage);

    // A failing migration names itself; nothing of it is recorded, and once fixed it applies.
    let mut more = list.clone();
    more.push(migration(4, "broken", format!("ALTER TABLE {t} ADD COLUMN")));
    let e = s.db.migrate_app(&app, &more).await.unwrap_err();
    assert!(e.message().contains("0004_broken"), "{e}");
    more[3] = migration(4, "fixed", format!("ALTER TABLE {t} ADD COLUMN extra TEXT"));
    assert_eq!(s.db.migrate_app(&app, &more).await.unwrap(), ["0004_fixed"]);

    // Half a migration: where DDL is transactional none of it stays; elsewhere what
    // ran stays and the ledger says the migration is unfinished.
    let u = table("appu");
    more.push(migration(5, "half", format!("CREATE TABLE {u} (id INTEGER PRIMARY KEY);\nSELECT * FROM no_such_{u}")));
    let e = s.db.migrate_app(&app, &more).await.unwrap_err();
    assert!(e.message().contains("0005_half"), "{e}");
    let created = s.db.query(&format!("SELECT COUNT(*) AS n FROM {u}"), &[]).await.is_ok();
    let unfinished = format!("SELECT COUNT(*) AS n FROM pal_app_migrations WHERE app = '{app}' AND version = 5");
    let transactional = s.db.ddl() == pal::db::migrate::Ddl::Transactional;
    if transactional {
        assert!(!created, "rolled back with the migration");
        assert_eq!(count(s, &unfinished).await, 0);
    } else {
        assert!(created, "this dialect's DDL commits by itself");
        assert!(e.message().contains("unfinished"), "{e}");
        assert_eq!(count(s, &format!("{unfinished} AND success = FALSE")).await, 1);
        s.db.execute(&format!("DROP TABLE {u}"), &[]).await.unwrap();
    }

    // Four runners at once: each migration once, none of them fails.
    let v = table("appc");
    let concurrent: &'static [Migration] = Box::leak(
        vec![
            migration(1, "table", format!("CREATE TABLE {v} (id INTEGER PRIMARY KEY)")),
            migration(2, "row", format!("INSERT INTO {v} (id) VALUES (1)")),
        ]
        .into_boxed_slice(),
    );
    let app = format!("app_{v}");
    let runners: Vec<_> = (0..4)
        .map(|_| {
            let (db, app) = (s.db.clone(), app.clone());
            tokio::spawn(async move { db.migrate_app(&app, concurrent).await })
        })
        .collect();
    let mut applied = 0;
    for runner in runners {
        applied += runner.await.unwrap().unwrap().len();
    }
    assert_eq!(applied, 2, "each migration applied by one runner");
    assert_eq!(count(s, &format!("SELECT COUNT(*) AS n FROM {v}")).await, 1);
    for dropped in [t, v] {
        s.db.execute(&format!("DROP TABLE {dropped}"), &[]).await.unwrap();
    }
}
