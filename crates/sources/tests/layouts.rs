//! Aggregate layouts as exports bring them: the long layout (`partner, day, metric,
//! value, currency`) with the platform's own labels mapped to metrics, and aggregate
//! records outside the requested window, dropped and counted.

mod common;

use common::{aggregates, day, env, source, window};
use cutover_recon::Metric;
use cutover_sources::{Dropped, Pull, PullError, pull};
use rust_decimal::Decimal;

async fn pull_csv(yaml: &str, csv: &str, from: &str, to: &str) -> Result<Pull, PullError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    let s = source(yaml);
    let mut opts = env(&[]);
    opts.base_dir = dir.path().to_owned();
    pull(&s, window(from, to), &opts).await
}

const LONG: &str = "  - id: old_long
    system: old
    file: { path: data.csv }
    format: { type: csv }
    fields: { partner: partner_id, day: day, metric: metric, value: value, currency: currency }
    labels:
      Clicks: clicks_gross
      Signups: registrations
      Sign-ups: registrations
      FTDs: ftd_count
      Net Gaming Revenue: net_revenue
";

const LONG_CSV: &str = "partner_id,day,metric,value,currency
AFF-001,2026-10-01,Clicks,400,
AFF-001,2026-10-01,Signups,16,
AFF-001,2026-10-01,FTDs,4,
AFF-001,2026-10-01,Net Gaming Revenue,351.25,EUR
AFF-002,2026-10-01,Sign-ups,21,
AFF-002,2026-10-01,commission,12.5,
";

#[tokio::test]
async fn long_layout_with_labels() {
    let p = pull_csv(LONG, LONG_CSV, "2026-10-01", "2026-10-01")
        .await
        .expect("pull");
    let a = aggregates(&p.rows);
    let got: Vec<(&str, Metric, Decimal, Option<&str>)> = a
        .iter()
        .map(|a| {
            (
                a.partner.as_str(),
                a.metric.clone(),
                a.value,
                a.currency.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("AFF-001", Metric::ClicksGross, Decimal::from(400), None),
            ("AFF-001", Metric::Registrations, Decimal::from(16), None),
            ("AFF-001", Metric::FtdCount, Decimal::from(4), None),
            (
                "AFF-001",
                Metric::NetRevenue,
                Decimal::new(35125, 2),
                Some("EUR")
            ),
            ("AFF-002", Metric::Registrations, Decimal::from(21), None),
            // A label that is a metric name needs no entry; money without a currency
            // of its own is in the plan's.
            (
                "AFF-002",
                Metric::Commission,
                Decimal::new(125, 1),
                Some("EUR")
            ),
        ]
    );
    assert!(a.iter().all(|a| a.day == day("2026-10-01")));
    assert!(p.dropped.is_empty());
}

#[tokio::test]
async fn an_unknown_label_names_the_row_and_the_value() {
    let csv = format!("{LONG_CSV}AFF-002,2026-10-01,Bonus Cost,3,EUR\n");
    let e = pull_csv(LONG, &csv, "2026-10-01", "2026-10-01")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 7: field \"metric\": \"Bonus Cost\" is not a metric: map it under \"labels\" (e.g. `labels: {\"Bonus Cost\": clicks_gross}`) or set `unknown_labels: skip`"
    );
    // With unknown_labels: skip, the rows are left out and counted.
    let csv = format!("{csv}AFF-003,2026-10-01,Bonus Cost,1,EUR\n");
    let yaml = format!("{LONG}    unknown_labels: skip\n");
    let p = pull_csv(&yaml, &csv, "2026-10-01", "2026-10-01")
        .await
        .expect("pull");
    assert_eq!(p.rows.len(), 6);
    assert_eq!(
        p.dropped,
        vec![Dropped {
            reason: "rows labelled \"Bonus Cost\", not a metric (unknown_labels: skip)".into(),
            records: 2
        }]
    );
}

