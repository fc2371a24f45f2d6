//! End-to-end: calendar freezes through the CLI. Inside a plan-declared freeze window
//! (days in the plan's zone, here UTC+14 so the plan's day is not the UTC day for most
//! of it) `advance` and `rollback` are refused with the freeze named, exit 3 and logged;
//! a plan whose freeze is over lets them through. Also `clean_days:`: a stabilization
//! gate counting the report days whose scheduled check passed with no new material
//! variance, refused with the unclean day named until the streak is long enough.

use std::process::{Command, Output};

use chrono::{Days, FixedOffset, NaiveDate, Utc};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn new(files: &[(&str, &str)]) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let env = Env { dir, db };
        env.ok(&["start", "plan.yaml", "--as", "lead"]);
        env
    }

    fn write(&self, name: &str, body: &str) {
        std::fs::write(self.dir.path().join(name), body).unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env("CUTOVER_DATABASE_URL", &self.db)
            .output()
            .expect("run cutover")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        text(&o)
    }

    fn refused(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o));
        text(&o)
    }
}

/// Today in the plan's zone (Pacific/Kiritimati: UTC+14 all year, no DST).
fn kiritimati_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&FixedOffset::east_opt(14 * 3600).unwrap())
        .date_naive()
}

fn freeze_plan(from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "migration: freeze
timezone: Pacific/Kiritimati
currency: EUR
layers:
  finance: {{ description: Finance }}
people:
  - {{ id: lead, name: Lead, email: lead@example.com, lead: true, layers: [finance] }}
freezes:
  - {{ id: payout_run, from: {from}, to: {to}, reason: monthly payout run }}
phases:
  - id: one
    goal: One
    owners: [finance]
  - id: two
    goal: Two
    owners: [finance]
"
    )
}

#[test]
fn no_transition_inside_a_freeze_window_of_the_plans_days() {
    let today = kiritimati_today();
    let env = Env::new(&[("plan.yaml", &freeze_plan(today, today))]);

    let r = env.refused(&["advance", "--as", "lead", "--from", "one"]);
    let next = today + Days::new(1);
    assert!(
        r.contains(&format!(
            "refused: {today} is inside freeze payout_run ({today} to {today}, monthly payout run): no advance until {next}"
        )),
        "{r}"
    );

    // The freeze ended yesterday: the advance goes through.
    let yesterday = today - Days::new(1);
    env.write(
        "plan2.yaml",
        &freeze_plan(yesterday - Days::new(3), yesterday),
    );
    env.ok(&["plan", "apply", "plan2.yaml", "--as", "lead"]);
    let out = env.ok(&["advance", "--as", "lead", "--from", "one"]);
    assert!(out.contains("advanced from one to two"), "{out}");

    // A freeze from today on blocks the rollback too.
    env.write("plan3.yaml", &freeze_plan(today, today + Days::new(2)));
    env.ok(&["plan", "apply", "plan3.yaml", "--as", "lead"]);
    let r = env.refused(&[
        "rollback",
        "--as",
        "lead",
        "--to",
        "one",
        "--reason",
        "numbers off",
    ]);
    assert!(
        r.contains("inside freeze payout_run") && r.contains("no rollback until"),
        "{r}"
    );

    // Both refusals are in the verified log.
    let h = env.ok(&["history", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&h).unwrap();
    let refused: Vec<&str> = entries
        .iter()
        .filter(|e| e["result"] == "refused")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["advance", "rollback"]);
    assert!(env.ok(&["history", "verify"]).starts_with("ok:"));
}

const CLEAN_PLAN: &str = "migration: clean
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
sources:
  - { id: old, system: old, rows: aggregate, file: { path: old.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { ftd_count: ftd_count } }
  - { id: new, system: new, rows: aggregate, file: { path: new.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { ftd_count: ftd_count } }
checks:
  - { id: recon, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new } }
phases:
  - id: stabilization
    goal: Watch
    owners: [bi]
    exit:
      - { id: recon_ran, check: recon, outcome: [pass, warn, fail] }
      - { id: three_clean_days, clean_days: 3 }
  - id: done
    goal: Done
    owners: [bi]
";

/// Every day matches except 2026-10-02, where the new side lost an FTD.
const OLD: &str = "partner,day,ftd_count,currency
P1,2026-10-01,2,EUR
P1,2026-10-02,3,EUR
P1,2026-10-03,1,EUR
P1,2026-10-04,4,EUR
P1,2026-10-05,2,EUR
";
const NEW: &str = "partner,day,ftd_count,currency
P1,2026-10-01,2,EUR
P1,2026-10-02,2,EUR
P1,2026-10-03,1,EUR
P1,2026-10-04,4,EUR
P1,2026-10-05,2,EUR
";

#[test]
fn clean_days_counts_report_days_whose_checks_passed_without_new_material_variance() {
    let env = Env::new(&[
        ("plan.yaml", CLEAN_PLAN),
        ("old.csv", OLD),
        ("new.csv", NEW),
    ]);
    let run_day = |day: &str| {
        let o = env.run(&["check", "run", "recon", "--from", day, "--to", day]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o));
    };
    let advance = || env.run(&["advance", "--as", "lead", "--from", "stabilization"]);

    let o = advance();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("0 of 3 clean days: no run of recon since the phase was entered"),
        "{}",
        text(&o)
    );

    for day in ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"] {
        run_day(day);
    }
    let o = advance();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = text(&o);
    assert!(
        err.contains("stabilization/three_clean_days [bi]: 2 of 3 clean days up to 2026-10-04; 2026-10-02 is not clean: recon fail"),
        "{err}"
    );
    assert!(err.contains("new material variance #"), "{err}");

    // A third clean day after the bad one completes the streak.
    run_day("2026-10-05");
    let status = env.ok(&["status", "--json"]);
    assert!(
        status.contains("3 clean days (2026-10-03 to 2026-10-05): recon passed"),
        "{status}"
    );
    let out = env.ok(&["advance", "--as", "lead", "--from", "stabilization"]);
    assert!(out.contains("advanced from stabilization to done"), "{out}");
}
