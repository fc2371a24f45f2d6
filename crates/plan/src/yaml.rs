//! Turning text into a marked YAML tree: the limits that refuse what can not be a plan
//! before it can hurt (size, control characters, nesting depth, node count, one
//! document), syntax
//! errors, the shape of the top level, and duplicate mapping keys (which marked-yaml would
//! silently resolve as "last one wins").
//!
//! Nothing here knows about plans; it stops at "a mapping node, or fatal diagnostics".

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use marked_yaml::{LoadError, Node};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker as YamlMarker, ScanError};

use crate::diag::{Diags, Pos};

/// A key that appears twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DuplicateKey {
    pub key: String,
    /// Start of the mapping holding both keys.
    pub mapping: Pos,
    pub first: Pos,
    pub second: Pos,
}

/// The largest plan [`crate::load`] accepts, in bytes (4 MiB). The biggest shipped plan
/// is about 10 KB; the limit keeps the worst case of loading bounded (see
/// docs/performance.md).
pub const MAX_PLAN_BYTES: usize = 4 * 1024 * 1024;

/// How many lists and mappings may sit inside each other (the top-level mapping is the
/// first). A real plan needs fewer than ten; the limit is checked on the parser's event
/// stream before any tree is built, so every recursive walk of the tree is bounded by it.
pub const MAX_DEPTH: usize = 64;

/// How many nodes (keys, scalars, lists and mappings) a plan may hold. The shipped parallel
/// run has about 700. A node costs marked-yaml's tree 150 to 550 bytes (a list holding one
/// list is the dearest), so with [`MAX_PLAN_BYTES`] alone two-byte nodes (`[[[[1]]]]`,
/// `[1,1,1,...]`) would build trees of 2 million nodes and a gigabyte. Half a million
/// keeps the worst case near 300 MB; a plan of one-line checks reaches it at about 3.7 MB.
pub const MAX_NODES: usize = 500_000;

/// What the checks before the tree is built found that `compile` needs.
pub(crate) struct Scanned {
    pub duplicates: Vec<DuplicateKey>,
}

/// Parses `text`; on failure records the fatal diagnostics and returns `None`.
///
/// In order, each fatal: the size limit, control characters in the raw text, an empty
/// file, then one streaming pass over the parser's events (syntax errors, nesting deeper
/// than [`MAX_DEPTH`], more than [`MAX_NODES`] nodes, a second document; control
/// characters written as escapes and duplicate keys are recorded but not fatal), and only
/// then the tree.
pub(crate) fn parse(text: &str, diags: &mut Diags) -> Option<(Node, Scanned)> {
    if text.len() > MAX_PLAN_BYTES {
        diags.error(Pos::at_byte(text, MAX_PLAN_BYTES), too_large_message());
        return None;
    }
    if let Some((at, message)) = raw_control_character(text) {
        diags.error(at, message);
        return None;
    }
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        diags.error(
            Pos::START,
            "the plan is empty; expected a mapping with \"migration\", \"timezone\", \
             \"currency\", \"layers\", \"people\", \"checks\" and \"phases\"",
        );
        return None;
    }
    let scanned = scan_events(text, diags)?;
    // marked-yaml asserts on a few event orders it does not expect; never let a panic
    // escape to the caller. Its recursion is bounded: the scan above refused anything
    // nested deeper than MAX_DEPTH.
    let parsed = catch_unwind(AssertUnwindSafe(|| marked_yaml::parse_yaml(0, text)));
    let result = match parsed {
        Ok(r) => r,
        Err(_) => {
            diags.error(Pos::START, "invalid YAML: the document could not be read");
            return None;
        }
    };
    match result {
        Ok(node) => Some((node, scanned)),
        Err(e) => {
            let (at, message) = describe_load_error(&e, text);
            diags.error(at, message);
            None
        }
    }
}

