//! End-to-end: the `variances:` exit condition through the CLI. A check run fills the
//! register; `advance` is refused while a material variance is unexplained, naming the
//! items, their money impact and their owners (an immaterial one is not named); a
//! variance the plan asks finance and BI to accept stays `explained` until both did; once
//! every material variance is accepted by the right layers, `advance` succeeds. Every
//! variance command and refusal is in the hash-chained log and `history verify` passes.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

const PLAN: &str = "migration: variance-gate
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
variance_policy:
  ftd_amount: { absolute: 5, cap: 100 }
  ftd_count: { owner: bi }
phases:
  - id: parallel_validation
    goal: Compare
    owners: [bi]
    exit:
      - { id: recon_ran, check: recon, outcome: [pass, warn, fail] }
      - { id: understood, variances: { unexplained_material: 0 } }
      - { id: money_by_both, variances: { unexplained_material: 0, metrics: [ftd_amount], accepted_by: [finance, bi] } }
  - id: done
    goal: Done
    owners: [bi]
    exit:
      - { id: settle, min_duration: 1d }
";

const OLD: &str = "partner,day,ftd_count,ftd_amount,currency
P1,2026-10-01,2,100.00,EUR
P2,2026-10-01,3,30.00,EUR
P3,2026-10-01,1,50.00,EUR
";

/// P1's amount is 10.00 lower (material: more than 5), P2's count 1 lower (no threshold:
/// material), P3's amount 1.00 lower (immaterial: within 5, far under the cap).
const NEW: &str = "partner,day,ftd_count,ftd_amount,currency
P1,2026-10-01,2,90.00,EUR
P2,2026-10-01,2,30.00,EUR
P3,2026-10-01,1,49.00,EUR
";

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn new() -> Env {
        Env::with(OLD, NEW)
    }

    fn with(old: &str, new: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
        std::fs::write(dir.path().join("old.csv"), old).unwrap();
        std::fs::write(dir.path().join("new.csv"), new).unwrap();
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let env = Env { dir, db };
        env.ok(&["start", "plan.yaml", "--as", "lead"]);
        let o = env.run(&[
            "check",
            "run",
            "recon",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-01",
        ]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o));
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

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        text(&o)
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

    fn get(&self, partner: &str) -> serde_json::Value {
        self.list()
            .into_iter()
            .find(|v| v["partner"] == partner)
            .unwrap_or_else(|| panic!("no variance of {partner}"))
    }

    fn id(&self, partner: &str) -> String {
        self.get(partner)["id"].to_string()
    }

    fn advance(&self) -> Output {
        self.run(&["advance", "--as", "lead", "--from", "parallel_validation"])
    }

    fn history(&self) -> Vec<serde_json::Value> {
        let o = self.run(&["history", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
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
fn the_gate_blocks_on_unexplained_material_variances_and_opens_once_accepted() {
    let env = Env::new();
    let list = env.list();
    assert_eq!(list.len(), 3, "{list:#?}");
    let p1 = env.get("P1");
    let p2 = env.get("P2");
    let p3 = env.get("P3");
    assert_eq!(p1["material"], true);
    assert_eq!(p1["owner"], "finance");
    assert_eq!(p2["material"], true);
    assert_eq!(p2["owner"], "bi");
    assert_eq!(p3["material"], false, "{p3:#}");
    let (p1, p2, p3) = (env.id("P1"), env.id("P2"), env.id("P3"));

    // The text list shows the unexplained remainder per metric.
    let shown = env.ok(&["variance", "list"]);
    assert!(
        shown.contains(
            "ftd_amount: 2 variances, observed 11.00 EUR, explained 0 EUR, unexplained remainder 11.00 EUR"
        ),
        "{shown}"
    );

    // Refused: the open material items are named with their impact and owners.
    let o = env.advance();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("understood"), "{t}");
    assert!(
        t.contains("2 unexplained material variances (at most 0), money impact 10.00 EUR"),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "#{p1} recon P1 2026-10-01 ftd_amount delta -10.00, impact 10.00 EUR [open; owner finance]"
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "#{p2} recon P2 2026-10-01 ftd_count delta -1 [open; owner bi]"
        )),
        "{t}"
    );
    assert!(
        !t.contains(&format!("#{p3} ")),
        "an immaterial variance was named: {t}"
    );

    for id in [&p1, &p2] {
        env.ok(&[
            "variance",
            "explain",
            id,
            "--category",
            "late_data",
            "--note",
            "late postbacks",
            "--as",
            "bea",
        ]);
    }
    // Finance accepts the money variance: the plan also asks BI, so it stays explained.
    let out = env.ok(&["variance", "accept", &p1, "--as", "fiona"]);
    assert!(out.contains("awaiting acceptance by bi"), "{out}");
    assert_eq!(env.get("P1")["status"], "explained");
    // The same person cannot accept twice; a bi person may not accept twice for bi.
    let o = env.run(&["variance", "accept", &p1, "--as", "fiona"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = env.advance();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("[explained, awaiting bi; owner finance]"), "{t}");

    env.ok(&["variance", "accept", &p1, "--as", "bo"]);
    assert_eq!(env.get("P1")["status"], "accepted");
    let layers: Vec<String> = env.get("P1")["acceptances"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["layers"].as_array().unwrap().clone())
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(layers, ["finance", "bi"]);
    // Still one: the count variance.
    let o = env.advance();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains("1 unexplained material variance (at most 0)"),
        "{t}"
    );
    assert!(!t.contains(&format!("#{p1} ")), "{t}");

    // Finance is not BI: refused and logged.
    let o = env.run(&["variance", "accept", &p2, "--as", "fiona"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains("bi layer") && t.contains("nothing was changed"),
        "{t}"
    );
    env.ok(&["variance", "accept", &p2, "--as", "bo"]);

    let out = env.ok(&["advance", "--as", "lead", "--from", "parallel_validation"]);
    assert!(out.contains("done"), "{out}");

    // Every variance command and refusal is in the log, and the log verifies.
    let kinds: Vec<(String, String)> = env
        .history()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["result"].as_str().unwrap_or_default().to_string(),
            )
        })
        .filter(|(k, _)| k.starts_with("variance_"))
        .collect();
    let want = [
        ("variance_explain", "accepted"),
        ("variance_explain", "accepted"),
        ("variance_accept", "accepted"),
        ("variance_accept", "refused"),
        ("variance_accept", "accepted"),
        ("variance_accept", "refused"),
        ("variance_accept", "accepted"),
    ]
    .map(|(k, r)| (k.to_string(), r.to_string()));
    assert_eq!(kinds, want);
    env.ok(&["history", "verify"]);
}

