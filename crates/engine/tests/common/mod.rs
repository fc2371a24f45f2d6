//! Shared fixture for the engine's integration tests: one plan built as a struct literal (no
//! YAML loader), fixed instants, and short command builders.
//!
//! The plan, zone Europe/Berlin:
//!
//! | phase          | exit conditions                                                              |
//! | -------------- | ---------------------------------------------------------------------------- |
//! | discovery      | `disc_links` (manual links: pass), `disc_signoff` (affiliate)                 |
//! | setup          | `setup_events` (scheduled events: pass/warn, 2 in a row, within 1d), `setup_min` (2d) |
//! | parallel       | `par_either` = any(`par_payout` (payout: pass, 3 in a row, within 2d),        |
//! |                |   `par_backup` = all(`par_signoff` (finance, bi), `par_totals` (totals: pass/warn, within 12h))), |
//! |                | `par_min` (1d)                                                               |
//! | stabilization  | `stab_all` = all(`stab_links` (links: pass, 2 in a row, within 1d), `stab_signoff` (finance)) |
//!
//! People: `lena` (lead, no layer), `fred` (lead, finance), `alice` (affiliate), `pete`
//! (product), `fiona` (finance), `bob` (bi), `olga` (nobody's layer).

#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use cutover_engine::{CheckRun, Command, Decision, Effect, Facts, MigrationState, Status, Visit};
use cutover_plan::{
    Check, CheckKind, Condition, ConditionKind, Layer, Outcome, Person, Phase, Plan, Schedule,
    ScheduledKind,
};

pub const PHASES: [&str; 4] = ["discovery", "setup", "parallel", "stabilization"];
pub const LAYERS: [&str; 4] = ["affiliate", "product", "finance", "bi"];
pub const PEOPLE: [&str; 7] = ["lena", "fred", "alice", "pete", "fiona", "bob", "olga"];
pub const CHECKS: [&str; 4] = ["links", "events", "payout", "totals"];
pub const CONDITIONS: [&str; 13] = [
    "disc_links",
    "disc_signoff",
    "setup_events",
    "setup_min",
    "par_either",
    "par_payout",
    "par_backup",
    "par_signoff",
    "par_totals",
    "par_min",
    "stab_all",
    "stab_links",
    "stab_signoff",
];

fn s(v: &str) -> String {
    v.to_string()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn person(id: &str, lead: bool, layers: &[&str]) -> Person {
    Person {
        id: s(id),
        name: id.to_uppercase(),
        email: format!("{id}@example.com"),
        lead,
        layers: strings(layers),
    }
}

fn manual(id: &str, layer: &str) -> Check {
    Check {
        id: s(id),
        layer: s(layer),
        description: format!("{id} by hand"),
        kind: CheckKind::Manual,
        schedule: None,
        sources: vec![],
    }
}

fn cond(id: &str, owners: &[&str], kind: ConditionKind) -> Condition {
    Condition {
        id: s(id),
        owners: strings(owners),
        kind,
    }
}

fn outcome(
    id: &str,
    owner: &str,
    check: &str,
    outcomes: &[Outcome],
    consecutive: u32,
    fresh_within: Option<TimeDelta>,
) -> Condition {
    cond(
        id,
        &[owner],
        ConditionKind::CheckOutcome {
            check: s(check),
            outcomes: outcomes.to_vec(),
            consecutive,
            fresh_within,
        },
    )
}

fn signoff(id: &str, layers: &[&str]) -> Condition {
    cond(
        id,
        layers,
        ConditionKind::SignOff {
            layers: strings(layers),
        },
    )
}

pub fn plan() -> Plan {
    use Outcome::{Pass, Warn};
    Plan {
        migration: s("acme-to-newtrack"),
        timezone: chrono_tz::Europe::Berlin,
        currency: s("EUR"),
        layers: LAYERS
            .iter()
            .map(|l| Layer {
                id: s(l),
                description: format!("the {l} team"),
            })
            .collect(),
        people: vec![
            person("lena", true, &[]),
            person("fred", true, &["finance"]),
            person("alice", false, &["affiliate"]),
            person("pete", false, &["product"]),
            person("fiona", false, &["finance"]),
            person("bob", false, &["bi"]),
            person("olga", false, &[]),
        ],
        metrics: vec![],
        variance_policy: Default::default(),
        inventory: Vec::new(),
        freezes: Vec::new(),
        checks: vec![
            manual("links", "affiliate"),
            Check {
                id: s("events"),
                layer: s("product"),
                description: s("test events flow"),
                kind: CheckKind::Scheduled {
                    kind: ScheduledKind::EventFlow,
                    params: vec![],
                },
                schedule: Some(Schedule {
                    expression: s("0 7 * * *"),
                    cron: "0 0 7 * * *".parse().expect("cron expression"),
                }),
                sources: vec![],
            },
            manual("payout", "finance"),
            manual("totals", "bi"),
        ],
        phases: vec![
            Phase {
                id: s("discovery"),
                goal: s("capture current logic"),
                owners: strings(&["affiliate"]),
                exit: vec![
                    outcome("disc_links", "affiliate", "links", &[Pass], 1, None),
                    signoff("disc_signoff", &["affiliate"]),
                ],
            },
            Phase {
                id: s("setup"),
                goal: s("connect integrations"),
                owners: strings(&["product"]),
                exit: vec![
                    outcome(
                        "setup_events",
                        "product",
                        "events",
                        &[Pass, Warn],
                        2,
                        Some(TimeDelta::days(1)),
                    ),
                    cond(
                        "setup_min",
                        &["product"],
                        ConditionKind::MinDuration(TimeDelta::days(2)),
                    ),
                ],
            },
            Phase {
                id: s("parallel"),
                goal: s("compare old and new"),
                owners: strings(&["finance", "bi"]),
                exit: vec![
                    cond(
                        "par_either",
                        &["finance", "bi"],
                        ConditionKind::Any(vec![
                            outcome(
                                "par_payout",
                                "finance",
                                "payout",
                                &[Pass],
                                3,
                                Some(TimeDelta::days(2)),
                            ),
                            cond(
                                "par_backup",
                                &["finance", "bi"],
                                ConditionKind::All(vec![
                                    signoff("par_signoff", &["finance", "bi"]),
                                    outcome(
                                        "par_totals",
                                        "bi",
                                        "totals",
                                        &[Pass, Warn],
                                        1,
                                        Some(TimeDelta::hours(12)),
                                    ),
                                ]),
                            ),
                        ]),
                    ),
                    cond(
                        "par_min",
                        &["finance", "bi"],
                        ConditionKind::MinDuration(TimeDelta::days(1)),
                    ),
                ],
            },
            Phase {
                id: s("stabilization"),
                goal: s("watch live performance"),
                owners: strings(&["affiliate", "finance"]),
                exit: vec![cond(
                    "stab_all",
                    &["affiliate", "finance"],
                    ConditionKind::All(vec![
                        outcome(
                            "stab_links",
                            "affiliate",
                            "links",
                            &[Pass],
                            2,
                            Some(TimeDelta::days(1)),
                        ),
                        signoff("stab_signoff", &["finance"]),
                    ]),
                )],
            },
        ],
    }
}

/// Monday 2025-03-03 08:00 UTC (09:00 in Berlin) plus `hours`.
pub fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 8, 0, 0).unwrap() + TimeDelta::hours(hours)
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A migration that entered `phase` at `entered_at` (built directly, not via decide).
pub fn in_phase(phase: &str, entered_at: DateTime<Utc>) -> MigrationState {
    MigrationState {
        status: Status::Active,
        phase: Some(s(phase)),
        entered_at: Some(entered_at),
        history: vec![Visit {
            phase: s(phase),
            entered_at,
            via: s("start"),
            by: None,
            reason: None,
        }],
        signoffs: vec![],
        waivers: vec![],
    }
}

