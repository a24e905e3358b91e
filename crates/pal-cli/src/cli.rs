//! The command line, as clap reads it; the `///` comments are the help text.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::bench::BenchArgs;

/// pal — swap cache and database providers by configuration alone.
///
/// Every command reads its configuration from the environment variables listed
/// below, and from ./.env when that file exists (a variable already set in the
/// environment wins over the file).
///
/// Exit status: 0 success; 1 the answer is no (a missing key, an unhealthy
/// provider); 2 a configuration or usage error; 3 the operation failed (a server
/// unreachable or too slow, a stored value that fails authentication, a database
/// error).
#[derive(Debug, Parser)]
#[command(name = "pal", version, after_help = crate::vars::help_table())]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build the configured providers, probe each, and print their health:
    /// healthy, degraded (serving with a part down: redis-hybrid on its database
    /// alone) or down. Exit status 0 when all are healthy, 1 otherwise. A sealed
    /// cache is down when its key record or a sample of its values names another
    /// CACHE_KEY_SECRET (see `pal cache keycheck`); the check writes nothing.
    ///
    /// With --url, also reads a running pal's /metrics twice, --window seconds
    /// apart, and reports the four monitoring signals against their alert
    /// thresholds (Redis hit rate below 95 %, fallbacks above 5 % of calls, Redis
    /// p99 above 10 ms, database fallback p99 above 100 ms); exit status 1 when one
    /// is past its threshold.
    Check(CheckArgs),
    /// Apply pending schema migrations to the configured database: pal's own
    /// tables (all named pal_…: the audit log's, the cache's database side) and
    /// the reference service's `users`.
    ///
    /// A database holding pal's tables under their former names (sessions,
    /// audit_log, cache_counters, cache_journal) has them renamed first.
    Migrate,
    /// Delete expired sessions and counters from the database now.
    ///
    /// Every redis-hybrid instance does this every CACHE_PURGE_INTERVAL_MS; this
    /// runs it once, for any cache provider.
    Purge,
    /// Serve the HTTP API (/healthz, /readyz) on BIND:PORT until SIGINT or SIGTERM.
    Serve,
    /// Print a fresh CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS line.
    ///
    /// To rotate, put the new key first in CACHE_ENCRYPTION_KEYS and keep the old
    /// ones after it until the values they sealed have expired.
    Keygen,
    /// Read and write the configured cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Run SQL on the configured database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Log an audit event, read the latest ones, see what waits to be delivered.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run COMMAND while holding the lock NAME in the configured cache, like
    /// flock(1) across machines: for a cron job on several hosts.
    ///
    /// The lock is a lease of --ttl seconds, extended every third of it while
    /// COMMAND runs, and released when it ends; a pal killed meanwhile leaves the
    /// lock until the lease runs out. Exit status: COMMAND's; 1 when the lock was
    /// not acquired within --wait seconds (0: one try). COMMAND gets the fencing
    /// token in PAL_LOCK_TOKEN. Refused with CACHE_PROVIDER=memory, which no other
    /// process shares.
    Lock(LockArgs),
    /// Measure the configured providers against their raw clients.
    ///
    /// For the configured cache: pal as configured, pal without sealing (when
    /// sealing is on), and the raw client of the same server (redis-rs, moka or the
    /// memcache client; `redis-benchmark` too when installed). For the database: the
    /// session store through pal against the same statements on a raw sqlx pool.
    /// Every point runs the contestants in alternating rounds, so noise on the
    /// machine falls on all of them alike. Writes OUT/bench.md, bench.json and
    /// bench.svg; exits 1 if any operation failed.
    Bench(BenchArgs),
    /// Print every environment variable pal reads, with its default and meaning.
    Vars {
        /// `markdown` is the README's table; `dotenv` a commented .env to start from.
        #[arg(long, value_enum, default_value_t = VarsFormat::Text)]
        format: VarsFormat,
    },
}

#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    /// The lock's name: hosts running the same job use the same name.
    pub name: String,
    #[command(flatten)]
    pub ttl: TtlArg,
    /// Seconds to wait for the lock while another holds it.
    #[arg(long, default_value_t = 0.0, value_parser = wait_seconds)]
    pub wait: f64,
    /// The command to run, after `--`.
    #[arg(required = true, last = true, num_args = 1..)]
    pub command: Vec<String>,
}

fn wait_seconds(raw: &str) -> Result<f64, String> {
    let seconds: f64 = raw.parse().map_err(|_| format!("{raw:?} is not a number of seconds"))?;
    match seconds.is_finite() && (0.0..=86400.0).contains(&seconds) {
        true => Ok(seconds),
        false => Err(format!("{raw} is out of range: from 0 (one try) to 86400 seconds")),
    }
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// The /metrics address of a running pal, such as http://127.0.0.1:8080/metrics.
    #[arg(long)]
    pub url: Option<String>,
    /// Seconds between the two reads of --url: more than 0 (a rate needs two reads
    /// some time apart), at most 3600.
    #[arg(long, default_value_t = 5.0, requires = "url", value_parser = window_seconds, allow_negative_numbers = true)]
    pub window: f64,
}