#[tokio::test]
async fn aggregate_records_outside_the_window_are_dropped_and_counted() {
    let yaml = "  - id: new
    system: new
    file: { path: data.csv }
    format: { type: csv }
    fields: { partner: p, day: d }
    metrics: { clicks_gross: c, ftd_count: f }
";
    // A platform that ignored the date filter: 2 of 4 records are outside.
    let csv = "p,d,c,f\nA,2026-09-30,1,0\nA,2026-10-01,2,1\nB,2026-10-02,3,1\nB,2026-10-03,4,2\n";
    let p = pull_csv(yaml, csv, "2026-10-01", "2026-10-02")
        .await
        .expect("pull");
    let a = aggregates(&p.rows);
    assert_eq!(a.len(), 4);
    assert!(
        a.iter()
            .all(|a| a.day >= day("2026-10-01") && a.day <= day("2026-10-02"))
    );
    assert_eq!(
        p.dropped,
        vec![Dropped {
            reason: "records on days outside the window 2026-10-01 .. 2026-10-02".into(),
            records: 2
        }]
    );
    assert_eq!(
        p.dropped[0].to_string(),
        "2 records on days outside the window 2026-10-01 .. 2026-10-02 left out"
    );
    // The pages still count every record read.
    assert_eq!(p.pages[0].records, 4);
}

const LOCAL: &str = "  - id: old
    system: old
    file: { path: data.csv }
    format: { type: csv, delimiter: \";\" }
    decimal: \",\"
    thousands: \".\"
    fields: { partner: \"Affiliate ID\", day: { path: Date, format: \"%d.%m.%Y\" } }
    metrics: { deposits_amount: \"Deposits (EUR)\", ftd_count: FTDs }
";

/// A BOM, CRLF, `;` inside quotes and `""`, decimal comma and `.` thousands, DD.MM.YYYY.
#[tokio::test]
async fn local_number_and_date_formats() {
    let csv = "\u{feff}Affiliate ID;Name;Date;FTDs;Deposits (EUR)\r\nAFF-1;\"A; \"\"B\"\"\";01.10.2026;4;\"1.133,05\"\r\nAFF-2;C;02.10.2026;1.000;-7,5\r\nAFF-3;D;02.10.2026;;12\r\n";
    let p = pull_csv(LOCAL, csv, "2026-10-01", "2026-10-07")
        .await
        .expect("pull");
    let got: Vec<(&str, String, Metric, Decimal)> = aggregates(&p.rows)
        .iter()
        .map(|a| {
            (
                a.partner.as_str(),
                a.day.to_string(),
                a.metric.clone(),
                a.value,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "AFF-1",
                "2026-10-01".to_owned(),
                Metric::DepositsAmount,
                Decimal::new(113_305, 2)
            ),
            (
                "AFF-1",
                "2026-10-01".to_owned(),
                Metric::FtdCount,
                Decimal::from(4)
            ),
            (
                "AFF-2",
                "2026-10-02".to_owned(),
                Metric::DepositsAmount,
                Decimal::new(-75, 1)
            ),
            (
                "AFF-2",
                "2026-10-02".to_owned(),
                Metric::FtdCount,
                Decimal::from(1000)
            ),
            // The empty FTDs cell: absent on this side (empty: missing, the default).
            (
                "AFF-3",
                "2026-10-02".to_owned(),
                Metric::DepositsAmount,
                Decimal::from(12)
            ),
        ]
    );
    // Thousands must group by three; a point where the decimal comma belongs is wrong.
    for (cell, shown) in [
        ("\"1.13,05\"", "1.13,05"),
        ("1133.05", "1133.05"),
        ("\"1,2,3\"", "1,2,3"),
    ] {
        let csv = format!("Affiliate ID;Date;FTDs;Deposits (EUR)\nAFF-1;01.10.2026;1;{cell}\n");
        let e = pull_csv(LOCAL, &csv, "2026-10-01", "2026-10-07")
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "row 1: field \"deposits_amount\": \"{shown}\" is not a number in the source's format (decimal \",\", thousands \".\")"
            )
        );
    }
}

#[tokio::test]
async fn empty_values_zero_or_error_when_the_source_says_so() {
    let csv = "Affiliate ID;Date;FTDs;Deposits (EUR)\nAFF-1;01.10.2026; ;5\n";
    let p = pull_csv(
        &format!("{LOCAL}    empty: zero\n"),
        csv,
        "2026-10-01",
        "2026-10-07",
    )
    .await
    .expect("pull");
    let a = aggregates(&p.rows);
    assert!(
        a.iter()
            .any(|a| a.metric == Metric::FtdCount && a.value.is_zero())
    );
    let e = pull_csv(
        &format!("{LOCAL}    empty: error\n"),
        csv,
        "2026-10-01",
        "2026-10-07",
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 1: field \"ftd_count\": ftd_count is empty (the source says empty: error)"
    );
}