#[test]
fn a_group_is_accepted_by_each_layer_for_the_members_it_needs() {
    // Two FTDs attributed to P2 instead of P1: the classifier groups the four keys.
    let env = Env::with(
        "partner,day,ftd_count,ftd_amount,currency
P1,2026-10-01,5,500.00,EUR
P2,2026-10-01,3,300.00,EUR
",
        "partner,day,ftd_count,ftd_amount,currency
P1,2026-10-01,3,300.00,EUR
P2,2026-10-01,5,500.00,EUR
",
    );
    let list = env.list();
    assert_eq!(list.len(), 4, "{list:#?}");
    let group = list[0]["group"].as_str().unwrap().to_string();
    assert!(
        list.iter().all(|v| v["group"] == group.as_str()),
        "{list:#?}"
    );
    env.ok(&[
        "variance",
        "explain",
        "--group",
        &group,
        "--category",
        "attribution_swap",
        "--note",
        "deal moved",
        "--as",
        "bea",
    ]);
    // Finance accepts the two amounts (the counts are BI's); the plan asks BI too.
    let out = env.ok(&["variance", "accept", "--group", &group, "--as", "fiona"]);
    assert_eq!(out.matches("awaiting acceptance by bi").count(), 2, "{out}");
    assert!(!out.contains("ftd_count"), "{out}");
    // BI accepts all four: its own counts and its share of the amounts.
    let out = env.ok(&["variance", "accept", "--group", &group, "--as", "bo"]);
    assert_eq!(out.matches("-> accepted by bo").count(), 4, "{out}");
    assert!(env.list().iter().all(|v| v["status"] == "accepted"));
    // Nothing left to accept: refused with a reason, logged.
    let o = env.run(&["variance", "accept", "--group", &group, "--as", "fiona"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    env.ok(&["advance", "--as", "lead", "--from", "parallel_validation"]);
    env.ok(&["history", "verify"]);
}

#[test]
fn a_plan_with_a_bad_variances_condition_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = PLAN
        .replace(
            "variances: { unexplained_material: 0 } }",
            "variances: { unexplained_material: -1, accepted_by: [finanse] } }",
        )
        .replace("ftd_count: { owner: bi }", "ftd_cuont: { owner: bi }");
    std::fs::write(dir.path().join("plan.yaml"), bad).unwrap();
    let o = Command::new(BIN)
        .args(["validate", "plan.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("plan.yaml:19:3: error: variance_policy names unknown metric \"ftd_cuont\""),
        "{t}"
    );
    assert!(
        t.contains("plan.yaml:26:62: error: unexplained_material of condition \"understood\" must be a whole number, 0 or more; found \"-1\""),
        "{t}"
    );
    assert!(
        t.contains("plan.yaml:26:80: error: variances of condition \"understood\" asks for acceptance by unknown layer \"finanse\"; did you mean \"finance\"?"),
        "{t}"
    );
}
