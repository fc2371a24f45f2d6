//! Loading plans: the shipped workflows, every diagnostic family as exact text, and
//! robustness against arbitrary input.

use chrono::TimeDelta;
use cutover_plan::*;

const PARALLEL: &str = include_str!("../../../workflows/affiliate-parallel-run.yaml");
const HARD: &str = include_str!("../../../workflows/hard-cutover.yaml");

/// A small valid plan that tests bend one thing at a time.
const BASE: &str = r#"migration: m
timezone: UTC
currency: EUR
layers:
  product: { description: Event mapping }
  bi: {}
people:
  - { id: alex, name: Alex, email: a@x.io, lead: true, layers: [product, bi] }
checks:
  - { id: c, layer: product, kind: manual }
  - { id: r, layer: bi, kind: reconcile, schedule: "0 7 * * *", params: { metrics: [ftd_count] } }
phases:
  - id: p
    goal: g
    owners: [product]
    exit:
      - { id: x, check: c }
      - { id: y, check: r, outcome: [pass, warn], consecutive: 2, fresh_within: 1d }
"#;

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

fn rendered(text: &str) -> Vec<String> {
    match load("plan.yaml", text) {
        Ok(l) => l.warnings.iter().map(ToString::to_string).collect(),
        Err(ds) => ds.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts the file fails with exactly these diagnostics.
fn fails_with(text: &str, expected: &[&str]) {
    let r = load("plan.yaml", text);
    assert!(r.is_err(), "expected errors, got a plan");
    assert_eq!(rendered(text), expected);
}

#[test]
fn base_plan_loads() {
    let l = load("plan.yaml", BASE).expect("base plan loads");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let p = &l.plan;
    assert_eq!(p.timezone, chrono_tz::UTC);
    assert_eq!(p.layers[0].description, "Event mapping");
    let r = p.check("r").unwrap();
    assert_eq!(r.schedule.as_ref().unwrap().expression, "0 7 * * *");
    assert_eq!(
        r.kind,
        CheckKind::Scheduled {
            kind: ScheduledKind::Reconcile,
            params: vec![(
                "metrics".into(),
                Param::List(vec![Param::String("ftd_count".into())])
            )]
        }
    );
    let (_, y) = p.condition("y").unwrap();
    assert_eq!(y.owners, ["bi"]);
    assert_eq!(
        y.kind,
        ConditionKind::CheckOutcome {
            check: "r".into(),
            outcomes: vec![Outcome::Pass, Outcome::Warn],
            consecutive: 2,
            fresh_within: Some(TimeDelta::days(1)),
        }
    );
    let (_, x) = p.condition("x").unwrap();
    assert_eq!(
        x.kind,
        ConditionKind::CheckOutcome {
            check: "c".into(),
            outcomes: vec![Outcome::Pass],
            consecutive: 1,
            fresh_within: None,
        }
    );
}

#[test]
fn parallel_run_workflow_loads_cleanly() {
    let l = load("affiliate-parallel-run.yaml", PARALLEL).unwrap_or_else(|ds| {
        panic!(
            "{}",
            ds.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let p = &l.plan;
    assert_eq!(p.migration, "acme-casino-to-newtrack");
    assert_eq!(p.timezone, chrono_tz::Europe::Malta);
    assert_eq!(p.currency, "EUR");
    let ids: Vec<&str> = p.phases.iter().map(|ph| ph.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "discovery",
            "setup",
            "parallel_validation",
            "controlled_cutover",
            "stabilization"
        ]
    );
    let layers: Vec<&str> = p.layers.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(layers, ["affiliate", "product", "crm", "finance", "bi"]);
    let people: Vec<&str> = p.people.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(people, ["alex", "priya", "omar", "chen", "fiona", "bianca"]);
    assert!(p.person("alex").unwrap().lead);
    assert!(p.person("alex").unwrap().layers.is_empty());

    // The README walkthrough depends on discovery's exact exit.
    let discovery = p.phase("discovery").unwrap();
    assert_eq!(
        discovery.exit,
        vec![
            Condition {
                id: "workflows_documented".into(),
                owners: vec!["product".into()],
                kind: ConditionKind::CheckOutcome {
                    check: "critical_workflows_documented".into(),
                    outcomes: vec![Outcome::Pass],
                    consecutive: 1,
                    fresh_within: None,
                },
            },
            Condition {
                id: "inventory_ready".into(),
                owners: vec!["product".into(), "affiliate".into()],
                kind: ConditionKind::Inventory,
            },
            Condition {
                id: "discovery_signed".into(),
                owners: vec!["product".into(), "affiliate".into()],
                kind: ConditionKind::SignOff {
                    layers: vec!["product".into(), "affiliate".into()]
                },
            },
        ]
    );
    let check = p.check("critical_workflows_documented").unwrap();
    assert_eq!(
        (check.layer.as_str(), &check.kind),
        ("product", &CheckKind::Manual)
    );

    // Nested conditions are reachable and inherit owners as documented.
    let (phase, nested) = p.condition("finance_accepts_variance").unwrap();
    assert_eq!(phase.id, "parallel_validation");
    assert_eq!(nested.owners, ["finance"]);
    let (_, payouts) = p.condition("payouts_explained").unwrap();
    assert_eq!(payouts.owners, ["finance"]);
    let (_, two_weeks) = p.condition("parallel_two_weeks").unwrap();
    assert_eq!(
        two_weeks.kind,
        ConditionKind::MinDuration(TimeDelta::days(14))
    );
    assert_eq!(two_weeks.owners, ["bi", "finance", "affiliate"]);
    // Every scheduled kind is used.
    for kind in ScheduledKind::ALL {
        assert!(
            p.checks.iter().any(|c| c.kind.name() == kind.name()),
            "{} unused",
            kind.name()
        );
    }
}

#[test]
fn hard_cutover_workflow_loads_cleanly() {
    let l = load("hard-cutover.yaml", HARD).unwrap_or_else(|ds| {
        panic!(
            "{}",
            ds.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let ids: Vec<&str> = l.plan.phases.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["setup", "controlled_cutover", "stabilization"]);
    let people: Vec<&str> = l.plan.people.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(people, ["alex", "priya", "omar", "chen", "fiona", "bianca"]);
}

#[test]
fn a_file_with_many_mistakes_reports_all_of_them_at_once() {
    let text = r#"migration: ""
timezone: Europe/Malt
currency: EUO
layers:
  affiliate: { description: "x" }
  bi: {}
  crm: { descripton: "y" }
  bi: {}
people:
  - { id: alex, name: Alex, email: alex.example.com, lead: yes }
  - { id: priya, name: Priya, email: p@x, layers: [afiliate, crm] }
  - { id: priya, name: P2, email: p2@x, layers: [bi], extra: 1 }
  - just a string
checks:
  - { id: c1, layer: bii, kind: reconcil }
  - { id: c2, layer: bi, kind: manual, schedule: "0 7 * * *" }
  - { id: c3, layer: bi, kind: rollup }
  - { id: c4, layer: bi, kind: rollup, schedule: "0 0 7 * * * *" }
phases:
  - id: setup
    goal: [x]
    owners: [bii]
    exitt: []
  - id: setup
    goal: g
    owners: [bi]
    exit:
      - { id: a, check: c9, outcome: [pass, error, pas], consecutive: 0, fresh_within: 3x }
      - { id: a, signoff: [] }
      - { id: b, min_duration: 14, owner: [nobody] }
      - { id: c, check: c1, signoff: [bi] }
      - { id: d }
      - { id: e, any: [], outcome: pass }
      - { id: f, all: [ { id: g, signoff: bi }, { signoff: [crm] }, { id: h, check: c2 } ] }
"#;
    fails_with(
        text,
        &[
            "plan.yaml:1:1: error: key \"migration\" of the plan must not be empty",
            "plan.yaml:2:11: error: unknown time zone \"Europe/Malt\" (expected an IANA name such as \"Europe/Malta\"); did you mean \"Europe/Malta\"?",
            "plan.yaml:3:11: error: unknown currency \"EUO\" (expected an ISO 4217 code such as \"EUR\"); did you mean \"EUR\"?",
            "plan.yaml:5:3: error: layer \"affiliate\" is owned by no person; add it to someone's \"layers\"",
            "plan.yaml:7:10: error: unknown key \"descripton\" in layer \"crm\"; did you mean \"description\"?",
            "plan.yaml:8:3: error: duplicate layer \"bi\"; first defined on line 6",
            "plan.yaml:10:36: error: person \"alex\" has email \"alex.example.com\" without \"@\"",
            "plan.yaml:10:60: error: key \"lead\" of person \"alex\": expected true or false, found \"yes\"",
            "plan.yaml:11:52: error: person \"priya\" owns unknown layer \"afiliate\"; did you mean \"affiliate\"?",
            "plan.yaml:12:11: error: duplicate person \"priya\"; first defined on line 11",
            "plan.yaml:12:55: error: unknown key \"extra\" in person \"priya\"",
            "plan.yaml:13:5: error: person #4 must be a mapping of keys, found \"just a string\"",
            "plan.yaml:15:11: warning: check \"c1\" is not used by any exit condition",
            "plan.yaml:15:22: error: check \"c1\" belongs to unknown layer \"bii\"; did you mean \"bi\"?",
            "plan.yaml:15:33: error: check \"c1\" has unknown kind \"reconcil\" (expected manual, reconcile, rollup, attribution, event_flow, payout, record_sync or event_match); did you mean \"reconcile\"?",
            "plan.yaml:16:40: error: check \"c2\" is manual and cannot have a schedule",
            "plan.yaml:17:5: error: check \"c3\" of kind \"rollup\" needs a schedule (5-field cron, e.g. \"0 7 * * *\")",
            "plan.yaml:17:11: warning: check \"c3\" is not used by any exit condition",
            "plan.yaml:18:11: warning: check \"c4\" is not used by any exit condition",
            "plan.yaml:18:50: error: check \"c4\" has invalid schedule \"0 0 7 * * * *\": expected 5 cron fields (minute hour day-of-month month day-of-week), or 6 with seconds first, found 7",
            "plan.yaml:20:5: warning: phase \"setup\" has no exit condition; it can be left at any time",
            "plan.yaml:21:11: error: key \"goal\" of phase \"setup\": invalid type: a list, expected a string",
            "plan.yaml:22:14: error: phase \"setup\" is owned by unknown layer \"bii\"; did you mean \"bi\"?",
            "plan.yaml:23:5: error: unknown key \"exitt\" in phase \"setup\"; did you mean \"exit\"?",
            "plan.yaml:24:9: error: duplicate phase \"setup\"; first defined on line 20",
            "plan.yaml:28:25: error: condition \"a\" refers to unknown check \"c9\"; did you mean \"c1\"?",
            "plan.yaml:28:45: error: condition \"a\" lists outcome \"error\", which never satisfies a condition; use pass, warn or fail",
            "plan.yaml:28:52: error: condition \"a\" has unknown outcome \"pas\" (expected pass, warn or fail); did you mean \"pass\"?",
            "plan.yaml:28:71: error: consecutive of condition \"a\" must be at least 1, found 0",
            "plan.yaml:28:88: error: fresh_within of condition \"a\": invalid duration \"3x\": unknown unit \"x\"; expected a number followed by w, d, h, m or s, e.g. \"14d\", \"24h\" or \"1d12h\"",
            "plan.yaml:29:15: error: duplicate condition id \"a\"; first defined on line 28",
            "plan.yaml:29:27: error: condition \"a\" has an empty signoff list; name at least one layer",
            "plan.yaml:30:32: error: min_duration of condition \"b\": invalid duration \"14\": \"14\" has no unit; expected a number followed by w, d, h, m or s, e.g. \"14d\", \"24h\" or \"1d12h\"",
            "plan.yaml:30:44: error: condition \"b\" is owned by unknown layer \"nobody\"",
            "plan.yaml:31:29: error: condition \"c\" has \"check\" and \"signoff\"; a condition is exactly one of check, signoff, min_duration, variances, inventory, clean_days, any or all",
            "plan.yaml:32:9: error: condition \"d\" needs exactly one of check, signoff, min_duration, variances, inventory, clean_days, any or all; found none",
            "plan.yaml:33:18: error: condition \"e\" has an empty any list; add at least one condition",
            "plan.yaml:33:27: error: \"outcome\" of condition \"e\" only applies to a check condition, not any",
            "plan.yaml:34:49: error: condition #2 under condition \"f\" is missing required key \"id\"",
        ],
    );
}

// ---- one test per diagnostic family -------------------------------------------------

#[test]
fn display_format() {
    let d = Diagnostic {
        file: "f.yaml".into(),
        line: 3,
        column: 7,
        severity: Severity::Warning,
        message: "m".into(),
    };
    assert_eq!(d.to_string(), "f.yaml:3:7: warning: m");
}

#[test]
fn yaml_syntax_error_is_fatal_and_located() {
    fails_with(
        "migration: [x\ntimezone: UTC\n",
        &["plan.yaml:2:9: error: invalid YAML: illegal placement of ':' indicator"],
    );
}

#[test]
fn tabs_are_explained() {
    let r = rendered("migration: x\n\ttimezone: UTC\n");
    assert_eq!(r.len(), 1);
    assert!(
        r[0].starts_with("plan.yaml:1:12: error: invalid YAML: "),
        "{r:?}"
    );
    assert!(r[0].ends_with("(there is a tab here; YAML indentation must use spaces)"));
}

#[test]
fn empty_file_and_non_mapping_top_level() {
    let empty = [
        "plan.yaml:1:1: error: the plan is empty; expected a mapping with \"migration\", \"timezone\", \"currency\", \"layers\", \"people\", \"checks\" and \"phases\"",
    ];
    fails_with("", &empty);
    fails_with("# only a comment\n\n", &empty);
    fails_with(
        "- a\n- b\n",
        &[
            "plan.yaml:1:1: error: the top level of a plan must be a mapping of keys (migration, timezone, currency, layers, people, checks, phases)",
        ],
    );
    fails_with(
        "just text\n",
        &[
            "plan.yaml:1:1: error: the top level of a plan must be a mapping of keys (migration, timezone, currency, layers, people, checks, phases)",
        ],
    );
}

#[test]
fn anchors_are_rejected() {
    fails_with(
        &format!("{BASE}extra: &a 1\n"),
        &[
            "plan.yaml:19:11: error: YAML anchors and aliases (&name, *name) are not supported in plans",
        ],
    );
}

#[test]
fn unknown_keys_suggest_the_intended_one() {
    fails_with(
        &edit("    exit:\n", "    exitt:\n    exit:\n"),
        &["plan.yaml:16:5: error: unknown key \"exitt\" in phase \"p\"; did you mean \"exit\"?"],
    );
    fails_with(
        &edit("migration: m\n", "migration: m\nphasess: []\n"),
        &["plan.yaml:2:1: error: unknown key \"phasess\" in the plan; did you mean \"phases\"?"],
    );
}

#[test]
fn wrong_types_point_at_the_value() {
    fails_with(
        &edit("lead: true", "lead: maybe"),
        &[
            "plan.yaml:8:50: error: key \"lead\" of person \"alex\": expected true or false, found \"maybe\"",
        ],
    );
    fails_with(
        &edit("consecutive: 2", "consecutive: two"),
        &[
            "plan.yaml:18:64: error: key \"consecutive\" of condition \"y\": expected a whole number, found \"two\"",
        ],
    );
}

#[test]
fn missing_required_keys() {
    fails_with(
        &edit("    goal: g\n", ""),
        &["plan.yaml:13:5: error: phase \"p\" is missing required key \"goal\""],
    );
    fails_with(
        &edit("timezone: UTC\n", ""),
        &["plan.yaml:1:1: error: the plan is missing required key \"timezone\""],
    );
}

#[test]
fn duplicate_ids_point_at_the_second_and_name_the_first_line() {
    fails_with(
        &edit("  bi: {}\n", "  bi: {}\n  product: {}\n"),
        &["plan.yaml:7:3: error: duplicate layer \"product\"; first defined on line 5"],
    );
    fails_with(
        &edit(
            "  - { id: c, layer",
            "  - { id: alex, name: A, email: b@x }\nchecks:\n  - { id: c, layer",
        )
        .replacen("checks:\n  - { id: alex", "  - { id: alex", 1),
        &["plan.yaml:9:11: error: duplicate person \"alex\"; first defined on line 8"],
    );
    fails_with(
        &edit(
            "  - { id: r,",
            "  - { id: c, layer: bi, kind: manual }\n  - { id: r,",
        ),
        &["plan.yaml:11:11: error: duplicate check \"c\"; first defined on line 10"],
    );
    fails_with(
        &format!(
            "{BASE}  - id: p\n    goal: again\n    owners: [bi]\n    exit: [{{ id: z, signoff: [bi] }}]\n"
        ),
        &["plan.yaml:19:9: error: duplicate phase \"p\"; first defined on line 13"],
    );
    fails_with(
        &format!("{BASE}      - {{ id: w, any: [{{ id: x, signoff: [bi] }}] }}\n"),
        &["plan.yaml:19:30: error: duplicate condition id \"x\"; first defined on line 17"],
    );
    fails_with(
        &edit("    goal: g\n", "    goal: g\n    goal: h\n"),
        &["plan.yaml:15:5: error: duplicate key \"goal\"; first given on line 14"],
    );
}

#[test]
fn unknown_references_suggest_known_names() {
    fails_with(
        &edit("layers: [product, bi]", "layers: [product, bi, prodct]"),
        &[
            "plan.yaml:8:78: error: person \"alex\" owns unknown layer \"prodct\"; did you mean \"product\"?",
        ],
    );
    fails_with(
        &edit("{ id: c, layer: product", "{ id: c, layer: bl"),
        &[
            "plan.yaml:10:21: error: check \"c\" belongs to unknown layer \"bl\"; did you mean \"bi\"?",
        ],
    );
    fails_with(
        &edit("owners: [product]", "owners: [product, BI]"),
        &[
            "plan.yaml:15:23: error: phase \"p\" is owned by unknown layer \"BI\"; did you mean \"bi\"?",
        ],
    );
    fails_with(
        &edit("{ id: x, check: c }", "{ id: x, check: cc }"),
        &[
            "plan.yaml:10:11: warning: check \"c\" is not used by any exit condition",
            "plan.yaml:17:25: error: condition \"x\" refers to unknown check \"cc\"; did you mean \"c\"?",
        ],
    );
    fails_with(
        &edit("{ id: x, check: c }", "{ id: x, check: c, owner: finance }"),
        &["plan.yaml:17:35: error: condition \"x\" is owned by unknown layer \"finance\""],
    );
    fails_with(
        &format!("{BASE}      - {{ id: s, signoff: [product, bo] }}\n"),
        &[
            "plan.yaml:19:37: error: condition \"s\" asks for a sign-off from unknown layer \"bo\"; did you mean \"bi\"?",
        ],
    );
}

#[test]
fn every_layer_needs_an_owner_and_someone_must_lead() {
    fails_with(
        &edit("lead: true, layers: [product, bi]", "layers: [product]"),
        &[
            "plan.yaml:6:3: error: layer \"bi\" is owned by no person; add it to someone's \"layers\"",
            "plan.yaml:7:1: error: no person has \"lead: true\"; a lead is needed to advance, roll back and waive",
        ],
    );
}

#[test]
fn check_kinds_and_schedules() {
    fails_with(
        &edit("kind: manual", "kind: manuel"),
        &[
            "plan.yaml:10:36: error: check \"c\" has unknown kind \"manuel\" (expected manual, reconcile, rollup, attribution, event_flow, payout, record_sync or event_match); did you mean \"manual\"?",
        ],
    );
    fails_with(
        &edit("kind: manual }", "kind: manual, schedule: \"0 7 * * *\" }"),
        &["plan.yaml:10:44: error: check \"c\" is manual and cannot have a schedule"],
    );
    fails_with(
        &edit(" schedule: \"0 7 * * *\",", ""),
        &[
            "plan.yaml:11:5: error: check \"r\" of kind \"reconcile\" needs a schedule (5-field cron, e.g. \"0 7 * * *\")",
        ],
    );
    fails_with(
        &edit("\"0 7 * * *\"", "\"0 0 7 * * * 2027\""),
        &[
            "plan.yaml:11:52: error: check \"r\" has invalid schedule \"0 0 7 * * * 2027\": expected 5 cron fields (minute hour day-of-month month day-of-week), or 6 with seconds first, found 7",
        ],
    );
    fails_with(
        &edit("\"0 7 * * *\"", "\"@daily\""),
        &[
            "plan.yaml:11:52: error: check \"r\" has invalid schedule \"@daily\": expected 5 cron fields (minute hour day-of-month month day-of-week), or 6 with seconds first, found 1",
        ],
    );
    let r = rendered(&edit("\"0 7 * * *\"", "\"0 25 * * *\""));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].starts_with(
            "plan.yaml:11:52: error: check \"r\" has invalid schedule \"0 25 * * *\": "
        ),
        "{r:?}"
    );
}

#[test]
fn durations_zones_and_currencies() {
    fails_with(
        &edit("fresh_within: 1d", "fresh_within: 1d1d"),
        &[
            "plan.yaml:18:81: error: fresh_within of condition \"y\": invalid duration \"1d1d\": units must appear once each, largest first (w, d, h, m, s)",
        ],
    );
    fails_with(
        &edit("timezone: UTC", "timezone: Malta"),
        &[
            "plan.yaml:2:11: error: unknown time zone \"Malta\" (expected an IANA name such as \"Europe/Malta\"); did you mean \"Europe/Malta\"?",
        ],
    );
    fails_with(
        &edit("currency: EUR", "currency: eur"),
        &[
            "plan.yaml:3:11: error: unknown currency \"eur\" (expected an ISO 4217 code such as \"EUR\"); did you mean \"EUR\"?",
        ],
    );
}

#[test]
fn outcomes_and_consecutive() {
    fails_with(
        &edit("outcome: [pass, warn]", "outcome: [pass, inconclusive]"),
        &[
            "plan.yaml:18:44: error: condition \"y\" lists outcome \"inconclusive\", which never satisfies a condition; use pass, warn or fail",
        ],
    );
    fails_with(
        &edit("outcome: [pass, warn]", "outcome: error"),
        &[
            "plan.yaml:18:37: error: condition \"y\" lists outcome \"error\", which never satisfies a condition; use pass, warn or fail",
        ],
    );
    fails_with(
        &edit("consecutive: 2", "consecutive: 0"),
        &["plan.yaml:18:64: error: consecutive of condition \"y\" must be at least 1, found 0"],
    );
    fails_with(
        &edit(
            "{ id: x, check: c }",
            "{ id: x, signoff: [bi], fresh_within: 1d }",
        ),
        &[
            "plan.yaml:10:11: warning: check \"c\" is not used by any exit condition",
            "plan.yaml:17:33: error: \"fresh_within\" of condition \"x\" only applies to a check condition, not signoff",
        ],
    );
}

#[test]
fn condition_kinds_and_empty_lists() {
    fails_with(
        &edit(
            "{ id: x, check: c }",
            "{ id: x, check: c, min_duration: 1d }",
        ),
        &[
            "plan.yaml:10:11: warning: check \"c\" is not used by any exit condition",
            "plan.yaml:17:28: error: condition \"x\" has \"check\" and \"min_duration\"; a condition is exactly one of check, signoff, min_duration, variances, inventory, clean_days, any or all",
        ],
    );
    fails_with(
        &edit("{ id: x, check: c }", "{ id: x, description: nothing }"),
        &[
            "plan.yaml:10:11: warning: check \"c\" is not used by any exit condition",
            "plan.yaml:17:9: error: condition \"x\" needs exactly one of check, signoff, min_duration, variances, inventory, clean_days, any or all; found none",
        ],
    );
    fails_with(
        &format!("{BASE}      - {{ id: s, signoff: [] }}\n      - {{ id: t, all: [] }}\n"),
        &[
            "plan.yaml:19:27: error: condition \"s\" has an empty signoff list; name at least one layer",
            "plan.yaml:20:18: error: condition \"t\" has an empty all list; add at least one condition",
        ],
    );
}

#[test]
fn phases_are_required_and_need_at_least_one() {
    let no_phases = BASE.split("phases:").next().unwrap_or_default().to_owned();
    fails_with(
        &format!("{no_phases}phases: []\n"),
        &[
            "plan.yaml:10:11: warning: check \"c\" is not used by any exit condition",
            "plan.yaml:11:11: warning: check \"r\" is not used by any exit condition",
            "plan.yaml:12:1: error: the plan has no phases; add at least one under \"phases\"",
        ],
    );
}

#[test]
fn email_needs_an_at_sign() {
    fails_with(
        &edit("email: a@x.io", "email: ax.io"),
        &["plan.yaml:8:36: error: person \"alex\" has email \"ax.io\" without \"@\""],
    );
}

#[test]
fn warnings_do_not_stop_loading() {
    let text =
        format!("{BASE}  - id: q\n    goal: later\n    owners: [bi]\nchecks_unused_marker: 1\n")
            .replace("checks_unused_marker: 1\n", "")
            .replace(
                "checks:\n",
                "checks:\n  - { id: spare, layer: bi, kind: manual }\n",
            );
    let l = load("plan.yaml", &text).expect("warnings only");
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "plan.yaml:10:11: warning: check \"spare\" is not used by any exit condition",
            "plan.yaml:20:5: warning: phase \"q\" has no exit condition; it can be left at any time",
        ]
    );
}

#[test]
fn errors_come_with_warnings_sorted_by_position() {
    let text = edit("{ id: x, check: c }", "{ id: x, signoff: [nobody] }");
    let ds = load("plan.yaml", &text).unwrap_err();
    assert!(ds.iter().any(|d| d.severity == Severity::Warning));
    assert!(
        ds.windows(2)
            .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column))
    );
}

