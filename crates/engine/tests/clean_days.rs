//! The `clean_days:` exit condition on facts: days are the report days the runs' windows
//! cover; the latest run covering a day decides it (a re-run replaces a failure); `warn`
//! is not clean; every scheduled check of the phase must cover the day; a material
//! variance first seen in the phase makes its day unclean, one first seen before the
//! phase was entered, or an immaterial one, does not; runs from before the phase do not
//! count.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cutover_engine::{CheckRun, Facts, MigrationState, Status, VarianceFact, Window, current_gate};
use cutover_plan::{Outcome, Plan};
use rust_decimal::Decimal;

const PLAN: &str = r#"
migration: clean
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
checks:
  - { id: recon, layer: bi, kind: reconcile, schedule: "0 7 * * *" }
  - { id: rollup, layer: bi, kind: rollup, schedule: "0 8 * * *" }
variance_policy:
  ftd_amount: { absolute: 5 }
phases:
  - id: stabilization
    goal: Watch
    owners: [bi]
    exit:
      - { id: recon_ran, check: recon, outcome: [pass, warn, fail] }
      - { id: rollup_ran, check: rollup, outcome: [pass, warn, fail] }
      - { id: clean, clean_days: 3 }
  - id: done
    goal: Done
    owners: [bi]
"#;

fn plan() -> Plan {
    cutover_plan::load("plan.yaml", PLAN)
        .unwrap_or_else(|d| panic!("{d:?}"))
        .plan
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn run(check: &str, d: u32, outcome: Outcome, recorded: DateTime<Utc>) -> CheckRun {
    CheckRun {
        check: check.into(),
        outcome,
        recorded_at: recorded,
        recorded_by: None,
        detail: None,
        window: Some(Window {
            from: day(d),
            to: day(d),
        }),
    }
}

/// Both checks pass days 1..=n, each run recorded the morning after its day.
fn passing(n: u32) -> Vec<CheckRun> {
    (1..=n)
        .flat_map(|d| {
            [
                run("recon", d, Outcome::Pass, at(d + 1, 7)),
                run("rollup", d, Outcome::Pass, at(d + 1, 8)),
            ]
        })
        .collect()
}

fn state() -> MigrationState {
    let mut s = MigrationState::new();
    s.status = Status::Active;
    s.phase = Some("stabilization".into());
    s.entered_at = Some(at(1, 0));
    s
}

fn clean(facts: &Facts) -> (bool, String) {
    let g = current_gate(&plan(), &state(), facts, at(20, 0)).unwrap();
    let c = g.conditions.iter().find(|c| c.id == "clean").unwrap();
    (c.satisfied, c.reason.clone())
}

fn variance(id: i32, d: u32, delta: &str, first_seen: DateTime<Utc>) -> VarianceFact {
    VarianceFact {
        id,
        check: "recon".into(),
        partner: "P1".into(),
        day: day(d),
        metric: "ftd_amount".into(),
        status: "open".into(),
        old: Some(Decimal::from(100)),
        delta: delta.parse().unwrap(),
        money_impact: None,
        accepted_layers: Vec::new(),
        expires: None,
        first_seen: Some(first_seen),
    }
}

#[test]
fn three_passing_days_of_every_check_hold() {
    let facts = Facts {
        check_runs: passing(3),
        ..Facts::default()
    };
    assert_eq!(
        clean(&facts),
        (
            true,
            "3 clean days (2026-11-01 to 2026-11-03): recon, rollup passed, no new material variance"
                .to_string()
        )
    );
}

#[test]
fn a_failed_or_warned_day_breaks_the_streak_until_rerun() {
    let mut runs = passing(3);
    runs.push(run("rollup", 2, Outcome::Warn, at(10, 8)));
    let mut facts = Facts {
        check_runs: runs,
        ..Facts::default()
    };
    let (ok, reason) = clean(&facts);
    assert!(!ok);
    assert_eq!(
        reason,
        "1 of 3 clean days up to 2026-11-03; 2026-11-02 is not clean: rollup warn (run of 2026-11-10 08:00 UTC)"
    );
    // A later re-run of the day passes: it replaces the warn.
    facts
        .check_runs
        .push(run("rollup", 2, Outcome::Pass, at(11, 8)));
    assert!(clean(&facts).0, "{}", clean(&facts).1);
}

#[test]
fn every_check_must_cover_the_day() {
    let mut runs = passing(3);
    runs.retain(|r| !(r.check == "recon" && r.window.unwrap().from == day(3)));
    let (ok, reason) = clean(&Facts {
        check_runs: runs,
        ..Facts::default()
    });
    assert!(!ok);
    assert_eq!(
        reason,
        "0 of 3 clean days up to 2026-11-03; 2026-11-03 is not clean: no run of recon covers it"
    );
}

#[test]
fn only_material_variances_first_seen_in_the_phase_count() {
    let mut facts = Facts {
        check_runs: passing(3),
        ..Facts::default()
    };
    // Immaterial (within 5), and material but first seen before the phase: clean.
    facts.variances.push(variance(1, 2, "-3", at(3, 7)));
    facts.variances.push(variance(
        2,
        2,
        "-30",
        Utc.with_ymd_and_hms(2026, 10, 30, 7, 0, 0).unwrap(),
    ));
    assert!(clean(&facts).0, "{}", clean(&facts).1);
    // Material and new: day 2 is not clean.
    facts.variances.push(variance(3, 2, "-30", at(3, 7)));
    let (ok, reason) = clean(&facts);
    assert!(!ok);
    assert_eq!(
        reason,
        "1 of 3 clean days up to 2026-11-03; 2026-11-02 is not clean: new material variance #3 ftd_amount"
    );
}

#[test]
fn runs_before_the_phase_do_not_count() {
    let mut runs = passing(3);
    for r in &mut runs {
        r.recorded_at = Utc.with_ymd_and_hms(2026, 10, 31, 7, 0, 0).unwrap();
    }
    let (ok, reason) = clean(&Facts {
        check_runs: runs,
        ..Facts::default()
    });
    assert!(!ok);
    assert_eq!(
        reason,
        "0 of 3 clean days: no run of recon, rollup since the phase was entered"
    );
}
