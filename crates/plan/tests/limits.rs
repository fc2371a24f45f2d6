//! The loader's limits: what can not be a plan is refused, located, before it can hurt
//! (deep nesting, huge input, a second document, control characters), and diagnostics
//! always render as one line inside the text.

use cutover_plan::*;

const PARALLEL: &str = include_str!("../../../workflows/affiliate-parallel-run.yaml");

/// A small valid plan.
const BASE: &str = r#"migration: m
timezone: UTC
currency: EUR
layers:
  product: { description: Event mapping }
people:
  - { id: alex, name: Alex, email: a@x.io, lead: true, layers: [product] }
checks:
  - { id: c, layer: product, kind: manual }
phases:
  - { id: p, goal: g, owners: [product], exit: [{ id: x, check: c }] }
"#;

fn rendered(text: &str) -> Vec<String> {
    match load("plan.yaml", text) {
        Ok(l) => l.warnings.iter().map(ToString::to_string).collect(),
        Err(ds) => ds.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts the file fails with exactly these diagnostics.
#[track_caller]
fn fails_with(text: &str, expected: &[&str]) {
    assert!(
        load("plan.yaml", text).is_err(),
        "expected errors, got a plan"
    );
    assert_eq!(rendered(text), expected);
}

/// Runs `f` on a thread with a 2 MiB stack (the default for test threads, made explicit so
/// `RUST_MIN_STACK` can not hide an overflow).
fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic");
}

const TOO_DEEP: &str = "error: nested too deeply: a plan may put at most 64 levels of lists and mappings inside each other";

fn too_deep_at(line: usize, column: usize) -> String {
    format!("plan.yaml:{line}:{column}: {TOO_DEEP}")
}

// ---- nesting depth ----------------------------------------------------------------------

#[test]
fn deep_block_sequences_do_not_overflow_the_stack() {
    // The issue's reproduction: 20,000 nested block sequences aborted with exit 134.
    on_small_stack(|| {
        let text = format!("migration:\n{}x\n", "- ".repeat(20_000));
        // The top mapping is level 1, the n-th "- " level n+1: the 64th dash is level 65.
        fails_with(&text, &[&too_deep_at(2, 127)]);
    });
}

#[test]
fn deep_block_mappings_do_not_overflow_the_stack() {
    // Block mappings crashed near 8,000 levels; indentation makes that more than 4 MiB, so
    // this is as deep as fits under the size limit (about 2,800 levels, 3.9 MB).
    on_small_stack(|| {
        let mut text = String::from("migration:\n");
        for i in 0..2_800 {
            text.push_str(&" ".repeat(i));
            text.push_str("k:\n");
        }
        text.push_str("  x\n");
        assert!(text.len() <= MAX_PLAN_BYTES);
        // Line n (n >= 3) opens level n - 1; level 65 is the mapping whose first key
        // is on line 66, after 64 spaces.
        fails_with(&text, &[&too_deep_at(66, 65)]);
    });
}

#[test]
fn deep_flow_sequences_do_not_overflow_the_stack() {
    on_small_stack(|| {
        let text = format!("migration: {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
        // The scanner stops at 256 flow levels; the error still names the 65th level.
        fails_with(&text, &[&too_deep_at(1, 75)]);
    });
}

#[test]
fn deep_flow_mappings_do_not_overflow_the_stack() {
    on_small_stack(|| {
        let text = format!(
            "migration: {}{}\n",
            "{a: ".repeat(20_000),
            "}".repeat(20_000)
        );
        fails_with(&text, &[&too_deep_at(1, 264)]);
    });
}

#[test]
fn deep_mixed_nesting_does_not_overflow_the_stack() {
    on_small_stack(|| {
        // Flow sequences and mappings alternating.
        let text = format!(
            "migration: {}x{}\n",
            "[{a: ".repeat(10_000),
            "}]".repeat(10_000)
        );
        fails_with(&text, &[&too_deep_at(1, 168)]);
        // Block sequences, then flow sequences inside them.
        let text = format!(
            "migration:\n{}{}{}\n",
            "- ".repeat(40),
            "[".repeat(20_000),
            "]".repeat(20_000)
        );
        fails_with(&text, &[&too_deep_at(2, 104)]);
        // Block sequences of block mappings, each a line deeper.
        let mut text = String::from("migration:\n");
        for i in 0..1_400 {
            text.push_str(&" ".repeat(2 * i));
            text.push_str("- k:\n");
        }
        text.push_str(&" ".repeat(2_802));
        text.push_str("x\n");
        fails_with(&text, &[&too_deep_at(33, 65)]);
    });
}

#[test]
fn brackets_in_quotes_and_comments_do_not_count_towards_the_depth() {
    let text = format!(
        "migration: [1, \"[[[{{\", '[[', [ # [[[[\n{}\n",
        "[".repeat(300)
    );
    // Levels: the top mapping, two flow sequences on line 1, then 62 more on line 2.
    fails_with(&text, &[&too_deep_at(2, 62)]);
}

/// `depth` levels counting the top mapping: block sequences under `migration`.
fn nested(depth: usize) -> String {
    format!("migration:\n{}x\n", "- ".repeat(depth - 1))
}

#[test]
fn sixty_four_levels_are_allowed_and_sixty_five_are_not() {
    on_small_stack(|| {
        let ok = rendered(&nested(MAX_DEPTH));
        assert!(
            !ok.iter().any(|d| d.contains("nested too deeply")),
            "{ok:?}"
        );
        assert_eq!(
            ok.last().map(String::as_str),
            Some(
                "plan.yaml:2:3: error: key \"migration\" of the plan: invalid type: a list, expected a string"
            )
        );
        fails_with(&nested(MAX_DEPTH + 1), &[&too_deep_at(2, 127)]);
    });
}

#[test]
fn deep_but_allowed_params_compile_on_a_small_stack() {
    // The deepest tree the loader ever builds, inside a check's params, where every walk of
    // the tree (marked-yaml, serde, params, check config) recurses once per level.
    on_small_stack(|| {
        let depth = MAX_DEPTH - 4; // top mapping, checks list, the check, params
        let params = format!("{}1{}", "{ a: [".repeat(depth / 2), "] }".repeat(depth / 2));
        let text = BASE.replace(
            "  - { id: c, layer: product, kind: manual }",
            &format!(
                "  - {{ id: c, layer: product, kind: manual }}\n  - {{ id: r, layer: product, kind: rollup, schedule: \"0 7 * * *\", params: {params} }}"
            ),
        );
        let ds = load("plan.yaml", &text).unwrap_err();
        let shown: Vec<String> = ds.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "plan.yaml:10:11: warning: check \"r\" is not used by any exit condition",
                "plan.yaml:10:77: error: check \"r\": unknown key \"a\" in params (expected \"metrics\", \"tolerance\")",
            ]
        );
    });
}