/// The message for a plan over [`MAX_PLAN_BYTES`].
pub(crate) fn too_large_message() -> String {
    format!("the plan is larger than the 4 MiB limit ({MAX_PLAN_BYTES} bytes)")
}

/// Whether a plan may not contain `c` at all: every control character except tab and line
/// feed (C0, DEL, C1). A carriage return is allowed in the raw text only before a line
/// feed; see [`raw_control_character`].
fn refused(c: char) -> bool {
    c.is_control() && c != '\t' && c != '\n'
}

/// `U+001B (ESC)`.
fn describe_char(c: char) -> String {
    let name = match c {
        '\0' => " (NUL)",
        '\u{7}' => " (BEL)",
        '\u{8}' => " (backspace)",
        '\r' => " (carriage return)",
        '\u{1b}' => " (ESC)",
        '\u{7f}' => " (DEL)",
        _ => "",
    };
    format!("U+{:04X}{name}", c as u32)
}

const CONTROL_RULE: &str =
    "a plan may contain no control characters other than tab and line breaks";

/// The first control character a plan may not contain, raw in its text: a NUL would end
/// the YAML scanner's input early and can not be stored in a Postgres text column, and
/// the others could forge lines or restyle a terminal wherever plan text is shown. A
/// carriage return counts only when no line feed follows (a lone CR is a line break to
/// the scanner but not to most editors, so positions would disagree).
fn raw_control_character(text: &str) -> Option<(Pos, String)> {
    let bytes = text.as_bytes();
    let mut found = None;
    let mut count = 0usize;
    for (i, c) in text.char_indices() {
        let bad = if c == '\r' {
            bytes.get(i + 1) != Some(&b'\n')
        } else {
            refused(c)
        };
        if bad {
            count += 1;
            if found.is_none() {
                found = Some((i, c));
            }
        }
    }
    let (i, c) = found?;
    let what = if c == '\r' {
        "a carriage return (U+000D) that does not end a line (line breaks are \\n or \\r\\n)"
            .to_owned()
    } else {
        format!("control character {}", describe_char(c))
    };
    let more = match count - 1 {
        0 => String::new(),
        1 => " (and 1 more)".to_owned(),
        n => format!(" (and {n} more)"),
    };
    Some((
        Pos::at_byte(text, i),
        format!("{what} in the plan{more}; {CONTROL_RULE}"),
    ))
}

