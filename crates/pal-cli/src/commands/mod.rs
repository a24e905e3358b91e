//! What each command does, through the abstraction only.

mod audit;
mod cache;
mod check;
mod db;
mod keycheck;
mod lock;
mod signals;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use pal::db::migrate::Tables;
use pal::factory::{self, build_cache, build_database};
use pal::health::Status;
use pal::{DatabaseService, Error, ErrorKind, Result, Settings};

use crate::cli::{CacheCommand, Command, VarsFormat};
use crate::output::{self, Out};
use crate::vars::ToolSettings;
use pal_service::app::codes::{CodeSender, LogSender};
use pal_service::app::mail::SmtpSender;
use pal_service::{AppState, Health, serve};

/// `environment` is what the settings were read from, for the bench only.
pub(crate) async fn run(
    command: Command,
    settings: &Settings,
    tools: &ToolSettings,
    environment: Option<BTreeMap<String, String>>,
) -> Result<ExitCode> {
    match command {
        Command::Check(args) => check::run(&args, settings).await,
        Command::Migrate => migrate(settings).await,
        Command::Purge => purge(settings).await,
        Command::Serve => run_server(settings, tools).await,
        Command::Cache(CacheCommand::Keycheck { reset, json }) => keycheck::run(reset, json, settings).await,
        Command::Cache(cmd) => cache::run(cmd, build_cache(settings).await?).await,
        Command::Lock(args) => lock::run(args, build_cache(settings).await?).await,
        Command::Db(cmd) => db::run(cmd, settings).await,
        Command::Audit(cmd) => audit::run(cmd, settings).await,
        Command::Keygen => keygen(),
        Command::Vars { format } => vars(format),
        Command::Bench(args) => crate::bench::run(&args, settings, environment.unwrap_or_default()).await,
    }
}

/// The parts of the configuration `command` uses: the others are neither read
/// nor validated.
pub(crate) fn parts(command: &Command) -> pal::settings::Parts {
    use pal::settings::Parts;
    match command {
        Command::Check(_) | Command::Serve | Command::Bench(_) => Parts::ALL,
        Command::Migrate | Command::Purge | Command::Db(_) | Command::Audit(_) => Parts::DATABASE,
        Command::Cache(_) | Command::Lock(_) => Parts::CACHE,
        Command::Keygen | Command::Vars { .. } => Parts::NONE,
    }
}

