//! The plan's metric vocabulary: the canonical metrics every part of cutover knows, plus
//! the metrics a plan declares itself at the top level (`metrics: {impressions: count,
//! bonus_cost: money}`), each a count or money. Also the one rule a metric name must
//! follow, wherever it comes from (a plan, a source, an export).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use marked_yaml::Node;

use crate::check_config::METRICS;
use crate::diag::{Diags, Pos};
use crate::suggest::hint;

/// The longest metric name accepted, in bytes.
pub const MAX_METRIC_NAME: usize = 100;

/// Canonical metrics that are money (carry a currency, are converted by FX rates); the
/// other canonical metrics are counts. Mirrors `cutover_recon::Metric::is_money`.
pub const MONEY_METRICS: &[&str] = &[
    "ftd_amount",
    "deposits_amount",
    "withdrawals_amount",
    "purchases_amount",
    "net_revenue",
    "commission",
];

/// Why a text is not a usable metric name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricNameError {
    #[error("a metric name must not be empty")]
    Empty,
    #[error("metric name {name:?} is {len} bytes long; the limit is {MAX_METRIC_NAME}")]
    TooLong { name: String, len: usize },
    #[error("metric name {name:?} contains a control character")]
    Control { name: String },
    #[error("metric name {name:?} starts or ends with white space")]
    Whitespace { name: String },
    /// Only where a name must be outside the canonical list (a declared metric).
    #[error("\"{name}\" is a canonical metric")]
    Canonical { name: String },
}

/// Checks the form of a metric name: not empty, at most [`MAX_METRIC_NAME`] bytes, no
/// control characters, no leading or trailing white space. Canonical names pass.
pub fn check_metric_name(name: &str) -> Result<(), MetricNameError> {
    if name.is_empty() {
        return Err(MetricNameError::Empty);
    }
    // Long names are cut in the message (at a char boundary).
    let shown = || {
        let mut end = name.len().min(MAX_METRIC_NAME);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name[..end].to_owned()
    };
    if name.len() > MAX_METRIC_NAME {
        return Err(MetricNameError::TooLong {
            name: format!("{}…", shown()),
            len: name.len(),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(MetricNameError::Control { name: shown() });
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(MetricNameError::Whitespace { name: shown() });
    }
    Ok(())
}

/// Whether a metric is a count or an amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Count,
    /// Carries a currency; converted with FX rates.
    Money,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Count => "count",
            MetricKind::Money => "money",
        }
    }

    pub fn from_name(s: &str) -> Option<MetricKind> {
        match s {
            "count" => Some(MetricKind::Count),
            "money" => Some(MetricKind::Money),
            _ => None,
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a canonical metric; `None` for any other name.
pub fn canonical_metric_kind(name: &str) -> Option<MetricKind> {
    if MONEY_METRICS.contains(&name) {
        Some(MetricKind::Money)
    } else if METRICS.contains(&name) {
        Some(MetricKind::Count)
    } else {
        None
    }
}

/// A metric the plan declares beyond the canonical list (top-level `metrics:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredMetric {
    pub name: String,
    pub kind: MetricKind,
}

/// The metrics a plan knows: the canonical ones and its declared ones. Cheap to clone.
///
/// Every question takes anything that is text (`&str`, `String`, or a
/// `cutover_recon::Metric`, which is `AsRef<str>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricVocabulary {
    declared: Arc<[DeclaredMetric]>,
    /// Declared name -> kind: lookups stay constant-time however many metrics a plan
    /// declares (the loader asks once per metric a check or source names).
    index: Arc<HashMap<String, MetricKind>>,
}

impl MetricVocabulary {
    /// The canonical metrics only.
    pub fn canonical() -> Self {
        MetricVocabulary::default()
    }

    /// The canonical metrics and `declared` (names are assumed valid and not canonical,
    /// as [`crate::load`] guarantees; a canonical name here keeps its canonical kind).
    pub fn new(declared: impl Into<Vec<DeclaredMetric>>) -> Self {
        let declared: Vec<DeclaredMetric> = declared.into();
        let mut index = HashMap::with_capacity(declared.len());
        for d in &declared {
            // The first declaration of a name wins, as a scan in plan order would.
            index.entry(d.name.clone()).or_insert(d.kind);
        }
        MetricVocabulary {
            declared: declared.into(),
            index: Arc::new(index),
        }
    }

    /// The declared metrics, in plan order.
    pub fn declared(&self) -> &[DeclaredMetric] {
        &self.declared
    }

