//! A scheduled check's `sources:` names roles: each kind needs some (old and new for
//! reconcile, event_flow, event_match, rollup and payout; new for attribution; new and crm
//! for record_sync; both hierarchies for rollup) and accepts others (crosswalk and rates;
//! old for attribution; hierarchies for payout); each role's source must have the role's `rows:` kind. Every
//! mistake is reported at the check, the role or the source id.

const BASE: &str = r#"migration: m
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
sources:
  - { id: o, system: old, rows: event, file: { path: o.csv }, format: { type: csv }, fields: { id: id, kind: kind, occurred_at: at } }
  - { id: n, system: new, rows: event, file: { path: n.csv }, format: { type: csv }, fields: { id: id, kind: kind, occurred_at: at } }
  - { id: oa, system: old, file: { path: oa.csv }, format: { type: csv }, fields: { partner: p, day: d }, metrics: { ftd_count: f } }
  - { id: na, system: new, preset: tune }
  - { id: xw, system: new, rows: crosswalk, file: { path: xw.csv }, format: { type: csv }, fields: { old: o, new: n } }
  - { id: fx, system: ecb, rows: rates, file: { path: fx.csv }, format: { type: csv }, fields: { day: d, currency: c, rate: r } }
  - { id: oh, system: old, rows: hierarchy, file: { path: oh.csv }, format: { type: csv }, fields: { partner: p, parent: m } }
  - { id: nh, system: new, rows: hierarchy, file: { path: nh.csv }, format: { type: csv }, fields: { partner: p, parent: m } }
  - { id: crm, system: crm, rows: record, file: { path: crm.csv }, format: { type: csv }, fields: { id: id, email: email } }
  - { id: nr, system: new, rows: record, file: { path: nr.csv }, format: { type: csv }, fields: { id: id, email: email } }
checks:
"#;

const PHASES: &str = r#"phases:
  - id: p
    goal: g
    owners: [bi]
    exit:
      - { id: w, min_duration: 1d }
"#;

fn plan(checks: &str) -> String {
    format!("{BASE}{checks}{PHASES}")
}

/// A check line (line 20 onwards) of `kind` reading `sources` (a flow mapping).
fn check(id: &str, kind: &str, sources: &str, params: &str) -> String {
    format!(
        "  - {{ id: {id}, layer: bi, kind: {kind}, schedule: \"0 7 * * *\", sources: {sources}{params} }}\n"
    )
}

const PAYOUT: &str = ", params: { deals: [{ partner: p1, cpa: { amount: 100 } }] }";
const ATTR: &str = ", params: { links: { b1: p1 } }";

fn errors(text: &str) -> Vec<String> {
    match cutover_plan::load("plan.yaml", text) {
        Ok(_) => Vec::new(),
        Err(d) => d
            .iter()
            .map(ToString::to_string)
            .filter(|e| e.contains(": error: "))
            .collect(),
    }
}

#[test]
fn each_kind_names_the_roles_it_is_missing() {
    let text = plan(
        &[
            check("flow", "event_flow", "{ new: n }", ""),
            check("match", "event_match", "{ old: o }", ""),
            check("attr", "attribution", "{ crosswalk: xw }", ATTR),
            check("sync", "record_sync", "{ new: nr }", ""),
            check("recon", "reconcile", "{ new: na }", ""),
            check(
                "roll",
                "rollup",
                "{ old: oa, new: na, old_hierarchy: oh }",
                "",
            ),
            check("pay", "payout", "{ old: oa }", PAYOUT),
        ]
        .concat(),
    );
    assert_eq!(
        errors(&text),
        vec![
            "plan.yaml:20:5: error: check \"flow\" compares new event volumes with old; its sources need \"old\"",
            "plan.yaml:21:5: error: check \"match\" matches old events with new ones; its sources need \"new\"",
            "plan.yaml:22:5: error: check \"attr\" reads the new platform's events; its sources need \"new\"",
            "plan.yaml:23:5: error: check \"sync\" compares new records with the CRM's; its sources need \"crm\"",
            "plan.yaml:24:5: error: check \"recon\" compares two sides; its sources need \"old\"",
            "plan.yaml:25:5: error: check \"roll\" rolls each system's partners up its own hierarchy; its sources need \"new_hierarchy\"",
            "plan.yaml:26:5: error: check \"pay\" recomputes commission from each side's period sums; its sources need \"new\"",
        ]
    );
}

