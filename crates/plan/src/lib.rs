//! cutover-plan: migration plan YAML -> validated [`Plan`], with every problem in the file
//! reported at once as a located [`Diagnostic`].
//!
//! Pure: [`load`] takes the text it is given and does no IO. Loading runs in two stages:
//! the raw serde shape of each section and item ([`raw`]), then compilation into the
//! validated model ([`compile`]), which resolves references and checks every rule.

pub mod check_config;
mod compile;
mod currency;
mod diag;
mod duration;
mod inventory;
pub mod metrics;
mod model;
mod raw;
pub mod sources;
mod suggest;
pub mod variance_policy;
mod yaml;

pub use check_config::{CheckConfig, ParamError};
pub use currency::CURRENCIES;
pub use diag::{Diagnostic, Severity, escape_controls};
pub use duration::parse_duration;
pub use metrics::{
    DeclaredMetric, MetricKind, MetricNameError, MetricVocabulary, check_metric_name,
};
pub use model::*;
pub use sources::Source;
pub use variance_policy::{MetricPolicy, VarianceAmount, VarianceGate, VariancePolicy};
pub use yaml::{MAX_DEPTH, MAX_NODES, MAX_PLAN_BYTES};

/// A plan that loaded, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub plan: Plan,
    /// The plan's `sources:` (kept beside [`Plan`] so code that builds a `Plan` by hand
    /// is unaffected).
    pub sources: Vec<Source>,
    /// Sorted by (line, column).
    pub warnings: Vec<Diagnostic>,
}

/// The text of a plan file's bytes, or one located diagnostic saying why they can not be a
/// plan: more than [`MAX_PLAN_BYTES`] (a caller reading a file should read at most one byte
/// more than that, so an endless or huge file is never read whole), or not UTF-8 (naming
/// the byte offset of the first invalid byte).
pub fn text_from_bytes<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, Diagnostic> {
    let (at, message) = if bytes.len() > MAX_PLAN_BYTES {
        let head = &bytes[..MAX_PLAN_BYTES];
        let line_start = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let at = diag::Pos {
            line: head.iter().filter(|&&b| b == b'\n').count() + 1,
            column: String::from_utf8_lossy(&head[line_start..]).chars().count() + 1,
        };
        (at, yaml::too_large_message())
    } else {
        match std::str::from_utf8(bytes) {
            Ok(text) => return Ok(text),
            Err(e) => {
                let offset = e.valid_up_to();
                let valid = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
                let message = match e.error_len() {
                    Some(_) => format!(
                        "the plan is not UTF-8 text: invalid byte 0x{:02X} at byte offset {offset}",
                        bytes[offset]
                    ),
                    None => format!(
                        "the plan is not UTF-8 text: it ends inside a character (byte offset {offset})"
                    ),
                };
                (diag::Pos::end_of(valid), message)
            }
        }
    };
    Err(Diagnostic {
        file: escape_controls(file).into_owned(),
        line: at.line,
        column: at.column,
        severity: Severity::Error,
        message,
    })
}

/// Loads a plan from `text`; `file` is only used to label diagnostics.
///
/// Before any YAML tree is built, text that can not be a plan is refused with a located
/// error: more than [`MAX_PLAN_BYTES`], a control character (other than tab and line
/// breaks, raw or written as an escape), lists and mappings nested deeper than
/// [`MAX_DEPTH`], more than [`MAX_NODES`] nodes, or a second YAML document. Every
/// diagnostic's file name and message have their control characters escaped
/// ([`escape_controls`]), so each renders as one line.
///
/// On failure the `Err` holds every error and warning found, sorted by (line, column). It
/// is `Err` exactly when at least one diagnostic is an error.
pub fn load(file: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = diag::Diags::new(file);
    let mut sources = Vec::new();
    let plan = yaml::parse(text, &mut diags).and_then(|(root, scanned)| {
        let plan = compile::compile(&root, &scanned.duplicates, &mut diags);
        sources = sources::compile(&root, sources::plan_timezone(&root), &mut diags);
        plan
    });
    if plan.is_none() && !diags.has_errors() {
        // Unreachable by construction; keeps "Err iff an error" true regardless.
        diags.error(diag::Pos::START, "the plan could not be read");
    }
    let has_errors = diags.has_errors();
    let list = diags.finish(text);
    match plan {
        Some(plan) if !has_errors => Ok(Loaded {
            plan,
            sources,
            warnings: list,
        }),
        _ => Err(list),
    }
}
