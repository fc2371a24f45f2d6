//! `cutover check run CHECK --from DAY --to DAY [--reuse]`: pulls the check's sources for
//! a window (or reuses that window's complete snapshots), runs the check in
//! `cutover-recon`, and records the run with its outcome and findings through the engine,
//! so a run of a phase's check counts toward its gate exactly like a recorded manual check.
//!
//! A run that could not compare (a pull failed, no snapshot to reuse) is recorded as
//! `error`; one whose data is not final (a truncated pull, an empty side) as
//! `inconclusive`. Neither ever satisfies a condition.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use clap::Args;
use cutover_engine::{Command, Window};
use cutover_plan::{CheckKind, Outcome, ScheduledKind, Source};
use cutover_recon::config::{Built, build};
use cutover_recon::mapping::{Normaliser, PartnerCrosswalk};
use cutover_recon::{Aggregate, CheckResult, Finding, Row, System};
use cutover_sources::PullOptions;
use cutover_store::{NewFinding, SnapshotStatus, Store};

use crate::{Failure, execute_on, open, stored_plan};

#[derive(Debug, Args)]
pub struct CheckRunArgs {
    /// The check id (a scheduled check of the plan).
    pub check: String,
    /// First report day (YYYY-MM-DD).
    #[arg(long)]
    pub from: NaiveDate,
    /// Last report day, inclusive.
    #[arg(long)]
    pub to: NaiveDate,
    /// Use the latest complete snapshots of exactly this window instead of pulling.
    #[arg(long)]
    pub reuse: bool,
}

/// One side's rows, or why the check cannot use them.
enum Side {
    Rows { snapshot: i32, rows: Vec<Row> },
    Inconclusive(String),
    Error(String),
}

