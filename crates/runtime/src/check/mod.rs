//! A check run: pulls the check's sources for a window (or reuses that window's complete
//! snapshots), runs the check in `cutover-recon`, and records the run with its outcome and
//! findings through the engine, so a run of a phase's check counts toward its gate exactly
//! like a recorded manual check. `cutover check run` and the scheduler both run checks
//! through [`run_check`] (or [`evaluate`] then [`record`]).
//!
//! Kinds it runs: `reconcile` (daily aggregates, old vs new), and from event rows
//! `event_flow` (old and new), `event_match` (old and new) and `attribution` (new, old
//! optional). Events are kept when they occurred within the window's days in their
//! source's time zone. `record_sync` (records of `new` and `crm`), `rollup` (aggregates
//! and each platform's hierarchy) and `payout` (period sums of the aggregates, deals from
//! the params, the hierarchy for overrides) run in [`kinds`].
//!
//! Reference roles are pulled (or reused) like the data sides: `crosswalk` maps the new
//! platform's partner ids to the old platform's (findings name partners as the old
//! platform knows them; an id with no mapping is an `unmapped_partner` finding), `rates`
//! converts money into the plan currency (a rate carried forward more than
//! `max_rate_gap_days`, default 3, is a `rate_gap` finding; a currency without a rate an
//! `unmapped_currency` finding). Bad reference data (one new id on two old ids the same
//! day, a rate of zero) makes the run `error`, naming the source, row and field.
//!
//! A run that could not compare (a pull failed, no snapshot to reuse, rows of the wrong
//! shape) is recorded as `error`; one whose data is not final (a truncated pull, an empty
//! side) as `inconclusive`. Neither ever satisfies a condition.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, TimeZone, Utc};
use cutover_engine::{Command, Window};
use cutover_plan::sources::RowKind;
use cutover_plan::{Check, CheckConfig, CheckKind, Outcome, Source};
use cutover_recon::check::worst;
use cutover_recon::config::{Built, build_in};
use cutover_recon::mapping::{Normaliser, PartnerCrosswalk, RateTable};
use cutover_recon::{Aggregate, CheckResult, CrosswalkRow, Event, Finding, RateRow, Row, System};
use cutover_recon::{reference, register};
use cutover_sources::PullOptions;
use cutover_store::{NewFinding, Proposed, RegisterItem, RegisterRun, SnapshotStatus, Store};

use crate::RunError;
use crate::decide::{Extra, Stored, decide_and_store, decide_and_store_once};

mod kinds;

/// A check evaluated on its window, ready to be recorded.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The check id.
    pub check: String,
    pub window: cutover_sources::Window,
    pub outcome: Outcome,
    /// The reason, with the evidence (the snapshots read) after it.
    pub detail: String,
    /// How many findings of each code, by code.
    pub codes: BTreeMap<&'static str, usize>,
    /// The `RecordRun` command that records the run.
    pub command: Command,
    pub findings: Vec<NewFinding>,
    /// What the run brings to the variance register.
    pub register: RegisterRun,
}

/// A run that was evaluated and recorded.
#[derive(Debug)]
pub struct RunReport {
    pub evaluated: Evaluated,
    /// The decision on the `RecordRun` command (taken or refused) and its log entry.
    pub stored: Stored,
}

/// Evaluates and records one run of `check_id` over `window` (see [`evaluate`] and
/// [`record`]).
pub async fn run_check(
    store: &Store,
    loaded: &cutover_plan::Loaded,
    check_id: &str,
    window: cutover_sources::Window,
    reuse: bool,
    opts: &PullOptions,
) -> Result<RunReport, RunError> {
    let evaluated = evaluate(store, loaded, check_id, window, reuse, opts).await?;
    let stored = record(store, &evaluated).await?;
    Ok(RunReport { evaluated, stored })
}

/// Records an evaluated run through the engine: the run, its findings, its sightings in
/// the variance register and the emails it implies, in one transaction.
pub async fn record(store: &Store, evaluated: &Evaluated) -> Result<Stored, RunError> {
    let command = evaluated.command.clone();
    decide_and_store(
        store,
        &|_, _| Ok(command.clone()),
        Extra::Findings(&evaluated.findings, Some(&evaluated.register)),
    )
    .await
}

