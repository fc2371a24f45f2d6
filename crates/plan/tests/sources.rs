//! The `sources:` section: presets, connectors, auth, paging, formats and field mapping,
//! and the located diagnostics for each mistake.

use cutover_plan::sources::{Auth, Connector, Format, Paging, RowKind};

const BASE: &str = "migration: m
timezone: Europe/Malta
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
";

fn with(sources: &str) -> String {
    format!("{BASE}sources:\n{sources}")
}

fn errors(sources: &str) -> Vec<String> {
    match cutover_plan::load("plan.yaml", &with(sources)) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

fn assert_error(sources: &str, expected: &str) {
    let errs = errors(sources);
    assert!(
        errs.iter().any(|e| e == expected),
        "expected {expected:?} among {errs:#?}"
    );
}

#[test]
fn every_preset_loads_cleanly() {
    for (name, _) in cutover_plan::sources::PRESETS {
        let text = with(&format!(
            "  - {{ id: s_{name}, system: old, preset: {name} }}\n"
        ));
        let loaded = cutover_plan::load("plan.yaml", &text)
            .unwrap_or_else(|d| panic!("preset {name}: {d:#?}"));
        assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
        let s = &loaded.sources[0];
        assert_eq!(s.preset.as_deref(), Some(*name));
        assert!(matches!(s.connector, Connector::Http(_)));
    }
}

#[test]
fn presets_have_their_documented_shapes() {
    let text = with(
        "  - { id: ef, system: old, preset: everflow }
  - { id: tu, system: new, preset: tune }
  - { id: im, system: new, preset: impact }
  - { id: ck, system: old, preset: cake }
  - { id: cx, system: old, preset: cellxpert }
  - { id: cs, system: bi, preset: csv_export }
",
    );
    let l = cutover_plan::load("plan.yaml", &text).expect("loads");
    let http = |i: usize| match &l.sources[i].connector {
        Connector::Http(h) => h.clone(),
        other => panic!("{other:?}"),
    };
    assert!(matches!(http(0).auth, Auth::Header { ref name, .. } if name == "X-Eflow-API-Key"));
    assert_eq!(http(0).truncation.row_cap, Some(10_000));
    assert!(matches!(http(1).paging, Paging::Page { .. }));
    assert!(matches!(http(1).auth, Auth::Query { .. }));
    assert!(matches!(http(2).paging, Paging::NextUrl { ref path } if path == "@nextpageuri"));
    assert!(matches!(http(2).auth, Auth::Basic { .. }));
    assert_eq!(l.sources[2].rows, RowKind::Event);
    assert!(matches!(
        http(3).paging,
        Paging::Offset {
            first: 1,
            size: 10_000,
            ..
        }
    ));
    assert!(matches!(l.sources[4].format, Format::Xml { .. }));
    assert!(matches!(l.sources[5].format, Format::Csv { .. }));
    // The plan's zone is the default.
    assert_eq!(l.sources[0].timezone, chrono_tz::Europe::Malta);
}

#[test]
fn user_keys_override_preset_keys_deeply() {
    let text = with(
        "  - id: tu
    system: new
    preset: tune
    timezone: America/New_York
    http: { paging: { size: 5000 } }
",
    );
    let l = cutover_plan::load("plan.yaml", &text).expect("loads");
    let Connector::Http(h) = &l.sources[0].connector else {
        panic!()
    };
    assert!(matches!(
        h.paging,
        Paging::Page {
            size: 5000,
            first: 1,
            ..
        }
    ));
    assert_eq!(h.query.iter().filter(|(k, _)| k == "fields[]").count(), 8);
    assert_eq!(l.sources[0].timezone, chrono_tz::America::New_York);
}

#[test]
fn secret_debug_output_is_redacted() {
    let l = cutover_plan::load(
        "plan.yaml",
        &with("  - { id: ef, system: old, preset: everflow }\n"),
    )
    .expect("loads");
    let dbg = format!("{:?}", l.sources[0]);
    assert!(dbg.contains("${EVERFLOW_API_KEY}, redacted"), "{dbg}");
}

#[test]
fn unknown_keys_suggest_the_intended_one() {
    assert_error(
        "  - { id: a, system: old, preset: tune, timezon: UTC }\n",
        "plan.yaml:15:41: error: source \"a\": unknown key \"timezon\" in the source; did you mean \"timezone\"?",
    );
}

#[test]
fn unknown_preset() {
    assert_error(
        "  - { id: a, system: old, preset: everflw }\n",
        "plan.yaml:15:27: error: source \"a\": unknown preset \"everflw\"; did you mean \"everflow\"?",
    );
}

#[test]
fn literal_secrets_are_refused_without_echoing_them() {
    let errs = errors(
        "  - id: a
    system: bi
    http:
      url: https://example.com/r
      auth: { header: X-Key, key: hunter2-secret }
    format: { type: csv }
    fields: { partner: p, day: d }
    metrics: { ftd_count: f }
",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("must be an environment variable reference")),
        "{errs:#?}"
    );
    assert!(errs.iter().all(|e| !e.contains("hunter2")), "{errs:#?}");
}

#[test]
fn bad_env_references_and_placeholders() {
    let errs = errors(
        "  - id: a
    system: bi
    http:
      url: \"${base_url}/r?d={frm}\"
    format: { type: csv }
    fields: { partner: p, day: d }
    metrics: { ftd_count: f }
",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("bad environment reference \"${base_url}\"")),
        "{errs:#?}"
    );
    let errs = errors(
        "  - id: a
    system: bi
    http:
      url: \"https://x/r?d={frm}\"
    format: { type: csv }
    fields: { partner: p, day: d }
    metrics: { ftd_count: f }
",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("unknown placeholder \"{frm}\"; did you mean \"from\"?")),
        "{errs:#?}"
    );
}