/// One streaming pass over the parser's events, before marked-yaml builds a tree:
/// `Parser::next_token` is a state machine, so unlike `Parser::load` (which marked-yaml
/// uses, and which recurses once per level) nothing here grows the call stack with the
/// nesting. Fatal: a syntax error, nesting deeper than [`MAX_DEPTH`] (reported at the
/// first node too deep, where the pass stops), more than [`MAX_NODES`] nodes, and a second
/// document. Recorded: control characters written as escapes in quoted text, and
/// duplicate keys.
fn scan_events(text: &str, diags: &mut Diags) -> Option<Scanned> {
    let mut finder = DupFinder::default();
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0usize;
    let mut nodes = 0usize;
    // The last event seen: its character index, and whether it opened a collection.
    let mut last = (0usize, false);
    // The scanner is not expected to panic, but a panic must never reach the caller.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        loop {
            let (ev, mark) = match parser.next_token() {
                Ok(x) => x,
                Err(e) if e.info() == "recursion limit exceeded" => {
                    // The scanner gave up at 256 flow levels before emitting the events
                    // of the levels in between: find the first too deep on the text.
                    let (index, opened) = last;
                    let at = first_too_deep_bracket(text, index, opened, finder.stack.len())
                        .unwrap_or_else(|| pos(*e.marker()));
                    return Err((at, too_deep_message()));
                }
                Err(e) => return Err(describe_scan_error(&e, text)),
            };
            let at = pos(mark);
            last = (
                mark.index(),
                matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..)),
            );
            if matches!(
                ev,
                Event::Scalar(..)
                    | Event::Alias(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
            ) {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err((
                        at,
                        format!(
                            "too many values: a plan may hold at most {MAX_NODES} keys, values, \
                             lists and mappings"
                        ),
                    ));
                }
            }
            match &ev {
                Event::StreamEnd => return Ok(()),
                Event::DocumentStart => {
                    documents += 1;
                    if documents > 1 {
                        return Err((
                            at,
                            "a plan is a single YAML document, but a second one starts here \
                             (after \"---\")"
                                .to_owned(),
                        ));
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..)
                    if finder.stack.len() >= MAX_DEPTH =>
                {
                    // A block mapping is marked at its first ':'; place it at its first
                    // key, which is the next event.
                    let key = match parser.peek() {
                        Ok((Event::Scalar(..), m)) => pos(*m),
                        _ => at,
                    };
                    return Err((at.min(key), too_deep_message()));
                }
                Event::Scalar(value, ..) => {
                    if let Some(c) = value.chars().find(|&c| refused(c)) {
                        finder.controls.push((
                            at,
                            format!(
                                "control character {} in a quoted text (written as an \
                                 escape); {CONTROL_RULE}",
                                describe_char(c)
                            ),
                        ));
                    }
                }
                _ => {}
            }
            finder.on_event(ev, mark);
        }
    }));
    let fatal = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some((
            Pos::START,
            "invalid YAML: the document could not be read".to_owned(),
        )),
    };
    for (at, message) in std::mem::take(&mut finder.controls) {
        diags.error(at, message);
    }
    if let Some((at, message)) = fatal {
        diags.error(at, message);
        return None;
    }
    Some(Scanned {
        duplicates: finder.found,
    })
}

fn too_deep_message() -> String {
    format!(
        "nested too deeply: a plan may put at most {MAX_DEPTH} levels of lists and mappings \
         inside each other"
    )
}