#[test]
fn every_role_needs_its_row_kind() {
    let text = plan(
        &[
            check(
                "recon",
                "reconcile",
                "{ old: o, new: na, crosswalk: fx, rates: xw }",
                "",
            ),
            check("match", "event_match", "{ old: oa, new: n }", ""),
            check("sync", "record_sync", "{ new: n, crm: oh }", ""),
            check(
                "roll",
                "rollup",
                "{ old: oa, new: na, old_hierarchy: xw, new_hierarchy: nh }",
                "",
            ),
        ]
        .concat(),
    );
    assert_eq!(
        errors(&text),
        vec![
            "plan.yaml:20:85: error: check \"recon\" reads source \"o\" as \"old\", which must be a \"rows: aggregate\" source; \"o\" has rows: event",
            "plan.yaml:20:108: error: check \"recon\" reads source \"fx\" as \"crosswalk\", which must be a \"rows: crosswalk\" source; \"fx\" has rows: rates",
            "plan.yaml:20:119: error: check \"recon\" reads source \"xw\" as \"rates\", which must be a \"rows: rates\" source; \"xw\" has rows: crosswalk",
            "plan.yaml:21:87: error: check \"match\" reads source \"oa\" as \"old\", which must be a \"rows: event\" source; \"oa\" has rows: aggregate",
            "plan.yaml:22:86: error: check \"sync\" reads source \"n\" as \"new\", which must be a \"rows: record\" source; \"n\" has rows: event",
            "plan.yaml:22:94: error: check \"sync\" reads source \"oh\" as \"crm\", which must be a \"rows: record\" source; \"oh\" has rows: hierarchy",
            "plan.yaml:23:109: error: check \"roll\" reads source \"xw\" as \"old_hierarchy\", which must be a \"rows: hierarchy\" source; \"xw\" has rows: crosswalk",
        ]
    );
}

#[test]
fn roles_a_kind_does_not_read_are_errors() {
    let text = plan(
        &[
            check("recon", "reconcile", "{ old: oa, new: na, crm: crm }", ""),
            check(
                "sync",
                "record_sync",
                "{ new: nr, crm: crm, crosswalk: xw }",
                "",
            ),
            check("attr", "attribution", "{ new: n, new_hierarchy: nh }", ATTR),
            check(
                "x",
                "reconcile",
                "{ old: oa, new: na, bi: oa, hierarchy: oh }",
                "",
            ),
        ]
        .concat(),
    );
    assert_eq!(
        errors(&text),
        vec![
            "plan.yaml:20:98: error: check \"recon\" (kind reconcile) reads no \"crm\" source; its roles are \"old\", \"new\", \"crosswalk\" and \"rates\"",
            "plan.yaml:21:100: error: check \"sync\" (kind record_sync) reads no \"crosswalk\" source; its roles are \"new\" and \"crm\"",
            "plan.yaml:22:89: error: check \"attr\" (kind attribution) reads no \"new_hierarchy\" source; its roles are \"new\", \"old\", \"crosswalk\" and \"rates\"",
            "plan.yaml:23:94: error: check \"x\" names unknown source role \"bi\" (expected old, new, crosswalk, rates, old_hierarchy, new_hierarchy, crm)",
            "plan.yaml:23:102: error: check \"x\" names unknown source role \"hierarchy\" (expected old, new, crosswalk, rates, old_hierarchy, new_hierarchy, crm)",
        ]
    );
}

#[test]
fn complete_roles_load() {
    let text = plan(
        &[
            check(
                "flow",
                "event_flow",
                "{ old: o, new: n, crosswalk: xw, rates: fx }",
                "",
            ),
            check(
                "match",
                "event_match",
                "{ old: o, new: n, crosswalk: xw }",
                "",
            ),
            check("attr", "attribution", "{ new: n, old: o, rates: fx }", ATTR),
            check("sync", "record_sync", "{ new: nr, crm: crm }", ""),
            check(
                "recon",
                "reconcile",
                "{ old: oa, new: na, crosswalk: xw, rates: fx }",
                "",
            ),
            check(
                "roll",
                "rollup",
                "{ old: oa, new: na, old_hierarchy: oh, new_hierarchy: nh, crosswalk: xw }",
                "",
            ),
            check("pay", "payout", "{ old: oa, new: na }", PAYOUT),
            check(
                "pay_tree",
                "payout",
                "{ old: oa, new: na, new_hierarchy: nh, old_hierarchy: oh, rates: fx }",
                PAYOUT,
            ),
        ]
        .concat(),
    );
    let loaded = cutover_plan::load("plan.yaml", &text).unwrap_or_else(|d| panic!("{d:#?}"));
    let s = |c: &str| loaded.plan.check(c).unwrap().sources.clone();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        s("attr"),
        pairs(&[("new", "n"), ("old", "o"), ("rates", "fx")])
    );
    assert_eq!(s("sync"), pairs(&[("crm", "crm"), ("new", "nr")]));
    assert_eq!(
        s("roll"),
        pairs(&[
            ("crosswalk", "xw"),
            ("new", "na"),
            ("new_hierarchy", "nh"),
            ("old", "oa"),
            ("old_hierarchy", "oh")
        ])
    );
}
