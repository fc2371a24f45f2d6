//! What every check kind returns: an outcome with its reason, and the findings behind it.

use cutover_plan::Outcome;
use rust_decimal::Decimal;
use serde::Serialize;

/// One thing a check found. `code` is the kind of finding (e.g. `variance`, `only_old`,
/// `unmapped_partner`); `subject` says what it is about (a key, a partner, a link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub subject: String,
    pub old: Option<Decimal>,
    pub new: Option<Decimal>,
    /// A third value where the check has one (recomputed payout, CRM value...).
    pub expected: Option<Decimal>,
    pub detail: String,
}

impl Finding {
    pub fn new(code: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            code,
            subject: subject.into(),
            old: None,
            new: None,
            expected: None,
            detail: detail.into(),
        }
    }

    pub fn values(mut self, old: Option<Decimal>, new: Option<Decimal>) -> Self {
        self.old = old;
        self.new = new;
        self
    }

    pub fn expected(mut self, v: Decimal) -> Self {
        self.expected = Some(v);
        self
    }
}

/// A check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub outcome: Outcome,
    pub reason: String,
    pub findings: Vec<Finding>,
}

impl CheckResult {
    pub fn new(outcome: Outcome, reason: impl Into<String>, findings: Vec<Finding>) -> Self {
        CheckResult {
            outcome,
            reason: reason.into(),
            findings,
        }
    }

    pub fn inconclusive(reason: impl Into<String>) -> Self {
        CheckResult::new(Outcome::Inconclusive, reason, Vec::new())
    }

    pub fn count(&self, code: &str) -> usize {
        self.findings.iter().filter(|f| f.code == code).count()
    }
}

/// Warn/fail thresholds on a count: `fail` wins over `warn`; `None` = never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Thresholds {
    pub warn_at: Option<u64>,
    pub fail_at: Option<u64>,
}

impl Thresholds {
    /// Any problem fails.
    pub const STRICT: Thresholds = Thresholds {
        warn_at: None,
        fail_at: Some(1),
    };

    pub fn judge(&self, n: u64) -> Outcome {
        if self.fail_at.is_some_and(|f| n >= f) {
            Outcome::Fail
        } else if self.warn_at.is_some_and(|w| n >= w) {
            Outcome::Warn
        } else {
            Outcome::Pass
        }
    }
}

/// A decimal computation whose result is beyond the decimal range
/// (±79,228,162,514,264,337,593,543,950,335): the check result is `error`, naming where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("beyond the decimal range (±79228162514264337593543950335)")]
pub struct Overflow;

/// `Some` or [`Overflow`]: for chains of `checked_*` decimal operations.
pub(crate) fn fits(v: Option<Decimal>) -> Result<Decimal, Overflow> {
    v.ok_or(Overflow)
}

/// The worse of two outcomes for pass/warn/fail.
pub fn worst(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Pass => 0,
        Outcome::Warn => 1,
        Outcome::Fail => 2,
        Outcome::Inconclusive => 3,
        Outcome::Error => 4,
    };
    if rank(a) >= rank(b) { a } else { b }
}
