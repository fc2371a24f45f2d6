//! End-to-end: `cutover check run` on file sources fills the variance register, and
//! `cutover variance ...` works it: list, explain, accept by the owning layer only (money:
//! finance; counts: the check's layer), never by the explainer, refusals exit 3 and change
//! nothing, re-running a window never duplicates, and a key that matches later converges.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

const PLAN: &str = "migration: variance-register
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
  finance: { description: Finance }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
  - { id: bea, name: Bea, email: bea@example.com, layers: [bi] }
  - { id: bo, name: Bo, email: bo@example.com, layers: [bi] }
  - { id: fiona, name: Fiona, email: fiona@example.com, layers: [finance] }
sources:
  - { id: old, system: old, rows: aggregate, file: { path: old.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { ftd_count: ftd_count, ftd_amount: ftd_amount } }
  - { id: new, system: new, rows: aggregate, file: { path: new.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { ftd_count: ftd_count, ftd_amount: ftd_amount } }
checks:
  - { id: recon, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new } }
phases:
  - id: parallel_validation
    goal: Compare
    owners: [bi]
    exit:
      - { id: recon_ok, check: recon, outcome: pass }
  - id: done
    goal: Done
    owners: [bi]
    exit:
      - { id: settle, min_duration: 1d }
";

const OLD: &str = "partner,day,ftd_count,ftd_amount,currency
P1,2026-10-01,2,100.00,EUR
P1,2026-10-02,1,20.00,EUR
P2,2026-10-01,3,30.00,EUR
";

/// P1's amount on Oct 1 is 10.00 lower; P2's count on Oct 1 is 1 lower.
const NEW: &str = "partner,day,ftd_count,ftd_amount,currency
P1,2026-10-01,2,90.00,EUR
P1,2026-10-02,1,20.00,EUR
P2,2026-10-01,2,30.00,EUR
";

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
        std::fs::write(dir.path().join("old.csv"), OLD).unwrap();
        std::fs::write(dir.path().join("new.csv"), NEW).unwrap();
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let env = Env { dir, db };
        let o = env.run(&["start", "plan.yaml", "--as", "lead"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        env
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env("CUTOVER_DATABASE_URL", &self.db)
            .output()
            .expect("run cutover")
    }

    fn check(&self) -> Output {
        self.run(&[
            "check",
            "run",
            "recon",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
        ])
    }

    fn list(&self) -> Vec<serde_json::Value> {
        let o = self.run(&["variance", "list", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
            .as_array()
            .unwrap()
            .clone()
    }

    /// The id of the variance of (partner, metric).
    fn id(&self, partner: &str, metric: &str) -> String {
        self.list()
            .iter()
            .find(|v| v["partner"] == partner && v["metric"] == metric)
            .unwrap_or_else(|| panic!("no variance {partner} {metric}"))["id"]
            .to_string()
    }

    fn status(&self, id: &str) -> String {
        let v = self.list();
        let v = v
            .iter()
            .find(|v| v["id"].as_i64() == id.parse::<i64>().ok())
            .unwrap();
        v["status"].as_str().unwrap().to_string()
    }

    fn refused(&self, args: &[&str], want: &str) {
        let before = self.list();
        let o = self.run(args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {t}");
        assert!(t.contains("refused") && t.contains(want), "{args:?}: {t}");
        assert!(t.contains("nothing was changed"), "{t}");
        assert_eq!(self.list(), before, "{args:?} changed the register");
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_check_run_fills_the_register_and_a_rerun_never_duplicates() {
    let env = Env::new();
    let o = env.check();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let list = env.list();
    assert_eq!(list.len(), 2, "{list:#?}");
    let amount = list.iter().find(|v| v["metric"] == "ftd_amount").unwrap();
    assert_eq!(amount["check"], "recon");
    assert_eq!(amount["partner"], "P1");
    assert_eq!(amount["day"], "2026-10-01");
    assert_eq!(amount["old"], "100.00");
    assert_eq!(amount["new"], "90.00");
    assert_eq!(amount["delta"], "-10.00");
    assert_eq!(amount["money_impact"], "10.00");
    assert_eq!(amount["status"], "open");
    assert!(amount["explanation"].is_null());
    assert!(amount.get("proposed").is_some());
    let count = list.iter().find(|v| v["metric"] == "ftd_count").unwrap();
    assert_eq!(count["partner"], "P2");
    assert_eq!(count["delta"], "-1");
    assert!(count["money_impact"].is_null());

    let o = env.check();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let again = env.list();
    assert_eq!(again.len(), 2, "a re-run duplicated: {again:#?}");
    assert_eq!(
        again.iter().map(|v| v["id"].clone()).collect::<Vec<_>>(),
        list.iter().map(|v| v["id"].clone()).collect::<Vec<_>>()
    );
    // Filters.
    let o = env.run(&["variance", "list", "--json", "--partner", "P2"]);
    let only: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(only.as_array().unwrap().len(), 1);
    let o = env.run(&["variance", "list", "--status", "bogus"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Show carries the owner and the history.
    let id = env.id("P1", "ftd_amount");
    let o = env.run(&["variance", "show", &id, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["owner"], "finance");
    assert_eq!(shown["runs"].as_array().unwrap().len(), 2);
    assert_eq!(shown["events"][0]["actor"], "check run");
}

#[test]
fn only_the_owning_layer_accepts_and_never_the_explainer() {
    let env = Env::new();
    env.check();
    let money = env.id("P1", "ftd_amount");
    let count = env.id("P2", "ftd_count");

    // Bad input: refused, exit 3, nothing changed.
    env.refused(
        &["variance", "accept", &money, "--as", "fiona"],
        "explained",
    );
    env.refused(
        &[
            "variance",
            "explain",
            &money,
            "--category",
            "vibes",
            "--note",
            "x",
            "--as",
            "bea",
        ],
        "not a category",
    );
    env.refused(
        &[
            "variance",
            "explain",
            &money,
            "--category",
            "fx",
            "--note",
            "x",
            "--as",
            "bea",
            "--expires",
            "2020-01-01",
        ],
        "in the past",
    );
    env.refused(
        &[
            "variance",
            "explain",
            "9999",
            "--category",
            "fx",
            "--note",
            "x",
            "--as",
            "bea",
        ],
        "no variance #9999",
    );
    env.refused(
        &[
            "variance",
            "explain",
            &money,
            "--category",
            "fx",
            "--note",
            "x",
            "--as",
            "nobody",
        ],
        "not a person",
    );

    let o = env.run(&[
        "variance",
        "explain",
        &money,
        "--category",
        "rounding",
        "--note",
        "fee rounding",
        "--as",
        "bea",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(env.status(&money), "explained");
    // Money is finance's: bi people and a lead outside finance are refused.
    env.refused(
        &["variance", "accept", &money, "--as", "bo"],
        "finance layer",
    );
    env.refused(
        &["variance", "accept", &money, "--as", "lead"],
        "a lead accepts only",
    );
    let o = env.run(&["variance", "accept", &money, "--as", "fiona"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(env.status(&money), "accepted");
    let v = env.list();
    let v = v
        .iter()
        .find(|v| v["id"].as_i64() == money.parse::<i64>().ok())
        .unwrap();
    assert_eq!(v["explanation"]["category"], "rounding");
    assert_eq!(v["explanation"]["by"], "bea");
    assert_eq!(v["accepted_by"], "fiona");
    // Closed: explaining again is refused until reopened.
    env.refused(
        &[
            "variance",
            "explain",
            &money,
            "--category",
            "fx",
            "--note",
            "x",
            "--as",
            "bea",
        ],
        "closed",
    );
    let o = env.run(&[
        "variance", "reopen", &money, "--as", "fiona", "--note", "recheck",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(env.status(&money), "open");

    // Counts are the check's layer's (bi); the explainer may not accept.
    let o = env.run(&[
        "variance",
        "explain",
        &count,
        "--category",
        "late_data",
        "--note",
        "late",
        "--as",
        "bea",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    env.refused(&["variance", "accept", &count, "--as", "fiona"], "bi layer");
    env.refused(&["variance", "accept", &count, "--as", "bea"], "two people");
    let o = env.run(&[
        "variance",
        "reject",
        &count,
        "--as",
        "bo",
        "--note",
        "a real loss",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(env.status(&count), "rejected");

    // Every change is kept with who and why.
    let o = env.run(&["variance", "show", &count, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let events: Vec<(String, String)> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["actor"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("seen".to_string(), "check run".to_string()),
            ("explain".into(), "bea".into()),
            ("reject".into(), "bo".into())
        ]
    );
    assert_eq!(shown["events"][2]["why"], "a real loss");
}

#[test]
fn a_key_that_matches_later_converges() {
    let env = Env::new();
    env.check();
    let count = env.id("P2", "ftd_count");
    let money = env.id("P1", "ftd_amount");
    // Late data: P2's missing FTD arrives on the new platform.
    std::fs::write(
        env.dir.path().join("new.csv"),
        NEW.replace("P2,2026-10-01,2,", "P2,2026-10-01,3,"),
    )
    .unwrap();
    let o = env.check();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(env.status(&count), "converged");
    assert_eq!(env.status(&money), "open");
    assert_eq!(env.list().len(), 2);
    env.refused(
        &[
            "variance",
            "explain",
            &count,
            "--category",
            "late_data",
            "--note",
            "x",
            "--as",
            "bea",
        ],
        "closed",
    );
}

#[test]
fn the_statement_names_cause_explainer_and_acceptor() {
    let env = Env::new();
    env.check();
    let money = env.id("P1", "ftd_amount");
    for args in [
        &[
            "variance",
            "explain",
            &money,
            "--category",
            "rounding",
            "--note",
            "fee, rounded",
            "--as",
            "bea",
        ][..],
        &["variance", "accept", &money, "--as", "fiona"][..],
    ] {
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let o = env.run(&["report", "variances", "--format", "csv", "--out", "v.csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let csv = std::fs::read_to_string(env.dir.path().join("v.csv")).unwrap();
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let col = |row: &csv::StringRecord, name: &str| {
        row[header.iter().position(|h| h == name).unwrap()].to_string()
    };
    let p1 = rows.iter().find(|r| col(r, "partner") == "P1").unwrap();
    assert_eq!(col(p1, "delta"), "-10.00");
    assert_eq!(col(p1, "money_impact"), "10.00");
    assert_eq!(col(p1, "cause"), "rounding: fee, rounded");
    assert_eq!(col(p1, "explained_by"), "bea");
    assert_eq!(col(p1, "accepted_by"), "fiona");
    assert!(!col(p1, "accepted_at").is_empty());
    let p2 = rows.iter().find(|r| col(r, "partner") == "P2").unwrap();
    assert_eq!(col(p2, "status"), "open");

    let o = env.run(&["report", "variances", "--format", "md"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("Unexplained (open or rejected): 1 of 2."),
        "{md}"
    );
    assert!(md.contains("| rounding: fee, rounded | "), "{md}");
}
