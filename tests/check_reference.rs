//! End-to-end: `cutover check run` on a reconcile whose sides use different partner ids
//! and currencies, with the check's `crosswalk` and `rates` roles read from file sources
//! (tests/fixtures/reference): new ids map to old ids, USD converts into the plan's EUR,
//! and what cannot be mapped or converted is a finding, never dropped. Bad reference data
//! (one new id on two old ids the same day, a rate of zero) and a crosswalk that cannot be
//! read make the run `error`.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

const PLAN: &str = "migration: check-reference
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true }
  - { id: bea, name: Bea, email: bea@example.com, layers: [bi] }
sources:
  - { id: old, system: old, rows: aggregate, file: { path: old.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { ftd_count: ftd_count, ftd_amount: ftd_amount } }
  - { id: new, system: new, rows: aggregate, file: { path: new.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { ftd_count: ftd_count, ftd_amount: ftd_amount } }
  - { id: xw, system: new, rows: crosswalk, file: { path: crosswalk.csv }, format: { type: csv }, fields: { old: old_id, new: new_id, valid_from: valid_from, valid_to: valid_to } }
  - { id: xw_conflict, system: new, rows: crosswalk, file: { path: crosswalk_conflict.csv }, format: { type: csv }, fields: { old: old_id, new: new_id, valid_from: valid_from, valid_to: valid_to } }
  - { id: xw_gone, system: new, rows: crosswalk, file: { path: missing.csv }, format: { type: csv }, fields: { old: old_id, new: new_id } }
  - { id: fx, system: ecb, rows: rates, file: { path: rates.csv }, format: { type: csv }, fields: { day: day, currency: currency, rate: rate } }
  - { id: fx_zero, system: ecb, rows: rates, file: { path: rates_zero.csv }, format: { type: csv }, fields: { day: day, currency: currency, rate: rate } }
  - { id: old_tree, system: old, rows: hierarchy, file: { path: old_tree.csv }, format: { type: csv }, fields: { partner: partner, parent: parent } }
  - { id: new_tree, system: new, rows: hierarchy, file: { path: new_tree.csv }, format: { type: csv }, fields: { partner: partner, parent: parent } }
  - { id: new_tree_cycle, system: new, rows: hierarchy, file: { path: new_tree_cycle.csv }, format: { type: csv }, fields: { partner: partner, parent: parent } }
  - { id: pay_old, system: old, rows: aggregate, file: { path: payout_old.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { net_revenue: net_revenue, ftd_count: ftd_count, qualified_ftd: qualified_ftd, commission: commission } }
  - { id: pay_new, system: new, rows: aggregate, file: { path: payout_new.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { net_revenue: net_revenue, ftd_count: ftd_count, qualified_ftd: qualified_ftd, commission: commission } }
  - { id: recs, system: new, rows: record, file: { path: records.csv }, format: { type: csv }, fields: { id: id, email: email } }
  - { id: recs_no_id, system: crm, rows: record, file: { path: records_no_id.csv }, format: { type: csv }, fields: { id: id, email: email } }
  - { id: old_ev, system: old, rows: event, file: { path: old_events.csv }, format: { type: csv }, fields: { id: id, kind: kind, occurred_at: at, partner: partner, click_id: click, amount: amount, currency: currency } }
  - { id: new_ev, system: new, rows: event, file: { path: new_events.csv }, format: { type: csv }, fields: { id: id, kind: kind, occurred_at: at, partner: partner, click_id: click, amount: amount, currency: currency } }
checks:
  - { id: match, layer: bi, kind: event_match, schedule: \"0 7 * * *\", sources: { old: old_ev, new: new_ev, crosswalk: xw, rates: fx } }
  - { id: rollup, layer: bi, kind: rollup, schedule: \"0 7 * * *\", sources: { old: old, new: new, crosswalk: xw, rates: fx, old_hierarchy: old_tree, new_hierarchy: new_tree }, params: { metrics: [ftd_count] } }
  - { id: rollup_cycle, layer: bi, kind: rollup, schedule: \"0 7 * * *\", sources: { old: old, new: new, crosswalk: xw, old_hierarchy: old_tree, new_hierarchy: new_tree_cycle } }
  - id: payout
    layer: bi
    kind: payout
    schedule: \"0 7 * * 1\"
    sources: { old: pay_old, new: pay_new, crosswalk: xw, rates: fx, old_hierarchy: old_tree }
    params:
      deals:
        - { partner: AFF-1, cpa: { amount: 50 }, revshare: { rate: 0.25 }, sub_override: 0.05 }
        - { partner: AFF-2, revshare: { rate: 0.20 } }
  - { id: sync_no_id, layer: bi, kind: record_sync, schedule: \"0 7 * * *\", sources: { new: recs, crm: recs_no_id }, params: { fields: [email] } }
  - { id: recon, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new, crosswalk: xw, rates: fx } }
  - { id: recon_long_carry, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new, crosswalk: xw, rates: fx }, params: { max_rate_gap_days: 7 } }
  - { id: recon_no_refs, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new } }
  - { id: recon_conflict, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new, crosswalk: xw_conflict, rates: fx } }
  - { id: recon_xw_gone, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new, crosswalk: xw_gone, rates: fx } }
  - { id: recon_zero_rate, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new, crosswalk: xw, rates: fx_zero } }
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

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference");
        for f in std::fs::read_dir(&fixtures).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
        }
        std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
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

    fn check(&self, id: &str) -> (Option<i32>, String) {
        let o = self.run(&[
            "check",
            "run",
            id,
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-06",
        ]);
        (o.status.code(), text(&o))
    }

    /// (code, subject, old, new) of the latest run's stored findings, sorted.
    fn findings(&self, check: &str) -> Vec<(String, String, Option<String>, Option<String>)> {
        let db = self.db.clone();
        let check = check.to_owned();
        let (_, found) = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let store = cutover_store::Store::connect(&db).await.unwrap();
                let snap = store.load().await.unwrap();
                store.latest_findings(&snap, &check).await.unwrap()
            })
            .expect("a stored run");
        let mut v: Vec<_> = found
            .into_iter()
            .map(|f| (f.code, f.subject, f.old, f.new))
            .collect();
        v.sort();
        v
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

