//! `pal bench`: the configured providers measured against their raw clients in
//! one process and one run, at a sweep of concurrencies, rounds interleaved so
//! noise on the machine falls on every contestant alike. Prints a Markdown table
//! and writes it with a JSON report and an SVG chart.

mod args;
mod chart;
mod contestant;
mod external;
mod measure;
mod raw_sql;
mod report;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pal::cache::Peer;
use pal::db::migrate::Tables;
use pal::factory::{build_cache, build_database, build_expiring_store};
use pal::{Error, ErrorKind, Result, Settings};

pub(crate) use args::{BenchArgs, Op};

use crate::output::Out;
use contestant::{Client, Contestant};
use report::{Point, Report};

fn usage(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, what)
}

pub(crate) async fn run(
    args: &BenchArgs,
    settings: &Settings,
    environment: BTreeMap<String, String>,
) -> Result<ExitCode> {
    if args.concurrency.iter().any(|&c| c == 0 || c > 4096) {
        return Err(usage("--concurrency takes task counts from 1 to 4096"));
    }
    if args.rounds == 0 || args.round_ms < 100 {
        return Err(usage("--rounds must be at least 1 and --round-ms at least 100"));
    }
    let mut notes = Vec::new();
    let cache_ops: Vec<Op> = args.ops.iter().copied().filter(|op| *op != Op::DbSession).collect();
    let mut cache_side = Vec::new();
    let mut redis_url = None;
    if !cache_ops.is_empty() {
        let pal = build_cache(settings).await?;
        pal.ping().await?;
        cache_side.push(Contestant::new("pal", true, 0, Client::Pal(pal)));
        if settings.cache_settings()?.sealing.is_some() {
            cache_side.push(Contestant::new(
                "pal plaintext",
                false,
                1,
                Client::Pal(build_cache(&unsealed(environment.clone())?).await?),
            ));
        }
        if settings.cache_settings()?.near.enabled() {
            // What the near cache is measured against: the same cache without it,
            // and the in-process limit, pal's memory provider.
            let without = changed(&environment, &[("CACHE_NEAR_MAX_BYTES", Some("0"))])?;
            cache_side.push(Contestant::new(
                "pal without near cache",
                false,
                5,
                Client::Pal(build_cache(&without).await?),
            ));
            let memory = changed(
                &plaintext(environment.clone()),
                &[("CACHE_PROVIDER", Some(pal::cache::memory::PROVIDER.name)), ("CACHE_NEAR_MAX_BYTES", None)],
            )?;
            cache_side.push(Contestant::new("pal memory", false, 6, Client::Pal(build_cache(&memory).await?)));
        }
        match settings.cache_settings()?.config.peer() {
            Some(peer) => {
                if let Peer::Redis(url) = &peer {
                    redis_url = Some(url.expose().to_string());
                }
                match contestant::peer(&peer, 2).await {
                    Ok(raw) => cache_side.push(raw),
                    Err(why) => notes.push(format!("no raw client to compare with: {why}")),
                }
            }
            None => notes.push(format!(
                "CACHE_PROVIDER={} has no single server a raw client could be compared with",
                settings.cache_settings()?.provider.name
            )),
        }
    }
    let mut db_side = Vec::new();
    if args.ops.contains(&Op::DbSession) {
        let db = build_database(settings).await?;
        let pending = pal::db::migrate::pending(db.as_ref(), &[Tables::Cache]).await?;
        if !pending.is_empty() && !settings.db_settings()?.auto_migrate {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the database lacks migrations ({}): run `pal migrate` first", pending.join(", ")),
            ));
        }
        pal::factory::auto_migrate(settings, db.as_ref(), &[Tables::Cache]).await?;
        let dialect = db.dialect();
        db_side.push(contestant::pal_sessions(build_expiring_store(settings, db)?, 3));
        match raw_sql::RawSessions::connect(
            dialect,
            settings.db_settings()?.url.expose(),
            settings.db_settings()?.pool.max,
        ) {
            Ok(raw) => db_side.push(contestant::raw_sessions(raw, 4)),
            Err(why) => notes.push(format!("no raw sqlx pool to compare with: {why}")),
        }
    }

    let value = Bytes::from(vec![b'x'; args.value_bytes]);
    let length = Duration::from_millis(args.round_ms);
    let steps: usize = args
        .ops
        .iter()
        .map(|op| {
            let side = if *op == Op::DbSession { &db_side } else { &cache_side };
            side.len() * args.concurrency.len() * args.rounds
        })
        .sum();
    let progress = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template("{bar:32} {pos}/{len} rounds  {msg}  (about {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let mut report = Report::new(settings, args, notes);
    for &op in &args.ops {
        let side: Vec<Arc<Contestant>> = match op {
            Op::DbSession => db_side.clone(),
            _ => cache_side.clone(),
        };
        if matches!(op, Op::Get | Op::GetMany | Op::GetOrLoad | Op::HotGet) {
            for c in &side {
                progress.set_message(format!("filling {} keys for {}", contestant::KEYS, c.name));
                c.fill(&value).await.map_err(|e| Error::new(ErrorKind::Backend, format!("{}: {e}", c.name)))?;
            }
        }
        for &tasks in &args.concurrency {
            let mut rounds: Vec<Vec<measure::Round>> = side.iter().map(|_| Vec::new()).collect();
            for round in 0..args.rounds {
                // Each round starts with another contestant, so none always goes first.
                for k in 0..side.len() {
                    let which = (round + k) % side.len();
                    let (c, value) = (side[which].clone(), value.clone());
                    progress.set_message(format!("{} × {tasks}: {}", op.name(), c.name));
                    let r = measure::round(tasks, length, move |task, i| {
                        let (c, value) = (c.clone(), value.clone());
                        async move { c.run(op, task, i, &value).await }
                    })
                    .await;
                    rounds[which].push(r);
                    progress.inc(1);
                }
            }
            for (c, rounds) in side.iter().zip(rounds) {
                report.points.push(Point::from_rounds(op, tasks, &c.name, c.is_pal, rounds));
            }
            if let Some(url) = &redis_url {
                let pipelines: &[usize] = match op {
                    Op::Get | Op::Set | Op::HotGet => &[1, 16],
                    Op::GetMany | Op::SetMany => &[16],
                    _ => &[],
                };
                for &pipeline in pipelines {
                    if let Some((get, set)) = external::redis_benchmark(url, tasks, args.value_bytes, pipeline) {
                        let name = format!("redis-benchmark -P {pipeline}");
                        let reads = matches!(op, Op::Get | Op::GetMany | Op::HotGet);
                        report.points.push(Point::external(op, tasks, &name, if reads { get } else { set }));
                    }
                }
            }
        }
    }
    progress.finish_and_clear();

    let markdown = report.markdown();
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::new(ErrorKind::Backend, format!("cannot create {}: {e}", args.out.display())))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = args.out.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| Error::new(ErrorKind::Backend, format!("cannot write {}: {e}", path.display())))
    };
    write("bench.md", markdown.as_bytes())?;
    write("bench.json", report.json().as_bytes())?;
    write("bench.svg", chart::svg(&report).as_bytes())?;
    let mut out = Out::new();
    out.bytes(markdown.as_bytes())?;
    out.line(format!("report: {0}/bench.md, {0}/bench.json, {0}/bench.svg", args.out.display()))?;
    out.finish()?;
    Ok(if report.points.iter().any(|p| p.errors > 0) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The configuration `environment` holds, with each variable of `changes` set (or removed).
fn changed(environment: &BTreeMap<String, String>, changes: &[(&str, Option<&str>)]) -> Result<Settings> {
    let mut environment = environment.clone();
    for (name, value) in changes {
        match value {
            Some(value) => environment.insert(name.to_string(), value.to_string()),
            None => environment.remove(*name),
        };
    }
    Settings::from_map(environment).map_err(|e| Error::new(ErrorKind::Config, e.to_string()))
}

/// The same configuration with sealing off: what pal costs without it.
fn unsealed(environment: BTreeMap<String, String>) -> Result<Settings> {
    changed(&plaintext(environment), &[])
}

fn plaintext(mut environment: BTreeMap<String, String>) -> BTreeMap<String, String> {
    for var in pal::crypto::config::VARS {
        environment.remove(var.name);
    }
    environment.insert("CACHE_INSECURE_NO_ENCRYPTION".into(), "true".into());
    environment
}
