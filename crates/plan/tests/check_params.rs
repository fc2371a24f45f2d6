//! The typed `params:` of every scheduled check kind: valid settings load and convert,
//! bad ones are reported at their own line and column.

use cutover_plan::*;

fn plan(check: &str) -> String {
    format!(
        r#"migration: m
timezone: UTC
currency: EUR
layers:
  bi: {{}}
people:
  - {{ id: alex, name: Alex, email: a@x.io, lead: true, layers: [bi] }}
checks:
{check}
phases:
  - id: p
    goal: g
    owners: [bi]
    exit:
      - {{ id: x, check: c }}
"#
    )
}

fn errors(check: &str) -> Vec<String> {
    match load("plan.yaml", &plan(check)) {
        Ok(_) => Vec::new(),
        Err(ds) => ds.iter().map(ToString::to_string).collect(),
    }
}

fn config(check: &str) -> CheckConfig {
    let l = load("plan.yaml", &plan(check)).unwrap_or_else(|ds| panic!("{ds:?}"));
    l.plan.check("c").unwrap().config().unwrap().unwrap()
}

#[test]
fn every_kind_loads_typed() {
    let kinds = [
        "  - { id: c, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", params: { metrics: { ftd_amount: { abs: 1, rel: 0.01, rounding_per_row: 0.005 } }, by: [link], fail: { count: 5, money: 100 } } }",
        "  - { id: c, layer: bi, kind: rollup, schedule: \"0 7 * * *\", params: { metrics: [ftd_count], tolerance: 0 } }",
        "  - { id: c, layer: bi, kind: attribution, schedule: \"0 7 * * *\", params: { links: { b1: aff-1 }, coupons: { SAVE: aff-2 } } }",
        "  - { id: c, layer: bi, kind: event_flow, schedule: \"0 7 * * *\", params: { expect: [ftd], band: { min: 0.9, max: 1.1 }, max_gap: 6h } }",
        "  - { id: c, layer: bi, kind: payout, schedule: \"0 7 * * *\", params: { deals: [ { partner: a, cpa: { amount: 100, hold: 14d } } ] } }",
        "  - { id: c, layer: bi, kind: record_sync, schedule: \"0 7 * * *\", params: { fields: [email] } }",
        "  - { id: c, layer: bi, kind: event_match, schedule: \"0 7 * * *\", params: { by: order_id } }",
    ];
    let names: Vec<&str> = kinds
        .iter()
        .map(|k| match config(k) {
            CheckConfig::Reconcile(r) => {
                assert!(r.by_link);
                assert_eq!(r.only, ["ftd_amount"]);
                "reconcile"
            }
            CheckConfig::Rollup(_) => "rollup",
            CheckConfig::Attribution(a) => {
                assert_eq!(a.coupons, [("SAVE".to_owned(), "aff-2".to_owned())]);
                "attribution"
            }
            CheckConfig::EventFlow(e) => {
                assert_eq!(e.max_gap, Some(chrono::TimeDelta::hours(6)));
                "event_flow"
            }
            CheckConfig::Payout(p) => {
                assert_eq!(p.deals[0].cpa.as_ref().unwrap().hold_days, Some(14));
                "payout"
            }
            CheckConfig::RecordSync(_) => "record_sync",
            CheckConfig::EventMatch(m) => {
                assert_eq!(m.by, "order_id");
                "event_match"
            }
        })
        .collect();
    assert_eq!(names.len(), 7);
}

#[test]
fn bad_params_point_at_the_key_or_value() {
    let check = r#"  - id: c
    layer: bi
    kind: reconcile
    schedule: "0 7 * * *"
    params:
      tolerance: { abs: -1, rell: 0.1 }
      metrics: [ftd_count, signups]
      fail: { count: many }"#;
    assert_eq!(
        errors(check),
        [
            "plan.yaml:14:25: error: check \"c\": params.tolerance.abs must be zero or more, got -1",
            "plan.yaml:14:29: error: check \"c\": unknown key \"rell\" in params.tolerance (expected \"abs\", \"rel\", \"rounding_per_row\"); did you mean \"rel\"?",
            "plan.yaml:15:28: error: check \"c\": unknown metric \"signups\" in params.metrics[2]",
            "plan.yaml:16:22: error: check \"c\": params.fail.count must be a whole number, found a string",
        ]
    );
}

#[test]
fn payout_needs_deals_and_ordered_tiers() {
    let check = r#"  - id: c
    layer: bi
    kind: payout
    schedule: "0 7 * * *"
    params:
      deals:
        - partner: a
          currency: EURO
          revshare:
            mode: marginal
            tiers:
              - { up_to: 50000, rate: 0.25 }
              - { up_to: 20000, rate: 0.30 }
              - { rate: 0.35 }"#;
    assert_eq!(
        errors(check),
        [
            "plan.yaml:16:21: error: check \"c\": params.deals[1].currency \"EURO\" is not an ISO 4217 currency code",
            "plan.yaml:21:26: error: check \"c\": params.deals[1].revshare.tiers[2].up_to (20000) must be above the previous tier's (50000)",
        ]
    );
    let none = "  - { id: c, layer: bi, kind: payout, schedule: \"0 7 * * *\" }";
    assert_eq!(
        errors(none),
        ["plan.yaml:9:5: error: check \"c\": a payout check lists its deals under params.deals"]
    );
}
