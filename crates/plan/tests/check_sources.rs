//! A scheduled check's `sources:` must name the roles its kind reads: old and new for
//! reconcile, event_flow and event_match, new for attribution, new and crm for
//! record_sync; each missing role is reported at the check.

const PLAN: &str = r#"migration: m
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
sources:
  - { id: o, system: old, rows: event, file: { path: o.csv }, format: { type: csv }, fields: { id: id, kind: kind, occurred_at: at } }
  - { id: n, system: new, rows: event, file: { path: n.csv }, format: { type: csv }, fields: { id: id, kind: kind, occurred_at: at } }
checks:
  - id: flow
    layer: bi
    kind: event_flow
    schedule: "0 7 * * *"
    sources: { new: n }
  - id: match
    layer: bi
    kind: event_match
    schedule: "0 7 * * *"
    sources: { old: o }
  - { id: attr, layer: bi, kind: attribution, schedule: "0 7 * * *", sources: { old: o }, params: { links: { b1: p1 } } }
  - { id: sync, layer: bi, kind: record_sync, schedule: "0 7 * * *", sources: { new: n } }
  - { id: recon, layer: bi, kind: reconcile, schedule: "0 7 * * *", sources: { new: n } }
  - { id: roll, layer: bi, kind: rollup, schedule: "0 7 * * *", sources: { old: o } }
phases:
  - id: p
    goal: g
    owners: [bi]
    exit:
      - { id: w, min_duration: 1d }
"#;

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
    assert_eq!(
        errors(PLAN),
        vec![
            "plan.yaml:12:5: error: check \"flow\" compares new event volumes with old; its sources need \"old\"",
            "plan.yaml:17:5: error: check \"match\" matches old events with new ones; its sources need \"new\"",
            "plan.yaml:22:5: error: check \"attr\" reads the new platform's events; its sources need \"new\"",
            "plan.yaml:23:5: error: check \"sync\" compares new records with the CRM's; its sources need \"crm\"",
            "plan.yaml:24:5: error: check \"recon\" compares two sides; its sources need \"old\"",
        ]
    );
}

#[test]
fn complete_roles_load() {
    let fixed = PLAN
        .replace(
            "sources: { new: n }\n  - id: match",
            "sources: { old: o, new: n }\n  - id: match",
        )
        .replace(
            "sources: { old: o }\n  - { id: attr",
            "sources: { old: o, new: n }\n  - { id: attr",
        )
        .replace("sources: { old: o }, params", "sources: { new: n }, params")
        .replace(
            "record_sync, schedule: \"0 7 * * *\", sources: { new: n }",
            "record_sync, schedule: \"0 7 * * *\", sources: { new: n, crm: o }",
        )
        .replace(
            "reconcile, schedule: \"0 7 * * *\", sources: { new: n }",
            "reconcile, schedule: \"0 7 * * *\", sources: { old: o, new: n }",
        );
    let loaded = cutover_plan::load("plan.yaml", &fixed).unwrap_or_else(|d| panic!("{d:#?}"));
    let attr = loaded.plan.check("attr").unwrap();
    assert_eq!(attr.sources, vec![("new".to_owned(), "n".to_owned())]);
    let sync = loaded.plan.check("sync").unwrap();
    assert_eq!(
        sync.sources,
        vec![
            ("crm".to_owned(), "o".to_owned()),
            ("new".to_owned(), "n".to_owned())
        ]
    );
}