// ---- robustness -----------------------------------------------------------------------

/// A tiny deterministic generator, enough to shake the parser.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn check_invariants(text: &str) {
    match load("fuzz.yaml", text) {
        Ok(l) => assert!(l.warnings.iter().all(|d| d.severity == Severity::Warning)),
        Err(ds) => {
            assert!(ds.iter().any(|d| d.severity == Severity::Error), "{text}");
            assert!(ds.iter().all(|d| d.line >= 1 && d.column >= 1));
            assert!(
                ds.windows(2)
                    .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column))
            );
        }
    }
}

#[test]
fn arbitrary_text_never_panics() {
    const PIECES: &[&str] = &[
        ":",
        "-",
        " ",
        "\n",
        "\t",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "#",
        "&a",
        "*a",
        "!t",
        "?",
        "|",
        ">",
        "0",
        "-1",
        "99999999999999999999",
        "id",
        "check",
        "any",
        "all",
        "signoff",
        "outcome",
        "lead",
        "~",
        "null",
        "ü",
        "\u{0}",
        "---",
        "...",
        "%YAML 1.2",
        ",",
    ];
    let mut rng = Lcg(0x5eed);
    let sources = [BASE, PARALLEL, HARD];
    for round in 0..1500 {
        let base = sources[round % sources.len()];
        let mut chars: Vec<char> = base.chars().collect();
        for _ in 0..=rng.below(4) {
            match rng.below(4) {
                0 => {
                    let at = rng.below(chars.len() + 1);
                    let piece = PIECES[rng.below(PIECES.len())];
                    chars.splice(at..at, piece.chars());
                }
                1 if !chars.is_empty() => {
                    let at = rng.below(chars.len());
                    let end = (at + rng.below(20)).min(chars.len());
                    chars.drain(at..end);
                }
                2 => {
                    let at = rng.below(chars.len() + 1);
                    chars.truncate(at);
                }
                _ if !chars.is_empty() => {
                    let a = rng.below(chars.len());
                    let b = rng.below(chars.len());
                    chars.swap(a, b);
                }
                _ => {}
            }
        }
        let text: String = chars.into_iter().collect();
        check_invariants(&text);
    }
    for s in [
        "",
        "\n",
        ":",
        "- -",
        "{",
        "a: *b",
        "? [a]: b",
        "a: !!str x",
        "a:\n\t- b",
        "---\n---\n",
    ] {
        check_invariants(s);
    }
}
