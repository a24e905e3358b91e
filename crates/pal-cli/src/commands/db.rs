//! `pal db …`: run SQL on the configured database.

use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pal::db::{ConsistencyToken, DatabaseServiceExt, Value};
use pal::factory::build_database;
use pal::{DatabaseService, Error, ErrorKind, Result, Settings};

use crate::cli::DbCommand;
use crate::output::{self, Out};

pub(super) async fn run(cmd: DbCommand, settings: &Settings) -> Result<ExitCode> {
    let db = build_database(settings).await?;
    super::auto_migrate_service(settings, db.as_ref()).await?;
    // Tagged, so that Ctrl-C can find the statement on the server and stop it there.
    let tag = format!("pal:{}", uuid::Uuid::new_v4().simple());
    let outcome = match cmd {
        DbCommand::Query { sql, params, json, replica, after } => {
            let (sql, params) = (format!("/* {tag} */ {sql}"), parse_params(&params)?);
            let path = match replica {
                true => Path::Read(after.as_deref().map(ConsistencyToken::from_str).transpose()?),
                false => Path::Primary,
            };
            if replica && settings.db_settings()?.replicas.is_empty() {
                output::note("no DB_REPLICA_URL: the primary serves this read, read-only");
            }
            interruptible(&db, &tag, print_rows(&db, &sql, &params, json, path)).await
        }
        DbCommand::Exec { sql, params, token } => {
            let (sql, params) = (format!("/* {tag} */ {sql}"), parse_params(&params)?);
            interruptible(&db, &tag, async {
                let changed = db.execute(&sql, &params).await?;
                output::line(changed)?;
                print_token(&db, token).await
            })
            .await
        }
    };
    outcome.map(|interrupted| if interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// Runs `work`; on Ctrl-C, stops the statement on the server (as psql does) and
/// waits for it to end before returning `true`, so an interrupted write is either
/// undone or, when the server had finished it, reported as done.
async fn interruptible(
    db: &Arc<dyn DatabaseService>,
    tag: &str,
    work: impl Future<Output = Result<()>>,
) -> Result<bool> {
    let work = std::pin::pin!(work);
    let mut work = work;
    tokio::select! {
        outcome = &mut work => outcome.map(|()| false),
        _ = tokio::signal::ctrl_c() => {
            output::note("interrupted: stopping the statement on the server");
            if let Err(e) = cancel(db, tag).await {
                output::note(format!("could not stop it: {e}"));
            }
            match tokio::time::timeout(Duration::from_secs(30), &mut work).await {
                Ok(Ok(())) => output::note("the statement had already finished: its effect stands"),
                Ok(Err(_)) => output::note("the statement was stopped: it changed nothing"),
                Err(_) => output::note("the statement did not stop within 30 s; leaving it to the server"),
            }
            Ok(true)
        }
    }
}

/// Asks the server to stop the statement tagged `tag`, from another connection.
async fn cancel(db: &Arc<dyn DatabaseService>, tag: &str) -> Result<()> {
    match db.cancel_marked(tag).await {
        // In this process (SQLite): leaving ends it, and an unfinished write is rolled back.
        Err(e) if e.kind() == ErrorKind::Unsupported => Ok(()),
        other => other,
    }
}

/// The primary's position after a write: on stderr, and with `--token` on stdout.
/// The write has happened whatever becomes of this, so failing to read the
/// position is reported, not an error.
async fn print_token(db: &Arc<dyn DatabaseService>, on_stdout: bool) -> Result<()> {
    match db.write_position().await {
        Ok(Some(token)) => {
            output::note(format!("consistency token: {token}"));
            if on_stdout {
                output::line(token)?;
            }
        }
        Ok(None) if on_stdout => output::note(format!("{} keeps no write positions: no token", db.provider())),
        Ok(None) => {}
        Err(e) => output::note(format!("the write is done, but its consistency token could not be read: {e}")),
    }
    Ok(())
}

/// Where a query goes.
enum Path {
    Primary,
    /// The read path, with the token a replica must have replayed.
    Read(Option<ConsistencyToken>),
}

/// Rows as they arrive: as JSON, one object per line, never held whole in memory;
/// as a table, which needs every row to size its columns.
async fn print_rows(db: &Arc<dyn DatabaseService>, sql: &str, params: &[Value], json: bool, path: Path) -> Result<()> {
    let mut out = Out::new();
    if json {
        // Serialized rather than `to_json`: decimals print as numbers with every digit.
        let mut each = |row: pal::Row| {
            out.line(serde_json::to_string(&row).map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?)
        };
        match &path {
            Path::Primary => db.query_each(sql, params, &mut each).await?,
            Path::Read(after) => db.read_each(sql, params, after.as_ref(), &mut each).await?,
        };
        return out.finish();
    }
    let rows = match &path {
        Path::Primary => db.query(sql, params).await?,
        Path::Read(after) => db.read(sql, params, after.as_ref()).await?,
    };
    let Some(first) = rows.first() else {
        out.line("(0 rows)")?;
        return out.finish();
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(first.columns());
    for row in &rows {
        table.add_row(row.values().iter().map(cell));
    }
    out.line(format!("{table}\n({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" }))?;
    out.finish()
}

/// A table cell: SQL NULL prints NULL, so the text `NULL` prints quoted.
fn cell(value: &Value) -> String {
    match value {
        Value::Text(text) if text == "NULL" => "'NULL'".to_string(),
        other => other.to_string(),
    }
}

fn parse_params(raw: &[String]) -> Result<Vec<Value>> {
    raw.iter().map(|p| parse_param(p)).collect()
}

fn parse_param(raw: &str) -> Result<Value> {
    let bad = |what: &str| Error::invalid_input(format!("parameter {raw:?} is not a valid {what}"));
    if raw == "null" {
        return Ok(Value::Null);
    }
    let Some((prefix, rest)) = raw.split_once(':') else { return Ok(Value::Text(raw.to_string())) };
    Ok(match prefix {
        "int" => Value::Int(rest.parse().map_err(|_| bad("integer"))?),
        "float" => Value::Float(rest.parse().map_err(|_| bad("float"))?),
        "bool" => Value::Bool(rest.parse().map_err(|_| bad("bool (true or false)"))?),
        "json" => Value::Json(serde_json::from_str(rest).map_err(|_| bad("JSON document"))?),
        "ts" => Value::Timestamp(DateTime::<Utc>::from_str(rest).map_err(|_| bad("RFC 3339 timestamp"))?),
        "text" => Value::Text(rest.to_string()),
        _ => Value::Text(raw.to_string()),
    })
}
