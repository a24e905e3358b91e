//! `pal cache …`: read and write the configured cache.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pal::cache::Capabilities;
use pal::{CacheService, Error, ErrorKind, Result, Ttl};

use crate::cli::CacheCommand;
use crate::output::{self, Out};

pub(super) async fn run(cmd: CacheCommand, cache: Arc<dyn CacheService>) -> Result<ExitCode> {
    let writes = matches!(cmd, CacheCommand::Set { .. } | CacheCommand::Add { .. } | CacheCommand::Incr { .. });
    if writes && !cache.capabilities().leaves_process {
        output::note(format!(
            "warning: CACHE_PROVIDER={} keeps values inside this process: what this command stores is gone when it exits",
            cache.provider()
        ));
    }
    match cmd {
        CacheCommand::Set { key, value, ttl } => {
            let value = value_of(value, &cache.capabilities())?;
            cache.set(&key, value, Ttl::from_secs(ttl.seconds)?).await?;
            output::line("OK")?;
        }
        CacheCommand::Add { key, value, ttl } => {
            let value = value_of(value, &cache.capabilities())?;
            match cache.add(&key, value, Ttl::from_secs(ttl.seconds)?).await? {
                true => output::line("OK")?,
                false => {
                    output::note(format!("key {key:?} exists: nothing was stored"));
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        CacheCommand::Get { keys } if keys.len() > 1 => return get_many(&cache, &keys).await,
        CacheCommand::Get { keys } => match cache.get(&keys[0]).await? {
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
            None => return missing(&keys[0]),
        },
        CacheCommand::Del { key } => match cache.delete(&key).await? {
            true => output::line("deleted")?,
            // As for `get` and `ttl`: the answer is no, which is not a failure.
            false => return missing(&key),
        },
        CacheCommand::Incr { key, by, ttl } => {
            let counted = cache.incr(&key, by, Ttl::from_secs(ttl.seconds)?).await;
            output::line(counted.map_err(|e| naming_the_counter(e, &key))?)?
        }
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
/// Standard input is read up to one byte past the largest value the cache takes,
/// so an endless or huge input is refused without being held in memory.
fn value_of(arg: String, can: &Capabilities) -> Result<Bytes> {
    if arg != "-" {
        return Ok(arg.into_bytes().into());
    }
    let mut value = Vec::new();
    let stdin = std::io::stdin();
    let read = match can.max_value_bytes {
        Some(max) => stdin.lock().take(max as u64 + 1).read_to_end(&mut value),
        None => stdin.lock().read_to_end(&mut value),
    };
    read.map_err(|e| Error::invalid_input(format!("cannot read the value from standard input: {e}")))?;
    if let Some(max) = can.max_value_bytes.filter(|max| value.len() > *max) {
        return Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!(
                "standard input holds more than {max} bytes, the largest value this cache takes (set by {}); \
                 nothing was stored",
                can.max_value_source
            ),
        ));
    }
    Ok(value.into())
}

/// The library names no key in its errors (a key may be a secret); the operator
/// typed this one, so the message can say which counter it is about.
fn naming_the_counter(e: Error, key: &str) -> Error {
    if e.kind() != ErrorKind::NotAnInteger {
        return e;
    }
    let message = match e.message().strip_prefix("counter ") {
        Some(rest) => format!("counter {key:?} {rest}"),
        None => format!("counter {key:?}: {}", e.message()),
    };
    let named = Error::new(e.kind(), message);
    match e.provider() {
        Some(provider) => named.with_provider(provider),
        None => named,
    }
}

/// Several keys in one batch: a line each, a missing one empty.
async fn get_many(cache: &Arc<dyn CacheService>, keys: &[String]) -> Result<ExitCode> {
    let names: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values = cache.get_many(&names).await?;
    let mut out = Out::new();
    for value in &values {
        out.bytes(value.as_deref().unwrap_or_default())?;
        out.bytes(b"\n")?;
    }
    out.finish()?;
    let missing: Vec<&str> = names.iter().zip(&values).filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect();
    if missing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    output::note(format!("{} of {} keys not found: {missing:?}", missing.len(), keys.len()));
    Ok(ExitCode::FAILURE)
}

fn missing(key: &str) -> Result<ExitCode> {
    output::note(format!("key {key:?} not found"));
    Ok(ExitCode::FAILURE)
}