#[test]
fn bad_paging_config() {
    let errs = errors(
        "  - id: a
    system: bi
    http:
      url: https://x/r
      paging: { style: pages, param: p }
    format: { type: json, rows: data }
    fields: { partner: p, day: d }
    metrics: { ftd_count: f }
",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("unknown paging style \"pages\"")
                && e.contains("did you mean \"page\"?")),
        "{errs:#?}"
    );
    let errs = errors(
        "  - id: a
    system: bi
    http:
      url: https://x/r
      paging: { style: cursor, param: after, size: 10 }
    format: { type: json, rows: data }
    fields: { partner: p, day: d }
    metrics: { ftd_count: f }
",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("\"size\" does not apply to paging style \"cursor\"")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("missing required key \"path\"")),
        "{errs:#?}"
    );
}

#[test]
fn mapping_mistakes() {
    let errs = errors(
        "  - id: a
    system: bi
    file: { path: x.csv }
    format: { type: csv }
    fields: { partnr: p }
    metrics: { ftd: f }
",
    );
    assert!(
        errs.iter().any(
            |e| e.contains("unknown field \"partnr\" in \"fields\"; did you mean \"partner\"?")
        ),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("unknown metric \"ftd\" in \"metrics\"")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("\"fields\" must map \"day\"")),
        "{errs:#?}"
    );
}

#[test]
fn one_connector_and_unique_ids() {
    let errs = errors(
        "  - id: a
    system: bi
    file: { path: x.csv }
    sql: { url: \"${DB}\", query: select 1 }
    format: { type: csv }
    fields: { partner: p, day: d }
    metrics: { ftd_count: f }
  - { id: a, system: old, preset: tune }
",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("has more than one connector")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("duplicate source \"a\"; first defined on line 15")),
        "{errs:#?}"
    );
}

