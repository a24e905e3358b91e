//! The `pal` command line: operator tools that go through the abstraction, so
//! they behave the same on every provider.

mod cli;
mod commands;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use pal::{ErrorKind, Settings};
use tracing_subscriber::EnvFilter;

use cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Generating keys needs no configuration, and must work before there is one.
    if matches!(cli.command, cli::Command::Keygen) {
        return commands::keygen().unwrap_or_else(|e| {
            eprintln!("pal: {e}");
            ExitCode::FAILURE
        });
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pal: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pal: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, &settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pal: {e}");
            if e.kind() == ErrorKind::Config { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}
