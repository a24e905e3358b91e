//! `pal audit …`: log an event, read the latest, and see what is waiting.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pal::audit::AuditEvent;
use pal::db::Value;
use pal::factory::{self, build_database};
use pal::{Error, ErrorKind, Result, Settings};

use crate::cli::AuditCommand;
use crate::output::{self, Out};

pub async fn run(cmd: AuditCommand, settings: &Settings) -> Result<ExitCode> {
    let db = build_database(settings).await?;
    factory::auto_migrate(settings, db.as_ref()).await?;
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
            match report.spooled {
                0 => output::line(id)?,
                n => {
                    output::line(id)?;
                    output::note(format!(
                        "the database did not take it within AUDIT_SHUTDOWN_TIMEOUT_MS: {n} events wait in {}",
                        settings.audit.spool_dir.display()
                    ));
                    return Ok(ExitCode::from(3));
                }
            }
        }
        AuditCommand::Tail { subject, action, since, limit, json } => {
            let mut sql = String::from("SELECT id, occurred_at, actor, action, ip, details FROM audit_log WHERE 1 = 1");
            let mut params = Vec::new();
            for (column, value) in [("actor", subject.map(Value::Text)), ("action", action.map(Value::Text))] {
                if let Some(value) = value {
                    params.push(value);
                    sql.push_str(&format!(" AND {column} = ${}", params.len()));
                }
            }
            if let Some(since) = since {
                let since: DateTime<Utc> = DateTime::parse_from_rfc3339(&since)
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::InvalidInput,
                            format!("--since takes RFC 3339 (2026-11-26T10:00:00Z): {e}"),
                        )
                    })?
                    .with_timezone(&Utc);
                params.push(Value::Timestamp(since));
                sql.push_str(&format!(" AND occurred_at >= ${}", params.len()));
            }
            // The newest `limit`, printed oldest first, as `tail` does.
            params.push(Value::Int(i64::from(limit)));
            sql.push_str(&format!(" ORDER BY occurred_at DESC, id DESC LIMIT ${}", params.len()));
            let mut rows = db.query(&sql, &params).await?;
            rows.reverse();
            let mut out = Out::new();
            if json {
                for row in &rows {
                    let event = json_of(row)?;
                    out.line(event)?;
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
                for row in &rows {
                    let event = json_of(row)?;
                    let text = |k: &str| event[k].as_str().unwrap_or("").to_string();
                    table.add_row([
                        text("occurred_at"),
                        text("subject"),
                        text("action"),
                        text("ip"),
                        event["details"].to_string(),
                        text("id"),
                    ]);
                }
                out.line(table)?;
            }
            out.finish()?;
        }
        AuditCommand::Status => {
            let spooled = pal::audit::spooled(&settings.audit.spool_dir).await?;
            let rows = db.query("SELECT COUNT(*) AS n, MAX(occurred_at) AS latest FROM audit_log", &[]).await?;
            let row = rows.first().ok_or_else(|| Error::new(ErrorKind::Backend, "no answer to COUNT(*)"))?;
            let stored: i64 = row.get("n")?;
            let latest: Option<DateTime<Utc>> = row.get("latest")?;
            let mut out = Out::new();
            out.line(format!(
                "stored in {}: {stored} events, the latest at {}",
                db.provider(),
                latest.map_or("-".to_string(), |t| t.to_rfc3339())
            ))?;
            out.line(format!(
                "spooled in {}: {}",
                settings.audit.spool_dir.display(),
                spooled.map_or("no spool".to_string(), |n| format!("{n} events waiting"))
            ))?;
            out.line("pending in memory: per process; a running `pal serve` reports pal_audit_pending and pal_audit_oldest_pending_seconds at /metrics")?;
            out.finish()?;
            if spooled.unwrap_or(0) > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn json_of(row: &pal::Row) -> Result<serde_json::Value> {
    let id: String = row.get("id")?;
    let at: DateTime<Utc> = row.get("occurred_at")?;
    let actor: Option<String> = row.get("actor")?;
    let action: String = row.get("action")?;
    let ip: Option<String> = row.get("ip")?;
    let details: serde_json::Value = row.get("details")?;
    Ok(
        serde_json::json!({ "id": id, "occurred_at": at.to_rfc3339(), "subject": actor, "action": action, "ip": ip, "details": details }),
    )
}
