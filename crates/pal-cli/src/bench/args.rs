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

/// Keys per batch in `get-many` and `set-many`: as deep as `redis-benchmark -P 16`.
pub(crate) const BATCH: u64 = 16;

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
    /// A batch GET of 16 keys that exist (MGET for redis-rs); counted in keys.
    GetMany,
    /// A batch SET of 16 keys (a pipeline for redis-rs); counted in keys.
    SetMany,
    /// get_or_load of a key that exists: the hit path (a plain GET for raw clients).
    GetOrLoad,
    /// Reads of keys that exist with 1 % writes among them (every hundredth call a
    /// SET of the same key): the workload a near cache is for.
    HotGet,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Incr => "incr",
            Op::Session => "session",
            Op::DbSession => "db-session",
            Op::GetMany => "get-many",
            Op::SetMany => "set-many",
            Op::GetOrLoad => "get-or-load",
            Op::HotGet => "hot-get",
        }
    }

    /// Keys one call reads or writes: throughput is counted in keys.
    pub(crate) fn keys_per_call(self) -> u64 {
        match self {
            Op::GetMany | Op::SetMany => BATCH,
            _ => 1,
        }
    }
}
