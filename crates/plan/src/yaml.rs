//! Turning text into a marked YAML tree: syntax errors, the shape of the top level, and
//! duplicate mapping keys (which marked-yaml would silently resolve as "last one wins").
//!
//! Nothing here knows about plans; it stops at "a mapping node, or fatal diagnostics".

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use marked_yaml::{LoadError, Node};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker as YamlMarker;

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

/// Parses `text`; on failure records the fatal diagnostics and returns `None`.
pub(crate) fn parse(text: &str, diags: &mut Diags) -> Option<Node> {
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
    // marked-yaml asserts on a few event orders it does not expect; never let a panic
    // escape to the caller.
    let parsed = catch_unwind(AssertUnwindSafe(|| marked_yaml::parse_yaml(0, text)));
    let result = match parsed {
        Ok(r) => r,
        Err(_) => {
            diags.error(Pos::START, "invalid YAML: the document could not be read");
            return None;
        }
    };
    match result {
        Ok(node) => Some(node),
        Err(e) => {
            let (at, message) = describe_load_error(&e, text);
            diags.error(at, message);
            None
        }
    }
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
            let at = Pos::of_marker(m);
            let mut msg = format!("invalid YAML: {}", se.info());
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
        LoadError::DuplicateKey(inner) => (
            Pos::of_span(inner.key.span()),
            format!("duplicate key \"{}\"", inner.key.as_str()),
        ),
    }
}

/// Every key repeated within one mapping, in document order. Returns nothing for text that
/// does not parse (the syntax error is reported by [`parse`]).
pub(crate) fn duplicate_keys(text: &str) -> Vec<DuplicateKey> {
    let mut finder = DupFinder::default();
    let mut parser = Parser::new_from_str(text);
    let ok = catch_unwind(AssertUnwindSafe(|| parser.load(&mut finder, false).is_ok()));
    if ok.unwrap_or(false) {
        finder.found
    } else {
        Vec::new()
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

#[derive(Default)]
struct DupFinder {
    stack: Vec<Frame>,
    found: Vec<DuplicateKey>,
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

impl MarkedEventReceiver for DupFinder {
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
        let d = duplicate_keys(text);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].key, "x");
        assert_eq!((d[0].first.line, d[0].second.line), (3, 5));
        assert_eq!(d[1].key, "a");
        assert_eq!((d[1].first.line, d[1].second.line), (1, 6));
        assert_eq!(d[1].second.column, 1);
    }
}
