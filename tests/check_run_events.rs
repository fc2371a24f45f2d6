//! End-to-end: `cutover check run` on event-level checks (`event_flow`, `event_match`,
//! `attribution`) fed by `file` sources (CSV event exports in a temp dir): matching exports
//! pass and satisfy their exit conditions, diverging ones fail with findings stored, an
//! empty export is inconclusive, an unreadable one is an error, and `record_sync` compares
//! the records of two `rows: record` sources.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

const PLAN: &str = "migration: check-run-events
timezone: UTC
currency: EUR
layers:
  product: { description: Product }
  crm: { description: CRM }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true }
  - { id: pia, name: Pia, email: pia@example.com, layers: [product, crm] }
sources:
  - { id: old_ev, system: old, rows: event, file: { path: old.csv }, format: { type: csv }, fields: FIELDS }
  - { id: new_ok, system: new, rows: event, file: { path: new_ok.csv }, format: { type: csv }, fields: FIELDS }
  - { id: new_bad, system: new, rows: event, file: { path: new_bad.csv }, format: { type: csv }, fields: FIELDS }
  - { id: new_empty, system: new, rows: event, file: { path: empty.csv }, format: { type: csv }, fields: FIELDS }
  - { id: new_gone, system: new, rows: event, file: { path: missing.csv }, format: { type: csv }, fields: FIELDS }
  - { id: new_records, system: new, rows: record, file: { path: new_records.csv }, format: { type: csv }, fields: { id: id, email: email } }
  - { id: crm_records, system: crm, rows: record, file: { path: crm.csv }, format: { type: csv }, fields: { id: id, email: email } }