fn window_seconds(raw: &str) -> Result<f64, String> {
    let seconds: f64 = raw.parse().map_err(|_| format!("{raw:?} is not a number of seconds"))?;
    match seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0 {
        true => Ok(seconds),
        false => Err(format!(
            "{raw} is out of range: the window must be more than 0 seconds (a rate needs two reads some time apart) \
             and at most 3600, such as 0.5 or 30"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum VarsFormat {
    Text,
    Markdown,
    Dotenv,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Store VALUE under KEY; a VALUE of - reads the value from standard input,
    /// bytes as they are.
    Set {
        key: String,
        value: String,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// Store VALUE under KEY only if KEY is missing: "OK", or exit status 1 when
    /// it exists (its value is left as it is). A VALUE of - reads standard input.
    Add {
        key: String,
        value: String,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// Print the value of KEY: to a terminal with a newline after text, to a pipe
    /// or a file the stored bytes exactly. Exit status 1 when it is missing, 3 when
    /// it cannot be read (tampered, or sealed under a key no longer configured).
    ///
    /// With several keys, read in one batch: one line per key, in order, each
    /// value followed by a newline and a missing key an empty line; exit status 1
    /// when any is missing. Values holding a newline are ambiguous there: read
    /// those one key at a time.
    Get {
        #[arg(required = true, num_args = 1..)]
        keys: Vec<String>,
    },
    /// Delete KEY; prints "deleted", or exit status 1 when it was not there.
    Del { key: String },
    /// Add to the counter at KEY and print the new value.
    Incr {
        key: String,
        /// Amount to add (may be negative).
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        by: i64,
        /// TTL given to the counter when this call creates it.
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// Print the seconds KEY has left, or "no expiry"; exit status 1 when it is missing.
    Ttl { key: String },
    /// Print the sealing key record and what a sample of stored values says about
    /// the keys that sealed them; with --reset, replace the record.
    ///
    /// The record, unhashed at pal:keycheck, names the CACHE_KEY_SECRET the
    /// cache's data belongs to (by a fingerprint, a keyed hash that does not
    /// reveal it), the key ids, and when and by what it was written. The first
    /// write of each process leaves it, unless sampled values name another secret;
    /// reads (pal check, pal cache get, pal serve until its first write) never do.
    /// Values written since fingerprints were added name their secret and key id,
    /// so the sample counts those that match this secret, those of other secrets,
    /// unknown key ids, older values, counters.
    ///
    /// Exit status 0 when the record and the sample agree with this
    /// CACHE_KEY_SECRET, 1 when either names another; with --reset, 0 once the
    /// record is replaced.
    Keycheck {
        /// Replace the record with this configuration's, after printing what it
        /// replaces: for when this CACHE_KEY_SECRET is the right one.
        #[arg(long)]
        reset: bool,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct TtlArg {
    /// Time to live in seconds (1 to 31536000).
    #[arg(long = "ttl", value_name = "SECONDS")]
    pub seconds: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Run a query and print its rows as a table.
    ///
    /// One statement per call. Parameters bind to $1, $2… as text. Prefix one with
    /// int:, float:, bool:, json:, ts: (RFC 3339) or text:, or pass the word null,
    /// to bind another type. In tables SQL NULL prints NULL and the text 'NULL'
    /// prints quoted. Ctrl-C stops the statement on the server before exiting 130.
    Query {
        sql: String,
        params: Vec<String>,
        /// Print one JSON object per row instead of a table, as rows arrive (a large
        /// result is never held in memory). Columns keep their order; a repeated
        /// name gets :2, :3… (id, id:2). NaN and infinities are strings.
        #[arg(long)]
        json: bool,
        /// Read through the read path: a usable replica of DB_REPLICA_URL, else the
        /// primary (as the library's `read` routes). Read-only wherever it runs: SQL
        /// that writes fails and writes nothing. A replica's failure moves the read to
        /// the primary only when the replica could not serve it, never after a
        /// timeout. Without DB_REPLICA_URL the primary serves it, read-only, and a
        /// note on stderr says so.
        #[arg(long)]
        replica: bool,
        /// With --replica: a replica serves the query only once it has replayed this
        /// consistency token (printed by `pal db exec`), else the primary does.
        #[arg(long, value_name = "TOKEN", requires = "replica")]
        after: Option<String>,
    },
    /// Run a statement and print the number of rows it changed.
    ///
    /// Ctrl-C stops the statement on the server (PostgreSQL, MySQL/MariaDB) and
    /// waits for it to end before exiting 130, so an interrupted write changes
    /// nothing, or is reported as done when the server had finished it.
    ///
    /// The primary's consistency token after the write is printed on stderr (where
    /// the database keeps positions): `pal db query --replica --after TOKEN` reads
    /// what it wrote.
    Exec {
        sql: String,
        params: Vec<String>,
        /// Also print the consistency token on stdout, on the line after the count.
        #[arg(long)]
        token: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Log one event through the audit log (AUDIT_… variables) and deliver it
    /// before exiting; prints its id. Exit status 3 when it could only be spooled.
    Log {
        action: String,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        ip: Option<String>,
        /// Details, as a JSON document.
        #[arg(long)]
        details: Option<String>,
    },
    /// Print the latest events, oldest first.
    Tail {
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        action: Option<String>,
        /// Only events at or after this time (RFC 3339, such as 2026-11-26T10:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// How many events at most.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
        /// One JSON object per event instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Events stored, the latest one, and every spool of AUDIT_SPOOL_DIR with the
    /// database its events wait for (exit status 1 while some wait, for this
    /// database or another).
    Status,
    /// Deliver the events of a spool to the configured database: one written
    /// before spools were bound to a database (audit-spool.db), one set aside
    /// because another server answered at its database's address, or one whose
    /// database moved. Exit status 3 when they could only be spooled.
    Adopt {
        /// The spool file: a path, or a name in AUDIT_SPOOL_DIR.
        file: std::path::PathBuf,
    },
}
