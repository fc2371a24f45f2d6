//! Diagnostics: one located message per problem found in a plan file, and the collector
//! the loader fills while it walks the file.

use std::borrow::Cow;
use std::fmt;

use marked_yaml::{Marker, Span};

/// How bad a diagnostic is. Errors stop a plan from loading; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem in a plan file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Always one line: control characters in the file name or message are escaped (they
/// already are in diagnostics from [`crate::load`]; this covers hand-built ones).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            escape_controls(&self.file),
            self.line,
            self.column,
            self.severity.as_str(),
            escape_controls(&self.message)
        )
    }
}

/// Whether `c` must not reach a terminal or log raw: C0 and C1 control characters and DEL
/// (which move the cursor, end lines or start terminal escapes), the Unicode line and
/// paragraph separators, and the bidirectional formatting characters (which reorder how
/// the rest of a line is displayed).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every character that could forge a line or restyle a terminal written as
/// an escape: `\n`, `\r`, `\t`, else `\u{1b}`. Everything else is kept as it is, so the
/// result is borrowed when there is nothing to escape.
///
/// Every diagnostic's file name and message pass through this, so a plan can not print a
/// second, forged `FILE:LINE:COL: error:` line or colour the terminal; callers that echo a
/// file name or plan text in their own messages should do the same.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Names (ids, keys) longer than this are shortened where they label the context of other
/// diagnostics, which would otherwise repeat a huge name in each.
const LABEL_CHARS: usize = 80;

/// `name` as it appears in a context label: cut to [`LABEL_CHARS`] characters and an
/// ellipsis when longer.
pub(crate) fn short(name: &str) -> Cow<'_, str> {
    match name.char_indices().nth(LABEL_CHARS) {
        None => Cow::Borrowed(name),
        Some((cut, _)) => Cow::Owned(format!("{}…", &name[..cut])),
    }
}

/// A 1-based (line, column) position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, column: 1 };

    pub fn of_marker(m: &Marker) -> Pos {
        Pos {
            line: m.line().max(1),
            column: m.column().max(1),
        }
    }

    /// The span's start, or `fallback` when the span carries no marker.
    pub fn of_span_or(span: &Span, fallback: Pos) -> Pos {
        span.start().map(Pos::of_marker).unwrap_or(fallback)
    }

    pub fn of_span(span: &Span) -> Pos {
        Pos::of_span_or(span, Pos::START)
    }

    /// The position of byte `offset` of `text` (clamped to its end and rounded down to a
    /// character boundary); columns count characters, as the YAML parser's do.
    pub fn at_byte(text: &str, offset: usize) -> Pos {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos {
            line: before.bytes().filter(|&b| b == b'\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }

    /// The position just after the last character of `text`.
    pub fn end_of(text: &str) -> Pos {
        Pos::at_byte(text, text.len())
    }
}

/// Collects diagnostics in discovery order; [`Diags::finish`] sorts them by position.
#[derive(Debug)]
pub(crate) struct Diags {
    file: String,
    list: Vec<Diagnostic>,
    /// What is left of this load's budget for "did you mean" suggestions.
    hint_budget: u64,
}

impl Diags {
    pub fn new(file: &str) -> Self {
        Diags {
            file: escape_controls(file).into_owned(),
            list: Vec::new(),
            hint_budget: crate::suggest::BUDGET,
        }
    }

    fn push(&mut self, at: Pos, severity: Severity, message: String) {
        let message = match escape_controls(&message) {
            Cow::Borrowed(_) => message,
            Cow::Owned(escaped) => escaped,
        };
        self.list.push(Diagnostic {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            severity,
            message,
        });
    }

    pub fn error(&mut self, at: Pos, message: impl Into<String>) {
        self.push(at, Severity::Error, message.into());
    }

    pub fn warn(&mut self, at: Pos, message: impl Into<String>) {
        self.push(at, Severity::Warning, message.into());
    }

    /// `; did you mean "x"?` or nothing, within this load's suggestion budget: use it
    /// wherever the candidates grow with the plan (ids, time zones per item).
    pub fn hint<'a, I>(&mut self, input: &str, candidates: I) -> String
    where
        I: IntoIterator<Item = &'a str>,
    {
        crate::suggest::hint_within(input, candidates, &mut self.hint_budget)
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    /// All diagnostics sorted by (line, column); ties keep discovery order. A position
    /// past the end of `text` (the YAML scanner places "end of input" on the line after a
    /// last line that has no newline) is moved to the end.
    pub fn finish(mut self, text: &str) -> Vec<Diagnostic> {
        let end = Pos::end_of(text);
        for d in &mut self.list {
            if (Pos {
                line: d.line,
                column: d.column,
            }) > end
            {
                d.line = end.line;
                d.column = end.column;
            }
        }
        self.list.sort_by_key(|d| (d.line, d.column));
        self.list
    }
}
