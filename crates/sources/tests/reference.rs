//! Reference-data sources read from CSV files: a partner crosswalk, FX rates, a partner
//! hierarchy and CRM records become their own rows; a value that cannot be one (a rate of
//! zero, a date that does not parse, a record without id) fails the pull naming the row
//! and the field. Also: a plan-declared money metric carries the currency on its rows.

mod common;

use std::collections::BTreeMap;

use common::{day, env, source, window};
use cutover_recon::{CrosswalkRow, HierarchyRow, Metric, RateRow, Record, Row};
use cutover_sources::{Pull, PullError, pull};
use rust_decimal::Decimal;

/// Pulls `yaml` (a source reading `data.csv`) over a file holding `csv`.
async fn pull_csv(yaml: &str, csv: &str) -> Result<Pull, PullError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    let s = source(yaml);
    let mut opts = env(&[]);
    opts.base_dir = dir.path().to_owned();
    pull(&s, window("2026-10-01", "2026-10-07"), &opts).await
}

fn message(r: Result<Pull, PullError>) -> String {
    match r {
        Ok(p) => panic!("expected an error, got {} rows", p.rows.len()),
        Err(e) => e.to_string(),
    }
}

const CROSSWALK: &str = "  - id: xw
    system: new
    rows: crosswalk
    file: { path: data.csv }
    format: { type: csv, delimiter: \";\" }
    fields:
      old: old_id
      new: new_id
      valid_from: { path: from, format: \"%d.%m.%Y\" }
      valid_to: { path: to, format: \"%d.%m.%Y\" }
";

#[tokio::test]
async fn crosswalk_rows() {
    let p = pull_csv(
        CROSSWALK,
        "new_id;old_id;from;to\n70001;AFF-001;;\n70005; AFF-005 ;01.10.2026;\n70009;AFF-005;03.10.2026;06.10.2026\n",
    )
    .await
    .expect("pull");
    assert_eq!(
        p.rows,
        vec![
            Row::Crosswalk(CrosswalkRow {
                old: "AFF-001".into(),
                new: "70001".into(),
                valid_from: None,
                valid_to: None,
            }),
            Row::Crosswalk(CrosswalkRow {
                old: "AFF-005".into(),
                new: "70005".into(),
                valid_from: Some(day("2026-10-01")),
                valid_to: None,
            }),
            Row::Crosswalk(CrosswalkRow {
                old: "AFF-005".into(),
                new: "70009".into(),
                valid_from: Some(day("2026-10-03")),
                valid_to: Some(day("2026-10-06")),
            }),
        ]
    );
}

#[tokio::test]
async fn crosswalk_mistakes_name_row_and_field() {
    let head = "new_id;old_id;from;to\n70001;AFF-001;;\n";
    for (line, expected) in [
        ("70002;;;", "row 2: field \"old\": is empty"),
        (
            "70002;AFF-2;2026-10-01;",
            "row 2: field \"valid_from\": \"2026-10-01\" is not a date in the format \"%d.%m.%Y\"",
        ),
        (
            "70002;AFF-2;05.10.2026;05.10.2026",
            "row 2: field \"valid_to\": 2026-10-05 is not after valid_from 2026-10-05 (valid_to is the first day it no longer holds)",
        ),
    ] {
        let e = message(pull_csv(CROSSWALK, &format!("{head}{line}\n")).await);
        assert_eq!(e, expected);
    }
}

const RATES: &str = "  - id: fx
    system: ecb
    rows: rates
    file: { path: data.csv }
    format: { type: csv }
    fields: { day: date, currency: cur, rate: eur_per_unit }
";

#[tokio::test]
async fn rate_rows() {
    let p = pull_csv(
        RATES,
        "date,cur,eur_per_unit\n2026-10-01,USD,0.8547008547\n2026-10-02,GBP,1.15\n",
    )
    .await
    .expect("pull");
    assert_eq!(
        p.rows,
        vec![
            Row::Rate(RateRow {
                day: day("2026-10-01"),
                currency: "USD".into(),
                rate: Decimal::new(8_547_008_547, 10),
            }),
            Row::Rate(RateRow {
                day: day("2026-10-02"),
                currency: "GBP".into(),
                rate: Decimal::new(115, 2),
            }),
        ]
    );
}

#[tokio::test]
async fn rate_mistakes_name_row_and_field() {
    let head = "date,cur,eur_per_unit\n2026-10-01,USD,0.85\n";
    for (line, expected) in [
        (
            "2026-10-02,USD,0",
            "row 2: field \"rate\": 0 is not above zero (a rate is units of the plan currency for one USD)",
        ),
        (
            "2026-10-02,USD,-1.1",
            "row 2: field \"rate\": -1.1 is not above zero (a rate is units of the plan currency for one USD)",
        ),
        (
            "2026-10-02,USD,\"1,1\"",
            "row 2: field \"rate\": \"1,1\" is not a number",
        ),
        (
            "2026-10-02,US,1",
            "row 2: field \"currency\": \"US\" is not an ISO 4217 currency code",
        ),
        (
            "02/10/2026,USD,1",
            "row 2: field \"day\": \"02/10/2026\" is not a date (expected YYYY-MM-DD)",
        ),
        ("2026-10-02,,1", "row 2: field \"currency\": is empty"),
    ] {
        let e = message(pull_csv(RATES, &format!("{head}{line}\n")).await);
        assert_eq!(e, expected, "{line}");
    }
}

const HIERARCHY: &str = "  - id: tree
    system: new
    rows: hierarchy
    file: { path: data.csv }
    format: { type: csv }
    fields: { partner: id, parent: master_id, valid_from: since }
";

#[tokio::test]
async fn hierarchy_rows() {
    let p = pull_csv(HIERARCHY, "id,master_id,since\nm1,,\ns1,m1,2026-10-03\n")
        .await
        .expect("pull");
    assert_eq!(
        p.rows,
        vec![
            Row::Hierarchy(HierarchyRow {
                partner: "m1".into(),
                parent: None,
                valid_from: None,
                valid_to: None,
            }),
            Row::Hierarchy(HierarchyRow {
                partner: "s1".into(),
                parent: Some("m1".into()),
                valid_from: Some(day("2026-10-03")),
                valid_to: None,
            }),
        ]
    );
    let e = message(pull_csv(HIERARCHY, "id,master_id,since\ns1,s1,\n").await);
    assert_eq!(
        e,
        "row 1: field \"parent\": partner \"s1\" cannot be its own parent"
    );
    let e = message(pull_csv(HIERARCHY, "master_id,since\nm1,\n").await);
    assert_eq!(e, "row 1: field \"partner\": \"id\" is missing");
}

const RECORDS: &str = "  - id: crm
    system: crm
    rows: record
    file: { path: data.csv }
    format: { type: csv }
    fields: { id: customer_id, email: email, \"full name\": name, tier: { value: gold } }
";

#[tokio::test]
async fn record_rows() {
    let p = pull_csv(
        RECORDS,
        "customer_id,email,name\nc1,ana@example.com,\"Ana, Z.\"\nc2,,Bo\n",
    )
    .await
    .expect("pull");
    let fields = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        p.rows,
        vec![
            Row::Record(Record {
                id: "c1".into(),
                fields: fields(&[
                    ("email", "ana@example.com"),
                    ("full name", "Ana, Z."),
                    ("tier", "gold")
                ]),
            }),
            Row::Record(Record {
                id: "c2".into(),
                fields: fields(&[("full name", "Bo"), ("tier", "gold")]),
            }),
        ]
    );
}

#[tokio::test]
async fn a_record_without_id_fails_the_pull() {
    let e = message(
        pull_csv(
            RECORDS,
            "customer_id,email,name\nc1,a@example.com,A\n ,b@example.com,B\n",
        )
        .await,
    );
    assert_eq!(e, "row 2: field \"id\": is empty");
    let e = message(pull_csv(RECORDS, "email,name\na@example.com,A\n").await);
    assert_eq!(e, "row 1: field \"id\": \"customer_id\" is missing");
}

/// A metric the plan declares as money gets the source's currency; a declared count and
/// a free-standing canonical count do not.
#[tokio::test]
async fn declared_metrics_money_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("data.csv"),
        "partner,day,imp,bonus,ftds\nP1,2026-10-01,1000,12.5,3\n",
    )
    .unwrap();
    let text = "migration: m
timezone: UTC
currency: EUR
metrics: { impressions: count, bonus_cost: money }
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
phases:
  - id: discovery
    goal: g
    owners: [bi]
    exit:
      - { id: wait, min_duration: 1d }
sources:
  - id: agg
    system: new
    currency: USD
    file: { path: data.csv }
    format: { type: csv }
    fields: { partner: partner, day: day }
    metrics: { impressions: imp, bonus_cost: bonus, ftd_count: ftds }
";
    let mut l = cutover_plan::load("plan.yaml", text).unwrap_or_else(|d| panic!("{d:#?}"));
    let s = l.sources.remove(0);
    let mut opts = env(&[]);
    opts.base_dir = dir.path().to_owned();
    let p = pull(&s, window("2026-10-01", "2026-10-01"), &opts)
        .await
        .expect("pull");
    let got: Vec<(String, String, Option<String>)> = common::aggregates(&p.rows)
        .into_iter()
        .map(|a| {
            (
                a.metric.to_string(),
                a.value.to_string(),
                a.currency.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("impressions".into(), "1000".into(), None),
            ("bonus_cost".into(), "12.5".into(), Some("USD".into())),
            ("ftd_count".into(), "3".into(), None),
        ]
    );
    assert_eq!(
        common::aggregates(&p.rows)[0].metric,
        Metric::parse("impressions").unwrap()
    );
}