#[test]
fn file_and_sql_sources_load() {
    let l = cutover_plan::load(
        "plan.yaml",
        &with(
            "  - id: crm
    system: crm
    rows: event
    sql: { url: \"${CRM_DATABASE_URL}\", query: \"select * from ftds where day between :from and :to\" }
    format: { type: json }
    fields:
      id: id
      kind: { value: ftd }
      occurred_at: occurred_at
      amount: amount
  - id: bi
    system: bi
    currency: EUR
    file: { path: exports/bi.csv }
    format: { type: csv, delimiter: \";\" }
    fields: { partner: partner, day: day }
    metrics: { ftd_amount: ftd_amount }
",
        ),
    )
    .expect("loads");
    assert!(matches!(l.sources[0].connector, Connector::Sql { .. }));
    assert!(matches!(
        l.sources[1].format,
        Format::Csv { delimiter: b';' }
    ));
}

#[test]
fn plans_without_sources_still_load() {
    let l = cutover_plan::load("plan.yaml", BASE).expect("loads");
    assert!(l.sources.is_empty());
}

#[test]
fn null_removes_a_preset_key() {
    let text = with(
        "  - { id: tu, system: new, preset: tune, metrics: { net_revenue: null, clicks_unique: ~ } }
  - { id: fx, preset: ecb, http: null, file: { path: fx.xml } }
",
    );
    let l = cutover_plan::load("plan.yaml", &text).unwrap_or_else(|d| panic!("{d:#?}"));
    let names: Vec<&str> = l.sources[0]
        .metrics
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["clicks_gross", "ftd_count", "commission"]);
    assert!(matches!(l.sources[1].connector, Connector::File { .. }));
}

#[test]
fn rates_quote() {
    use cutover_plan::sources::Quote;
    let text = with("  - { id: fx, preset: ecb }\n");
    let l = cutover_plan::load("plan.yaml", &text).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(l.sources[0].quote, Quote::PerPlan);
    assert_eq!(l.sources[0].rows, RowKind::Rates);
    assert!(matches!(&l.sources[0].format, Format::Xml { rows } if rows == "Cube/Cube/Cube"));
    assert_error(
        "  - { id: fx, system: bi, rows: rates, quote: per_eur, file: { path: f.csv }, format: { type: csv }, fields: { day: d, currency: c, rate: r } }\n",
        "plan.yaml:15:40: error: source \"fx\": unknown quote \"per_eur\" (expected per_unit: plan currency for one unit of the currency, or per_plan: units of the currency for one unit of the plan currency)",
    );
    assert_error(
        "  - { id: a, system: old, quote: per_plan, file: { path: f.csv }, format: { type: csv }, fields: { partner: p, day: d }, metrics: { clicks_gross: c } }\n",
        "plan.yaml:15:27: error: source \"a\": \"quote\" only applies to rates sources (this source's rows are aggregate)",
    );
    // Quoted per USD while the plan is in EUR: no cross rates.
    assert_error(
        "  - { id: fx, preset: ecb, currency: USD }\n",
        "plan.yaml:15:5: error: source \"fx\": its rates are quoted per USD (quote: per_plan) but the plan currency is EUR; rates must be quoted against the plan currency",
    );
}

#[test]
fn long_layout_sources() {
    let text = with(
        "  - id: l
    system: old
    file: { path: l.csv }
    format: { type: csv }
    fields: { partner: p, day: d, metric: m, value: v }
    labels: { Clicks: clicks_gross, NGR: net_revenue, Net Gaming Revenue: net_revenue }
",
    );
    let l = cutover_plan::load("plan.yaml", &text).unwrap_or_else(|d| panic!("{d:#?}"));
    let s = &l.sources[0];
    assert!(s.is_long());
    assert!(s.metrics.is_empty());
    assert_eq!(
        s.labels,
        [
            ("Clicks".to_owned(), "clicks_gross".to_owned()),
            ("NGR".to_owned(), "net_revenue".to_owned()),
            ("Net Gaming Revenue".to_owned(), "net_revenue".to_owned()),
        ]
    );
    let long = "  - { id: l, system: old, file: { path: l.csv }, format: { type: csv }, fields: { partner: p, day: d, metric: m, value: v }";
    // Written metric -> label: the error says which way round.
    let errs = errors(&format!("{long}, labels: {{ clicks_gross: Clicks }} }}\n"));
    assert!(
        errs.iter().any(|e| e.ends_with(
            "unknown metric \"Clicks\" for label \"clicks_gross\" in \"labels\"; labels map the export's label to a metric: write `\"Clicks\": clicks_gross`"
        )),
        "{errs:#?}"
    );
    let errs = errors(&format!("{long}, metrics: {{ clicks_gross: c }} }}\n"));
    assert!(
        errs.iter()
            .any(|e| e.contains("names its metrics in the rows, not in \"metrics\"")),
        "{errs:#?}"
    );
    let errs = errors(
        "  - { id: w, system: old, file: { path: l.csv }, format: { type: csv }, fields: { partner: p, day: d, value: v } }\n",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("maps both \"metric\" and \"value\"")),
        "{errs:#?}"
    );
    let errs = errors(
        "  - { id: w, system: old, file: { path: l.csv }, format: { type: csv }, fields: { partner: p, day: d }, metrics: { clicks_gross: c }, labels: { C: clicks_gross } }\n",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("\"labels\" only applies to long-layout")),
        "{errs:#?}"
    );
}