fn f(
    code: &str,
    subject: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> (String, String, Option<String>, Option<String>) {
    (
        code.into(),
        subject.into(),
        old.map(Into::into),
        new.map(Into::into),
    )
}

#[test]
fn crosswalk_and_rates_map_ids_and_convert_money() {
    let env = Env::new();
    let (code, out) = env.check("recon");
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("recon: fail for 2026-10-01..2026-10-06"),
        "{out}"
    );
    assert!(
        out.contains("money converted into EUR with rates of fx"),
        "{out}"
    );
    assert!(out.contains("crosswalk xw snapshot #3 (3 rows)"), "{out}");
    assert!(out.contains("rates fx snapshot #4 (2 rows)"), "{out}");
    // Every new id the crosswalk knows is reported under its old id; USD amounts are
    // compared in EUR (125 USD at 0.8 = 100 EUR: a match). What stays: 703's converted
    // 32 EUR against 30, the unknown new id 799 (both its metrics), GBP without a rate,
    // and a USD amount on 10-06 whose latest rate (10-01) is 5 days old, more than the
    // default 3 (so that key is only on the old side).
    assert_eq!(
        env.findings("recon"),
        vec![
            f("only_new", "AFF-2,2026-10-02,ftd_count", None, Some("1")),
            f(
                "only_old",
                "AFF-1,2026-10-06,ftd_amount",
                Some("8.00"),
                None
            ),
            f(
                "rate_gap",
                "new:AFF-1,2026-10-06,ftd_amount",
                None,
                Some("10.00")
            ),
            f(
                "unmapped_currency",
                "new:AFF-2,2026-10-02,ftd_amount",
                None,
                Some("10.00")
            ),
            f(
                "unmapped_partner",
                "new:799,2026-10-01,ftd_amount",
                None,
                Some("10.00")
            ),
            f(
                "unmapped_partner",
                "new:799,2026-10-01,ftd_count",
                None,
                Some("1")
            ),
            f(
                "variance",
                "AFF-3,2026-10-01,ftd_amount",
                Some("30.00"),
                Some("32.000")
            ),
        ]
    );

    // `check show --json` gives the run with its snapshots and findings, partners as the
    // old platform knows them and money as decimal text.
    let o = env.run(&["check", "show", "recon", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["check"], "recon");
    assert_eq!(v["run"], 1);
    assert_eq!(v["outcome"], "fail");
    assert_eq!(
        v["window"],
        serde_json::json!({"from": "2026-10-01", "to": "2026-10-06"})
    );
    assert!(v["reason"].as_str().unwrap().contains("1 variance"), "{v}");
    let snaps: Vec<(String, String, String, u64)> = v["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["role"].as_str().unwrap().to_owned(),
                s["source"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
                s["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        snaps,
        vec![
            ("old".into(), "old".into(), "complete".into(), 10),
            ("new".into(), "new".into(), "complete".into(), 14),
            ("crosswalk".into(), "xw".into(), "complete".into(), 3),
            ("rates".into(), "fx".into(), "complete".into(), 2),
        ]
    );
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 7, "{v:#}");
    let variance = findings
        .iter()
        .find(|f| f["status"] == "variance")
        .expect("variance");
    assert_eq!(variance["partner"], "AFF-3");
    assert_eq!(variance["day"], "2026-10-01");
    assert_eq!(variance["metric"], "ftd_amount");
    assert_eq!(variance["old"], "30.00");
    assert_eq!(variance["new"], "32.000");
    let unmapped: Vec<(&str, &str)> = findings
        .iter()
        .filter(|f| f["status"] == "unmapped_partner")
        .map(|f| {
            (
                f["partner"].as_str().unwrap(),
                f["metric"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(unmapped, vec![("799", "ftd_count"), ("799", "ftd_amount")]);
    let o = env.run(&["check", "show", "recon"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("recon run 1 of 1: fail for 2026-10-01..2026-10-06"),
        "{out}"
    );
    assert!(
        out.contains("  #3 crosswalk xw (complete, 3 rows, 2026-10-01..2026-10-06)"),
        "{out}"
    );
    assert!(
        out.contains("  variance AFF-3,2026-10-01,ftd_amount old 30.00 new 32.000"),
        "{out}"
    );

    // A longer carry-forward covers 10-06 with the rate of 10-01: 10 USD = 8 EUR matches.
    let (code, out) = env.check("recon_long_carry");
    assert_eq!(code, Some(3), "{out}");
    let found = env.findings("recon_long_carry");
    assert!(
        found
            .iter()
            .all(|x| x.0 != "rate_gap" && !x.1.contains("2026-10-06")),
        "{found:?}"
    );
    assert_eq!(found.len(), 5, "{found:?}");

    // Without the roles, ids are compared as they are: nothing of the new side matches.
    let (code, out) = env.check("recon_no_refs");
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains(" 0 match,"), "{out}");

    // check show: a later run, an earlier one by number; no such run; no such check.
    let (code, out) = env.check("recon");
    assert_eq!(code, Some(3), "{out}");
    let o = env.run(&["check", "show", "recon", "--run", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["run"], 1);
    assert_eq!(v["snapshots"][0]["id"], 1);
    let o = env.run(&["check", "show", "recon", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["run"], 2);
    assert_ne!(v["snapshots"][0]["id"], 1);
    let o = env.run(&["check", "show", "recon", "--run", "3"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("error: recon has no run 3; it has 2"),
        "{}",
        text(&o)
    );
    let o = env.run(&["check", "show", "recon_conflict"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("recon_conflict has no recorded run"),
        "{}",
        text(&o)
    );
    let o = env.run(&["check", "show", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("\"nope\" is not a check of the plan"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_reference_data_makes_the_run_error() {
    let env = Env::new();
    let (code, out) = env.check("recon_conflict");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("recon_conflict: error"), "{out}");
    assert!(
        out.contains("source \"xw_conflict\" row 3 field \"old\": new id \"703\" maps to \"AFF-4\" here and to \"AFF-3\" at row 2 on 2026-10-02"),
        "{out}"
    );
    assert!(env.findings("recon_conflict").is_empty());

    let (code, out) = env.check("recon_zero_rate");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("recon_zero_rate: error"), "{out}");
    assert!(out.contains("fx_zero"), "{out}");
    assert!(out.contains("row 2") && out.contains("\"rate\""), "{out}");

    // A crosswalk that cannot be read is like a data side that cannot: error, no verdict.
    let (code, out) = env.check("recon_xw_gone");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("recon_xw_gone: error"), "{out}");
    assert!(out.contains("missing.csv"), "{out}");
}

#[test]
fn rollup_payout_and_record_sync_run_from_reference_sources() {
    let env = Env::new();
    // Each side rolls up its own tree in old ids: the new tree puts AFF-3 under AFF-2,
    // so AFF-2's total differs (1 vs 2 + 3: the lowest level) and AFF-1's with it.
    let (code, out) = env.check("rollup");
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("lowest level: AFF-2 (ftd_count, depth 1)"),
        "{out}"
    );
    assert_eq!(
        env.findings("rollup"),
        vec![
            f("level_difference", "AFF-1,ftd_count", Some("8"), Some("9")),
            f("lowest_difference", "AFF-2,ftd_count", Some("1"), Some("5")),
            f("parent_differs", "AFF-3", None, None),
            f(
                "rate_gap",
                "new:AFF-1,2026-10-06,ftd_amount",
                None,
                Some("10.00")
            ),
            f(
                "unmapped_currency",
                "new:AFF-2,2026-10-02,ftd_amount",
                None,
                Some("10.00")
            ),
            f(
                "unmapped_partner",
                "new:799,2026-10-01,ftd_amount",
                None,
                Some("10.00")
            ),
            f(
                "unmapped_partner",
                "new:799,2026-10-01,ftd_count",
                None,
                Some("1")
            ),
        ]
    );

    // AFF-1: 50 CPA + 25% of 1000 NGR + 5% of AFF-2's 80 revshare = 304; the old platform
    // paid 300 (a warning by default), the new one 380 USD = 304 EUR. AFF-2: 80 everywhere.
    let (code, out) = env.check("payout");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("payout: warn"), "{out}");
    let found = env.findings("payout");
    assert_eq!(
        found,
        vec![f("old_differs", "AFF-1", Some("300.00"), Some("304.000"))]
    );

    // Bad input: a hierarchy cycle; a record without id (refused at the pull).
    let (code, out) = env.check("rollup_cycle");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("rollup_cycle: error"), "{out}");
    assert!(
        out.contains("source \"new_tree_cycle\" row 3 field \"parent\": partner \"701\" is its own master from the first day (701 -> 703 -> 702 -> 701)"),
        "{out}"
    );
    let (code, out) = env.check("sync_no_id");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("sync_no_id: error"), "{out}");
    assert!(out.contains("row 2") && out.contains("\"id\""), "{out}");
}

#[test]
fn event_match_maps_partners_and_converts_amounts() {
    let env = Env::new();
    // c1: 125 USD at 0.8 is the old 100 EUR, and 701 is AFF-1: nothing to report. c2's
    // new partner 799 has no mapping: a finding, and the event is compared as reported
    // (so its partner differs from the old AFF-9); its amount converts and matches.
    let (code, out) = env.check("match");
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("1 unmapped_partner (compared as reported)"),
        "{out}"
    );
    assert!(
        out.contains("amounts converted into EUR with rates of fx"),
        "{out}"
    );
    assert_eq!(
        env.findings("match"),
        vec![
            f("other_partner", "ftd:c2", None, None),
            f("unmapped_partner", "new:799,2026-10-01,ftd", None, None),
        ]
    );
}
