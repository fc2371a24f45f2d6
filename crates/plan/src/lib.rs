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
pub mod metrics;
mod model;
mod raw;
pub mod sources;
mod suggest;
mod yaml;

pub use check_config::{CheckConfig, ParamError};
pub use currency::CURRENCIES;
pub use diag::{Diagnostic, Severity};
pub use duration::parse_duration;
pub use metrics::{
    DeclaredMetric, MetricKind, MetricNameError, MetricVocabulary, check_metric_name,
};
pub use model::*;
pub use sources::Source;

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

/// Loads a plan from `text`; `file` is only used to label diagnostics.
///
/// On failure the `Err` holds every error and warning found, sorted by (line, column). It
/// is `Err` exactly when at least one diagnostic is an error.
pub fn load(file: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = diag::Diags::new(file);
    let mut sources = Vec::new();
    let plan = yaml::parse(text, &mut diags).and_then(|root| {
        let dups = yaml::duplicate_keys(text);
        let plan = compile::compile(&root, &dups, &mut diags);
        sources = sources::compile(&root, sources::plan_timezone(&root), &mut diags);
        plan
    });
    if plan.is_none() && !diags.has_errors() {
        // Unreachable by construction; keeps "Err iff an error" true regardless.
        diags.error(diag::Pos::START, "the plan could not be read");
    }
    let has_errors = diags.has_errors();
    let list = diags.finish();
    match plan {
        Some(plan) if !has_errors => Ok(Loaded {
            plan,
            sources,
            warnings: list,
        }),
        _ => Err(list),
    }
}
