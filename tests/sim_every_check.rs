//! End-to-end: the example plan (`workflows/affiliate-parallel-run.yaml`) started against
//! `cutover sim --real-pair`, then every scheduled check run over three days and read back
//! with `check show --json`: no check errors, partners are the old platform's ids, and
//! the differences `/truth` injects show up as findings.

use std::process::{Command, Output};

mod support;
use support::{BIN, start_real_pair, truth};

const PLAN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/workflows/affiliate-parallel-run.yaml"
);

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn every_scheduled_check_of_the_example_plan_runs_against_the_simulator() {
    let (_sim, base) = start_real_pair();
    let t = truth(&base);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let today = chrono::Utc::now().date_naive();
    // Three days around the simulator's hand-over day (today - 7), so the dated crosswalk
    // and tree are exercised; a week of events takes minutes in a debug build.
    let from = (today - chrono::Days::new(8)).to_string();
    let to = (today - chrono::Days::new(6)).to_string();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .env("CUTOVER_DATABASE_URL", &db)
            .env("EVERFLOW_BASE_URL", format!("{base}/old"))
            .env("EVERFLOW_API_KEY", "sim-old-key")
            .env("TUNE_BASE_URL", format!("{base}/new"))
            .env("TUNE_NETWORK_TOKEN", "sim-new-key")
            .env("IMPACT_BASE_URL", format!("{base}/old"))
            .env("IMPACT_ACCOUNT_SID", "IRsim")
            .env("IMPACT_AUTH_TOKEN", "sim-old-key")
            .env("NEW_IMPACT_BASE_URL", format!("{base}/new"))
            .env("NEW_IMPACT_ACCOUNT_SID", "IRsim")
            .env("NEW_IMPACT_AUTH_TOKEN", "sim-new-key")
            .env("ECB_RATES_CSV_URL", format!("{base}/rates/rates.csv"))
            .env("CRM_EXPORT_URL", format!("{base}/crm/partners.csv"))
            .output()
            .expect("run cutover")
    };
    let o = run(&["start", PLAN, "--as", "alex"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let mut all = std::collections::BTreeMap::new();
    // ftd_event_drilldown (event_match by customer) is left out: GAP: it takes minutes on
    // a week of the simulator's events in a debug build.
    for check in [
        "test_event_flow",
        "crm_record_sync",
        "daily_reconcile",
        "top_partner_attribution",
        "sub_partner_rollup",
        "payout_shadow",
    ] {
        let o = run(&["check", "run", check, "--from", &from, "--to", &to]);
        assert_ne!(o.status.code(), Some(1), "{check}: {}", text(&o));
        let o = run(&["check", "show", check, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{check}: {}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_ne!(v["outcome"], "error", "{check}: {v}");
        for f in v["findings"].as_array().unwrap() {
            if let Some(p) = f["partner"].as_str() {
                if f["status"] == "unmapped_partner" {
                    // GAP: the handed-over account (truth partner_ids.transferred) is
                    // unmapped on its hand-over day; no other partner may be.
                    let acc = &t["partner_ids"]["transferred"];
                    assert_eq!(p, acc["after_partner_account_until_day"], "{check}: {f}");
                    continue;
                }
                let n: u32 = p.parse().unwrap_or(0);
                assert!((1001..=1300).contains(&n), "{check}: new id {f}");
            }
        }
        all.insert(check, v);
    }
    let has =
        |check: &str, status: &str, subject: &str| {
            all[check]["findings"].as_array().unwrap().iter().any(|f| {
                f["status"] == status && f["subject"].as_str().unwrap().starts_with(subject)
            })
        };
    for r in t["record_sync"].as_array().unwrap() {
        match r["code"].as_str() {
            Some("missing_in_crm") => {
                assert!(has(
                    "crm_record_sync",
                    "missing_in_crm",
                    r["partner"].as_str().unwrap()
                ))
            }
            Some("field_mismatch") => assert!(has(
                "crm_record_sync",
                "field_mismatch",
                &format!(
                    "{}.{}",
                    r["partner"].as_str().unwrap(),
                    r["field"].as_str().unwrap()
                )
            )),
            _ => {}
        }
    }
    for r in t["rollup"].as_array().unwrap() {
        assert!(has(
            "sub_partner_rollup",
            "parent_differs",
            r["partner"].as_str().unwrap()
        ));
    }
    for p in t["payout"]["expected"].as_array().unwrap() {
        if p["code"] == "new_differs" {
            assert!(has(
                "payout_shadow",
                "new_differs",
                p["partner"].as_str().unwrap()
            ));
        }
    }
    for a in t["attribution"]["expected"].as_array().unwrap() {
        let subject = format!("coupon {}", a["tracker"].as_str().unwrap());
        assert!(has(
            "top_partner_attribution",
            a["code"].as_str().unwrap(),
            &subject
        ));
    }
    // The lost events of the defect show as ftd_count variances of that partner.
    for d in t["defects"].as_array().unwrap() {
        if d["defect"] == "lost_events" {
            let p = format!("{},", d["partner"].as_str().unwrap());
            assert!(has("daily_reconcile", "variance", &p), "{d}");
        }
    }
}