/// Where flow brackets first nest deeper than [`MAX_DEPTH`], walking the text from
/// character `from` (the last event the parser emitted; `opened` when that event opened a
/// collection, whose bracket is already in `depth`). Quoted text and comments are skipped.
fn first_too_deep_bracket(text: &str, from: usize, opened: bool, mut depth: usize) -> Option<Pos> {
    let mut chars = text.char_indices().skip(from).peekable();
    if opened && chars.peek().is_some_and(|&(_, c)| c == '[' || c == '{') {
        chars.next();
    }
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = ' ';
    while let Some((i, c)) = chars.next() {
        if comment {
            comment = c != '\n';
        } else if let Some(q) = quote {
            if q == '"' && c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                '"' | '\'' if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(c),
                '#' if prev.is_whitespace() => comment = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some(Pos::at_byte(text, i));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
    }
    None
}

fn describe_scan_error(e: &ScanError, text: &str) -> (Pos, String) {
    let at = pos(*e.marker());
    let mut msg = format!("invalid YAML: {}", e.info());
    let near_tab = text
        .lines()
        .skip(at.line.saturating_sub(1))
        .take(2)
        .any(|l| l.contains('\t'));
    if near_tab {
        msg.push_str(" (there is a tab here; YAML indentation must use spaces)");
    }
    (at, msg)
}

fn describe_load_error(e: &LoadError, text: &str) -> (Pos, String) {
    match e {
        LoadError::TopLevelMustBeMapping(m) => (
            Pos::of_marker(m),
            "the top level of a plan must be a mapping of keys (migration, timezone, \
             currency, layers, people, checks, phases)"
                .to_owned(),
        ),
        LoadError::TopLevelMustBeSequence(m) => (
            Pos::of_marker(m),
            "the top level of a plan must be a mapping".to_owned(),
        ),
        LoadError::UnexpectedAnchor(m) => (
            Pos::of_marker(m),
            "YAML anchors and aliases (&name, *name) are not supported in plans".to_owned(),
        ),
        LoadError::MappingKeyMustBeScalar(m) => (
            Pos::of_marker(m),
            "mapping keys must be plain names, not lists or mappings".to_owned(),
        ),
        LoadError::UnexpectedTag(m) => (
            Pos::of_marker(m),
            "YAML tags (!tag) are not supported in plans".to_owned(),
        ),
        LoadError::ScanError(m, se) => {
            // The event scan reports syntax errors first; kept for completeness.
            let (_, msg) = describe_scan_error(se, text);
            (Pos::of_marker(m), msg)
        }
        LoadError::DuplicateKey(inner) => (
            Pos::of_span(inner.key.span()),
            format!("duplicate key \"{}\"", inner.key.as_str()),
        ),
    }
}

enum Frame {
    Mapping {
        start: Pos,
        keys: HashMap<String, Pos>,
        expecting_key: bool,
    },
    Sequence,
}

/// Follows the open mappings and sequences to spot duplicate keys; its stack is also the
/// nesting depth.
#[derive(Default)]
struct DupFinder {
    stack: Vec<Frame>,
    found: Vec<DuplicateKey>,
    /// Control characters found in scalars, with where.
    controls: Vec<(Pos, String)>,
}

fn pos(m: YamlMarker) -> Pos {
    Pos {
        line: m.line().max(1),
        column: m.col() + 1,
    }
}

impl DupFinder {
    /// A node (scalar, alias, or the start of a collection) appears in the current frame.
    fn node(&mut self, key_text: Option<&str>, at: Pos) {
        let Some(Frame::Mapping {
            start,
            keys,
            expecting_key,
        }) = self.stack.last_mut()
        else {
            return;
        };
        if *expecting_key {
            if let Some(k) = key_text {
                if let Some(first) = keys.get(k) {
                    self.found.push(DuplicateKey {
                        key: k.to_owned(),
                        mapping: *start,
                        first: *first,
                        second: at,
                    });
                } else {
                    keys.insert(k.to_owned(), at);
                }
            }
            *expecting_key = false;
        } else {
            *expecting_key = true;
        }
    }
}

impl DupFinder {
    fn on_event(&mut self, ev: Event, mark: YamlMarker) {
        let at = pos(mark);
        match ev {
            Event::Scalar(text, ..) => self.node(Some(&text), at),
            Event::Alias(_) => self.node(None, at),
            Event::MappingStart(..) => {
                self.node(None, at);
                self.stack.push(Frame::Mapping {
                    start: at,
                    keys: HashMap::new(),
                    expecting_key: true,
                });
            }
            Event::SequenceStart(..) => {
                self.node(None, at);
                self.stack.push(Frame::Sequence);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_at_any_depth() {
        let text = "a: 1\nb:\n  x: 1\n  y: [1, {x: 1}]\n  x: 2\na: 3\n";
        let mut diags = Diags::new("t.yaml");
        let d = scan_events(text, &mut diags).unwrap().duplicates;
        assert!(!diags.has_errors());
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].key, "x");
        assert_eq!((d[0].first.line, d[0].second.line), (3, 5));
        assert_eq!(d[1].key, "a");
        assert_eq!((d[1].first.line, d[1].second.line), (1, 6));
        assert_eq!(d[1].second.column, 1);
    }

    #[test]
    fn exactly_max_nodes_pass_the_event_scan() {
        // The top mapping, a key, a list: then MAX_NODES - 3 numbers.
        let text = format!("a: [{}]\n", "1,".repeat(MAX_NODES - 3));
        let mut diags = Diags::new("t.yaml");
        assert!(scan_events(&text, &mut diags).is_some());
        assert!(!diags.has_errors());
        let text = format!("a: [{}]\n", "1,".repeat(MAX_NODES - 2));
        assert!(scan_events(&text, &mut diags).is_none());
        assert_eq!(
            diags.finish(&text)[0].to_string(),
            "t.yaml:1:999999: error: too many values: a plan may hold at most 500000 keys, \
             values, lists and mappings"
        );
    }
}
