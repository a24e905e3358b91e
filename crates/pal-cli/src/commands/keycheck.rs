//! `pal cache keycheck [--reset]`: the sealing key record, and what a sample of
//! stored values says about the keys that sealed them.

use std::process::ExitCode;

use pal::cache::{Found, KeyReport, RECORD_KEY, SampleReport};
use pal::factory::build_key_check;
use pal::{Result, Settings};
use serde_json::json;

use crate::output::Out;

pub(super) async fn run(reset: bool, json: bool, settings: &Settings) -> Result<ExitCode> {
    let check = build_key_check(settings).await?;
    let report = check.inspect().await?;
    let mut out = Out::new();
    if !reset {
        match json {
            true => out.line(json!({
                "report": report,
                "disagrees": report.disagrees(),
                "mismatch": report.mismatch(),
                "verdict": verdict_json(&report),
            }))?,
            false => print(&mut out, &report)?,
        }
        out.finish()?;
        return Ok(if report.disagrees() { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    }
    if !json {
        out.line(format!("replacing {RECORD_KEY}: {}", replaced(&report)))?;
        out.finish()?;
        out = Out::new();
    }
    let (found, written) = check.reset().await?;
    let others = report.sample.as_ref().map_or(0, SampleReport::under_other_secrets);
    if json {
        let (record, unreadable) = match found {
            Found::Record(record) => (Some(record), false),
            Found::Nothing => (None, false),
            Found::Unreadable => (None, true),
        };
        out.line(json!({ "replaced": record, "replaced_unreadable": unreadable, "record": written }))?;
    } else {
        out.line(format!("{RECORD_KEY} now: {}", written.describe()))?;
        if others > 0 {
            out.line(format!(
                "note: {others} sampled values name other secrets' fingerprints: their keys miss with this \
                 CACHE_KEY_SECRET; they expire on their own"
            ))?;
        }
    }
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn replaced(report: &KeyReport) -> String {
    match (&report.record, report.record_unreadable) {
        (Some(record), _) => {
            let whose = if report.record_matches == Some(true) { "this" } else { "another" };
            format!("a record of {whose} CACHE_KEY_SECRET: {}", record.describe())
        }
        (None, true) => "something that is not a key record".to_string(),
        (None, false) => "nothing (no record yet)".to_string(),
    }
}

fn verdict_json(report: &KeyReport) -> serde_json::Value {
    match report.verdict() {
        Ok(notes) => json!({ "notes": notes }),
        Err(error) => json!({ "error": error }),
    }
}

fn print(out: &mut Out, report: &KeyReport) -> Result<()> {
    let these = &report.configured;
    out.line(format!(
        "this CACHE_KEY_SECRET: fingerprint {}, key ids {}",
        these.fingerprint,
        these.key_ids.join(", ")
    ))?;
    let record = match (&report.record, report.record_matches, report.record_unreadable) {
        (Some(record), Some(true), _) => format!(" of this CACHE_KEY_SECRET: {}", record.describe()),
        (Some(record), _, _) => format!(" of ANOTHER CACHE_KEY_SECRET: {}", record.describe()),
        (None, _, true) => ": something that is not a key record".to_string(),
        (None, _, false) => ": none".to_string(),
    };
    out.line(format!("record ({RECORD_KEY}){record}"))?;
    match &report.sample {
        None => out.line("sample: none, this cache cannot list its keys: the record alone speaks")?,
        Some(sample) => print_sample(out, sample)?,
    }
    match report.verdict() {
        Err(why) => out.line(format!("MISMATCH: {why}"))?,
        Ok(notes) if notes.is_empty() => out.line("agrees with this CACHE_KEY_SECRET")?,
        Ok(notes) => {
            for note in notes {
                out.line(format!("note: {note}"))?;
            }
        }
    }
    Ok(())
}

fn counts(by: &std::collections::BTreeMap<String, usize>) -> String {
    by.iter().map(|(name, n)| format!("{name} ×{n}")).collect::<Vec<_>>().join(", ")
}

fn print_sample(out: &mut Out, s: &SampleReport) -> Result<()> {
    out.line(format!("sample: {} stored values read", s.sampled))?;
    out.line(format!("  {:>4} sealed under this secret", s.this_secret))?;
    let others = match s.other_secrets.is_empty() {
        true => String::new(),
        false => format!(": {}", counts(&s.other_secrets)),
    };
    out.line(format!("  {:>4} sealed under other secrets{others}", s.under_other_secrets()))?;
    out.line(format!("  {:>4} in an older format that names no secret (they open)", s.old_format))?;
    let unknown = s.unknown_key_ids.values().sum::<usize>();
    let ids = match s.unknown_key_ids.is_empty() {
        true => String::new(),
        false => format!(": {}", counts(&s.unknown_key_ids)),
    };
    out.line(format!("  {unknown:>4} sealed with key ids not in CACHE_ENCRYPTION_KEYS{ids}"))?;
    out.line(format!("  {:>4} fail authentication", s.failed))?;
    out.line(format!("  {:>4} counters (hashed, not sealed: they name no secret)", s.counters))?;
    out.line(format!("  {:>4} not sealed by pal", s.not_sealed))?;
    if !s.key_ids.is_empty() {
        out.line(format!("  key ids seen: {}", counts(&s.key_ids)))?;
    }
    Ok(())
}