/// A scheduled run (no person).
pub fn run(check: &str, outcome: Outcome, recorded_at: DateTime<Utc>) -> CheckRun {
    CheckRun {
        check: s(check),
        outcome,
        recorded_at,
        recorded_by: None,
        detail: None,
        window: None,
    }
}

pub fn facts(runs: Vec<CheckRun>) -> Facts {
    Facts {
        check_runs: runs,
        ..Facts::default()
    }
}

/// The check runs a decision asks the caller to store.
pub fn recorded_runs(d: &Decision) -> Vec<CheckRun> {
    d.effects
        .iter()
        .filter_map(|e| match e {
            Effect::RecordCheckRun { run } => Some(run.clone()),
            _ => None,
        })
        .collect()
}

pub fn start(by: &str) -> Command {
    Command::Start { by: s(by) }
}

pub fn advance(by: &str, from: &str) -> Command {
    Command::Advance {
        by: s(by),
        from: s(from),
        to: None,
        reason: None,
    }
}

pub fn advance_to(by: &str, from: &str, to: &str) -> Command {
    Command::Advance {
        by: s(by),
        from: s(from),
        to: Some(s(to)),
        reason: Some(s("skipping ahead")),
    }
}

pub fn rollback(by: &str, to: &str, reason: &str) -> Command {
    Command::Rollback {
        by: s(by),
        to: s(to),
        reason: s(reason),
    }
}

pub fn sign_off(by: &str, layer: &str) -> Command {
    Command::SignOff {
        by: s(by),
        layer: s(layer),
        comment: None,
    }
}

pub fn revoke(by: &str, layer: &str) -> Command {
    Command::RevokeSignOff {
        by: s(by),
        layer: s(layer),
        reason: Some(s("changed my mind")),
    }
}

pub fn waive(by: &str, condition: &str, justification: &str, expires: NaiveDate) -> Command {
    Command::Waive {
        by: s(by),
        condition: s(condition),
        justification: s(justification),
        expires,
    }
}

pub fn record(by: &str, check: &str, outcome: Outcome) -> Command {
    Command::RecordOutcome {
        by: s(by),
        check: s(check),
        outcome,
        detail: None,
    }
}

pub fn abort(by: &str, reason: &str) -> Command {
    Command::Abort {
        by: s(by),
        reason: s(reason),
    }
}

pub fn complete(by: &str) -> Command {
    Command::Complete { by: s(by) }
}