#[test]
fn more_values_than_the_node_limit_are_refused_where_the_limit_is_passed() {
    // Short nodes (`1,` is two bytes) would build a tree of 2 million nodes under 4 MiB.
    let text = format!("migration: [{}]\n", "1,".repeat(MAX_NODES));
    // Nodes: the top mapping, "migration", the list, then the numbers: node 500,001 is
    // number 499,998, at column 13 + 2 * 499,997.
    fails_with(
        &text,
        &[
            "plan.yaml:1:1000007: error: too many values: a plan may hold at most 500000 keys, values, lists and mappings",
        ],
    );
    // That exactly MAX_NODES pass is a unit test of the event scan (src/yaml.rs), which
    // does not build the half-million-node tree.
}

#[test]
fn long_names_are_shortened_where_they_label_other_diagnostics() {
    // Each diagnostic inside an item names the item; a huge id would be repeated in each.
    let id = "a".repeat(200);
    let text = BASE.replace(
        "{ id: c, layer: product, kind: manual }",
        &format!("{{ id: c, layer: product, kind: manual }}\n  - {{ id: {id}, layer: nope, kind: manual }}"),
    );
    let shown = rendered(&text);
    let label = format!("check \"{}…\"", "a".repeat(80));
    assert!(
        shown.contains(&format!(
            "plan.yaml:10:220: error: {label} belongs to unknown layer \"nope\""
        )),
        "{shown:?}"
    );
}

