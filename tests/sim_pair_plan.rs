//! End-to-end: `cutover sim --real-pair` serves everything the example plan
//! (`workflows/affiliate-parallel-run.yaml`) reads: every reference source of the plan
//! pulls complete from it, and the ids the plan writes by hand (payout deals, attribution
//! trackers) are the ones the simulator's `/truth` names for its default seed.

use std::process::Command;

mod support;
use support::{BIN, start_real_pair, truth};

use cutover_plan::check_config::CheckConfig;

const PLAN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/workflows/affiliate-parallel-run.yaml"
);

#[test]
fn the_example_plan_reads_its_reference_data_from_the_simulator() {
    let (_sim, base) = start_real_pair();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Days::new(10)).to_string();
    let to = (today - chrono::Days::new(4)).to_string();
    let pull = |source: &str| {
        let o = Command::new(BIN)
            .args(["pull", source, "--from", &from, "--to", &to, "--plan", PLAN])
            .current_dir(dir.path())
            .env("CUTOVER_DATABASE_URL", &db)
            .env("EVERFLOW_BASE_URL", format!("{base}/old"))
            .env("TUNE_BASE_URL", format!("{base}/new"))
            .env("ECB_RATES_URL", format!("{base}/rates/eurofxref-hist.xml"))
            .env("CRM_EXPORT_URL", format!("{base}/crm/partners.csv"))
            .output()
            .expect("run pull");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{source}: {out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("(complete)"), "{source}: {out}");
        out
    };
    // 300 partners; the new platform has two more accounts (a split partner's second
    // one, an account handed over), its history (crosswalk, dated tree) one more row
    // (the hand-over's two owners), the CRM one record fewer.
    for (source, rows) in [
        ("partner_crosswalk", 303),
        ("old_partner_tree", 300),
        ("new_partner_tree", 303),
        ("new_partner_records", 302),
        ("crm_partners", 301),
    ] {
        let out = pull(source);
        assert!(out.starts_with(&format!("{source}: {rows} rows ")), "{out}");
    }
    // Rates: the window's business days, and the Friday before if it opens on a weekend.
    let out = pull("ecb_daily");
    let rows: usize = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a row count");
    assert!((5..=6).contains(&rows), "{out}");

    // The plan's hand-written ids are the simulator's.
    let t = truth(&base);
    let l = cutover_plan::load("plan.yaml", &std::fs::read_to_string(PLAN).unwrap())
        .unwrap_or_else(|d| panic!("{d:?}"));
    let cfg = |id: &str| l.plan.check(id).unwrap().config().unwrap().unwrap();
    let CheckConfig::Payout(p) = cfg("payout_shadow") else {
        panic!("payout")
    };
    let deals = t["payout"]["deals"].as_array().unwrap();
    assert_eq!(p.deals.len(), deals.len());
    for (mine, want) in p.deals.iter().zip(deals) {
        assert_eq!(mine.partner, want["partner"].as_str().unwrap());
        let amount = mine.cpa.as_ref().map(|c| c.amount.to_string());
        assert_eq!(amount.as_deref(), want["cpa"]["amount"].as_str());
        let rate = mine
            .revshare
            .as_ref()
            .map(|r| r.tiers[0].1.normalize().to_string());
        assert_eq!(rate.as_deref(), want["revshare"]["rate"].as_str());
    }
    let CheckConfig::Attribution(a) = cfg("top_partner_attribution") else {
        panic!("attribution")
    };
    let pairs = |v: &serde_json::Value| {
        let mut out: Vec<(String, String)> = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        out.sort();
        out
    };
    let (mut links, mut coupons) = (a.links.clone(), a.coupons.clone());
    links.sort();
    coupons.sort();
    assert_eq!(links, pairs(&t["attribution"]["links"]));
    assert_eq!(coupons, pairs(&t["attribution"]["coupons"]));
}
