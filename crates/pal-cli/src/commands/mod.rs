//! What each command does, through the abstraction only.

mod cache;
mod db;

use std::net::SocketAddr;
use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pal::factory::{self, build_cache, build_database};
use pal::health::{PROBE_TIMEOUT, probe_all};
use pal::{CacheService, DatabaseService};
use pal::{Result, Settings};
use std::sync::Arc;

use crate::cli::{Command, VarsFormat};
use crate::output::{self, Out};
use crate::server::{AppState, serve};
use crate::vars::ToolSettings;

pub async fn run(command: Command, settings: &Settings, tools: &ToolSettings) -> Result<ExitCode> {
    match command {
        Command::Check => check(settings).await,
        Command::Migrate => migrate(settings).await,
        Command::Purge => purge(settings).await,
        Command::Serve => run_server(settings, tools).await,
        Command::Cache(cmd) => cache::run(cmd, build_cache(settings).await?).await,
        Command::Db(cmd) => db::run(cmd, settings).await,
        Command::Keygen => keygen(),
        Command::Vars { format } => vars(format),
        Command::Bench(args) => crate::bench::run(&args, settings).await,
    }
}

/// Prints every variable; needs no configuration.
pub fn vars(format: VarsFormat) -> Result<ExitCode> {
    let text = match format {
        VarsFormat::Text => crate::vars::help_table(),
        VarsFormat::Markdown => crate::vars::markdown_table(),
        VarsFormat::Dotenv => crate::vars::dotenv_example(),
    };
    let mut out = Out::new();
    out.bytes(text.as_bytes())?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints fresh sealing keys; needs no configuration.
pub fn keygen() -> Result<ExitCode> {
    let mut out = Out::new();
    out.bytes(pal::crypto::generate_key_lines()?.as_bytes())?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

async fn check(settings: &Settings) -> Result<ExitCode> {
    let cache = build_cache(settings).await?;
    let db = build_database(settings).await?;
    let targets = [settings.cache.config.target(), settings.db.url.redacted().to_string()];
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["role", "provider", "target", "transport", "status", "latency"]);
    let (mut probes, transports) = tokio::join!(probe_all(&cache, &db), transports(&cache, &db));
    let mut notes = Vec::new();
    if let Some(probe) = probes.iter_mut().find(|p| p.role == "cache" && p.healthy) {
        match cache.check_configuration().await {
            Ok(found) => notes.extend(found),
            Err(e) => {
                probe.healthy = false;
                probe.error = Some(e.to_string());
            }
        }
    }
    if let Some(database) = probes.iter_mut().find(|p| p.role == "database" && p.healthy) {
        match pal::db::migrate::pending(db.as_ref()).await {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) if settings.db.auto_migrate => notes.push(format!(
                "migrations pending: {}; DB_AUTO_MIGRATE applies them when a command starts",
                pending.join(", ")
            )),
            Ok(pending) => {
                database.healthy = false;
                database.error = Some(format!("migrations pending: {}: run `pal migrate`", pending.join(", ")));
            }
            Err(e) => {
                database.healthy = false;
                database.error = Some(format!("cannot read the applied migrations: {e}"));
            }
        }
    }
    for ((probe, target), transport) in probes.iter().zip(targets).zip(transports) {
        let status = match &probe.error {
            None => "healthy".to_string(),
            Some(e) => format!("UNHEALTHY: {e}"),
        };
        table.add_row([
            probe.role.to_string(),
            probe.provider.to_string(),
            target,
            transport,
            status,
            format!("{:.1} ms", probe.latency_ms),
        ]);
    }
    let mut out = Out::new();
    out.line(table)?;
    for note in &notes {
        out.line(format!("note: {note}"))?;
    }
    for warning in &settings.warnings {
        out.line(format!("warning: {warning}"))?;
    }
    out.finish()?;
    Ok(if probes.iter().all(|p| p.healthy) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// How each connection is protected, as the cache and the database report it;
/// `-` where the server could not be asked (its row says why).
async fn transports(cache: &Arc<dyn CacheService>, db: &Arc<dyn DatabaseService>) -> [String; 2] {
    let (c, d) = tokio::join!(bounded(cache.transport()), bounded(db.transport()));
    [c, d]
}

async fn bounded(transport: impl Future<Output = Result<pal::tls::Transport>>) -> String {
    match tokio::time::timeout(PROBE_TIMEOUT, transport).await {
        Ok(Ok(transport)) => transport.to_string(),
        _ => "-".to_string(),
    }
}

async fn migrate(settings: &Settings) -> Result<ExitCode> {
    let db = build_database(settings).await?;
    let applied = db.migrate().await?;
    if applied.is_empty() {
        output::line(format!("{}: schema is up to date", db.provider()))?;
    }
    for name in applied {
        output::line(format!("{}: applied {name}", db.provider()))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn purge(settings: &Settings) -> Result<ExitCode> {
    let db = build_database(settings).await?;
    factory::auto_migrate(settings, db.as_ref()).await?;
    let (values, counters) = pal::cache::hybrid::purge_expired(db).await?;
    output::line(format!("sessions: {values} expired rows deleted\ncache_counters: {counters} expired rows deleted"))?;
    Ok(ExitCode::SUCCESS)
}

async fn run_server(settings: &Settings, tools: &ToolSettings) -> Result<ExitCode> {
    let cache = build_cache(settings).await?;
    let db = build_database(settings).await?;
    for name in factory::auto_migrate(settings, db.as_ref()).await? {
        tracing::info!(migration = %name, "applied");
    }
    match cache.check_configuration().await {
        Ok(notes) => notes.iter().for_each(|note| tracing::warn!("{note}")),
        Err(e) => tracing::error!(error = %e, "the cache cannot serve what it holds"),
    }
    let [cache_transport, db_transport] = transports(&cache, &db).await;
    tracing::info!(cache = %cache_transport, database = %db_transport, "transport");
    for probe in probe_all(&cache, &db).await.iter().filter(|p| !p.healthy) {
        // Starting anyway lets the service recover when the provider does; /readyz reports it meanwhile.
        tracing::warn!(
            role = probe.role,
            provider = probe.provider,
            error = probe.error.as_deref().unwrap_or(""),
            "provider unavailable at start-up"
        );
    }
    let addr = SocketAddr::new(tools.bind, tools.port);
    serve(addr, AppState { cache, db }).await?;
    Ok(ExitCode::SUCCESS)
}
