//! Issue 8's plan schema: metrics declared at the top level (`metrics: {impressions:
//! count}`), the reference-data row kinds of a source (`rows: crosswalk | rates |
//! hierarchy | record`) with their fields, and the row kind each check role needs.

use cutover_plan::sources::RowKind;
use cutover_plan::{CheckConfig, DeclaredMetric, MetricKind};

const BASE: &str = "migration: m
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
phases:
  - id: p
    goal: g
    owners: [bi]
    exit:
      - { id: w, min_duration: 1d }
";

/// Every diagnostic (errors and warnings) of `text` as `file:line:col: severity: msg`.
fn diagnostics(text: &str) -> Vec<String> {
    match cutover_plan::load("plan.yaml", text) {
        Ok(l) => l.warnings.iter().map(ToString::to_string).collect(),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

fn load(text: &str) -> cutover_plan::Loaded {
    cutover_plan::load("plan.yaml", text).unwrap_or_else(|d| panic!("{d:#?}\n{text}"))
}

/// A file source of `rows` kind with `fields` (a flow mapping) and extra keys.
fn src(id: &str, rows: &str, fields: &str, extra: &str) -> String {
    format!(
        "  - {{ id: {id}, system: old, rows: {rows}, file: {{ path: {id}.csv }}, format: {{ type: csv }}, fields: {fields}{extra} }}\n"
    )
}

#[test]
fn declared_metrics_are_listed_and_known() {
    let text = format!(
        "{BASE}metrics:\n  impressions: count\n  bonus_cost: money\nsources:\n{}",
        src(
            "a",
            "aggregate",
            "{ partner: p, day: d }",
            ", metrics: { impressions: imp, bonus_cost: bonus, ftd_count: ftds }"
        )
    );
    let l = load(&text);
    assert_eq!(
        l.plan.metrics,
        vec![
            DeclaredMetric {
                name: "impressions".into(),
                kind: MetricKind::Count
            },
            DeclaredMetric {
                name: "bonus_cost".into(),
                kind: MetricKind::Money
            },
        ]
    );
    let v = l.plan.vocabulary();
    assert!(v.is_money("bonus_cost") && v.is_money("net_revenue"));
    assert!(!v.is_money("impressions") && v.is_known("impressions"));
    assert!(!v.is_known("ftd"));
    let names: Vec<&str> = l.sources[0]
        .metrics
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["impressions", "bonus_cost", "ftd_count"]);
    assert_eq!(l.sources[0].vocabulary, v);
}

#[test]
fn declared_metric_mistakes_are_located() {
    let text = format!(
        "{BASE}metrics:\n  clicks_gross: count\n  impressions: cuont\n  bonus_cost: [money]\n  \"a\\tb\": count\n"
    );
    assert_eq!(
        diagnostics(&text),
        vec![
            "plan.yaml:15:3: error: metrics: \"clicks_gross\" is a canonical metric (a count) already; declare only metrics beyond the canonical list",
            "plan.yaml:16:16: error: metric \"impressions\" has unknown kind \"cuont\" (expected count or money); did you mean \"count\"?",
            "plan.yaml:17:3: error: metric \"bonus_cost\" must be count or money, found a list or mapping",
            "plan.yaml:18:3: error: metrics: metric name \"a\\tb\" contains a control character",
        ]
    );
    assert_eq!(
        diagnostics(&format!("{BASE}metrics: [impressions]\n")),
        vec![
            "plan.yaml:14:10: error: \"metrics\" must be a mapping of metric name to count or money, e.g. \"metrics: {impressions: count, bonus_cost: money}\""
        ]
    );
}

#[test]
fn checks_and_sources_accept_declared_metrics_only() {
    let checks = "checks:
  - id: r
    layer: bi
    kind: reconcile
    schedule: \"0 7 * * *\"
    params:
      metrics: { bonus_cost: { abs: 0.05 }, impressions: {} }
      labels: { old: { Impr: impressions, Bonus: bonus } }
  - id: u
    layer: bi
    kind: rollup
    schedule: \"0 7 * * *\"
    params: { metrics: [impressions, ftd] }
";
    let text = format!(
        "{BASE}metrics: {{ impressions: count, bonus_cost: money }}\n{checks}sources:\n{}",
        src(
            "a",
            "aggregate",
            "{ partner: p, day: d }",
            ", metrics: { impressionz: i }"
        )
    );
    let errs: Vec<String> = diagnostics(&text)
        .into_iter()
        .filter(|e| e.contains("error"))
        .collect();
    assert_eq!(
        errs,
        vec![
            "plan.yaml:22:50: error: check \"r\": unknown metric \"bonus\" in params.labels.old.Bonus",
            "plan.yaml:27:38: error: check \"u\": unknown metric \"ftd\" in params.metrics[2]",
            "plan.yaml:29:131: error: source \"a\": \"metrics\" must map at least one metric",
            "plan.yaml:29:133: error: source \"a\": unknown metric \"impressionz\" in \"metrics\"; did you mean \"impressions\"?",
        ]
    );
    // The same params without the declaration: the declared names are unknown.
    let fixed = text.replace("Bonus: bonus }", "Bonus: bonus_cost }");
    let fixed = fixed.replace("[impressions, ftd]", "[impressions]");
    let fixed = fixed.replace("impressionz", "impressions");
    let l = load(&fixed);
    let cfg = l.plan.check("r").unwrap().config().unwrap().unwrap();
    let CheckConfig::Reconcile(r) = cfg else {
        panic!("not reconcile")
    };
    assert_eq!(r.only, ["bonus_cost", "impressions"]);
    let params = match &l.plan.check("r").unwrap().kind {
        cutover_plan::CheckKind::Scheduled { params, .. } => params.clone(),
        _ => unreachable!(),
    };
    let canonical_only =
        CheckConfig::from_params(cutover_plan::ScheduledKind::Reconcile, &params).unwrap_err();
    assert_eq!(
        canonical_only[0].message,
        "unknown metric \"bonus_cost\" in params.metrics.bonus_cost"
    );
    assert!(
        CheckConfig::from_params_in(
            cutover_plan::ScheduledKind::Reconcile,
            &params,
            &l.plan.vocabulary()
        )
        .is_ok()
    );
}

#[test]
fn reference_row_kinds_load_with_their_fields() {
    let text = format!(
        "{BASE}sources:\n{}{}{}{}",
        src(
            "xw",
            "crosswalk",
            "{ old: old_id, new: new_id, valid_from: { path: from, format: \"%d.%m.%Y\" }, valid_to: to }",
            ""
        ),
        src(
            "fx",
            "rates",
            "{ day: date, currency: cur, rate: rate }",
            ""
        ),
        src("tree", "hierarchy", "{ partner: id, parent: master }", ""),
        src(
            "crm",
            "record",
            "{ id: customer_id, email: email, \"Full name\": name, status: { path: st, map: { A: active } } }",
            ""
        ),
    );
    let l = load(&text);
    let kinds: Vec<RowKind> = l.sources.iter().map(|s| s.rows).collect();
    assert_eq!(
        kinds,
        [
            RowKind::Crosswalk,
            RowKind::Rates,
            RowKind::Hierarchy,
            RowKind::Record
        ]
    );
    assert!(l.sources.iter().all(|s| s.metrics.is_empty()));
    let crm: Vec<&str> = l.sources[3]
        .fields
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(crm, ["id", "email", "Full name", "status"]);
    assert_eq!(
        l.sources[0].field("valid_from").unwrap().format.as_deref(),
        Some("%d.%m.%Y")
    );
}

#[test]
fn reference_row_mistakes_are_located() {
    let text = format!(
        "{BASE}sources:\n{}{}{}{}{}",
        src("xw", "crosswalk", "{ old: o, nwe: n }", ""),
        src(
            "fx",
            "rates",
            "{ day: d, currency: c }",
            ", metrics: { ftd_count: f }"
        ),
        src("tree", "hierarchy", "{ parent: m, partner_id: p }", ""),
        src("crm", "record", "{ email: e }", ""),
        src("x", "hierachy", "{ partner: p }", ""),
    );
    assert_eq!(
        diagnostics(&text),
        vec![
            "plan.yaml:15:92: error: source \"xw\": \"fields\" must map \"new\"",
            "plan.yaml:15:110: error: source \"xw\": unknown field \"nwe\" in \"fields\"; did you mean \"new\"?",
            "plan.yaml:16:88: error: source \"fx\": \"fields\" must map \"rate\"",
            "plan.yaml:16:121: error: source \"fx\": \"metrics\" only applies to aggregate sources (this source's rows are rates)",
            "plan.yaml:17:96: error: source \"tree\": \"fields\" must map \"partner\"",
            "plan.yaml:17:117: error: source \"tree\": unknown field \"partner_id\" in \"fields\"; did you mean \"partner\"?",
            "plan.yaml:18:91: error: source \"crm\": \"fields\" must map \"id\"",
            // An unknown kind is read as an aggregate source for the rest of the checks.
            "plan.yaml:19:5: error: source \"x\": an aggregate source needs \"metrics\" (wide layout) or \"fields\" mapping \"metric\" and \"value\" (long layout)",
            "plan.yaml:19:27: error: source \"x\": unknown row kind \"hierachy\" (expected aggregate, event, crosswalk, rates, hierarchy or record); did you mean \"hierarchy\"?",
            "plan.yaml:19:89: error: source \"x\": \"fields\" must map \"day\"",
        ]
    );
}