// ---- size --------------------------------------------------------------------------------

/// BASE padded with a trailing comment to exactly `len` bytes.
fn padded(len: usize) -> String {
    let mut text = String::from(BASE);
    text.push('#');
    text.push_str(&"x".repeat(len - text.len() - 1));
    text.push('\n');
    text
}

#[test]
fn a_plan_of_exactly_the_size_limit_loads() {
    let text = padded(MAX_PLAN_BYTES);
    assert_eq!(text.len(), MAX_PLAN_BYTES);
    load("plan.yaml", &text).expect("a plan at the limit loads");
}

#[test]
fn a_plan_over_the_size_limit_is_refused_where_it_passes_the_limit() {
    let text = padded(MAX_PLAN_BYTES + 1);
    let last_line = BASE.lines().count() + 1;
    // The limit falls on the newline ending the comment line: one past its last column.
    let column = MAX_PLAN_BYTES - BASE.len() + 1;
    fails_with(
        &text,
        &[&format!(
            "plan.yaml:{last_line}:{column}: error: the plan is larger than the 4 MiB limit (4194304 bytes)"
        )],
    );
    // Huge is refused as fast, however it is built.
    fails_with(
        &"a: b\n".repeat(2 * MAX_PLAN_BYTES / 5),
        &["plan.yaml:838861:5: error: the plan is larger than the 4 MiB limit (4194304 bytes)"],
    );
}

#[test]
fn file_bytes_over_the_limit_or_not_utf8_are_located() {
    let big = vec![0u8; MAX_PLAN_BYTES + 1];
    assert_eq!(
        text_from_bytes("/dev/zero", &big).unwrap_err().to_string(),
        "/dev/zero:1:4194305: error: the plan is larger than the 4 MiB limit (4194304 bytes)"
    );
    let exact = vec![b'#'; MAX_PLAN_BYTES];
    assert_eq!(
        text_from_bytes("p.yaml", &exact).unwrap().len(),
        MAX_PLAN_BYTES
    );
    assert_eq!(
        text_from_bytes("p.yaml", b"migration: m\nname: \xc3\xa9t\xff\n")
            .unwrap_err()
            .to_string(),
        "p.yaml:2:9: error: the plan is not UTF-8 text: invalid byte 0xFF at byte offset 22"
    );
    assert_eq!(
        text_from_bytes("p.yaml", b"migration: \xc3")
            .unwrap_err()
            .to_string(),
        "p.yaml:1:12: error: the plan is not UTF-8 text: it ends inside a character (byte offset 11)"
    );
    assert_eq!(text_from_bytes("p.yaml", BASE.as_bytes()), Ok(BASE));
}

// ---- one document --------------------------------------------------------------------------

#[test]
fn a_second_document_is_refused_not_ignored() {
    // It used to be silently ignored: the first document loaded on its own.
    let text = format!("{BASE}---\nmigration: other\n");
    let line = BASE.lines().count() + 1;
    fails_with(
        &text,
        &[&format!(
            "plan.yaml:{line}:1: error: a plan is a single YAML document, but a second one starts here (after \"---\")"
        )],
    );
    // Even an empty one.
    assert_eq!(rendered(&format!("{BASE}---\n")).len(), 1);
    // An explicit start and end of the one document are fine.
    load("plan.yaml", &format!("---\n{BASE}...\n")).expect("one document with markers");
    load("plan.yaml", &format!("%YAML 1.2\n---\n{BASE}")).expect("a directive");
}

// ---- control characters ------------------------------------------------------------------

const CONTROL_RULE: &str =
    "a plan may contain no control characters other than tab and line breaks";

#[test]
fn nul_byte_is_refused_instead_of_ending_the_file() {
    // The YAML scanner reads NUL as the end of input: everything after it was ignored, and
    // a NUL in a value is accepted by SQLite but not by a Postgres text column.
    let text = BASE.replace("migration: m", "migration: m\0 and more");
    fails_with(
        &text,
        &[&format!(
            "plan.yaml:1:13: error: control character U+0000 (NUL) in the plan; {CONTROL_RULE}"
        )],
    );
}

