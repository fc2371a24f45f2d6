//! The `variances:` exit condition evaluated on facts: material variances in scope block
//! until accepted by every layer required; immaterial ones never block unless the cap is
//! passed; an expired explanation blocks again; `metrics:` and `layers:` narrow the scope.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cutover_engine::{Facts, MigrationState, Status, VarianceFact, current_gate};
use cutover_plan::Plan;
use rust_decimal::Decimal;

const PLAN: &str = r#"
migration: gate
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
  finance: { description: Finance }
  affiliate: { description: Affiliate }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi, finance, affiliate] }
checks:
  - { id: recon, layer: bi, kind: reconcile, schedule: "0 7 * * *" }
variance_policy:
  ftd_amount: { absolute: 5, relative: 10%, cap: 8 }
  clicks_gross: { owner: affiliate, relative: 2% }
phases:
  - id: parallel
    goal: Compare
    owners: [bi]
    exit:
      - { id: ran, check: recon, outcome: [pass, warn, fail] }
      - { id: all, variances: { unexplained_material: 0 } }
      - { id: money, variances: { unexplained_material: 0, metrics: ftd_amount, accepted_by: [finance, bi] } }
      - { id: clicks, variances: { unexplained_material: 1, layers: [affiliate] } }
  - id: done
    goal: Done
    owners: [bi]
"#;

fn plan() -> Plan {
    cutover_plan::load("plan.yaml", PLAN)
        .unwrap_or_else(|d| panic!("{d:?}"))
        .plan
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn state() -> MigrationState {
    let mut s = MigrationState::new();
    s.status = Status::Active;
    s.phase = Some("parallel".into());
    s.entered_at = Some(at(1));
    s
}

fn v(id: i32, metric: &str, old: &str, delta: &str, status: &str, layers: &[&str]) -> VarianceFact {
    VarianceFact {
        id,
        check: "recon".into(),
        partner: format!("P{id}"),
        day: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        metric: metric.into(),
        status: status.into(),
        old: Some(d(old)),
        delta: d(delta),
        money_impact: metric.ends_with("amount").then(|| d(delta).abs()),
        accepted_layers: layers.iter().map(|l| l.to_string()).collect(),
        expires: None,
        first_seen: None,
    }
}

/// (condition id, holds, reason) of the top-level variance conditions.
fn gate(facts: Vec<VarianceFact>, day: u32) -> Vec<(String, bool, String)> {
    let facts = Facts {
        variances: facts,
        ..Facts::default()
    };
    current_gate(&plan(), &state(), &facts, at(day))
        .unwrap()
        .conditions
        .into_iter()
        .filter(|c| c.id != "ran")
        .map(|c| (c.id, c.satisfied, c.reason))
        .collect()
}

fn holds(g: &[(String, bool, String)], id: &str) -> bool {
    g.iter().find(|c| c.0 == id).unwrap().1
}

fn reason<'a>(g: &'a [(String, bool, String)], id: &str) -> &'a str {
    &g.iter().find(|c| c.0 == id).unwrap().2
}

#[test]
fn material_variances_block_until_every_required_layer_accepted() {
    // 10.00 of 100 is beyond 5: material; owned by finance (money).
    let g = gate(vec![v(1, "ftd_amount", "100", "-10", "open", &[])], 2);
    assert!(!holds(&g, "all") && !holds(&g, "money"));
    assert_eq!(
        reason(&g, "all"),
        "1 unexplained material variance (at most 0), money impact 10 EUR: #1 recon P1 2026-11-01 ftd_amount delta -10, impact 10 EUR [open; owner finance]"
    );
    // Accepted by finance only: `all` holds (owner), `money` wants BI too.
    let g = gate(
        vec![v(1, "ftd_amount", "100", "-10", "accepted", &["finance"])],
        2,
    );
    assert!(holds(&g, "all"), "{g:?}");
    assert!(!holds(&g, "money"));
    assert!(reason(&g, "money").contains("[accepted, awaiting bi; owner finance]"));
    let g = gate(
        vec![v(
            1,
            "ftd_amount",
            "100",
            "-10",
            "accepted",
            &["finance", "bi"],
        )],
        2,
    );
    assert!(holds(&g, "all") && holds(&g, "money"), "{g:?}");
    assert_eq!(
        reason(&g, "money"),
        "no unexplained material variance; 1 accepted, 0 immaterial"
    );
}

#[test]
fn immaterial_ones_pass_until_the_cap_and_expired_explanations_block() {
    // Two of 4.00 (within 5 and 10% of 100): 8.00 is not over the cap of 8.
    let small = vec![
        v(1, "ftd_amount", "100", "4", "open", &[]),
        v(2, "ftd_amount", "100", "-4", "open", &[]),
    ];
    let g = gate(small.clone(), 2);
    assert!(holds(&g, "all") && holds(&g, "money"), "{g:?}");
    assert!(reason(&g, "all").contains("2 immaterial"));
    // A third small one passes the cap: all three are material now.
    let mut many = small;
    many.push(v(3, "ftd_amount", "100", "0.5", "open", &[]));
    let g = gate(many, 2);
    assert!(
        reason(&g, "all").starts_with("3 unexplained material variances"),
        "{g:?}"
    );

    let mut e = v(
        1,
        "ftd_amount",
        "100",
        "-10",
        "accepted",
        &["finance", "bi"],
    );
    e.expires = Some(NaiveDate::from_ymd_opt(2026, 11, 3).unwrap());
    assert!(
        holds(&gate(vec![e.clone()], 3), "all"),
        "holds through its expiry day"
    );
    let g = gate(vec![e], 4);
    assert!(!holds(&g, "all"));
    assert!(
        reason(&g, "all").contains("explanation expired 2026-11-03"),
        "{g:?}"
    );
}

#[test]
fn metrics_and_layers_narrow_the_scope() {
    // Clicks are owned by affiliate (the plan says so): only `all` and `clicks` see them;
    // `clicks` allows one.
    let one = vec![v(1, "clicks_gross", "1000", "50", "open", &[])];
    let g = gate(one.clone(), 2);
    assert!(!holds(&g, "all"));
    assert!(holds(&g, "money"));
    assert!(holds(&g, "clicks"));
    assert!(reason(&g, "all").contains("owner affiliate"));
    let mut two = one;
    two.push(v(2, "clicks_gross", "1000", "-30", "explained", &[]));
    assert!(!holds(&gate(two, 2), "clicks"));
    // Within 2%: immaterial everywhere.
    assert!(holds(
        &gate(vec![v(1, "clicks_gross", "1000", "20", "open", &[])], 2),
        "all"
    ));
}