#[test]
fn number_format_and_empty_are_validated() {
    let base = "  - { id: s, system: old, file: { path: f.csv }, format: { type: csv }, fields: { partner: p, day: d }, metrics: { clicks_gross: c }";
    let errs = errors(&format!("{base}, decimal: \",\", thousands: \",\" }}\n"));
    assert!(
        errs.iter()
            .any(|e| e.ends_with("\"thousands\" and \"decimal\" are both \",\"; they must differ")),
        "{errs:#?}"
    );
    let errs = errors(&format!("{base}, decimal: \",,\" }}\n"));
    assert!(errs.iter().any(|e| e.ends_with("\"decimal\" must be one character that is not a digit or a sign (e.g. \",\" or \".\"), found \",,\"")), "{errs:#?}");
    let errs = errors(&format!("{base}, thousands: \"1\" }}\n"));
    assert!(
        errs.iter()
            .any(|e| e.contains("\"thousands\" must be one character")),
        "{errs:#?}"
    );
    let errs = errors(&format!("{base}, empty: nothing }}\n"));
    assert!(
        errs.iter().any(|e| e
            .contains("unknown value \"nothing\" for \"empty\" (expected missing, zero or error)")),
        "{errs:#?}"
    );
    let l = cutover_plan::load(
        "plan.yaml",
        &with(&format!(
            "{base}, decimal: \",\", thousands: \" \", empty: zero }}\n"
        )),
    )
    .unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(l.sources[0].numbers.decimal, ',');
    assert_eq!(l.sources[0].numbers.thousands, Some(' '));
    assert_eq!(l.sources[0].empty, cutover_plan::sources::Empty::Zero);
}

#[test]
fn errors_config_is_validated() {
    let src = |errors: &str| {
        format!(
            "  - {{ id: s, system: old, http: {{ url: \"http://x/\", errors: {errors} }}, format: {{ type: json }}, fields: {{ partner: p, day: d }}, metrics: {{ clicks_gross: c }} }}\n"
        )
    };
    let errs = errors(&src("{ status: response.status }"));
    assert!(
        errs.iter().any(|e| e
            .ends_with("\"errors\" with \"status\" needs \"ok\": the value(s) that mean success")),
        "{errs:#?}"
    );
    let errs = errors(&src("{}"));
    assert!(
        errs.iter()
            .any(|e| e.ends_with("\"errors\" needs \"status\" (with \"ok\") or \"message\"")),
        "{errs:#?}"
    );
    let l = cutover_plan::load(
        "plan.yaml",
        &with(&src("{ status: s, ok: [1, \"true\"], message: e.msg }")),
    )
    .unwrap_or_else(|d| panic!("{d:#?}"));
    let Connector::Http(h) = &l.sources[0].connector else {
        panic!()
    };
    let eb = h.errors.as_ref().unwrap();
    assert_eq!(eb.ok, ["1", "true"]);
    assert_eq!(eb.message.as_deref(), Some("e.msg"));
}

/// Regression (found by the fuzz test): a mistake inside a preset's own text was reported at
/// the preset file's line and column, a spot of the plan that may not even exist.
#[test]
fn a_mistake_from_a_preset_is_located_at_the_preset_key() {
    let line = "  - { id: ev, system: new, preset: impact, rows: aggregate }";
    let col = line.find("impact").unwrap() + 1;
    let errs = errors(&format!("{line}\n"));
    let from_preset: Vec<&String> = errs.iter().filter(|e| e.contains("occurred_at")).collect();
    assert!(!from_preset.is_empty(), "{errs:#?}");
    for e in from_preset {
        assert!(e.starts_with(&format!("plan.yaml:15:{col}: ")), "{e}");
    }
}