#[test]
fn raw_control_characters_are_refused_with_a_count() {
    let text = BASE.replace("goal: g", "goal: \u{1b}[31mg\u{7f}\u{9b}");
    let line = BASE.lines().position(|l| l.contains("goal: g")).unwrap() + 1;
    fails_with(
        &text,
        &[&format!(
            "plan.yaml:{line}:20: error: control character U+001B (ESC) in the plan (and 2 more); {CONTROL_RULE}"
        )],
    );
    // A carriage return only as part of CRLF.
    let crlf = BASE.replace('\n', "\r\n");
    load("plan.yaml", &crlf).expect("CRLF line endings are fine");
    fails_with(
        &BASE.replace("goal: g", "goal: g\rfake"),
        &[&format!(
            "plan.yaml:{line}:21: error: a carriage return (U+000D) that does not end a line (line breaks are \\n or \\r\\n) in the plan; {CONTROL_RULE}"
        )],
    );
    // Tabs inside values are fine.
    load("plan.yaml", &BASE.replace("goal: g", "goal: \"g\tg\"")).expect("a tab");
}

#[test]
fn control_characters_written_as_escapes_are_refused_where_they_are() {
    let text = BASE.replace("migration: m", "migration: \"m\\0\"\nextra: \"\\e[2J\"");
    let expected = [
        format!(
            "plan.yaml:1:12: error: control character U+0000 (NUL) in a quoted text (written as an escape); {CONTROL_RULE}"
        ),
        "plan.yaml:2:1: error: unknown key \"extra\" in the plan".to_owned(),
        format!(
            "plan.yaml:2:8: error: control character U+001B (ESC) in a quoted text (written as an escape); {CONTROL_RULE}"
        ),
    ];
    fails_with(&text, &expected.each_ref().map(String::as_str));
}

#[test]
fn a_plan_can_not_forge_a_diagnostic_line() {
    // A key holding a newline (written as an escape, which YAML allows) would have printed
    // a second, forged diagnostic line; and an escape sequence would restyle the terminal.
    let text = format!("{BASE}\"x\\nfake.yaml:1:1: error: forged\": 1\n\"\\u202Eevil\": 2\n");
    let lines = rendered(&text);
    assert_eq!(
        lines,
        [
            "plan.yaml:12:1: error: unknown key \"x\\nfake.yaml:1:1: error: forged\" in the plan",
            "plan.yaml:13:1: error: unknown key \"\\u{202e}evil\" in the plan",
        ]
    );
    // The file name is escaped too.
    let ds = load("evil\n.yaml", "a: [").unwrap_err();
    assert_eq!(
        ds[0].to_string(),
        "evil\\n.yaml:1:5: error: invalid YAML: while parsing a node, did not find expected node content"
    );
    // And a hand-built diagnostic renders on one line.
    let d = Diagnostic {
        file: "a\rb".into(),
        line: 1,
        column: 1,
        severity: Severity::Error,
        message: "x\u{1b}[0m\u{85}y".into(),
    };
    assert_eq!(d.to_string(), "a\\rb:1:1: error: x\\u{1b}[0m\\u{85}y");
    assert_eq!(escape_controls("plain ünïcode"), "plain ünïcode");
}

// ---- positions ----------------------------------------------------------------------------

#[test]
fn diagnostic_at_end_of_file_without_newline_stays_on_the_last_line() {
    // The scanner puts "end of input" on the line after; it used to be reported at 2:1.
    fails_with(
        "migration: [x",
        &[
            "plan.yaml:1:14: error: invalid YAML: while parsing a flow sequence, expected ',' or ']'",
        ],
    );
    fails_with(
        "a: 1\r\nb: [",
        &[
            "plan.yaml:2:5: error: invalid YAML: while parsing a node, did not find expected node content",
        ],
    );
    // With a final newline the end of input is the start of the next line, as before.
    fails_with(
        "migration: [x\n",
        &["plan.yaml:2:1: error: invalid YAML: while parsing a flow sequence, expected ',' or ']'"],
    );
}

#[test]
fn the_shipped_plan_still_loads_with_crlf_line_endings() {
    let crlf = PARALLEL.replace('\n', "\r\n");
    let l = load("p.yaml", &crlf).expect("loads");
    assert!(l.warnings.is_empty());
}
