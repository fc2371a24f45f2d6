//! A bounded fuzz of the plan loader, run by `cargo test` (and so by `.ci/run`): random
//! mutations of the shipped example plans — byte flips, deletions, duplicated lines, YAML
//! punctuation, indentation, unicode and control characters, deep nesting fragments,
//! truncations, splices between the two plans — fed to `text_from_bytes` and `load`.
//!
//! It asserts that nothing panics (or overflows the stack), that a load fails exactly when
//! it reports an error, and that every diagnostic points inside the text and renders as one
//! line without a raw control character.
//!
//! The default 3,000 cases take about 20 s in a debug build on the project's shared 2-core
//! machine; run it longer with, e.g.,
//! `PROPTEST_CASES=100000 cargo test -p cutover-plan --release --test fuzz` (about 80 s).
//! A failure is saved beside this file (tests/fuzz.proptest-regressions) and replayed
//! first on the next run; turn it into a named test in tests/limits.rs.

use cutover_plan::*;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;

const PLANS: [&str; 2] = [
    include_str!("../../../workflows/affiliate-parallel-run.yaml"),
    include_str!("../../../workflows/hard-cutover.yaml"),
];

/// Cases per run unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 3000;

/// Text worth inserting: YAML punctuation and structure, plan keys, odd scalars, unicode,
/// and control characters raw and as escapes.
const PIECES: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    ",",
    "?",
    "? ",
    "|",
    ">",
    "|-\n",
    "&a ",
    "*a",
    "!t ",
    "!!str ",
    "#",
    " #",
    "\"",
    "'",
    "---\n",
    "---",
    "...\n",
    "%YAML 1.2\n",
    "\n",
    "\n\n",
    "  ",
    "    ",
    "\t",
    " ",
    "id: ",
    "check: ",
    "any:\n",
    "all: [",
    "signoff: ",
    "outcome: ",
    "lead: true",
    "kind: reconcile",
    "params: ",
    "schedule: ",
    "fresh_within: ",
    "consecutive: ",
    "layers: ",
    "sources:\n  - id: s\n",
    "99999999999999999999",
    "-1",
    "0",
    "1e400",
    ".nan",
    "~",
    "null",
    "true",
    "ü",
    "日本",
    "😀",
    "\u{202e}",
    "\u{2028}",
    "\u{feff}",
    "\u{85}",
    "\0",
    "\u{1b}[31m",
    "\r",
    "\r\n",
    "\u{7f}",
    "\u{9b}",
    "\"\\0\"",
    "\"\\e[2J\"",
    "\"\\n\"",
    "\"\\r\"",
    "\"\\x85\"",
    "\"\\u202e\"",
    "\"a\\nfake.yaml:1:1: x\"",
];

