//! `pal lock NAME --ttl S [--wait S] -- COMMAND…`: a command run while holding a
//! lock in the configured cache.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use pal::cache::Lock;
use pal::{CacheService, Error, ErrorKind, Result, Ttl};

use crate::cli::LockArgs;
use crate::output;

pub(super) async fn run(args: LockArgs, cache: Arc<dyn CacheService>) -> Result<ExitCode> {
    if !cache.capabilities().leaves_process {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "CACHE_PROVIDER={} keeps its data inside this process: a lock there excludes no other process; \
                 pal lock needs a cache shared by the hosts (redis, keydb, memcached, redis-hybrid)",
                cache.provider()
            ),
        ));
    }
    let ttl = Ttl::from_secs(args.ttl.seconds)?;
    let wait = Duration::from_secs_f64(args.wait);
    let Some(lock) = Lock::acquire(cache, &args.name, ttl, wait).await? else {
        output::note(format!("lock {:?} is held elsewhere: {} not run", args.name, args.command[0]));
        return Ok(ExitCode::FAILURE);
    };
    let mut child = match tokio::process::Command::new(&args.command[0])
        .args(&args.command[1..])
        .env("PAL_LOCK_TOKEN", lock.token().to_string())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            let _ = lock.release().await;
            output::note(format!("cannot run {}: {e}", args.command[0]));
            // As a shell answers a command it cannot run.
            return Ok(ExitCode::from(127));
        }
    };
    let status = {
        let renew = ttl.as_duration() / 3;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + renew, renew);
        let mut warned = false;
        loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = ticks.tick() => match lock.extend(ttl).await {
                    Ok(true) => {}
                    Ok(false) if !warned => {
                        warned = true;
                        output::note(format!(
                            "warning: lock {:?} was lost while {} runs (its lease ran out): another host may hold it now",
                            args.name, args.command[0]
                        ));
                    }
                    Ok(false) => {}
                    Err(e) => output::note(format!("warning: lock {:?} could not be extended: {e}", args.name)),
                },
            }
        }
    };
    if let Err(e) = lock.release().await {
        output::note(format!("warning: lock {:?} not released ({e}): its lease frees it", args.name));
    }
    let status = status.map_err(|e| Error::new(ErrorKind::Backend, format!("waiting for {}: {e}", args.command[0])))?;
    Ok(exit_code(status))
}

/// The command's exit status; killed by a signal, 128 and the signal, as shells say.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        (None, Some(signal)) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)),
        (None, None) => ExitCode::FAILURE,
    }
}
