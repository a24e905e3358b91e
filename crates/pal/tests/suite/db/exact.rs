//! Two promises of exactness: the read path writes nothing, wherever it runs;
//! NUMERIC/DECIMAL values read back with every digit.

use pal::ErrorKind;
use pal::db::{Dialect, Row, Value};

use super::{DbSubject, table};

/// A statement that would make the session writable again, in each dialect's words.
fn escape(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        Dialect::MySql => "SET SESSION TRANSACTION READ WRITE",
        Dialect::Sqlite => "PRAGMA query_only = OFF",
    }
}

/// SQL that writes, sent down the read path (`read` and `read_each`), is a
/// `ReadOnly` error on every dialect, with or without replicas, and writes
/// nothing: not rows, not tables, not temporary tables, not even after a read
/// that tried to make its session writable. Reads and writes then work as before.
pub(crate) async fn the_read_path_never_writes(s: &DbSubject) {
    let t = table("ro");
    s.db.execute(&format!("CREATE TABLE {t} (v INTEGER)"), &[]).await.unwrap();
    s.db.execute(&format!("INSERT INTO {t} (v) VALUES (1)"), &[]).await.unwrap();
    let writes = [
        format!("INSERT INTO {t} (v) VALUES (2)"),
        format!("UPDATE {t} SET v = 3"),
        format!("DELETE FROM {t}"),
        format!("CREATE TABLE {t}_new (v INTEGER)"),
        format!("CREATE TEMPORARY TABLE {t}_tmp (v INTEGER)"),
        format!("DROP TABLE {t}"),
    ];
    for sql in &writes {
        // It may run (or be refused): either way the next read is read-only again.
        let _ = s.db.read(escape(s.db.dialect()), &[], None).await;
        let err = s.db.read(sql, &[], None).await.expect_err(sql);
        assert_eq!(err.kind(), ErrorKind::ReadOnly, "read {sql}: {err}");
        let mut rows = 0;
        let mut count = |_| {
            rows += 1;
            Ok(())
        };
        let err = s.db.read_each(sql, &[], None, &mut count).await.expect_err(sql);
        assert_eq!(err.kind(), ErrorKind::ReadOnly, "read_each {sql}: {err}");
        assert_eq!(rows, 0);
    }
    let values = |rows: Vec<Row>| rows.iter().map(|r| r.get::<i64>("v").unwrap()).collect::<Vec<_>>();
    let select = format!("SELECT v FROM {t}");
    assert_eq!(values(s.db.query(&select, &[]).await.unwrap()), [1], "nothing was written");
    let err = s.db.query(&format!("SELECT v FROM {t}_new"), &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UndefinedObject, "no table was created: {err}");

    assert_eq!(values(s.db.read(&select, &[], None).await.unwrap()), [1], "the read path still reads");
    for _ in 0..5 {
        s.db.execute(&format!("INSERT INTO {t} (v) VALUES (2)"), &[]).await.unwrap();
    }
    assert_eq!(values(s.db.query(&format!("{select} WHERE v = 2"), &[]).await.unwrap()).len(), 5);
}

/// A NUMERIC/DECIMAL a float cannot hold reads as a `Decimal` of its exact
/// digits, through `query` and `read`, from literals, parameters and `SUM`: as a
/// `String` with every digit, as an `f64` rounded, as JSON a number with every
/// digit. Values a float or an integer hold read as they did. SQLite has no
/// decimal type: its NUMERIC holds integers and floats, and a decimal parameter
/// binds as text.
pub(crate) async fn decimals_read_exactly(s: &DbSubject) {
    let (big, fine) = ("12345678901234567890123", "1234567890.0123456789");
    if s.db.dialect() == Dialect::Sqlite {
        let sql = format!("SELECT CAST('{big}' AS NUMERIC) AS n, $1 AS d");
        let row = &s.db.query(&sql, &[Value::Decimal(fine.into())]).await.unwrap()[0];
        assert_eq!(row.values()[0], Value::Float(1.2345678901234568e22), "SQLite's own REAL");
        assert_eq!(row.values()[1], Value::Text(fine.into()));
        return;
    }
    let literals = format!(
        "SELECT CAST('{big}' AS DECIMAL(40,0)) AS big, CAST('{fine}' AS DECIMAL(30,10)) AS fine, \
         CAST('2.50' AS DECIMAL(10,2)) AS half, CAST('-42' AS DECIMAL(10,0)) AS whole"
    );
    let queried = s.db.query(&literals, &[]).await.unwrap();
    let read = s.db.read(&literals, &[], None).await.unwrap();
    for row in [&queried[0], &read[0]] {
        let expected = [Value::Decimal(big.into()), Value::Decimal(fine.into()), Value::Float(2.5), Value::Int(-42)];
        assert_eq!(row.values(), expected);
        assert_eq!(row.get::<String>("big").unwrap(), big);
        assert_eq!(row.get::<String>("fine").unwrap(), fine);
        assert_eq!(row.get::<f64>("big").unwrap(), 1.2345678901234568e22, "the nearest float");
        assert_eq!(row.values()[1].to_string(), fine, "as a table shows it");
        let json = serde_json::to_string(row).unwrap();
        assert_eq!(json, format!(r#"{{"big":{big},"fine":{fine},"half":2.5,"whole":-42}}"#));
    }

    let t = table("dec");
    s.db.execute(&format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, d DECIMAL(40,10))"), &[]).await.unwrap();
    let insert = format!("INSERT INTO {t} (id, d) VALUES ($1, $2)");
    for (id, value) in
        [(1, Value::Decimal(fine.into())), (2, Value::Text(big.into())), (3, Value::Decimal("-0.0000000001".into()))]
    {
        s.db.execute(&insert, &[Value::Int(id), value]).await.unwrap();
    }
    let rows = s.db.query(&format!("SELECT d FROM {t} ORDER BY id"), &[]).await.unwrap();
    let stored: Vec<&Value> = rows.iter().map(|r| &r.values()[0]).collect();
    assert_eq!(
        stored,
        [&Value::Decimal(fine.into()), &Value::Decimal(format!("{big}.0000000000")), &Value::Float(-1e-10)],
        "stored and read back exactly, the scale's zeros kept"
    );
    let sum = s.db.query(&format!("SELECT SUM(d) AS total FROM {t}"), &[]).await.unwrap();
    assert_eq!(sum[0].get::<String>("total").unwrap(), "12345678901235802458013.0123456788");
    let bad = s.db.query("SELECT $1 AS d", &[Value::Decimal("1e5".into())]).await.unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidInput, "a decimal parameter is plain notation: {bad}");
}
