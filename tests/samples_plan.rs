//! The sample exports (`tests/fixtures/samples/`, copies of `shared/samples/exports`) read
//! through the plan `tests/fixtures/samples/plan.yaml` exactly as they are: `;` and
//! decimal commas, a BOM and CRLF, USD with `,` thousands and a blank cell, the crosswalk,
//! the ECB's XML and a long layout with the platform's labels. Asserts parsed values, and
//! that a plain reference comparison of what was read (crosswalk, ECB rates carried over
//! the weekend, 0 on counts, 0.05 EUR on money) finds exactly what the samples' README
//! says a correct reconcile finds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use chrono::NaiveDate;
use cutover_plan::Source;
use cutover_recon::{Aggregate, CrosswalkRow, Metric, RateRow, Row};
use cutover_sources::{Pull, PullOptions, PullStatus, Window, pull};
use rust_decimal::Decimal;

#[allow(dead_code)]
mod support;
use support::BIN;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samples")
}

fn sources() -> Vec<Source> {
    let path = dir().join("plan.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    cutover_plan::load("plan.yaml", &text)
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .sources
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn week() -> Window {
    Window {
        from: day("2026-10-01"),
        to: day("2026-10-07"),
    }
}

async fn pull_one(id: &str) -> Pull {
    let all = sources();
    let s = all.iter().find(|s| s.id == id).expect("source");
    let mut opts = PullOptions::with_env(Default::default());
    opts.base_dir = dir();
    let p = pull(s, week(), &opts)
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(p.status, PullStatus::Complete, "{id}");
    assert!(p.dropped.is_empty(), "{id}: {:?}", p.dropped);
    p
}

type Key = (String, NaiveDate, Metric);

fn by_key(p: &Pull) -> BTreeMap<Key, &Aggregate> {
    let mut out = BTreeMap::new();
    for r in &p.rows {
        let Row::Aggregate(a) = r else {
            panic!("not an aggregate: {r:?}")
        };
        let prev = out.insert((a.partner.clone(), a.day, a.metric.clone()), a);
        assert!(prev.is_none(), "duplicate key {a:?}");
    }
    out
}

fn get<'a>(m: &BTreeMap<Key, &'a Aggregate>, p: &str, d: &str, metric: Metric) -> &'a Aggregate {
    m.get(&(p.to_owned(), day(d), metric.clone()))
        .unwrap_or_else(|| panic!("no {p} {d} {metric}"))
}

#[tokio::test]
async fn old_platform_wide_semicolon_decimal_comma() {
    let p = pull_one("old_platform").await;
    assert_eq!(p.pages[0].records, 42);
    assert_eq!(p.rows.len(), 42 * 6);
    let m = by_key(&p);
    let a = get(&m, "AFF-001", "2026-10-01", Metric::DepositsAmount);
    assert_eq!(a.value, Decimal::new(113_305, 2));
    assert_eq!(a.currency.as_deref(), Some("EUR"));
    assert_eq!(
        get(&m, "AFF-006", "2026-10-02", Metric::NetRevenue).value,
        Decimal::new(106_462, 2)
    );
    assert_eq!(
        get(&m, "AFF-003", "2026-10-05", Metric::FtdCount).value,
        Decimal::from(7)
    );
    let clicks = get(&m, "AFF-006", "2026-10-07", Metric::ClicksGross);
    assert_eq!(clicks.value, Decimal::from(1231));
    assert_eq!(clicks.currency, None);
    // The BOM is not part of the first header, so "Affiliate ID" was found on every row.
    let partners: BTreeSet<&str> = m.keys().map(|k| k.0.as_str()).collect();
    assert_eq!(
        partners,
        BTreeSet::from([
            "AFF-001", "AFF-002", "AFF-003", "AFF-004", "AFF-005", "AFF-006"
        ])
    );
}

#[tokio::test]
async fn new_platform_usd_with_thousands_and_a_blank_cell() {
    let p = pull_one("new_platform").await;
    assert_eq!(p.pages[0].records, 49);
    // One blank registrations cell: that key is absent, not 0.
    assert_eq!(p.rows.len(), 49 * 6 - 1);
    let m = by_key(&p);
    let a = get(&m, "70001", "2026-10-01", Metric::DepositsAmount);
    assert_eq!(a.value, Decimal::new(123_072, 2));
    assert_eq!(a.currency.as_deref(), Some("USD"));
    assert_eq!(
        get(&m, "70001", "2026-10-01", Metric::Commission).value,
        Decimal::new(29_090, 2)
    );
    assert!(!m.contains_key(&("70002".into(), day("2026-10-02"), Metric::Registrations)));
    assert_eq!(
        get(&m, "70002", "2026-10-02", Metric::FtdCount).value,
        Decimal::from(6)
    );
    assert_eq!(
        get(&m, "70003", "2026-10-05", Metric::FtdCount).value,
        Decimal::from(9)
    );
    assert!(m.keys().any(|k| k.0 == "70009"));
}

