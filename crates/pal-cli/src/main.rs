//! The `pal` command line: operator tools that go through the abstraction, so
//! they behave the same on every provider.

mod bench;
mod cli;
mod commands;
mod output;
mod vars;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use pal::{ErrorKind, Settings};
use tracing_subscriber::EnvFilter;

use cli::Cli;
use vars::ToolSettings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // These need no configuration, and must work before there is one.
    match cli.command {
        cli::Command::Keygen => return report(commands::keygen()),
        cli::Command::Vars { format } => return report(commands::vars(format)),
        _ => {}
    }
    let mut environment = match vars::dotenv_file() {
        Ok(file) => file,
        Err(e) => {
            output::note(e);
            return ExitCode::from(2);
        }
    };
    environment.extend(pal::env::process_vars());
    // Each command validates only what it uses: a database tool needs no cache
    // configuration, and only `pal serve` reads the listener's variables.
    let serves = matches!(cli.command, cli::Command::Serve);
    let parts = commands::parts(&cli.command);
    let read = |env: &mut pal::env::Env| ToolSettings::read(env, serves);
    // The bench reads the same environment again with sealing off, to measure it.
    let bench_env = matches!(cli.command, cli::Command::Bench(_)).then(|| environment.clone());
    let (settings, tools) = match Settings::read_parts(environment, &vars::declared(), parts, read) {
        Ok(both) => both,
        Err(e) => {
            output::note(e);
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_new(&tools.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match tools.log_format {
        // The event's fields at the top level beside `message`, as the text format
        // prints them, so a query need not know about nesting.
        vars::LogFormat::Json => logs.json().flatten_event(true).init(),
        vars::LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    // `pal check` reports them in its own output (and JSON), once.
    if !matches!(cli.command, cli::Command::Check(_)) {
        for warning in &settings.warnings {
            tracing::warn!("{warning}");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            output::note(format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    report(runtime.block_on(commands::run(cli.command, &settings, &tools, bench_env)))
}

/// The exit status of a command: its own (0, or 1 for "no": a missing key, an
/// unhealthy provider), 2 for a configuration or usage error (SQL that is not one
/// statement, placeholders that do not match), 3 for an operation that failed (a
/// server down, a value that fails authentication, a database error).
fn report(outcome: pal::Result<ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(e) => {
            output::note(&e);
            match e.kind() {
                // A value over the limit is the caller's input, refused before anything is sent.
                ErrorKind::Config | ErrorKind::InvalidInput | ErrorKind::Usage | ErrorKind::ValueTooLarge => {
                    ExitCode::from(2)
                }
                _ => ExitCode::from(3),
            }
        }
    }
}
