//! `variance_policy:` and the `variances:` exit condition: what they load into, every
//! mistake as an exact located diagnostic, and the ownership rules the register uses.

use cutover_plan::*;
use rust_decimal::Decimal;

const BASE: &str = r#"migration: m
timezone: UTC
currency: EUR
layers:
  bi: {}
  finance: {}
  affiliate: {}
people:
  - { id: alex, name: Alex, email: a@x.io, lead: true, layers: [bi, finance, affiliate] }
checks:
  - { id: r, layer: bi, kind: reconcile, schedule: "0 7 * * *" }
metrics:
  bonus_cost: money
variance_policy:
  ftd_amount: { absolute: 50, relative: 1%, cap: 200 }
  clicks_gross: { owner: affiliate, relative: 0.02 }
  bonus_cost: { owner: bi }
phases:
  - id: p
    goal: g
    owners: [bi]
    exit:
      - { id: ran, check: r, outcome: [pass, warn, fail] }
      - { id: v, variances: { unexplained_material: 0 } }
      - id: nested
        any:
          - { id: money, variances: { unexplained_material: 2, metrics: ftd_amount, layers: [finance], accepted_by: [finance, bi] } }
"#;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

fn errors(text: &str) -> Vec<String> {
    match load("plan.yaml", text) {
        Ok(_) => panic!("expected errors, got a plan"),
        Err(ds) => ds
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect(),
    }
}

#[test]
fn the_policy_and_the_condition_load() {
    let plan = load("plan.yaml", BASE).expect("loads").plan;
    let p = &plan.variance_policy;
    let amount = p.get("ftd_amount").unwrap();
    assert_eq!(amount.absolute, Some(d("50")));
    assert_eq!(amount.relative, Some(d("0.01")));
    assert_eq!(amount.cap, Some(d("200")));
    assert_eq!(amount.owner, None);
    assert_eq!(p.get("clicks_gross").unwrap().relative, Some(d("0.02")));
    let (_, v) = plan.condition("v").unwrap();
    assert_eq!(
        v.owners,
        ["bi"],
        "a plain variances condition: the phase's owners"
    );
    let (_, money) = plan.condition("money").unwrap();
    assert_eq!(
        money.owners,
        ["finance", "bi"],
        "accepted_by answers for it"
    );
    assert_eq!(
        money.kind,
        ConditionKind::Variances(VarianceGate {
            unexplained_material: 2,
            metrics: vec!["ftd_amount".into()],
            layers: vec!["finance".into()],
            accepted_by: vec!["finance".into(), "bi".into()],
        })
    );
    assert_eq!(plan.variance_gates().len(), 2);
}

#[test]
fn owners_and_required_acceptors() {
    let plan = load("plan.yaml", BASE).expect("loads").plan;
    // Money without a policy owner: finance. With one: the plan's word.
    assert_eq!(
        plan.metric_owner("r", "ftd_amount").as_deref(),
        Some("finance")
    );
    assert_eq!(plan.metric_owner("r", "bonus_cost").as_deref(), Some("bi"));
    assert_eq!(
        plan.metric_owner("r", "clicks_gross").as_deref(),
        Some("affiliate")
    );
    // A count without a policy owner: the check's layer.
    assert_eq!(
        plan.metric_owner("r", "registrations").as_deref(),
        Some("bi")
    );
    // The nested condition asks finance and BI for finance-owned ftd_amount.
    assert_eq!(
        plan.required_acceptors("r", "ftd_amount"),
        ["finance", "bi"]
    );
    assert_eq!(plan.required_acceptors("r", "clicks_gross"), ["affiliate"]);
}

#[test]
fn policy_mistakes_are_located() {
    assert_eq!(
        errors(&edit(
            "  bonus_cost: { owner: bi }",
            "  bonus_cots: { owner: bi }\n  net_revenue: { owner: financ, relative: -1%, cap: lots, tiers: {} }\n  commission: 5"
        )),
        [
            "plan.yaml:17:3: error: variance_policy names unknown metric \"bonus_cots\" (declare it under \"metrics\" or use a canonical one); did you mean \"bonus_cost\"?",
            "plan.yaml:18:25: error: variance_policy of \"net_revenue\" is owned by unknown layer \"financ\"; did you mean \"finance\"?",
            "plan.yaml:18:43: error: relative of variance_policy of \"net_revenue\" must be a percentage such as \"2%\" or a fraction such as 0.02, not negative; found \"-1%\"",
            "plan.yaml:18:53: error: cap of variance_policy of \"net_revenue\" must be a number, 0 or more; found \"lots\"",
            "plan.yaml:18:59: error: variance_policy of \"net_revenue\": thresholds per partner tier need partner tiers, which a plan cannot declare yet; give one threshold for the metric",
            "plan.yaml:19:15: error: variance_policy of \"commission\" must be a mapping with owner, absolute, relative and/or cap",
        ]
    );
    assert_eq!(
        errors(&edit(
            "  ftd_amount: { absolute: 50,",
            "  ftd_amount: { absolut: 50,"
        )),
        [
            "plan.yaml:15:17: error: variance_policy of \"ftd_amount\" has unknown key \"absolut\" (expected owner, absolute, relative or cap); did you mean \"absolute\"?"
        ]
    );
}

#[test]
fn condition_mistakes_are_located() {
    assert_eq!(
        errors(&edit(
            "{ id: v, variances: { unexplained_material: 0 } }",
            "{ id: v, variances: { metrics: [ftd_amont], layers: bo, colour: red } }"
        )),
        [
            "plan.yaml:24:29: error: variances of condition \"v\" needs \"unexplained_material\" (how many material variances may stay unexplained, usually 0)",
            "plan.yaml:24:41: error: variances of condition \"v\" names unknown metric \"ftd_amont\"; did you mean \"ftd_amount\"?",
            "plan.yaml:24:61: error: variances of condition \"v\" counts variances owned by unknown layer \"bo\"; did you mean \"bi\"?",
            "plan.yaml:24:65: error: variances of condition \"v\" has unknown key \"colour\" (expected unexplained_material, metrics, layers or accepted_by)",
        ]
    );
    assert_eq!(
        errors(&edit(
            "{ id: v, variances: { unexplained_material: 0 } }",
            "{ id: v, variances: 0 }"
        )),
        [
            "plan.yaml:24:29: error: variances of condition \"v\" must be a mapping such as \"{unexplained_material: 0}\""
        ]
    );
    assert_eq!(
        errors(&edit(
            "{ id: v, variances: { unexplained_material: 0 } }",
            "{ id: v, variances: { unexplained_material: 0 }, outcome: pass }"
        )),
        [
            "plan.yaml:24:58: error: \"outcome\" of condition \"v\" only applies to a check condition, not variances"
        ]
    );
}
