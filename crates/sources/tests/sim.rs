//! The simulator's two platforms pulled with the presets (Everflow and CAKE for the old
//! platform, TUNE and the CSV export for the new one): the injected differences show up
//! in the rows, and the fault mode produces retries, errors and inconclusive pulls.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use common::*;
use cutover_recon::{Metric, Row};
use cutover_sim::{Differences, Faults, Platform, SimConfig, SimHandle};
use cutover_sources::{Pull, PullError, PullStatus, Window, pull};
use rust_decimal::{Decimal, RoundingStrategy};

const TODAY: &str = "2026-11-20";

fn config(partners: usize, differences: Differences, faults: Faults) -> SimConfig {
    SimConfig {
        seed: 7,
        partners,
        days: 90,
        today: Some(day(TODAY)),
        live: false,
        differences,
        faults,
        ..SimConfig::default()
    }
}

async fn sim(c: SimConfig) -> SimHandle {
    cutover_sim::start(c, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("sim starts")
}

/// Fast retries for tests.
const FAST: &str = "    http: { retries: { attempts: 4, base_delay: 5ms, max_delay: 20ms } }\n";

async fn pull_old(s: &SimHandle, w: Window) -> Result<Pull, PullError> {
    let src = source(&format!(
        "  - id: old\n    system: old\n    preset: everflow\n{FAST}"
    ));
    let opts = env(&[
        ("EVERFLOW_BASE_URL", &s.base_url(Platform::Old)),
        ("EVERFLOW_API_KEY", "sim-old-key"),
    ]);
    pull(&src, w, &opts).await
}

async fn pull_new(s: &SimHandle, w: Window) -> Result<Pull, PullError> {
    let src = source(&format!(
        "  - id: new\n    system: new\n    preset: tune\n{FAST}"
    ));
    let opts = env(&[
        ("TUNE_BASE_URL", &s.base_url(Platform::New)),
        ("TUNE_NETWORK_TOKEN", "sim-new-key"),
    ]);
    pull(&src, w, &opts).await
}

fn week() -> Window {
    window("2026-11-01", "2026-11-07")
}

fn by_key(p: &Pull, metric: Metric) -> std::collections::BTreeMap<(String, NaiveDate), Decimal> {
    aggregates(&p.rows)
        .into_iter()
        .filter(|a| a.metric == metric)
        .map(|a| ((a.partner.clone(), a.day), a.value))
        .collect()
}

#[tokio::test]
async fn identical_platforms_give_identical_counts() {
    let s = sim(config(40, Differences::none(), Faults::default())).await;
    let old = pull_old(&s, week()).await.expect("old");
    let new = pull_new(&s, week()).await.expect("new");
    assert_eq!(old.status, PullStatus::Complete);
    assert_eq!(new.status, PullStatus::Complete);
    assert_eq!(old.pages.len(), 1);
    assert_eq!(new.pages.len(), 1, "280 rows fit one TUNE page of 1000");
    for m in [
        Metric::ClicksGross,
        Metric::ClicksUnique,
        Metric::FtdCount,
        Metric::Commission,
        Metric::NetRevenue,
    ] {
        assert_eq!(by_key(&old, m.clone()), by_key(&new, m.clone()), "{m}");
    }
    assert_eq!(old.rows.len(), 40 * 7 * 5);
    s.stop().await;
}

#[tokio::test]
async fn fx_rate_and_rounding_make_money_a_constant_ratio() {
    let diffs = Differences {
        fx_rate: Some(Decimal::new(108, 2)),
        rounding: true,
        ..Differences::none()
    };
    let s = sim(config(40, diffs, Faults::default())).await;
    let old = pull_old(&s, week()).await.expect("old");
    let new = pull_new(&s, week()).await.expect("new");
    let (o, n) = (
        by_key(&old, Metric::NetRevenue),
        by_key(&new, Metric::NetRevenue),
    );
    for (k, v) in &o {
        let expect = (*v * Decimal::new(108, 2))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        assert_eq!(n[k], expect, "{k:?}");
    }
    assert_eq!(
        by_key(&old, Metric::FtdCount),
        by_key(&new, Metric::FtdCount),
        "counts are equal"
    );
    let ratio = total(&new.rows, Metric::NetRevenue) / total(&old.rows, Metric::NetRevenue);
    assert!(
        (ratio - Decimal::new(108, 2)).abs() < Decimal::new(1, 4),
        "{ratio}"
    );
    let currency = |p: &Pull| {
        aggregates(&p.rows)
            .into_iter()
            .find(|a| a.metric == Metric::NetRevenue)
            .and_then(|a| a.currency.clone())
    };
    assert_eq!(currency(&old).as_deref(), Some("EUR"));
    assert_eq!(currency(&new).as_deref(), Some("USD"));
    s.stop().await;
}

#[tokio::test]
async fn coupon_precedence_moves_ftds_between_a_pair_of_partners() {
    let diffs = Differences {
        coupon_precedence: true,
        ..Differences::none()
    };
    let s = sim(config(40, diffs, Faults::default())).await;
    let truth = s.truth();
    let cause = &truth.differences[0];
    let from = cause["from_partner"].as_str().unwrap().to_owned();
    let to = cause["to_partner"].as_str().unwrap().to_owned();
    let old = pull_old(&s, week()).await.expect("old");
    let new = pull_new(&s, week()).await.expect("new");
    let (o, n) = (
        totals(&old.rows, Metric::FtdCount),
        totals(&new.rows, Metric::FtdCount),
    );
    let delta_to = n[&to] - o[&to];
    let delta_from = n[&from] - o[&from];
    assert!(delta_to > Decimal::ZERO, "{delta_to}");
    assert_eq!(delta_to, -delta_from, "equal and opposite");
    assert_eq!(
        total(&old.rows, Metric::FtdCount),
        total(&new.rows, Metric::FtdCount)
    );
    for (p, v) in &o {
        if *p != from && *p != to {
            assert_eq!(n[p], *v, "{p}");
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn day_shift_cancels_out_over_the_window() {
    let diffs = Differences {
        tz_shift: true,
        ..Differences::none()
    };
    let s = sim(config(30, diffs, Faults::default())).await;
    let old = pull_old(&s, week()).await.expect("old");
    let new = pull_new(&s, week()).await.expect("new");
    let (o, n) = (
        by_key(&old, Metric::ClicksUnique),
        by_key(&new, Metric::ClicksUnique),
    );
    let differing = o.iter().filter(|(k, v)| n[*k] != **v).count();
    assert!(differing > o.len() / 2, "most days differ: {differing}");
    // Over the week only the edges remain: what came in from Oct 31, minus what left Nov 7.
    let (to, tn) = (
        total(&old.rows, Metric::ClicksUnique),
        total(&new.rows, Metric::ClicksUnique),
    );
    assert!(
        (tn - to).abs() < to / Decimal::from(20),
        "old {to} new {tn}"
    );
    s.stop().await;
}

#[tokio::test]
async fn pending_and_late_conversions_only_affect_recent_days() {
    let diffs = Differences {
        pending_days: 3,
        late_days: 2,
        ..Differences::none()
    };
    let s = sim(config(40, diffs, Faults::default())).await;
    let recent = window("2026-11-18", TODAY);
    let old = pull_old(&s, recent).await.expect("old");
    let new = pull_new(&s, recent).await.expect("new");
    assert!(total(&new.rows, Metric::Commission) < total(&old.rows, Metric::Commission));
    assert!(total(&new.rows, Metric::FtdCount) < total(&old.rows, Metric::FtdCount));
    let old = pull_old(&s, week()).await.expect("old");
    let new = pull_new(&s, week()).await.expect("new");
    assert_eq!(
        by_key(&old, Metric::Commission),
        by_key(&new, Metric::Commission)
    );
    s.stop().await;
}

#[tokio::test]
async fn all_causes_and_defects_are_reported_and_visible() {
    let s = sim(config(60, Differences::default(), Faults::default())).await;
    let truth = s.truth();
    let causes: Vec<&str> = truth
        .differences
        .iter()
        .map(|d| d["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        [
            "timezone_day_shift",
            "fx_rate",
            "rounding",
            "gross_vs_unique_clicks",
            "pending_not_approved",
            "late_conversions",
            "sub_partner_other_master",
            "coupon_precedence"
        ]
    );
    assert_eq!(truth.defects.len(), 2);
    let old = pull_old(&s, week()).await.expect("old");
    let new = pull_new(&s, week()).await.expect("new");
    // Gross vs unique: the new platform's "clicks" are its unique clicks.
    assert_eq!(
        by_key(&new, Metric::ClicksGross),
        by_key(&new, Metric::ClicksUnique)
    );
    assert!(total(&old.rows, Metric::ClicksGross) > total(&old.rows, Metric::ClicksUnique));
    // Lost events: the partner keeps about half its FTDs.
    let lost = truth.defects[0]["partner"].as_str().unwrap();
    let (o, n) = (
        totals(&old.rows, Metric::FtdCount),
        totals(&new.rows, Metric::FtdCount),
    );
    assert!(
        n[lost] * Decimal::from(10) < o[lost] * Decimal::from(7),
        "{} vs {}",
        n[lost],
        o[lost]
    );
    // Wrong deal rate: commission at about 0.9 x 1.08 of the old platform's.
    let wrong = truth.defects[1]["partner"].as_str().unwrap();
    let (o, n) = (
        totals(&old.rows, Metric::Commission),
        totals(&new.rows, Metric::Commission),
    );
    if o[wrong] > Decimal::ZERO {
        let r = n[wrong] / o[wrong];
        assert!(r > Decimal::new(90, 2) && r < Decimal::new(1040, 3), "{r}");
    }
    // Hierarchy: the moved sub-partner has another master on the new platform.
    rustls::crypto::ring::default_provider()
        .install_default()
        .ok();
    let client = reqwest::Client::new();
    let tree = |p: Platform| {
        let url = format!("{}/partners", s.base_url(p));
        let client = client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let (t_old, t_new) = (tree(Platform::Old).await, tree(Platform::New).await);
    let moved = truth.differences[6]["partner"].as_str().unwrap();
    let master = |t: &serde_json::Value| {
        t.as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == moved)
            .unwrap()["master"]
            .clone()
    };
    assert_ne!(master(&t_old), master(&t_new));
    s.stop().await;
}

#[tokio::test]
async fn everflow_cap_makes_a_long_window_inconclusive_and_cake_pages_through_it() {
    let s = sim(config(200, Differences::none(), Faults::default())).await;
    let long = window("2026-09-22", "2026-11-20"); // 60 days x 200 partners = 12,000 rows
    let p = pull_old(&s, long).await.expect("pull");
    assert!(
        matches!(&p.status, PullStatus::Inconclusive { reason } if reason.contains("incomplete_results")),
        "{:?}",
        p.status
    );
    let cake = source(&format!(
        "  - id: old_cake\n    system: old\n    preset: cake\n{FAST}"
    ));
    let opts = env(&[
        ("CAKE_BASE_URL", &s.base_url(Platform::Old)),
        ("CAKE_API_KEY", "sim-old-key"),
    ]);
    let p = pull(&cake, long, &opts).await.expect("cake");
    assert_eq!(p.status, PullStatus::Complete);
    assert_eq!(p.pages.len(), 2);
    assert_eq!(p.pages.iter().map(|p| p.records).sum::<u64>(), 12_000);
    assert!(
        p.pages[1].request.contains("start_at_row=10001")
            && p.pages[1].request.contains("api_key=***")
    );
    s.stop().await;
}

#[tokio::test]
async fn csv_export_of_the_new_platform() {
    let s = sim(config(20, Differences::default(), Faults::default())).await;
    let src = source("  - { id: new_csv, system: new, preset: csv_export }\n");
    let opts = env(&[
        (
            "CSV_EXPORT_URL",
            &format!("{}/export.csv", s.base_url(Platform::New)),
        ),
        ("CSV_EXPORT_KEY", "sim-new-key"),
    ]);
    let p = pull(&src, week(), &opts).await.expect("csv");
    assert_eq!(p.pages[0].records, 20 * 7);
    assert!(p.rows.iter().all(|r| match r {
        Row::Aggregate(a) => !a.metric.is_money() || a.currency.as_deref() == Some("USD"),
        _ => false,
    }));
    s.stop().await;
}

#[tokio::test]
async fn fault_mode_5xx_bursts_are_retried() {
    let s = sim(config(
        20,
        Differences::none(),
        Faults {
            burst_5xx: 2,
            ..Faults::default()
        },
    ))
    .await;
    let p = pull_new(&s, week()).await.expect("retried");
    assert_eq!(p.pages[0].records, 140);
    s.stop().await;
}

#[tokio::test]
async fn fault_mode_malformed_body_is_an_error() {
    let s = sim(config(
        20,
        Differences::none(),
        Faults {
            malformed_request: Some(1),
            ..Faults::default()
        },
    ))
    .await;
    let e = pull_old(&s, week()).await.expect_err("malformed");
    assert!(
        e.to_string()
            .starts_with("page 1: the body is not valid JSON"),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn fault_mode_truncated_pages_are_inconclusive() {
    let s = sim(config(
        20,
        Differences::none(),
        Faults {
            truncate: true,
            ..Faults::default()
        },
    ))
    .await;
    let p = pull_new(&s, week()).await.expect("pull");
    assert!(
        matches!(&p.status, PullStatus::Inconclusive { reason } if reason.contains("only 70 arrived")),
        "{:?}",
        p.status
    );
    let p = pull_old(&s, week()).await.expect("pull");
    assert!(matches!(p.status, PullStatus::Inconclusive { .. }));
    s.stop().await;
}

#[tokio::test]
async fn fault_mode_slow_responses_time_out() {
    let s = sim(config(
        5,
        Differences::none(),
        Faults {
            slow: Duration::from_millis(400),
            ..Faults::default()
        },
    ))
    .await;
    let src = source(
        "  - id: new\n    system: new\n    preset: tune\n    http: { timeout: 100ms, retries: { attempts: 2, base_delay: 5ms } }\n",
    );
    let opts = env(&[
        ("TUNE_BASE_URL", &s.base_url(Platform::New)),
        ("TUNE_NETWORK_TOKEN", "sim-new-key"),
    ]);
    let e = pull(&src, week(), &opts).await.expect_err("slow");
    assert!(matches!(e, PullError::Timeout { attempts: 2, .. }), "{e}");
    s.stop().await;
}

#[test]
fn canonical_names_match_cutover_recon() {
    let metrics: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
    assert_eq!(metrics, cutover_plan::sources::METRICS);
    let kinds: Vec<&str> = cutover_recon::EventType::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(kinds, cutover_plan::sources::EVENT_TYPES);
}