/// [`record`], at most once per `key` (the scheduler's idempotency key of the run): a
/// key stored before stores nothing and answers [`Stored::AlreadyStored`].
pub async fn record_once(
    store: &Store,
    evaluated: &Evaluated,
    key: &str,
) -> Result<Stored, RunError> {
    let command = evaluated.command.clone();
    decide_and_store_once(
        store,
        &|_, _| Ok(command.clone()),
        Extra::Findings(&evaluated.findings, Some(&evaluated.register)),
        Some(key),
    )
    .await
}

/// Pulls (or with `reuse`, reads the window's latest complete snapshots of) the sources
/// of `check_id` in the plan `loaded`, and runs the check over `window`. Snapshots are
/// stored as they are pulled; nothing else is. A check the plan does not have, a manual
/// check, settings that no longer validate or a misdeclared source role are errors
/// (nothing is recorded); a source that fails makes the run `error`, one that is not
/// complete `inconclusive`.
pub async fn evaluate(
    store: &Store,
    loaded: &cutover_plan::Loaded,
    check_id: &str,
    window: cutover_sources::Window,
    reuse: bool,
    opts: &PullOptions,
) -> Result<Evaluated, RunError> {
    let cutover_plan::Loaded { plan, sources, .. } = loaded;
    let check = plan.check(check_id).ok_or_else(|| {
        RunError::usage(format!(
            "error: \"{}\" is not a check of the plan (checks: {})",
            check_id,
            plan.checks
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let CheckKind::Scheduled { kind, .. } = &check.kind else {
        return Err(RunError::usage(format!(
            "error: {} is a manual check; record its outcome with `cutover check record`",
            check.id
        )));
    };
    let invalid = || {
        RunError::error(format!(
            "error: the settings of {} no longer validate",
            check.id
        ))
    };
    let config = match check.config() {
        Some(Ok(c)) => c,
        _ => return Err(invalid()),
    };
    let job = match build_in(&config, &plan.currency, &plan.vocabulary()).map_err(|_| invalid())? {
        Built::Reconcile {
            config, rate_table, ..
        } => Job::Reconcile { config, rate_table },
        Built::EventFlow(c) => Job::EventFlow(c),
        Built::EventMatch(c) => Job::EventMatch(c),
        Built::Attribution(c) => Job::Attribution(c),
        Built::RecordSync(c) => Job::RecordSync(c),
        Built::Rollup(c) => Job::Rollup(c),
        Built::Payout { config, deals, .. } => Job::Payout { config, deals },
    };

    // Resolve the roles before pulling anything: a misdeclared check records nothing.
    let (required, optional) = job.roles();
    let mut wanted: Vec<(&'static str, &Source)> = Vec::new();
    for &r in required.iter().chain(optional) {
        match role(check, sources, r)? {
            Some(s) => wanted.push((r, s)),
            None if required.contains(&r) => {
                return Err(RunError::error(format!(
                    "error: {} names no \"{r}\" source; {} checks read {} (add `sources: {{ {} }}` to the check); nothing was recorded",
                    check.id,
                    kind.name(),
                    required
                        .iter()
                        .map(|r| format!("\"{r}\""))
                        .collect::<Vec<_>>()
                        .join(" and "),
                    required
                        .iter()
                        .map(|r| format!("{r}: SOURCE"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            None => {}
        }
    }
    if job.reads_events()
        && let Some((r, s)) = wanted
            .iter()
            .find(|(r, s)| DATA_ROLES.contains(r) && s.rows != RowKind::Event)
    {
        return Err(RunError::error(format!(
            "error: {} is a {} check and reads events, but its \"{r}\" source \"{}\" reports daily aggregates (set `rows: event` on an event-level source); nothing was recorded",
            check.id,
            kind.name(),
            s.id
        )));
    }

    let mut read = Vec::new();
    let mut failed: Option<Side> = None;
    for (r, s) in &wanted {
        match side(store, s, window, reuse, opts).await? {
            Side::Rows { snapshot, rows } => read.push(Read {
                role: r,
                source: s,
                snapshot,
                rows,
            }),
            // The first error outranks everything, then the first inconclusive side; keep
            // pulling the others so every snapshot of the window is stored.
            other @ Side::Error(_) => {
                if !matches!(failed, Some(Side::Error(_))) {
                    failed = Some(other)
                }
            }
            other @ Side::Inconclusive(_) => {
                if failed.is_none() {
                    failed = Some(other)
                }
            }
        }
    }

    let (result, evidence) = match failed {
        Some(Side::Error(e)) => (
            CheckResult::new(Outcome::Error, e, Vec::new()),
            String::new(),
        ),
        Some(Side::Inconclusive(e)) => (CheckResult::inconclusive(e), String::new()),
        _ => match reference(&read, &plan.currency, max_rate_gap(&config)) {
            Err(e) => (
                CheckResult::new(Outcome::Error, e, Vec::new()),
                String::new(),
            ),
            Ok(refs) => match &job {
                Job::Reconcile { config, rate_table } => {
                    reconcile(&read, &refs, config, rate_table)
                }
                Job::RecordSync(cfg) => kinds::record_sync(&read, cfg),
                Job::Rollup(cfg) => kinds::rollup(&read, &refs, cfg, window),
                Job::Payout { config, deals } => kinds::payout(&read, &refs, config, deals, window),
                _ => events(&job, &read, &refs, window),
            },
        },
    };

    let detail = if evidence.is_empty() {
        result.reason.clone()
    } else {
        format!("{}; {evidence}", result.reason)
    };
    let findings: Vec<NewFinding> = result.findings.iter().map(stored).collect();
    let mut codes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for f in &result.findings {
        *codes.entry(f.code).or_default() += 1;
    }
    let command = Command::RecordRun {
        check: check.id.clone(),
        outcome: result.outcome,
        window: Some(Window {
            from: window.from,
            to: window.to,
        }),
        detail: Some(detail.clone()),
    };
    let register = register_run(&check.id, plan, window, &read, &result);
    Ok(Evaluated {
        check: check.id.clone(),
        window,
        outcome: result.outcome,
        detail,
        codes,
        command,
        findings,
        register,
    })
}

/// One side's rows, or why the check cannot use them.
enum Side {
    Rows { snapshot: i32, rows: Vec<Row> },
    Inconclusive(String),
    Error(String),
}

/// What a run computes, with the settings it needs.
enum Job {
    Reconcile {
        config: cutover_recon::reconcile::ReconcileConfig,
        rate_table: Option<String>,
    },
    EventFlow(cutover_recon::event_flow::EventFlowConfig),
    EventMatch(cutover_recon::event_match::EventMatchConfig),
    Attribution(cutover_recon::attribution::AttributionConfig),
    RecordSync(cutover_recon::record_sync::RecordSyncConfig),
    Rollup(cutover_recon::rollup::RollupConfig),
    Payout {
        config: cutover_recon::payout::PayoutConfig,
        deals: Vec<cutover_recon::Deal>,
    },
}

impl Job {
    /// (required roles, optional roles) the run reads.
    fn roles(&self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Job::Reconcile { .. } | Job::EventFlow(_) | Job::EventMatch(_) => {
                (&["old", "new"], &["crosswalk", "rates"])
            }
            Job::Attribution(_) => (&["new"], &["old", "crosswalk", "rates"]),
            Job::RecordSync(_) => (&["new", "crm"], &[]),
            Job::Rollup(_) => (
                &["old", "new", "old_hierarchy", "new_hierarchy"],
                &["crosswalk", "rates"],
            ),
            Job::Payout { .. } => (
                &["old", "new"],
                &["old_hierarchy", "new_hierarchy", "crosswalk", "rates"],
            ),
        }
    }

    fn reads_events(&self) -> bool {
        matches!(
            self,
            Job::EventFlow(_) | Job::EventMatch(_) | Job::Attribution(_)
        )
    }
}

/// The roles whose sources hold the report data compared (the others are reference data).
const DATA_ROLES: [&str; 2] = ["old", "new"];

/// A side that was read: its role, source, snapshot and rows.
struct Read<'s> {
    role: &'static str,
    source: &'s Source,
    snapshot: i32,
    rows: Vec<Row>,
}

/// What the run brings to the variance register: its non-matching keys with the
/// classifier's proposals (never acceptances), the snapshots it compared, and whether it
/// compared at all (only then do keys it no longer reports converge).
fn register_run(
    check: &str,
    plan: &cutover_plan::Plan,
    window: cutover_sources::Window,
    read: &[Read<'_>],
    result: &CheckResult,
) -> RegisterRun {
    let vocabulary = plan.vocabulary();
    let compared = matches!(
        result.outcome,
        Outcome::Pass | Outcome::Warn | Outcome::Fail
    );
    let sightings = if compared {
        register::sightings(check, &result.findings, |m| vocabulary.is_money(m))
    } else {
        Vec::new()
    };
    let proposals = register::propose(window.to, &sightings, &result.findings, |m| {
        vocabulary
            .kind(m)
            .unwrap_or(cutover_plan::MetricKind::Count)
    });
    let items = sightings
        .into_iter()
        .zip(proposals)
        .map(|(sighting, p)| {
            let (proposed, group) = match p {
                Some((p, group)) => (
                    Some(Proposed {
                        category: p.category.as_str().to_string(),
                        confidence: p.confidence.to_string(),
                        evidence: serde_json::to_value(&p.evidence).unwrap_or_default(),
                    }),
                    Some(group),
                ),
                None => (None, None),
            };
            RegisterItem {
                sighting,
                proposed,
                group,
            }
        })
        .collect();
    RegisterRun {
        check: check.to_string(),
        from: window.from,
        to: window.to,
        items,
        snapshots: read.iter().map(|r| r.snapshot).collect(),
        compared,
    }
}

/// The source the check names for `r`, if it names one.
fn role<'s>(check: &Check, sources: &'s [Source], r: &str) -> Result<Option<&'s Source>, RunError> {
    let Some((_, id)) = check.sources.iter().find(|(role, _)| role == r) else {
        return Ok(None);
    };
    sources
        .iter()
        .find(|s| &s.id == id)
        .map(Some)
        .ok_or_else(|| RunError::error(format!("error: source \"{id}\" is not in the plan")))
}

fn evidence(read: &[Read<'_>], what: &str, counts: &[usize]) -> String {
    read.iter()
        .zip(counts)
        .map(|(r, n)| {
            format!(
                "{} {} snapshot #{} ({n} {what})",
                r.role, r.source.id, r.snapshot
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The crosswalk and rate table a check reads beside its sides.
struct Refs {
    crosswalk: PartnerCrosswalk,
    rates: Option<RateTable>,
}

/// `max_rate_gap_days` of the check, or the default.
fn max_rate_gap(config: &CheckConfig) -> u32 {
    match config {
        CheckConfig::Reconcile(r) => r.max_rate_gap_days,
        CheckConfig::EventMatch(m) => m.max_rate_gap_days,
        _ => None,
    }
    .unwrap_or(reference::DEFAULT_MAX_RATE_GAP_DAYS)
}

/// The rows of a reference role, all of the kind it must hold; `Err` names the first
/// other row.
fn reference_rows<'r, T>(
    r: &'r Read<'_>,
    kind: &str,
    pick: impl Fn(&'r Row) -> Option<&'r T>,
) -> Result<Vec<&'r T>, String> {
    r.rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            pick(row).ok_or_else(|| {
                format!(
                    "{} source \"{}\" snapshot #{} row {}: a {} row, not a {kind} row",
                    r.role,
                    r.source.id,
                    r.snapshot,
                    i + 1,
                    row.kind_name()
                )
            })
        })
        .collect()
}

/// Builds the crosswalk (identity on both sides when the check names none: ids are then
/// compared as they are) and the rate table from the reference roles that were read.
fn reference(read: &[Read<'_>], currency: &str, max_gap: u32) -> Result<Refs, String> {
    let mut refs = Refs {
        crosswalk: PartnerCrosswalk::new([])
            .with_identity(System::Old)
            .with_identity(System::New),
        rates: None,
    };
    for r in read {
        match r.role {
            "crosswalk" => {
                let rows = reference_rows(r, "crosswalk", |row| match row {
                    Row::Crosswalk(c) => Some(c),
                    _ => None,
                })?;
                let rows: Vec<CrosswalkRow> = rows.into_iter().cloned().collect();
                refs.crosswalk = reference::crosswalk(&r.source.id, &rows)?;
            }
            "rates" => {
                let rows = reference_rows(r, "rates", |row| match row {
                    Row::Rate(c) => Some(c),
                    _ => None,
                })?;
                let rows: Vec<RateRow> = rows.into_iter().cloned().collect();
                refs.rates = Some(reference::rate_table(
                    &r.source.id,
                    currency,
                    &rows,
                    max_gap,
                )?);
            }
            _ => {}
        }
    }
    Ok(refs)
}

/// The mapping findings' codes and counts, for the reason (`2 unmapped_partner, 1 rate_gap`).
fn mapping_note(findings: &[Finding]) -> Option<String> {
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        *codes.entry(f.code).or_default() += 1;
    }
    (!codes.is_empty()).then(|| {
        codes
            .iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Old rows, new rows, and the findings of mapping them.
type Normalised = (Vec<Aggregate>, Vec<Aggregate>, Vec<Finding>);

/// The old and new sides' aggregates, partners mapped through the crosswalk and money
/// converted with the rates, with the mapping stage's findings; `Err` names a value
/// beyond the decimal range.
fn normalised(read: &[Read<'_>], refs: &Refs) -> Result<Normalised, String> {
    let rows_of = |role: &str| -> &[Row] {
        read.iter()
            .find(|r| r.role == role)
            .map(|r| r.rows.as_slice())
            .unwrap_or_default()
    };
    let normalise = |system, rows: &[Row]| {
        let aggregates: Vec<Aggregate> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Aggregate(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        Normaliser {
            system,
            crosswalk: &refs.crosswalk,
            rates: refs.rates.as_ref(),
        }
        .aggregates(&aggregates)
    };
    let mapped = normalise(System::Old, rows_of("old"))
        .and_then(|old| normalise(System::New, rows_of("new")).map(|new| (old, new)));
    let ((o, mut unmapped), (n, un)) = mapped?;
    unmapped.extend(un);
    Ok((o, n, unmapped))
}

fn reconcile(
    read: &[Read<'_>],
    refs: &Refs,
    config: &cutover_recon::reconcile::ReconcileConfig,
    rate_table: &Option<String>,
) -> (CheckResult, String) {
    let counts: Vec<usize> = read.iter().map(|r| r.rows.len()).collect();
    let (o, n, unmapped) = match normalised(read, refs) {
        Ok(m) => m,
        Err(e) => {
            return (
                CheckResult::new(Outcome::Error, e, Vec::new()),
                evidence(read, "rows", &counts),
            );
        }
    };
    let gaps = unmapped.iter().filter(|f| f.code == "rate_gap").count();
    let mut result = cutover_recon::reconcile::reconcile(&o, &n, unmapped, config);
    if gaps > 0 {
        result.reason.push_str(&format!(
            ", {gaps} rate_gap (a rate older than its carry-forward limit)"
        ));
    }
    match (&refs.rates, rate_table) {
        (Some(t), _) => result
            .reason
            .push_str(&format!("; money converted into {} with rates of {}", t.base, t.name)),
        (None, Some(table)) => result.reason.push_str(&format!(
            "; money compared as reported (rate table \"{table}\" names no rates: add `rates: SOURCE` to the check's sources)"
        )),
        (None, None) => {}
    }
    (result, evidence(read, "rows", &counts))
}

/// The events of a side that occurred within the window's days in its source's time zone,
/// and how many fell outside; `Err` when the rows are not events.
fn window_events(
    r: &Read<'_>,
    window: cutover_sources::Window,
) -> Result<(Vec<Event>, usize), String> {
    let aggregates = r
        .rows
        .iter()
        .filter(|row| matches!(row, Row::Aggregate(_)))
        .count();
    if aggregates > 0 {
        return Err(format!(
            "{} source {} snapshot #{} holds {aggregates} daily aggregate rows, not events",
            r.role, r.source.id, r.snapshot
        ));
    }
    let tz = r.source.timezone;
    let mut outside = 0;
    let mut out = Vec::new();
    for row in &r.rows {
        if let Row::Event(e) = row {
            let day = e.occurred_at.with_timezone(&tz).date_naive();
            if day < window.from || day > window.to {
                outside += 1;
            } else {
                out.push(e.clone());
            }
        }
    }
    Ok((out, outside))
}

/// The end of the window (midnight after its last day in `source`'s zone), or now if
/// that is earlier: freshness is judged at the end of the data, not at the time of the run.
fn window_end(source: &Source, window: cutover_sources::Window) -> DateTime<Utc> {
    let end = window
        .to
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|n| source.timezone.from_local_datetime(&n).earliest())
        .map(|t| t.with_timezone(&Utc));
    let now = Utc::now();
    end.map_or(now, |e| e.min(now))
}

/// Runs an event-level kind on the sides that were read.
fn events(
    job: &Job,
    read: &[Read<'_>],
    refs: &Refs,
    window: cutover_sources::Window,
) -> (CheckResult, String) {
    let mut by_role: BTreeMap<&str, Vec<Event>> = BTreeMap::new();
    let mut counts_by_role: BTreeMap<&str, usize> = BTreeMap::new();
    let mut outside = Vec::new();
    let mut mapping = Vec::new();
    for r in read.iter().filter(|r| DATA_ROLES.contains(&r.role)) {
        match window_events(r, window) {
            Ok((evs, out)) => {
                if evs.is_empty() {
                    let more = if out > 0 {
                        format!(" ({out} outside it)")
                    } else {
                        String::new()
                    };
                    return (
                        CheckResult::inconclusive(format!(
                            "{} source {} (snapshot #{}) has no events in {}..{}{more}; nothing to compare",
                            r.role, r.source.id, r.snapshot, window.from, window.to
                        )),
                        String::new(),
                    );
                }
                if out > 0 {
                    outside.push(format!(
                        "{out} {} events outside the window left out",
                        r.role
                    ));
                }
                counts_by_role.insert(r.role, evs.len());
                let system = if r.role == "old" {
                    System::Old
                } else {
                    System::New
                };
                let normaliser = Normaliser {
                    system,
                    crosswalk: &refs.crosswalk,
                    rates: refs.rates.as_ref(),
                };
                match normaliser.events(&evs, r.source.timezone) {
                    Ok((evs, found)) => {
                        mapping.extend(found);
                        by_role.insert(r.role, evs);
                    }
                    Err(e) => {
                        return (
                            CheckResult::new(Outcome::Error, e, Vec::new()),
                            String::new(),
                        );
                    }
                }
            }
            Err(e) => {
                return (
                    CheckResult::new(Outcome::Error, e, Vec::new()),
                    String::new(),
                );
            }
        }
    }
    let none = Vec::new();
    let old = by_role.get("old").unwrap_or(&none);
    let new = by_role.get("new").unwrap_or(&none);
    let mut result = match job {
        Job::EventFlow(cfg) => {
            let now = read
                .iter()
                .find(|r| r.role == "new")
                .map_or_else(Utc::now, |r| window_end(r.source, window));
            cutover_recon::event_flow::event_flow(old, new, now, cfg)
        }
        Job::EventMatch(cfg) => {
            let mut r = cutover_recon::event_match::event_match(old, new, cfg);
            let currencies: BTreeSet<&str> = old
                .iter()
                .chain(new)
                .filter(|e| e.amount.is_some())
                .filter_map(|e| e.currency.as_deref())
                .collect();
            if currencies.len() > 1 && refs.rates.is_none() {
                r.reason.push_str(&format!(
                    "; amounts compared as reported in {} (no rate source yet)",
                    currencies.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            r
        }
        Job::Attribution(cfg) => cutover_recon::attribution::attribution(old, new, cfg),
        _ => unreachable!("only event kinds read events"),
    };
    if let Some(note) = mapping_note(&mapping) {
        // Events whose partner or amount could not be mapped are compared as reported;
        // the run says so and is at least a warning, never a clean pass.
        result
            .reason
            .push_str(&format!("; {note} (compared as reported)"));
        result.outcome = worst(result.outcome, Outcome::Warn);
        result.findings.extend(mapping);
    }
    if let Some(t) = &refs.rates {
        result.reason.push_str(&format!(
            "; amounts converted into {} with rates of {}",
            t.base, t.name
        ));
    }
    if !outside.is_empty() {
        result.reason.push_str(&format!("; {}", outside.join(", ")));
    }
    // Reference roles: their rows; data roles: the events of the window.
    let counts: Vec<usize> = read
        .iter()
        .map(|r| {
            by_role
                .get(r.role)
                .map_or(r.rows.len(), |_| counts_by_role[r.role])
        })
        .collect();
    (result, evidence(read, "events", &counts))
}

/// A side's rows: pulled now (and stored as a snapshot), or the window's latest complete
/// snapshot with `--reuse`.
async fn side(
    store: &Store,
    source: &Source,
    window: cutover_sources::Window,
    reuse: bool,
    opts: &PullOptions,
) -> Result<Side, RunError> {
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
        match crate::pull::pull_and_store(store, source, window, opts).await {
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
