//! `pal audit …`: log an event, read the latest, see what is waiting and for
//! which database, and deliver a spool to the database the operator names.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pal::audit::{AuditEvent, AuditQuery, SpoolFile};
use pal::db::{DatabaseService, DbTarget};
use pal::factory::{self, build_database};
use pal::{Error, ErrorKind, Result, Settings};

use crate::cli::AuditCommand;
use crate::output::{self, Out};

pub(super) async fn run(cmd: AuditCommand, settings: &Settings) -> Result<ExitCode> {
    let dir = &settings.audit.spool_dir;
    let db = build_database(settings).await?;
    factory::auto_migrate(settings, db.as_ref(), &[pal::db::migrate::Tables::Audit]).await?;
    match cmd {
        AuditCommand::Log { action, subject, ip, details } => {
            let mut event = AuditEvent::new(action);
            if let Some(subject) = subject {
                event = event.subject(subject);
            }
            if let Some(ip) = ip {
                event = event.ip(ip);
            }
            if let Some(details) = details {
                let parsed: serde_json::Value = serde_json::from_str(&details)
                    .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("--details is not JSON: {e}")))?;
                event = event.details(parsed)?;
            }
            let id = event.id;
            let log = factory::build_audit_log(settings, db).await?;
            log.log(event).await?;
            let report = log.shutdown().await?;
            output::line(id)?;
            // Its own exit status stays about its own event.
            if report.spooled > 0 {
                output::note(format!(
                    "the database did not take it within AUDIT_SHUTDOWN_TIMEOUT_MS: {} for it in {}",
                    waiting(report.spooled),
                    dir.display()
                ));
                return Ok(ExitCode::from(3));
            }
        }
        AuditCommand::Adopt { file } => {
            let target = db.target();
            let moved = pal::audit::adopt(dir, &file, &target).await?;
            output::line(format!("moved {} from {} to the spool of {target}", events(moved), file.display()))?;
            let log = factory::build_audit_log(settings, db).await?;
            let report = log.shutdown().await?;
            if report.spooled > 0 {
                output::note(format!(
                    "the database did not take them within AUDIT_SHUTDOWN_TIMEOUT_MS: {} for it in {}",
                    waiting(report.spooled),
                    dir.display()
                ));
                return Ok(ExitCode::from(3));
            }
            output::line(format!("delivered {} to {target}", events(report.delivered)))?;
        }
        AuditCommand::Tail { subject, action, since, limit, json } => {
            let since = since
                .map(|since| {
                    DateTime::parse_from_rfc3339(&since).map(|t| t.with_timezone(&Utc)).map_err(|e| {
                        Error::new(
                            ErrorKind::InvalidInput,
                            format!("--since takes RFC 3339 (2026-11-26T10:00:00Z): {e}"),
                        )
                    })
                })
                .transpose()?;
            let query = AuditQuery { actor: subject, action, since, limit, replica_ok: false };
            // The newest `limit`, printed oldest first, as `tail` does.
            let mut events = pal::audit::recent(db.as_ref(), &query).await?;
            events.reverse();
            let mut out = Out::new();
            if json {
                for event in &events {
                    out.line(json_of(event))?;
                }
            } else {
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED).set_header([
                    "occurred_at",
                    "subject",
                    "action",
                    "ip",
                    "details",
                    "id",
                ]);
                for e in events {
                    table.add_row([
                        e.occurred_at.to_rfc3339(),
                        e.actor.unwrap_or_default(),
                        e.action,
                        e.ip.unwrap_or_default(),
                        e.details.to_string(),
                        e.id.to_string(),
                    ]);
                }
                out.line(table)?;
            }
            out.finish()?;
        }
        AuditCommand::Status => {
            let target = db.target();
            let spools = pal::audit::spools(dir).await?;
            let stored = stored(db.as_ref()).await;
            let mut out = Out::new();
            match &stored {
                Ok(line) => out.line(format!("stored in {target}: {line}"))?,
                Err(e) => out.line(format!("stored in {target}: cannot be read ({e})"))?,
            }
            match spools.is_empty() {
                true => out.line(format!("spooled in {}: no spool", dir.display()))?,
                false => out.line(format!("spooled in {}:", dir.display()))?,
            }
            for spool in &spools {
                out.line(format!("  {}", describe(spool, &target)))?;
            }
            out.line("pending in memory: per process; a running `pal serve` reports pal_audit_pending and pal_audit_oldest_pending_seconds at /metrics")?;
            out.finish()?;
            stored?;
            if spools.iter().any(|spool| spool.events > 0) {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Events stored in `pal_audit_log`, and the latest one's time.
async fn stored(db: &dyn DatabaseService) -> Result<String> {
    let (stored, latest) = pal::audit::stored(db).await?;
    Ok(format!("{}, the latest at {}", events(stored), latest.map_or("-".to_string(), |t| t.to_rfc3339())))
}

/// One line of `pal audit status` for a spool: whose events it holds, how many,
/// and what delivers them.
fn describe(spool: &SpoolFile, target: &DbTarget) -> String {
    let name = spool.path.file_name().map_or_else(|| spool.path.display().to_string(), |n| n.display().to_string());
    let waiting = waiting(spool.events);
    let adopt = format!("deliver them with `pal audit adopt {name}` and DATABASE_URL naming their database");
    match (&spool.target, &spool.set_aside) {
        (None, _) => format!("{name}: {waiting}, written before spools were bound to a database; {adopt}"),
        (Some(for_db), Some(why)) => format!(
            "{name}: {waiting} for {for_db} as served by {}, set aside: {why}; {adopt}",
            spool.server.as_deref().unwrap_or("an unknown server")
        ),
        (Some(for_db), None) if spool.is_for(target) => format!("{name}: {waiting} for {for_db} (this database)"),
        (Some(for_db), None) => {
            format!("{name}: {waiting} for {for_db} (another database: delivered by a pal configured for it)")
        }
    }
}

fn events(n: u64) -> String {
    match n {
        1 => "1 event".to_string(),
        n => format!("{n} events"),
    }
}

fn waiting(n: u64) -> String {
    format!("{} waiting", events(n))
}

fn json_of(e: &AuditEvent) -> serde_json::Value {
    serde_json::json!({ "id": e.id.to_string(), "occurred_at": e.occurred_at.to_rfc3339(), "subject": e.actor, "action": e.action, "ip": e.ip, "details": e.details })
}
