use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pal::db::Value;
use pal::factory::{self, build_cache, build_database};
use pal::health::probe_all;
use pal::server::{AppState, serve};
use pal::{CacheService, Error, Result, Settings, Ttl};

use crate::cli::{CacheCommand, Command, DbCommand};

pub async fn run(command: Command, settings: &Settings) -> Result<ExitCode> {
    match command {
        Command::Check => check(settings).await,
        Command::Migrate => migrate(settings).await,
        Command::Serve => run_server(settings).await,
        Command::Cache(cmd) => cache(cmd, build_cache(settings).await?).await,
        Command::Db(cmd) => db(cmd, settings).await,
        Command::Keygen => keygen(),
    }
}

/// Prints fresh sealing keys; needs no configuration.
pub fn keygen() -> Result<ExitCode> {
    print!("{}", pal::crypto::generate_key_lines()?);
    Ok(ExitCode::SUCCESS)
}

async fn check(settings: &Settings) -> Result<ExitCode> {
    let cache = build_cache(settings).await?;
    let db = build_database(settings).await?;
    let targets = [factory::cache_target(settings), factory::database_target(settings)];
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["role", "provider", "target", "status", "latency"]);
    let probes = probe_all(&cache, &db).await;
    for (probe, target) in probes.iter().zip(targets) {
        let status = match &probe.error {
            None => "healthy".to_string(),
            Some(e) => format!("UNHEALTHY: {e}"),
        };
        table.add_row([
            probe.role.to_string(),
            probe.provider.to_string(),
            target,
            status,
            format!("{:.1} ms", probe.latency_ms),
        ]);
    }
    println!("{table}");
    for warning in &settings.warnings {
        println!("warning: {warning}");
    }
    Ok(if probes.iter().all(|p| p.healthy) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn migrate(settings: &Settings) -> Result<ExitCode> {
    let db = build_database(settings).await?;
    let applied = db.migrate().await?;
    if applied.is_empty() {
        println!("{}: schema is up to date", db.provider());
    }
    for name in applied {
        println!("{}: applied {name}", db.provider());
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_server(settings: &Settings) -> Result<ExitCode> {
    let cache = build_cache(settings).await?;
    let db = build_database(settings).await?;
    for name in factory::auto_migrate(settings, db.as_ref()).await? {
        tracing::info!(migration = %name, "applied");
    }
    for probe in probe_all(&cache, &db).await.iter().filter(|p| !p.healthy) {
        // Starting anyway lets the service recover when the provider does; /readyz reports it meanwhile.
        tracing::warn!(
            role = probe.role,
            provider = probe.provider,
            error = probe.error.as_deref().unwrap_or(""),
            "provider unavailable at start-up"
        );
    }
    let addr = SocketAddr::new(settings.server.bind, settings.server.port);
    serve(addr, AppState { cache, db }).await?;
    Ok(ExitCode::SUCCESS)
}

async fn cache(cmd: CacheCommand, cache: Arc<dyn CacheService>) -> Result<ExitCode> {
    match cmd {
        CacheCommand::Set { key, value, ttl } => {
            cache.set(&key, value.into_bytes().into(), Ttl::from_secs(ttl.seconds)?).await?;
            println!("OK");
        }
        CacheCommand::Get { key } => match cache.get(&key).await? {
            Some(value) => {
                let mut out = std::io::stdout().lock();
                // Values are bytes: print them as stored, with a newline only for text.
                let _ = out.write_all(&value);
                if std::str::from_utf8(&value).is_ok() {
                    let _ = out.write_all(b"\n");
                }
            }
            None => return missing(&key),
        },
        CacheCommand::Del { key } => println!("{}", if cache.delete(&key).await? { "deleted" } else { "not found" }),
        CacheCommand::Incr { key, by, ttl } => {
            println!("{}", cache.incr(&key, by, Ttl::from_secs(ttl.seconds)?).await?)
        }
        CacheCommand::Ttl { key } => match cache.ttl(&key).await? {
            Some(left) => println!("{:.3}", left.as_secs_f64()),
            None => return missing(&key),
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn missing(key: &str) -> Result<ExitCode> {
    eprintln!("pal: key {key:?} not found");
    Ok(ExitCode::FAILURE)
}

async fn db(cmd: DbCommand, settings: &Settings) -> Result<ExitCode> {
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