#[tokio::test]
async fn crosswalk_and_ecb_rates() {
    let p = pull_one("partner_map").await;
    assert_eq!(p.rows.len(), 7);
    assert!(p.rows.contains(&Row::Crosswalk(CrosswalkRow {
        old: "AFF-005".into(),
        new: "70009".into(),
        valid_from: Some(day("2026-01-01")),
        valid_to: None,
    })));
    let p = pull_one("ecb").await;
    assert_eq!(p.rows.len(), 10);
    assert!(p.rows.contains(&Row::Rate(RateRow {
        day: day("2026-10-01"),
        currency: "USD".into(),
        rate: "0.9206407659731173".parse().unwrap(),
    })));
}

#[tokio::test]
async fn old_long_layout_agrees_with_the_old_wide_export() {
    let long = pull_one("old_long").await;
    assert_eq!(long.pages[0].records, 168);
    assert_eq!(long.rows.len(), 168);
    let l = by_key(&long);
    let a = get(&l, "AFF-001", "2026-10-01", Metric::NetRevenue);
    assert_eq!(a.value, Decimal::new(35_125, 2));
    assert_eq!(a.currency.as_deref(), Some("EUR"));
    let c = get(&l, "AFF-001", "2026-10-01", Metric::ClicksGross);
    assert_eq!((c.value, c.currency.as_deref()), (Decimal::from(400), None));
    let wide = pull_one("old_platform").await;
    let w = by_key(&wide);
    for (k, a) in &l {
        assert_eq!(w.get(k).map(|x| x.value), Some(a.value), "{k:?}");
    }
}

/// A plain reference comparison of what the sources read: ids through the crosswalk,
/// USD through the ECB rates (the last known rate carries over the weekend), 0 on counts
/// and 0.05 EUR on money. It must find exactly the README's two findings.
#[tokio::test]
async fn what_was_read_reconciles_to_the_readme_findings() {
    let old = pull_one("old_platform").await;
    let new = pull_one("new_platform").await;
    let xw = pull_one("partner_map").await;
    let fx = pull_one("ecb").await;
    let map: BTreeMap<String, String> = xw
        .rows
        .iter()
        .map(|r| match r {
            Row::Crosswalk(c) => (c.new.clone(), c.old.clone()),
            _ => unreachable!(),
        })
        .collect();
    let rates: BTreeMap<(String, NaiveDate), Decimal> = fx
        .rows
        .iter()
        .map(|r| match r {
            Row::Rate(r) => ((r.currency.clone(), r.day), r.rate),
            _ => unreachable!(),
        })
        .collect();
    let rate = |cur: &str, d: NaiveDate| -> Decimal {
        rates
            .range((cur.to_owned(), day("2000-01-01"))..=(cur.to_owned(), d))
            .next_back()
            .map(|(_, r)| *r)
            .expect("a rate")
    };
    let mut mapped: BTreeMap<Key, Decimal> = BTreeMap::new();
    for r in &new.rows {
        let Row::Aggregate(a) = r else { continue };
        let partner = map.get(&a.partner).expect("mapped").clone();
        let v = match a.currency.as_deref() {
            Some("EUR") | None => a.value,
            Some(c) => a.value * rate(c, a.day),
        };
        *mapped
            .entry((partner, a.day, a.metric.clone()))
            .or_default() += v;
    }
    let old = by_key(&old);
    let mut findings = Vec::new();
    for (k, a) in &old {
        let tol = if a.currency.is_some() {
            Decimal::new(5, 2)
        } else {
            Decimal::ZERO
        };
        match mapped.get(k) {
            None => findings.push(format!("{} {} {}: only_old {}", k.0, k.1, k.2, a.value)),
            Some(n) if (*n - a.value).abs() > tol => findings.push(format!(
                "{} {} {}: old {} new {}",
                k.0, k.1, k.2, a.value, n
            )),
            Some(_) => {}
        }
    }
    findings.extend(
        mapped
            .keys()
            .filter(|k| !old.contains_key(*k))
            .map(|k| format!("{} {} {}: only_new", k.0, k.1, k.2)),
    );
    assert_eq!(
        findings,
        [
            "AFF-002 2026-10-02 registrations: only_old 22",
            "AFF-003 2026-10-05 ftd_count: old 7 new 9",
        ]
    );
}

/// `cutover pull --plan` reads the samples and stores snapshots.
#[test]
fn cutover_pull_reads_every_sample_source() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", tmp.path().join("c.db").display());
    let plan = dir().join("plan.yaml");
    for (id, first) in [
        (
            "old_platform",
            "old_platform: 252 rows from 42 records, 1 page, ",
        ),
        (
            "new_platform",
            "new_platform: 293 rows from 49 records, 1 page, ",
        ),
        (
            "partner_map",
            "partner_map: 7 rows from 7 records, 1 page, ",
        ),
        ("ecb", "ecb: 10 rows from 10 records, 1 page, "),
        ("old_long", "old_long: 168 rows from 168 records, 1 page, "),
    ] {
        let out = Command::new(BIN)
            .args([
                "pull",
                id,
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-07",
                "--plan",
            ])
            .arg(&plan)
            .env("CUTOVER_DATABASE_URL", &db)
            .output()
            .expect("run pull");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{id}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with(first), "{stdout}");
        assert!(
            stdout.contains("(complete) 2026-10-01 .. 2026-10-07"),
            "{stdout}"
        );
    }
}
