//! `pal check`: the configured providers' health, and with `--url` the
//! monitoring signals of a running pal.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pal::factory::{build_cache_with_near, build_database};
use pal::health::{PROBE_TIMEOUT, Probe, Status, probe_all};
use pal::{CacheService, DatabaseService, Result, Settings};
use serde_json::json;

use super::signals;
use crate::cli::CheckArgs;
use crate::output::Out;

pub(super) async fn run(args: &CheckArgs, settings: &Settings) -> Result<ExitCode> {
    let (cache, near) = build_cache_with_near(settings).await?;
    let db = build_database(settings).await?;
    let targets = [settings.cache_settings()?.config.target(), settings.db_settings()?.url.redacted().to_string()];
    let scrape = async {
        match &args.url {
            Some(url) => Some(signals::measure(url, Duration::from_secs_f64(args.window)).await),
            None => None,
        }
    };
    let ((mut probes, transports), signals) =
        tokio::join!(async { tokio::join!(probe_all(&cache, &db, PROBE_TIMEOUT), transports(&cache, &db)) }, scrape);
    let signals = signals.transpose()?.unwrap_or_default();
    let near = near_state(settings, near.as_deref()).await?;
    let notes = deeper_checks(settings, &cache, &db, &mut probes).await;
    let replicas = db.replicas().await;

    let healthy = probes.iter().all(|p| p.status == Status::Healthy);
    let alerting = signals.iter().any(|s| s.alerting);
    let mut out = Out::new();
    if args.json {
        let checks: Vec<_> = probes
            .iter()
            .zip(&targets)
            .zip(&transports)
            .map(|((probe, target), transport)| json!({ "target": target, "transport": transport, "probe": probe }))
            .collect();
        let doc = json!({
            "status": pal::health::overall(&probes),
            "checks": checks,
            "replicas": replicas,
            "signals": signals,
            "notes": notes,
            "near_cache": near.as_ref().map(|(json, _)| json),
            "warnings": settings.warnings,
        });
        out.line(doc)?;
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_header([
            "role",
            "provider",
            "target",
            "transport",
            "status",
            "latency",
        ]);
        for ((probe, target), transport) in probes.iter().zip(targets).zip(transports) {
            let status = match (&probe.status, &probe.error) {
                (Status::Healthy, _) => "healthy".to_string(),
                (Status::Degraded, why) => format!("DEGRADED: {}", why.as_deref().unwrap_or("")),
                (Status::Down, why) => format!("DOWN: {}", why.as_deref().unwrap_or("")),
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
        out.line(table)?;
        if !replicas.is_empty() {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_header(["read replica", "state", "lag", "why"]);
            for r in &replicas {
                let lag = r.lag_ms.map_or_else(|| "unknown".to_string(), |ms| format!("{ms} ms"));
                let why = r.error.clone().unwrap_or_default();
                table.add_row([r.name.clone(), r.state.as_str().to_string(), lag, why]);
            }
            out.line(table)?;
        }
        if !signals.is_empty() {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_header(["signal", "last window", "alert when", "state"]);
            for s in &signals {
                let state = if s.alerting { "ALERT" } else { "ok" };
                table.add_row([s.name.to_string(), s.shown(), s.threshold.to_string(), state.to_string()]);
            }
            out.line(table)?;
        }
        if let Some((_, line)) = &near {
            out.line(line)?;
        }
        for note in &notes {
            out.line(format!("note: {note}"))?;
        }
        for warning in &settings.warnings {
            out.line(format!("warning: {warning}"))?;
        }
    }
    out.finish()?;
    Ok(if healthy && !alerting { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What a ping cannot tell: a cache holding data sealed under other keys, a
/// database with migrations pending. Returns notes worth printing.
async fn deeper_checks(
    settings: &Settings,
    cache: &Arc<dyn CacheService>,
    db: &Arc<dyn DatabaseService>,
    probes: &mut [Probe],
) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(probe) = probes.iter_mut().find(|p| p.role == "cache" && p.serving()) {
        match cache.check_configuration().await {
            Ok(found) => notes.extend(found),
            Err(e) => probe.fail(e.to_string()),
        }
    }
    if let Some(database) = probes.iter_mut().find(|p| p.role == "database" && p.serving()) {
        match pal_service::schema::pending(db.as_ref(), super::cache_in_database(settings)).await {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) if settings.db.as_ref().is_some_and(|d| d.auto_migrate) => notes.push(format!(
                "migrations pending: {}; DB_AUTO_MIGRATE applies them when a command starts",
                pending.join(", ")
            )),
            Ok(pending) => database.fail(format!("migrations pending: {}: run `pal migrate`", pending.join(", "))),
            Err(e) => database.fail(format!("cannot read the applied migrations: {e}")),
        }
    }
    notes
}

/// Whether the near cache receives invalidations (it is given the probe timeout
/// to start tracking), as JSON and as a line.
async fn near_state(
    settings: &Settings,
    near: Option<&pal::cache::near::NearCache>,
) -> Result<Option<(serde_json::Value, String)>> {
    let Some(near) = near else { return Ok(None) };
    let config = settings.cache_settings()?.near;
    let deadline = tokio::time::Instant::now() + PROBE_TIMEOUT;
    while !near.stats().active && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = near.stats();
    let servers: Vec<String> = stats.clients.iter().map(|(addr, id)| format!("{addr} (client id {id})")).collect();
    let json = json!({
        "tracking": stats.active,
        "servers": servers,
        "max_bytes": config.max_bytes,
        "ttl_max_ms": config.ttl_max.as_millis() as u64,
    });
    let line = match stats.active {
        true => format!(
            "near cache: tracking on {}; up to {} bytes, entries kept at most {} ms",
            servers.join(", "),
            config.max_bytes,
            config.ttl_max.as_millis()
        ),
        false => format!(
            "near cache: NOT tracking within {} ms (every read goes to the server until it does; the log says why)",
            PROBE_TIMEOUT.as_millis()
        ),
    };
    Ok(Some((json, line)))
}

/// How each connection is protected, as the cache and the database report it;
/// `-` where the server could not be asked (its row says why).
pub(super) async fn transports(cache: &Arc<dyn CacheService>, db: &Arc<dyn DatabaseService>) -> [String; 2] {
    let (c, d) = tokio::join!(bounded(cache.transport()), bounded(db.transport()));
    [c, d]
}

async fn bounded(transport: impl Future<Output = Result<pal::tls::Transport>>) -> String {
    match tokio::time::timeout(PROBE_TIMEOUT, transport).await {
        Ok(Ok(transport)) => transport.to_string(),
        _ => "-".to_string(),
    }
}
