//! End-to-end: the sample exports (`tests/fixtures/samples/`) reconciled through the CLI
//! as a user would: `cutover start` on a fresh SQLite store, `check run samples_reconcile`
//! over the sample week, `check show --json`. What is found is exactly what the samples'
//! README says a correct reconcile finds: AFF-003's FTDs on 2026-10-05 (old 7, new 9) and
//! AFF-002's registrations on 2026-10-02 missing on the new side; everything else matches
//! or is within the money tolerance, under the old platform's partner ids.

use std::path::Path;
use std::process::{Command, Output};
use std::str::FromStr;

use rust_decimal::Decimal;

/// partner, day, metric, status, old, new of one finding.
type Finding = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn sample_exports_reconcile_finds_what_the_readme_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samples");
    for f in std::fs::read_dir(&fixtures).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .env("CUTOVER_DATABASE_URL", &db)
            .output()
            .expect("run cutover")
    };

    let o = run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = run(&[
        "check",
        "run",
        "samples_reconcile",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-07",
    ]);
    let out = text(&o);
    // A variance is a failing check: exit 3, a recorded `fail`.
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("samples_reconcile: fail for 2026-10-01..2026-10-07"),
        "{out}"
    );
    assert!(out.contains("1 variance, 1 only_old, 0 only_new"), "{out}");
    assert!(out.contains("0 currency_mismatch, 0 unmapped"), "{out}");
    assert!(
        out.contains("money converted into EUR with rates of ecb"),
        "{out}"
    );

    let o = run(&["check", "show", "samples_reconcile", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["check"], "samples_reconcile");
    assert_eq!(v["outcome"], "fail", "{v:#}");
    assert_eq!(
        v["window"],
        serde_json::json!({"from": "2026-10-01", "to": "2026-10-07"})
    );
    let snaps: Vec<(&str, &str, &str)> = v["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["role"].as_str().unwrap(),
                s["source"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        snaps,
        vec![
            ("old", "old_platform", "complete"),
            ("new", "new_platform", "complete"),
            ("crosswalk", "partner_map", "complete"),
            ("rates", "ecb", "complete"),
        ]
    );

    let findings = v["findings"].as_array().unwrap();
    assert!(!findings.is_empty(), "{v:#}");
    let mut real: Vec<Finding> = Vec::new();
    let money = ["deposits_amount", "net_revenue", "commission"];
    let tolerance = Decimal::from_str("0.05").unwrap();
    for f in findings {
        let s = |k: &str| f[k].as_str().map(str::to_owned);
        let partner = s("partner").unwrap();
        // Partners as the old platform knows them; the new side's ids (70001..) mapped.
        assert!(partner.starts_with("AFF-00"), "{f}");
        let status = s("status").unwrap();
        if status == "within_tolerance" {
            // Only money can differ, and only by currency rounding.
            let metric = s("metric").unwrap();
            assert!(money.contains(&metric.as_str()), "{f}");
            let old = Decimal::from_str(&s("old").unwrap()).unwrap();
            let new = Decimal::from_str(&s("new").unwrap()).unwrap();
            assert!((old - new).abs() <= tolerance, "{f}");
            continue;
        }
        assert_ne!(status, "unmapped_partner", "{f}");
        real.push((
            status,
            partner,
            s("day").unwrap(),
            s("metric").unwrap(),
            s("old"),
            s("new"),
        ));
    }
    real.sort();
    assert_eq!(
        real,
        vec![
            (
                "only_old".into(),
                "AFF-002".into(),
                "2026-10-02".into(),
                "registrations".into(),
                Some("22".into()),
                None
            ),
            (
                "variance".into(),
                "AFF-003".into(),
                "2026-10-05".into(),
                "ftd_count".into(),
                Some("7".into()),
                Some("9".into())
            ),
        ]
    );
    // AFF-005's two new ids (70005, 70009) add up to the old totals: nothing but
    // rounding for it.
    assert!(
        findings
            .iter()
            .filter(|f| f["partner"] == "AFF-005")
            .all(|f| f["status"] == "within_tolerance"),
        "{v:#}"
    );
}
