//! End-to-end: the example plan (`workflows/affiliate-parallel-run.yaml`) started against
//! `cutover sim --real-pair`, then every scheduled check run over three days and read back
//! with `check show --json`: no check errors, every partner maps to the old platform's id
//! (also on the day an account is handed over), and the differences `/truth` injects show
//! up as findings, the event-level ones exactly.

use std::process::{Command, Output};

mod support;
use support::{BIN, start_real_pair, truth};

const PLAN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/workflows/affiliate-parallel-run.yaml"
);

/// `/truth?from=DAY&to=DAY`'s `window`.
fn truth_window(base: &str, day: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let host = base.strip_prefix("http://").expect("http address");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "GET /truth?from={day}&to={day} HTTP/1.0\r\nHost: {host}\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").expect("a body").1;
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    v["window"].clone()
}

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
            .env("ECB_RATES_URL", format!("{base}/rates/eurofxref-hist.xml"))
            .env("CRM_EXPORT_URL", format!("{base}/crm/partners.csv"))
            .output()
            .expect("run cutover")
    };
    let o = run(&["start", PLAN, "--as", "alex"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let mut all = std::collections::BTreeMap::new();
    for check in [
        "test_event_flow",
        "crm_record_sync",
        "daily_reconcile",
        "top_partner_attribution",
        "sub_partner_rollup",
        "payout_shadow",
        "ftd_event_drilldown",
    ] {
        let o = run(&["check", "run", check, "--from", &from, "--to", &to]);
        assert_ne!(o.status.code(), Some(1), "{check}: {}", text(&o));
        let o = run(&["check", "show", check, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{check}: {}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_ne!(v["outcome"], "error", "{check}: {v}");
        for f in v["findings"].as_array().unwrap() {
            // Every new id maps through the dated crosswalk, the handed-over account's
            // and its two partners' own accounts on the hand-over day included.
            assert_ne!(f["status"], "unmapped_partner", "{check}: {f}");
            if let Some(p) = f["partner"].as_str() {
                let n: u32 = p.parse().unwrap_or(0);
                assert!((1001..=1300).contains(&n), "{check}: new id {f}");
            }
        }
        all.insert(check, v);
    }

    // The hand-over day: both partners of the handed-over account reconcile to exactly
    // what /truth says the platforms report for them that day (old value; new value
    // converted to EUR), so each day's traffic went to the right partner.
    let handed = &t["partner_ids"]["transferred"];
    let day = handed["day"].as_str().unwrap();
    let window = truth_window(&base, day);
    let mut compared = 0;
    for r in window["rows"].as_array().unwrap() {
        let p = r["partner"].as_str().unwrap();
        let metric = r["metric"].as_str().unwrap();
        let reconciled = ["clicks_unique", "ftd_count", "net_revenue", "commission"];
        if (p != handed["before"] && p != handed["after"]) || !reconciled.contains(&metric) {
            continue;
        }
        let subject = format!("{p},{day},{metric}");
        let f = all["daily_reconcile"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["subject"] == subject.as_str())
            .unwrap_or_else(|| panic!("no finding {subject}; truth {r}"));
        let dec = |v: &serde_json::Value| -> rust_decimal::Decimal {
            v.as_str().unwrap().parse().expect("a decimal")
        };
        assert_eq!(dec(&f["old"]), dec(&r["old"]), "{f} vs {r}");
        // /truth rounds to 4 decimals with the rate to 10; the ecb preset inverts the
        // quote to 16: equal up to the rounding.
        let off = (dec(&f["new"]) - dec(&r["new_eur"])).abs();
        assert!(off <= rust_decimal::Decimal::new(1, 4), "{f} vs {r}");
        compared += 1;
    }
    assert!(
        compared >= 4,
        "the hand-over partners differ that day: {compared}"
    );

    // Event level, matched by player: exactly the injected event causes of /truth, each
    // on its own partner (the customer id names the partner that generated the event).
    let events = &t["events"];
    let cause = |name: &str| {
        events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["cause"] == name || e["defect"] == name)
            .unwrap_or_else(|| panic!("/truth events name {name}"))
    };
    let lost = cause("lost_events")["partner"].as_str().unwrap();
    let wrong = cause("wrong_deal_rate")["partner"].as_str().unwrap();
    let coupon = cause("coupon_precedence");
    let (c_from, c_to) = (
        coupon["from_partner"].as_str().unwrap(),
        coupon["to_partner"].as_str().unwrap(),
    );
    let first = (today - chrono::Days::new(9)).format("%Y%m%d").to_string();
    let last = (today - chrono::Days::new(6)).format("%Y%m%d").to_string();
    let mut seen = std::collections::BTreeMap::new();
    for f in all["ftd_event_drilldown"]["findings"].as_array().unwrap() {
        let status = f["status"].as_str().unwrap();
        let subject = f["subject"].as_str().unwrap();
        // "ftd:cust-PARTNER-YYYYMMDD-K"
        let mut parts = subject.split('-').skip(1);
        let (partner, ymd) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        *seen.entry(status).or_insert(0) += 1;
        match status {
            "missing_in_new" if partner == lost => {}
            "amount_differs" if partner == wrong => {}
            "other_partner" if partner == c_from => {
                assert_eq!(
                    f["detail"],
                    format!("old \"{c_from}\", new \"{c_to}\""),
                    "{f}"
                );
            }
            // The old platform's days are UTC, the new one's UTC+1: an event in the
            // window's edge hour is inside the window on one side only.
            "missing_in_new" | "missing_in_old" if ymd == first || ymd == last => {}
            _ => panic!("ftd_event_drilldown: {f} is no injected cause"),
        }
    }
    for status in ["missing_in_new", "amount_differs", "other_partner"] {
        assert!(seen.contains_key(status), "no {status}: {seen:?}");
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
