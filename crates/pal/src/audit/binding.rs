//! Before spooled events leave, the server says who it is: the spool keeps the
//! identity it saw first, and events written for one server never reach another
//! that answers at the same address (a new cluster, a restore elsewhere).

use std::path::Path;

use chrono::Utc;

use super::sink::AuditSink;
use super::spool::{Binding, Spool};
use super::spools::aside_path;
use crate::db::DbTarget;
use crate::error::{ErrorKind, Result};

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The server is the one the spool is bound to, or the first it met, or one
    /// that cannot tell who it is.
    Same(Option<String>),
    /// Another server answers: the events spooled for the earlier one were moved
    /// aside (how many), and the spool now belongs to this one.
    SetAside(u64, String),
}

/// Asks the sink's server who it is and checks it against `spool`'s binding.
///
/// When another server answers, the events written for the one recorded are set
/// aside: those an earlier process left (up to `started_through`, the spool's last
/// sequence when this process opened it), and, when this process had itself seen
/// a server (`seen`), those it spooled since. Events a process takes before it
/// ever reached a server are for the database it is configured for, as they would
/// be with an empty spool.
pub(super) async fn check(
    sink: &dyn AuditSink,
    spool: Option<&Spool>,
    target: &DbTarget,
    seen: Option<&str>,
    started_through: i64,
) -> Result<Verdict> {
    let now = match sink.server_identity().await {
        Ok(Some(now)) => now,
        Ok(None) => return Ok(Verdict::Same(None)),
        Err(e) if e.kind() == ErrorKind::Unsupported => return Ok(Verdict::Same(None)),
        Err(e) => return Err(e),
    };
    let Some(spool) = spool else { return Ok(Verdict::Same(Some(now))) };
    let recorded = spool.record_server(&now).await?;
    let Some(before) = recorded.filter(|before| *before != now) else { return Ok(Verdict::Same(Some(now))) };
    let through = match seen {
        Some(_) => spool.last_seq().await?,
        None => started_through,
    };
    let waiting = spool.first_seq().await?.is_some_and(|first| first <= through);
    let moved = match waiting {
        true => set_aside(spool, target, &before, &now, through).await?,
        false => 0,
    };
    spool.rebind_server(&now).await?;
    if moved == 0 {
        tracing::info!(%target, %before, %now, "audit: another server answers for this database; none of the spooled events were written for the earlier one");
        return Ok(Verdict::Same(Some(now)));
    }
    Ok(Verdict::SetAside(moved, now))
}

/// Moves the events up to `through` into the spool of `target` for server `before`.
async fn set_aside(spool: &Spool, target: &DbTarget, before: &str, now: &str, through: i64) -> Result<u64> {
    let dir = spool.path().parent().unwrap_or(Path::new("."));
    let path = aside_path(dir, target, before);
    let note = format!("{} found {now} at this address instead", Utc::now().to_rfc3339());
    let binding =
        Binding { key: target.key(), target: target.to_string(), server: Some(before.into()), note: Some(note) };
    let aside = Spool::create(&path, &binding).await?;
    let moved = spool.move_into(&aside, through).await;
    aside.close().await;
    let moved = moved?;
    tracing::error!(
        %target,
        written_for = %before,
        found = %now,
        events = moved,
        file = %path.display(),
        "audit: spooled events were written for another server than the one now at this address: \
         not delivered, set aside (`pal audit status` lists them, `pal audit adopt` delivers them where you say)"
    );
    Ok(moved)
}
