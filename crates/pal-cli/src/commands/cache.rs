//! `pal cache …`: read and write the configured cache.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use pal::{CacheService, Result, Ttl};

use crate::cli::CacheCommand;

pub async fn run(cmd: CacheCommand, cache: Arc<dyn CacheService>) -> Result<ExitCode> {
    if matches!(cmd, CacheCommand::Set { .. } | CacheCommand::Incr { .. }) && !cache.capabilities().leaves_process {
        eprintln!(
            "pal: warning: CACHE_PROVIDER={} keeps values inside this process: what this command stores is gone when it exits",
            cache.provider()
        );
    }
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