/// Prints every variable; needs no configuration.
pub(crate) fn vars(format: VarsFormat) -> Result<ExitCode> {
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
pub(crate) fn keygen() -> Result<ExitCode> {
    let mut out = Out::new();
    out.bytes(pal::crypto::generate_key_lines()?.as_bytes())?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// Whether `pal serve` needs the cache's tables: the configured cache keeps data
/// in the database. Commands that read only the database's variables (`pal
/// migrate`, `pal db`) cannot tell, and prepare for any cache.
pub(crate) fn cache_in_database(settings: &Settings) -> bool {
    settings.cache.as_ref().is_none_or(|cache| cache.config.needs_database())
}

/// With `DB_AUTO_MIGRATE` on, applies what `pal serve` needs: pal's tables of the
/// parts the configuration uses, and the service's own.
pub(crate) async fn auto_migrate_service(settings: &Settings, db: &dyn DatabaseService) -> Result<Vec<String>> {
    match settings.db_settings()?.auto_migrate {
        true => pal_service::schema::migrate(db, cache_in_database(settings)).await,
        false => Ok(Vec::new()),
    }
}

async fn migrate(settings: &Settings) -> Result<ExitCode> {
    let db = build_database(settings).await?;
    let applied = pal_service::schema::migrate(db.as_ref(), cache_in_database(settings)).await?;
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
    factory::auto_migrate(settings, db.as_ref(), &[Tables::Cache]).await?;
    let (values, counters) = pal::cache::hybrid::purge_expired(db).await?;
    output::line(format!(
        "pal_sessions: {values} expired rows deleted\npal_cache_counters: {counters} expired rows deleted"
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// How long shutdown waits for code mails still pending.
const MAIL_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The mail sender `SMTP_URL` asks for, or `None` when codes go to the log.
fn code_mail(serving: &crate::vars::ServeSettings) -> Result<Option<std::sync::Arc<SmtpSender>>> {
    let Some(mail) = &serving.mail else {
        tracing::warn!(
            "SMTP_URL is not set: one-time codes go only to this log, which suits development alone; \
             set SMTP_URL and SMTP_FROM to mail them"
        );
        return Ok(None);
    };
    let sender = SmtpSender::start(mail, serving.service.code_ttl)?;
    tracing::info!(relay = %mail.relay(), security = %mail.security, from = %mail.from, "one-time codes are mailed");
    Ok(Some(std::sync::Arc::new(sender)))
}

async fn run_server(settings: &Settings, tools: &ToolSettings) -> Result<ExitCode> {
    let Some(serving) = &tools.serve else {
        return Err(Error::new(ErrorKind::Config, "the listener's variables (BIND, PORT…) were not read"));
    };
    if serving.metrics_addr.is_some() && !settings.metrics {
        return Err(Error::new(
            ErrorKind::Config,
            "METRICS_BIND/METRICS_PORT ask for a /metrics listener, but METRICS_ENABLED=false turns metrics off",
        ));
    }
    // Before the providers are built: they take their metric handles then.
    let metrics = match settings.metrics {
        true => Some(pal::telemetry::prometheus::install()?),
        false => None,
    };
    if let Some(handle) = metrics.clone() {
        // Histograms keep their samples until upkeep folds them in; a scrape does it
        // too, but an instance nobody scrapes must not grow.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        });
    }
    let cache = build_cache(settings).await?;
    let db = build_database(settings).await?;
    for name in auto_migrate_service(settings, db.as_ref()).await? {
        tracing::info!(migration = %name, "applied");
    }
    match cache.check_configuration().await {
        Ok(notes) => notes.iter().for_each(|note| tracing::warn!("{note}")),
        Err(e) => tracing::error!(error = %e, "the cache cannot serve what it holds"),
    }
    let [cache_transport, db_transport] = check::transports(&cache, &db).await;
    tracing::info!(cache = %cache_transport, database = %db_transport, "transport");
    let audit = std::sync::Arc::new(factory::build_audit_log(settings, db.clone()).await?);
    let health = Health::start(cache.clone(), db.clone()).await;
    for probe in health.snapshot().0.iter().filter(|p| p.status != Status::Healthy) {
        // Starting anyway lets the service recover when the provider does; /readyz reports it meanwhile.
        let why = probe.error.as_deref().unwrap_or("");
        match probe.status {
            Status::Degraded => {
                tracing::warn!(role = probe.role, provider = probe.provider, reason = why, "degraded at start-up")
            }
            _ => tracing::warn!(
                role = probe.role,
                provider = probe.provider,
                error = why,
                "provider unavailable at start-up"
            ),
        }
    }
    let addrs: Vec<SocketAddr> = serving.bind.iter().map(|ip| SocketAddr::new(*ip, serving.port)).collect();
    if serving.service.expose_codes {
        tracing::warn!("DEV_EXPOSE_CODES=true: one-time codes are returned in responses; never in production");
    }
    let mail = code_mail(serving)?;
    let sender: std::sync::Arc<dyn CodeSender> = match &mail {
        Some(mail) => mail.clone(),
        None => std::sync::Arc::new(LogSender),
    };
    let state = AppState {
        cache,
        db,
        health,
        metrics,
        audit: audit.clone(),
        sender,
        service: std::sync::Arc::new(serving.service.clone()),
    };
    let served = serve(&addrs, serving.metrics_addr.as_deref(), state).await;
    if let Some(mail) = mail {
        // A code accepted just before the signal still reaches its address, unless the relay is down.
        let left = mail.close(MAIL_DRAIN).await;
        if left > 0 {
            tracing::warn!(left, "code mails still pending at shutdown were not sent");
        }
    }
    // After the last request: everything it logged is delivered, or spooled for the next start.
    let report = audit.shutdown().await?;
    tracing::info!(delivered = report.delivered, spooled = report.spooled, "audit log closed");
    served?;
    Ok(ExitCode::SUCCESS)
}
