//! End-to-end: `cutover sim` serves the two platforms, `cutover pull` pulls them with the
//! presets and stores snapshots; a re-pull is a new snapshot; a failing pull is recorded
//! as failed without rows and without secrets in its output.

use std::process::Command;

mod support;
use support::{BIN, start_sim};

const PLAN: &str = "migration: pull-e2e
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
phases:
  - id: discovery
    goal: g
    owners: [bi]
    exit:
      - { id: wait, min_duration: 1d }
sources:
  - { id: old, system: old, preset: everflow }
  - { id: new, system: new, preset: tune }
";

#[test]
fn sim_then_pull_both_platforms_and_re_pull() {
    let (_sim, base) = start_sim();
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, PLAN).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Days::new(10)).to_string();
    let to = (today - chrono::Days::new(4)).to_string();
    let run = |source: &str, key_var: &str, key: &str, url_var: &str, url: &str| {
        Command::new(BIN)
            .args(["pull", source, "--from", &from, "--to", &to, "--plan"])
            .arg(&plan)
            .env("CUTOVER_DATABASE_URL", &db)
            .env(key_var, key)
            .env(url_var, url)
            .output()
            .expect("run pull")
    };
    let out = run(
        "old",
        "EVERFLOW_API_KEY",
        "sim-old-key",
        "EVERFLOW_BASE_URL",
        &format!("{base}/old"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("old: 1050 rows from 210 records, 1 page, "),
        "{stdout}"
    );
    assert!(stdout.contains("snapshot #1 (complete)"), "{stdout}");

    let out = run(
        "new",
        "TUNE_NETWORK_TOKEN",
        "sim-new-key",
        "TUNE_BASE_URL",
        &format!("{base}/new"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("snapshot #2 (complete)"), "{stdout}");

    let out = run(
        "old",
        "EVERFLOW_API_KEY",
        "sim-old-key",
        "EVERFLOW_BASE_URL",
        &format!("{base}/old"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("snapshot #3 (complete)"), "{stdout}");
    assert!(stdout.contains("same rows as snapshot #1"), "{stdout}");

    // A wrong key: HTTP 401, recorded as a failed snapshot, the key never printed.
    let out = run(
        "old",
        "EVERFLOW_API_KEY",
        "wrong-secret-key",
        "EVERFLOW_BASE_URL",
        &format!("{base}/old"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(
        stderr.contains("recorded as failed snapshot #4"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-secret-key"), "{stderr}");

    // An unknown source is a usage error.
    let out = run("nope", "X", "y", "Z", "w");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known: old, new"));
}
