//! `pal db …`: run SQL on the configured database.

use std::process::ExitCode;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pal::db::Value;
use pal::factory::{self, build_database};
use pal::{Error, Result, Settings};

use crate::cli::DbCommand;

pub async fn run(cmd: DbCommand, settings: &Settings) -> Result<ExitCode> {
    let db = build_database(settings).await?;
    factory::auto_migrate(settings, db.as_ref()).await?;
    match cmd {
        DbCommand::Query { sql, params, json } => {
            let rows = db.query(&sql, &parse_params(&params)?).await?;
            print_rows(&rows, json);
        }
        DbCommand::Exec { sql, params } => println!("{}", db.execute(&sql, &parse_params(&params)?).await?),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_rows(rows: &[pal::Row], json: bool) {
    if json {
        for row in rows {
            println!("{}", row.to_json());
        }
        return;
    }
    let Some(first) = rows.first() else {
        println!("(0 rows)");
        return;
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(first.columns());
    for row in rows {
        table.add_row(row.values().iter().map(ToString::to_string));
    }
    println!("{table}\n({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" });
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
