//! Diagnostics: one located message per problem found in a plan file, and the collector
//! the loader fills while it walks the file.

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

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file,
            self.line,
            self.column,
            self.severity.as_str(),
            self.message
        )
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
}

/// Collects diagnostics in discovery order; [`Diags::finish`] sorts them by position.
#[derive(Debug)]
pub(crate) struct Diags {
    file: String,
    list: Vec<Diagnostic>,
}

impl Diags {
    pub fn new(file: &str) -> Self {
        Diags {
            file: file.to_owned(),
            list: Vec::new(),
        }
    }

    fn push(&mut self, at: Pos, severity: Severity, message: String) {
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

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    /// All diagnostics sorted by (line, column); ties keep discovery order.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(|d| (d.line, d.column));
        self.list
    }
}
