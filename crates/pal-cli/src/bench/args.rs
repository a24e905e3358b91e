//! `pal bench`'s arguments and the operations it measures, apart from the
//! command line so the bench needs nothing of it.

use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Concurrent tasks to measure at, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    pub concurrency: Vec<usize>,
    /// Operations to measure, comma-separated.
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = [Op::Get, Op::Set, Op::Incr, Op::Session, Op::DbSession])]
    pub ops: Vec<Op>,
    /// Rounds per contestant at each concurrency.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Length of one round, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub round_ms: u64,
    /// Size of the values written, in bytes.
    #[arg(long, default_value_t = 256)]
    pub value_bytes: usize,
    /// Directory for the report (bench.md, bench.json, bench.svg).
    #[arg(long, default_value = "pal-bench")]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Op {
    /// A cache GET of a key that exists.
    Get,
    /// A cache SET with a TTL.
    Set,
    /// A fixed-window counter increment.
    Incr,
    /// A typed session written and read back through the cache.
    Session,
    /// A session written and read back through the database's session store.
    DbSession,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Incr => "incr",
            Op::Session => "session",
            Op::DbSession => "db-session",
        }
    }
}