checks:
  - id: flow_ok
    layer: product
    kind: event_flow
    schedule: \"*/30 * * * *\"
    sources: { old: old_ev, new: new_ok }
    params: { expect: [click, ftd], band: { min: 0.9, max: 1.1 }, fresh_within: 1d }
  - { id: flow_bad, layer: product, kind: event_flow, schedule: \"*/30 * * * *\", sources: { old: old_ev, new: new_bad }, params: { expect: [click, ftd], band: { min: 0.9, max: 1.1 } } }
  - { id: match_ok, layer: product, kind: event_match, schedule: \"0 8 * * *\", sources: { old: old_ev, new: new_ok }, params: { by: click_id } }
  - { id: match_bad, layer: product, kind: event_match, schedule: \"0 8 * * *\", sources: { old: old_ev, new: new_bad }, params: { by: click_id } }
  - { id: match_empty, layer: product, kind: event_match, schedule: \"0 8 * * *\", sources: { old: old_ev, new: new_empty }, params: { by: click_id } }
  - { id: match_gone, layer: product, kind: event_match, schedule: \"0 8 * * *\", sources: { old: old_ev, new: new_gone }, params: { by: click_id } }
  - { id: attr_ok, layer: product, kind: attribution, schedule: \"0 9 * * *\", sources: { new: new_ok }, params: { links: { btag1: aff1, btag2: aff2 } } }
  - { id: sync, layer: crm, kind: record_sync, schedule: \"0 9 * * *\", sources: { new: new_records, crm: crm_records }, params: { fields: [email] } }
phases:
  - id: setup
    goal: Test events flow correctly
    owners: [product]
    exit:
      - { id: flow_good, check: flow_ok, outcome: pass }
      - { id: match_good, check: match_ok, outcome: pass }
      - { id: attr_good, check: attr_ok, outcome: pass }
      - { id: bad_matches, check: match_bad, outcome: [pass, warn] }
      - { id: empty_matches, check: match_empty, outcome: [pass, warn] }
      - { id: flow_bad_seen, check: flow_bad, outcome: [pass, warn, fail] }
      - { id: gone_seen, check: match_gone, outcome: [pass, warn, fail] }
      - { id: sync_seen, check: sync, outcome: [pass, warn, fail] }
  - id: parallel_validation
    goal: Compare
    owners: [product]
    exit:
      - { id: settle, min_duration: 1d }
";

const HEADER: &str = "id,kind,at,partner,link,click,amount\n";

/// Two days of clicks and FTDs, and one click the day before the window.
const OLD: &str = "o1,CLICK,2026-01-05 10:00:00,aff1,btag1,c1,
o2,FTD,2026-01-05 11:00:00,aff1,btag1,c1,100.00
o3,CLICK,2026-01-06 09:00:00,aff2,btag2,c2,
o4,FTD,2026-01-06 09:30:00,aff2,btag2,c2,50.00
o5,CLICK,2026-01-04 23:00:00,aff1,btag1,c0,
";

/// The same events under the new platform's own ids.
const NEW_OK: &str = "n1,click,2026-01-05 10:00:05,aff1,btag1,c1,
n2,ftd,2026-01-05 11:00:02,aff1,btag1,c1,100.00
n3,click,2026-01-06 09:00:01,aff2,btag2,c2,
n4,ftd,2026-01-06 09:30:07,aff2,btag2,c2,50.00
";

/// c1's FTD amount differs, c2's click lands on aff1 and its FTD is missing.
const NEW_BAD: &str = "n1,click,2026-01-05 10:00:05,aff1,btag1,c1,
n2,ftd,2026-01-05 11:00:02,aff1,btag1,c1,90.00
n3,click,2026-01-06 09:00:01,aff1,btag2,c2,
";

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env("CUTOVER_DATABASE_URL", &self.db)
            .output()
            .expect("run cutover")
    }

    fn check(&self, id: &str, extra: &[&str]) -> (Option<i32>, String) {
        let mut args = vec![
            "check",
            "run",
            id,
            "--from",
            "2026-01-05",
            "--to",
            "2026-01-06",
        ];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        (o.status.code(), text(&o))
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
fn event_checks_run_from_file_sources_and_feed_the_gate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, body: &str| {
        std::fs::write(dir.path().join(name), format!("{HEADER}{body}")).unwrap()
    };
    write("old.csv", OLD);
    write("new_ok.csv", NEW_OK);
    write("new_bad.csv", NEW_BAD);
    write("empty.csv", "");
    let fields = "{ id: id, kind: kind, occurred_at: at, partner: partner, link: link, click_id: click, amount: amount }";
    std::fs::write(dir.path().join("plan.yaml"), PLAN.replace("FIELDS", fields)).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let env = Env { dir, db };
    let o = env.run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Matching exports: every expected type flows within the band, every event matches,
    // every listed link lands on its partner. The click before the window is left out.
    let (code, out) = env.check("flow_ok", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("flow_ok: pass for 2026-01-05..2026-01-06: 2 event types flowing"),
        "{out}"
    );
    assert!(
        out.contains("1 old events outside the window left out"),
        "{out}"
    );
    assert!(
        out.contains("old old_ev snapshot #1 (4 events), new new_ok snapshot #2 (4 events)"),
        "{out}"
    );
    let (code, out) = env.check("match_ok", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "match_ok: pass for 2026-01-05..2026-01-06: 4 old, 4 new events; 0 differences"
        ),
        "{out}"
    );
    // The same window again from the stored snapshots: no new pull.
    let (code, out) = env.check("match_ok", &["--reuse"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("snapshot #3") && !out.contains("snapshot #5"),
        "{out}"
    );
    // Attribution reads only the new side (old is optional for it).
    let (code, out) = env.check("attr_ok", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("attr_ok: pass for 2026-01-05..2026-01-06: 2 trackers attribute as expected; new new_ok snapshot #5 (4 events)"),
        "{out}"
    );

    // Diverging exports fail, with their findings listed.
    let (code, out) = env.check("flow_bad", &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("flow_bad: fail"), "{out}");
    assert!(out.contains("  1 volume_out_of_band\n"), "{out}");
    let (code, out) = env.check("match_bad", &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains(
            "match_bad: fail for 2026-01-05..2026-01-06: 4 old, 3 new events; 3 differences"
        ),
        "{out}"
    );
    for line in [
        "  1 amount_differs\n",
        "  1 missing_in_new\n",
        "  1 other_partner\n",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }

    // An empty export cannot pass: inconclusive. An unreadable one: error.
    let (code, out) = env.check("match_empty", &[]);
    assert_eq!(code, Some(4), "{out}");
    assert!(
        out.contains("match_empty: inconclusive for 2026-01-05..2026-01-06: new source new_empty"),
        "{out}"
    );
    let (code, out) = env.check("match_gone", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("match_gone: error"), "{out}");
    assert!(out.contains("missing.csv"), "{out}");

    // record_sync reads the records of its `new` and `crm` sources: p2's email differs,
    // p3 is only in the CRM.
    std::fs::write(
        env.dir.path().join("new_records.csv"),
        "id,email\np1,a@x.io\np2,b@x.io\n",
    )
    .unwrap();
    std::fs::write(
        env.dir.path().join("crm.csv"),
        "id,email\np1,a@x.io\np2,B@x.io\np3,c@x.io\n",
    )
    .unwrap();
    let (code, out) = env.check("sync", &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("sync: fail"), "{out}");
    assert!(
        out.contains("1 field_mismatch") && out.contains("1 missing_in_new"),
        "{out}"
    );

    // The gate sees the runs.
    let o = env.run(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status json");
    let gate = &status["gate"];
    assert_eq!(gate["holds"], false);
    let satisfied = |id: &str| {
        gate["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {gate}"))["satisfied"]
            .as_bool()
            .unwrap()
    };
    for (id, want) in [
        ("flow_good", true),
        ("match_good", true),
        ("attr_good", true),
        ("bad_matches", false),
        ("empty_matches", false),
        ("flow_bad_seen", true),
        ("gone_seen", false),
        ("sync_seen", true),
    ] {
        assert_eq!(satisfied(id), want, "{id}: {gate:#}");
    }

    // Runs and findings are stored.
    let o = env.run(&["history", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let runs: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["kind"] == "check_run")
        .map(|e| {
            (
                e["command"]["check"].as_str().unwrap(),
                e["command"]["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        vec![
            ("flow_ok", "pass"),
            ("match_ok", "pass"),
            ("match_ok", "pass"),
            ("attr_ok", "pass"),
            ("flow_bad", "fail"),
            ("match_bad", "fail"),
            ("match_empty", "inconclusive"),
            ("match_gone", "error"),
            ("sync", "fail"),
        ]
    );
    let db = env.db.clone();
    let (run, findings) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            let store = cutover_store::Store::connect(&db).await.unwrap();
            let snap = store.load().await.unwrap();
            store.latest_findings(&snap, "match_bad").await.unwrap()
        })
        .expect("a stored run");
    assert_eq!(run.outcome, cutover_plan::Outcome::Fail);
    let amount = findings
        .iter()
        .find(|f| f.code == "amount_differs")
        .expect("amount finding");
    assert_eq!(amount.subject, "ftd:c1");
    assert_eq!(
        (amount.old.as_deref(), amount.new.as_deref()),
        (Some("100.00"), Some("90.00"))
    );
    let o = env.run(&["history", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