pub async fn run(url: &str, args: CheckRunArgs) -> Result<u8, Failure> {
    if args.to < args.from {
        return Err(Failure::usage(format!(
            "error: --to {} is before --from {}",
            args.to, args.from
        )));
    }
    let store = open(url).await?;
    let snap = store.load().await?;
    let plan = stored_plan(&snap)?;
    let sources = cutover_plan::load(&snap.plan.file_name, &snap.plan.content)
        .map(|l| l.sources)
        .unwrap_or_default();
    let check = plan.check(&args.check).ok_or_else(|| {
        Failure::usage(format!(
            "error: \"{}\" is not a check of the plan (checks: {})",
            args.check,
            plan.checks
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let CheckKind::Scheduled { kind, .. } = &check.kind else {
        return Err(Failure::usage(format!(
            "error: {} is a manual check; record its outcome with `cutover check record`",
            check.id
        )));
    };
    if *kind != ScheduledKind::Reconcile {
        return Err(Failure::error(format!(
            "error: {} is a {} check; `check run` runs reconcile checks from pulled snapshots so far, nothing was recorded",
            check.id,
            kind.name()
        )));
    }
    let config = match check.config() {
        Some(Ok(c)) => c,
        _ => {
            return Err(Failure::error(format!(
                "error: the settings of {} no longer validate",
                check.id
            )));
        }
    };
    let Ok(Built::Reconcile {
        config, rate_table, ..
    }) = build(&config, &plan.currency)
    else {
        return Err(Failure::error(format!(
            "error: the settings of {} no longer validate",
            check.id
        )));
    };
    let role = |r: &str| -> Result<&Source, Failure> {
        let id = check
            .sources
            .iter()
            .find(|(role, _)| role == r)
            .map(|(_, id)| id)
            .ok_or_else(|| {
                Failure::error(format!(
                    "error: {} names no \"{r}\" source; add `sources: {{ old: SOURCE, new: SOURCE }}` to the check",
                    check.id
                ))
            })?;
        sources
            .iter()
            .find(|s| &s.id == id)
            .ok_or_else(|| Failure::error(format!("error: source \"{id}\" is not in the plan")))
    };
    let (old_src, new_src) = (role("old")?, role("new")?);
    let window = cutover_sources::Window {
        from: args.from,
        to: args.to,
    };
    let opts = PullOptions::from_process_env();
    let old = side(&store, old_src, window, args.reuse, &opts).await?;
    let new = side(&store, new_src, window, args.reuse, &opts).await?;

    let (result, evidence) = match (old, new) {
        (Side::Error(e), _) | (_, Side::Error(e)) => (
            CheckResult::new(Outcome::Error, e, Vec::new()),
            String::new(),
        ),
        (Side::Inconclusive(e), _) | (_, Side::Inconclusive(e)) => {
            (CheckResult::inconclusive(e), String::new())
        }
        (
            Side::Rows {
                snapshot: so,
                rows: ro,
            },
            Side::Rows {
                snapshot: sn,
                rows: rn,
            },
        ) => {
            let crosswalk = PartnerCrosswalk::new([])
                .with_identity(System::Old)
                .with_identity(System::New);
            let normalise = |system, rows: &[Row]| {
                let aggregates: Vec<Aggregate> = rows
                    .iter()
                    .filter_map(|r| match r {
                        Row::Aggregate(a) => Some(a.clone()),
                        Row::Event(_) => None,
                    })
                    .collect();
                Normaliser {
                    system,
                    crosswalk: &crosswalk,
                    rates: None,
                }
                .aggregates(&aggregates)
            };
            let (o, mut unmapped) = normalise(System::Old, &ro);
            let (n, un) = normalise(System::New, &rn);
            unmapped.extend(un);
            let mut result = cutover_recon::reconcile::reconcile(&o, &n, unmapped, &config);
            if let Some(table) = rate_table {
                result.reason.push_str(&format!(
                    "; money compared as reported (rate table \"{table}\" has no rate source yet)"
                ));
            }
            (
                result,
                format!(
                    "old {} snapshot #{so} ({} rows), new {} snapshot #{sn} ({} rows)",
                    old_src.id,
                    ro.len(),
                    new_src.id,
                    rn.len()
                ),
            )
        }
    };

    let detail = if evidence.is_empty() {
        result.reason.clone()
    } else {
        format!("{}; {evidence}", result.reason)
    };
    let findings: Vec<NewFinding> = result.findings.iter().map(stored).collect();
    println!(
        "{}: {} for {}..{}: {}",
        check.id, result.outcome, args.from, args.to, detail
    );
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &result.findings {
        *codes.entry(f.code).or_default() += 1;
    }
    for (code, n) in &codes {
        println!("  {n} {code}");
    }
    let command = Command::RecordRun {
        check: check.id.clone(),
        outcome: result.outcome,
        window: Some(Window {
            from: args.from,
            to: args.to,
        }),
        detail: Some(detail),
    };
    let code = execute_on(&store, command, &findings).await?;
    if code != 0 {
        return Ok(code);
    }
    Ok(match result.outcome {
        Outcome::Pass | Outcome::Warn => 0,
        Outcome::Fail => 3,
        Outcome::Inconclusive => 4,
        Outcome::Error => 1,
    })
}

/// A side's rows: pulled now (and stored as a snapshot), or the window's latest complete
/// snapshot with `--reuse`.
async fn side(
    store: &Store,
    source: &Source,
    window: cutover_sources::Window,
    reuse: bool,
    opts: &PullOptions,
) -> Result<Side, Failure> {
    if reuse {
        return Ok(
            match store
                .latest_complete_snapshot(&source.id, window.from, window.to)
                .await?
            {
                Some((s, rows)) => Side::Rows {
                    snapshot: s.id,
                    rows,
                },
                None => Side::Error(format!(
                    "no complete snapshot of {} for {}..{} to reuse; pull it first",
                    source.id, window.from, window.to
                )),
            },
        );
    }
    Ok(
        match crate::pull_cmd::pull_and_store(store, source, window, opts).await {
            Ok(stored) => match stored.snapshot.status {
                SnapshotStatus::Complete => Side::Rows {
                    snapshot: stored.id,
                    rows: stored.snapshot.rows,
                },
                _ => Side::Inconclusive(format!(
                    "pull of {} is not complete (snapshot #{}): {}",
                    source.id,
                    stored.id,
                    stored.snapshot.reason.unwrap_or_default()
                )),
            },
            Err(f) => Side::Error(f.message.trim_start_matches("error: ").replace('\n', " ")),
        },
    )
}

fn stored(f: &Finding) -> NewFinding {
    NewFinding {
        code: f.code.to_string(),
        subject: f.subject.clone(),
        old: f.old.map(|d| d.to_string()),
        new: f.new.map(|d| d.to_string()),
        expected: f.expected.map(|d| d.to_string()),
        detail: f.detail.clone(),
    }
}