    /// Count or money; `None` when the name is neither canonical nor declared.
    pub fn kind(&self, name: impl AsRef<str>) -> Option<MetricKind> {
        let name = name.as_ref();
        canonical_metric_kind(name).or_else(|| self.index.get(name).copied())
    }

    /// Whether the name is canonical or declared.
    pub fn is_known(&self, name: impl AsRef<str>) -> bool {
        self.kind(name).is_some()
    }

    /// Whether the metric is money (an unknown name is not).
    pub fn is_money(&self, name: impl AsRef<str>) -> bool {
        self.kind(name) == Some(MetricKind::Money)
    }

    /// Every known name: the canonical ones, then the declared ones.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        METRICS
            .iter()
            .copied()
            .chain(self.declared.iter().map(|d| d.name.as_str()))
    }
}

/// Reads the top-level `metrics:` of `root`. With `diags`, every problem is reported at
/// its place; without, broken entries are skipped silently (for a second reader of the
/// same file, whose problems the first one reports).
pub(crate) fn declared(root: &Node, mut diags: Option<&mut Diags>) -> Vec<DeclaredMetric> {
    let Some(node) = root.as_mapping().and_then(|m| m.get_node("metrics")) else {
        return Vec::new();
    };
    let mut report = |at: Pos, msg: String| {
        if let Some(d) = diags.as_deref_mut() {
            d.error(at, msg);
        }
    };
    let map = match node {
        Node::Mapping(m) => m,
        Node::Scalar(s) if s.as_str().is_empty() => return Vec::new(),
        _ => {
            report(
                Pos::of_span(node.span()),
                "\"metrics\" must be a mapping of metric name to count or money, e.g. \"metrics: {impressions: count, bonus_cost: money}\"".to_owned(),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (k, v) in map.iter() {
        let name = k.as_str();
        let at = Pos::of_span(k.span());
        if let Err(e) = check_metric_name(name) {
            report(at, format!("metrics: {e}"));
            continue;
        }
        if let Some(kind) = canonical_metric_kind(name) {
            report(
                at,
                format!(
                    "metrics: \"{name}\" is a canonical metric (a {kind}) already; declare only metrics beyond the canonical list"
                ),
            );
            continue;
        }
        let kind = match v.as_scalar() {
            Some(s) => match MetricKind::from_name(s.as_str()) {
                Some(kind) => kind,
                None => {
                    report(
                        Pos::of_span(s.span()),
                        format!(
                            "metric \"{name}\" has unknown kind \"{}\" (expected count or money){}",
                            s.as_str(),
                            hint(s.as_str(), ["count", "money"])
                        ),
                    );
                    continue;
                }
            },
            None => {
                report(
                    at,
                    format!("metric \"{name}\" must be count or money, found a list or mapping"),
                );
                continue;
            }
        };
        out.push(DeclaredMetric {
            name: name.to_owned(),
            kind,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(check_metric_name(""), Err(MetricNameError::Empty));
        assert!(check_metric_name("impressions").is_ok());
        assert!(check_metric_name("Net Gaming Revenue (EUR)").is_ok());
        assert!(check_metric_name("clicks_gross").is_ok());
        assert_eq!(
            check_metric_name("a\tb").unwrap_err().to_string(),
            "metric name \"a\\tb\" contains a control character"
        );
        assert_eq!(
            check_metric_name(" ftd").unwrap_err().to_string(),
            "metric name \" ftd\" starts or ends with white space"
        );
        let long = "é".repeat(60);
        assert_eq!(
            check_metric_name(&long).unwrap_err(),
            MetricNameError::TooLong {
                name: format!("{}…", "é".repeat(50)),
                len: 120
            }
        );
        assert!(check_metric_name(&"x".repeat(MAX_METRIC_NAME)).is_ok());
    }

    #[test]
    fn vocabulary_answers_kinds() {
        let v = MetricVocabulary::new(vec![
            DeclaredMetric {
                name: "impressions".into(),
                kind: MetricKind::Count,
            },
            DeclaredMetric {
                name: "bonus_cost".into(),
                kind: MetricKind::Money,
            },
        ]);
        assert_eq!(v.kind("net_revenue"), Some(MetricKind::Money));
        assert_eq!(v.kind("clicks_gross"), Some(MetricKind::Count));
        assert!(v.is_money("bonus_cost"));
        assert!(!v.is_money("impressions"));
        assert!(v.is_known("impressions"));
        assert!(!v.is_known("ftd"));
        assert!(!MetricVocabulary::canonical().is_known("impressions"));
        assert_eq!(v.names().count(), METRICS.len() + 2);
        assert!(MONEY_METRICS.iter().all(|m| METRICS.contains(m)));
    }
}
