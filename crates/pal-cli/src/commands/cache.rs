//! `pal cache …`: read and write the configured cache.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pal::{CacheService, Error, Result, Ttl};

use crate::cli::CacheCommand;
use crate::output::{self, Out};

pub async fn run(cmd: CacheCommand, cache: Arc<dyn CacheService>) -> Result<ExitCode> {
    if matches!(cmd, CacheCommand::Set { .. } | CacheCommand::Incr { .. }) && !cache.capabilities().leaves_process {
        output::note(format!(
            "warning: CACHE_PROVIDER={} keeps values inside this process: what this command stores is gone when it exits",
            cache.provider()
        ));
    }
    match cmd {
        CacheCommand::Set { key, value, ttl } => {
            cache.set(&key, value_of(value)?, Ttl::from_secs(ttl.seconds)?).await?;
            output::line("OK")?;
        }
        CacheCommand::Get { key } => match cache.get(&key).await? {
            Some(value) => {
                let mut out = Out::new();
                out.bytes(&value)?;
                // To a terminal, text gets a newline; to a pipe or a file, the bytes
                // exactly as stored.
                if output::is_terminal() && std::str::from_utf8(&value).is_ok() {
                    out.bytes(b"\n")?;
                }
                out.finish()?;
            }
            None => return missing(&key),
        },
        CacheCommand::Del { key } => output::line(if cache.delete(&key).await? { "deleted" } else { "not found" })?,
        CacheCommand::Incr { key, by, ttl } => output::line(cache.incr(&key, by, Ttl::from_secs(ttl.seconds)?).await?)?,
        CacheCommand::Ttl { key } => match cache.ttl(&key).await? {
            // Written without an expiry by another client.
            Some(Duration::MAX) => output::line("no expiry")?,
            Some(left) => output::line(format!("{:.3}", left.as_secs_f64()))?,
            None => return missing(&key),
        },
        // Answered by `keycheck::run`, below the sealing layer.
        CacheCommand::Keycheck { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The value to store: the argument, or standard input, bytes as they are, for `-`.
fn value_of(arg: String) -> Result<Bytes> {
    if arg != "-" {
        return Ok(arg.into_bytes().into());
    }
    let mut value = Vec::new();
    std::io::stdin()
        .read_to_end(&mut value)
        .map_err(|e| Error::invalid_input(format!("cannot read the value from standard input: {e}")))?;
    Ok(value.into())
}

fn missing(key: &str) -> Result<ExitCode> {
    output::note(format!("key {key:?} not found"));
    Ok(ExitCode::FAILURE)
}