/// Opens one level of nesting, in each syntax.
const OPENERS: &[&str] = &["[", "{a: ", "- ", "[{a: ", "{a: [", "? "];

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Delete(Index, usize),
    /// Cuts the text short, often mid-line.
    Truncate(Index),
    DuplicateLine(Index, usize),
    SwapLines(Index, Index),
    Insert(Index, &'static str),
    Nest(Index, &'static str, usize),
    /// Indents every line from one point on by a few spaces.
    Indent(Index, usize),
    /// Copies a stretch of the other plan in.
    Splice(Index, Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..4).prop_map(|(i, n)| Mutation::DuplicateLine(i, n)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        3 => (any::<Index>(), prop::sample::select(PIECES)).prop_map(|(i, p)| Mutation::Insert(i, p)),
        1 => (any::<Index>(), prop::sample::select(OPENERS), 1usize..200)
            .prop_map(|(i, o, n)| Mutation::Nest(i, o, n)),
        1 => (any::<Index>(), 1usize..4).prop_map(|(i, n)| Mutation::Indent(i, n)),
        1 => (any::<Index>(), any::<Index>(), 1usize..400)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

/// Byte offsets where each line starts (a line is what ends at a `\n`).
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i < bytes.len())
        .collect()
}

/// The byte range of the line `ix` picks, with its newline.
fn line_at(bytes: &[u8], ix: &Index) -> std::ops::Range<usize> {
    let starts = line_starts(bytes);
    if starts.is_empty() {
        return 0..0;
    }
    let n = ix.index(starts.len());
    starts[n]..starts.get(n + 1).copied().unwrap_or(bytes.len())
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, other: &[u8]) {
    let at = |ix: &Index, b: &Vec<u8>| ix.index(b.len() + 1);
    match m {
        Mutation::FlipBit(i, bit) => {
            if !bytes.is_empty() {
                let n = i.index(bytes.len());
                bytes[n] ^= 1 << bit;
            }
        }
        Mutation::Delete(i, len) => {
            let from = at(i, bytes);
            let to = (from + len).min(bytes.len());
            bytes.drain(from..to);
        }
        Mutation::Truncate(i) => {
            let n = at(i, bytes);
            bytes.truncate(n);
        }
        Mutation::DuplicateLine(i, times) => {
            let r = line_at(bytes, i);
            let line = bytes[r.clone()].to_vec();
            for _ in 0..*times {
                bytes.splice(r.start..r.start, line.iter().copied());
            }
        }
        Mutation::SwapLines(a, b) => {
            let (ra, rb) = (line_at(bytes, a), line_at(bytes, b));
            let (first, second) = if ra.start <= rb.start {
                (ra, rb)
            } else {
                (rb, ra)
            };
            if first.end <= second.start {
                let (x, y) = (
                    bytes[first.clone()].to_vec(),
                    bytes[second.clone()].to_vec(),
                );
                bytes.splice(second, x);
                bytes.splice(first, y);
            }
        }
        Mutation::Insert(i, piece) => {
            let n = at(i, bytes);
            bytes.splice(n..n, piece.bytes());
        }
        Mutation::Nest(i, opener, depth) => {
            let n = at(i, bytes);
            bytes.splice(n..n, opener.repeat(*depth).into_bytes());
        }
        Mutation::Indent(i, by) => {
            let from = line_at(bytes, i).start;
            let mut out = bytes[..from].to_vec();
            for line in bytes[from..].split_inclusive(|&b| b == b'\n') {
                out.extend(std::iter::repeat_n(b' ', *by));
                out.extend_from_slice(line);
            }
            *bytes = out;
        }
        Mutation::Splice(to, from, len) => {
            let n = at(to, bytes);
            let start = from.index(other.len());
            let end = (start + len).min(other.len());
            bytes.splice(n..n, other[start..end].iter().copied());
        }
    }
}

/// The loader's promises about `diags` for `text`.
fn check_diagnostics(text: &str, diags: &[Diagnostic]) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    // After a final newline the end of input is line n + 1, column 1.
    for d in diags {
        let shown = d.to_string();
        prop_assert!(
            !shown.chars().any(char::is_control),
            "raw control character in {shown:?}"
        );
        prop_assert!(d.line >= 1 && d.column >= 1, "{shown:?}");
        prop_assert!(d.line <= lines.len(), "line past the end: {shown:?}");
        let width = lines[d.line - 1].chars().count();
        prop_assert!(
            d.column <= width + 1,
            "column past the end of line {} ({width} characters): {shown:?}",
            d.line
        );
    }
    prop_assert!(
        diags
            .windows(2)
            .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column)),
        "not sorted"
    );
    Ok(())
}

fn check_load(text: &str) -> Result<(), TestCaseError> {
    match load("fuzz.yaml", text) {
        Ok(l) => {
            prop_assert!(l.warnings.iter().all(|d| !d.is_error()));
            check_diagnostics(text, &l.warnings)
        }
        Err(ds) => {
            prop_assert!(ds.iter().any(Diagnostic::is_error), "Err without an error");
            check_diagnostics(text, &ds)
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Integration tests have no lib.rs to anchor the default location: keep failures
        // beside this file, as tests/fuzz.proptest-regressions.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_example_plans_never_panic_and_diagnose_inside_the_text(
        which in 0usize..2,
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut bytes = PLANS[which].as_bytes().to_vec();
        let other = PLANS[1 - which].as_bytes();
        for m in &mutations {
            apply(&mut bytes, m, other);
        }
        match text_from_bytes("fuzz.yaml", &bytes) {
            Ok(text) => check_load(text)?,
            Err(d) => {
                prop_assert!(d.is_error());
                prop_assert!(!d.to_string().chars().any(char::is_control));
                // The text as an editor would show it still loads without a panic.
                check_load(&String::from_utf8_lossy(&bytes))?;
            }
        }
    }
}
