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
checks:
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
