//! Shared helpers: a plan around a `sources:` block, fixture servers on 127.0.0.1:0, env maps.

#![allow(dead_code)]

use std::collections::HashMap;

use axum::Router;
use chrono::NaiveDate;
use cutover_plan::Source;
use cutover_recon::{Aggregate, Metric, Row};
use cutover_sources::{PullOptions, Window};
use rust_decimal::Decimal;

const BASE: &str = "migration: m
timezone: UTC
currency: EUR
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
";

/// Compiles one source from its YAML list item (indented as under `sources:`).
pub fn source(yaml: &str) -> Source {
    let text = format!("{BASE}{yaml}");
    let mut l = cutover_plan::load("plan.yaml", &text)
        .unwrap_or_else(|d| panic!("source does not load: {d:#?}\n{text}"));
    l.sources.remove(0)
}

/// Serves `router` on 127.0.0.1 (any free port); returns `http://127.0.0.1:PORT`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

pub fn env(pairs: &[(&str, &str)]) -> PullOptions {
    PullOptions::with_env(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>(),
    )
}

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
}

pub fn window(from: &str, to: &str) -> Window {
    Window {
        from: day(from),
        to: day(to),
    }
}

pub fn aggregates(rows: &[Row]) -> Vec<&Aggregate> {
    rows.iter()
        .filter_map(|r| match r {
            Row::Aggregate(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// Sum of a metric, per partner.
pub fn totals(rows: &[Row], metric: Metric) -> HashMap<String, Decimal> {
    let mut out: HashMap<String, Decimal> = HashMap::new();
    for a in aggregates(rows) {
        if a.metric == metric {
            *out.entry(a.partner.clone()).or_default() += a.value;
        }
    }
    out
}

pub fn total(rows: &[Row], metric: Metric) -> Decimal {
    totals(rows, metric).values().copied().sum()
}
