//! `reconcile` on canonical rows (what a scheduled plan check runs after mapping): a keyed
//! full outer comparison partner × day × metric (optionally × link / coupon) with
//! per-metric tolerances — absolute, relative, and a rounding allowance per aggregated
//! row — and warn/fail thresholds by count and by money impact.
//!
//! For two big CSV exports use [`crate::csvrecon`], which implements the same rule
//! (without per-metric tolerances) as a streaming, partitioned join.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cutover_plan::Outcome;
use rust_decimal::Decimal;

use crate::check::{CheckResult, Finding, Thresholds, worst};
use crate::model::{Aggregate, Metric, MetricVocabulary};

/// Tolerance of one metric: |new − old| ≤ max(abs + rounding × rows, rel × |old|), where
/// rows is how many source rows were summed into the key (the larger side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricTolerance {
    pub abs: Decimal,
    pub rel: Decimal,
    pub rounding_per_row: Decimal,
}

/// Settings of the `reconcile` check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconcileConfig {
    pub default: MetricTolerance,
    pub metrics: Vec<(Metric, MetricTolerance)>,
    /// Only these metrics are compared (all when empty).
    pub only: Vec<Metric>,
    pub by_link: bool,
    pub by_coupon: bool,
    /// On the number of keys that are variance / only_old / only_new / unmapped.
    pub count: Thresholds,
    /// On the money impact: Σ |new − old| over money metrics of those keys.
    pub money_warn: Option<Decimal>,
    pub money_fail: Option<Decimal>,
    /// Which metrics are money (canonical ones, and those the plan declares as money).
    pub vocabulary: MetricVocabulary,
}

impl ReconcileConfig {
    fn tolerance(&self, m: &Metric) -> MetricTolerance {
        self.metrics
            .iter()
            .find(|(x, _)| x == m)
            .map_or(self.default, |(_, t)| *t)
    }
}

/// The status of one key.
pub use crate::csvrecon::KeyStatus;

type Key = (String, NaiveDate, Metric, Option<String>, Option<String>);

fn key_text(k: &Key) -> String {
    let mut s = format!("{},{},{}", k.0, k.1, k.2);
    if let Some(l) = &k.3 {
        s.push_str(&format!(",link={l}"));
    }
    if let Some(c) = &k.4 {
        s.push_str(&format!(",coupon={c}"));
    }
    s
}

fn sum(rows: &[Aggregate], cfg: &ReconcileConfig) -> BTreeMap<Key, (Decimal, u32)> {
    let mut m: BTreeMap<Key, (Decimal, u32)> = BTreeMap::new();
    for r in rows {
        if !cfg.only.is_empty() && !cfg.only.contains(&r.metric) {
            continue;
        }
        let k = (
            r.partner.clone(),
            r.day,
            r.metric.clone(),
            r.link.clone().filter(|_| cfg.by_link),
            r.coupon.clone().filter(|_| cfg.by_coupon),
        );
        let e = m.entry(k).or_default();
        e.0 += r.value;
        e.1 += 1;
    }
    m
}

/// The status of one key under a tolerance.
pub fn status(old: Decimal, new: Decimal, t: MetricTolerance, rows: u32) -> KeyStatus {
    if old == new {
        return KeyStatus::Match;
    }
    let allowed = (t.abs + t.rounding_per_row * Decimal::from(rows)).max(t.rel * old.abs());
    if (new - old).abs() <= allowed {
        KeyStatus::WithinTolerance
    } else {
        KeyStatus::Variance
    }
}

/// Compares canonical (already mapped) rows. `unmapped` are the mapping stage's findings;
/// they count against the thresholds like variances.
pub fn reconcile(
    old: &[Aggregate],
    new: &[Aggregate],
    unmapped: Vec<Finding>,
    cfg: &ReconcileConfig,
) -> CheckResult {
    if old.is_empty() || new.is_empty() {
        let side = if old.is_empty() { "old" } else { "new" };
        let mut r = CheckResult::inconclusive(format!("the {side} source has no rows"));
        r.findings = unmapped;
        return r;
    }
    let (o, n) = (sum(old, cfg), sum(new, cfg));
    let mut findings = unmapped;
    let mut counts: BTreeMap<KeyStatus, u64> = BTreeMap::new();
    let mut money = Decimal::ZERO;
    let mut push = |k: &Key, s: KeyStatus, ov: Option<Decimal>, nv: Option<Decimal>| {
        *counts.entry(s).or_default() += 1;
        if s == KeyStatus::Match {
            return;
        }
        if s != KeyStatus::WithinTolerance && cfg.vocabulary.is_money(&k.2) {
            money += (nv.unwrap_or_default() - ov.unwrap_or_default()).abs();
        }
        findings.push(Finding::new(s.as_str(), key_text(k), "").values(ov, nv));
    };
    for (k, (ov, orows)) in &o {
        match n.get(k) {
            Some((nv, nrows)) => {
                let s = status(*ov, *nv, cfg.tolerance(&k.2), (*orows).max(*nrows));
                push(k, s, Some(*ov), Some(*nv));
            }
            None => push(k, KeyStatus::OnlyOld, Some(*ov), None),
        }
    }
    for (k, (nv, _)) in &n {
        if !o.contains_key(k) {
            push(k, KeyStatus::OnlyNew, None, Some(*nv));
        }
    }
    let bad = findings
        .iter()
        .filter(|f| f.code != KeyStatus::WithinTolerance.as_str())
        .count() as u64;
    let by_money = if cfg.money_fail.is_some_and(|f| money >= f) {
        Outcome::Fail
    } else if cfg.money_warn.is_some_and(|w| money >= w) {
        Outcome::Warn
    } else {
        Outcome::Pass
    };
    let outcome = worst(cfg.count.judge(bad), by_money);
    let c = |s: KeyStatus| counts.get(&s).copied().unwrap_or(0);
    let reason = format!(
        "{} match, {} within tolerance, {} variance, {} only_old, {} only_new, {} unmapped; money impact {}",
        c(KeyStatus::Match),
        c(KeyStatus::WithinTolerance),
        c(KeyStatus::Variance),
        c(KeyStatus::OnlyOld),
        c(KeyStatus::OnlyNew),
        findings
            .iter()
            .filter(|f| f.code.starts_with("unmapped"))
            .count(),
        money
    );
    CheckResult::new(outcome, reason, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p: &str, m: Metric, v: &str) -> Aggregate {
        Aggregate {
            partner: p.into(),
            day: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            currency: m.is_money().then(|| "EUR".into()),
            metric: m,
            value: v.parse().unwrap(),
            link: None,
            coupon: None,
        }
    }

    #[test]
    fn per_metric_tolerance_and_rounding_allowance() {
        let cfg = ReconcileConfig {
            metrics: vec![(
                Metric::FtdAmount,
                MetricTolerance {
                    rounding_per_row: "0.005".parse().unwrap(),
                    ..MetricTolerance::default()
                },
            )],
            count: Thresholds::STRICT,
            ..ReconcileConfig::default()
        };
        // Four rows summed on the old side: allowance 4 × 0.005 = 0.02.
        let old: Vec<_> = (0..4)
            .map(|_| row("p", Metric::FtdAmount, "10.00"))
            .collect();
        let r = reconcile(&old, &[row("p", Metric::FtdAmount, "40.02")], vec![], &cfg);
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.reason);
        assert_eq!(r.count("within_tolerance"), 1);
        let r = reconcile(&old, &[row("p", Metric::FtdAmount, "40.03")], vec![], &cfg);
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.count("variance"), 1);
    }

    #[test]
    fn thresholds_by_count_and_money() {
        let cfg = ReconcileConfig {
            count: Thresholds {
                warn_at: Some(1),
                fail_at: Some(3),
            },
            money_fail: Some("100".parse().unwrap()),
            ..ReconcileConfig::default()
        };
        let old = [row("a", Metric::Registrations, "5")];
        let new = [row("a", Metric::Registrations, "6")];
        assert_eq!(reconcile(&old, &new, vec![], &cfg).outcome, Outcome::Warn);
        let old = [row("a", Metric::NetRevenue, "500")];
        let new = [row("a", Metric::NetRevenue, "700")];
        let r = reconcile(&old, &new, vec![], &cfg);
        assert_eq!(r.outcome, Outcome::Fail, "{}", r.reason);
        let unmapped = vec![Finding::new("unmapped_partner", "new:x", "")];
        let r = reconcile(&old, &old, unmapped, &cfg);
        assert_eq!(r.outcome, Outcome::Warn);
    }

    #[test]
    fn one_sided_keys_and_empty_sources() {
        let cfg = ReconcileConfig {
            count: Thresholds::STRICT,
            ..ReconcileConfig::default()
        };
        let r = reconcile(
            &[row("a", Metric::ClicksGross, "1")],
            &[row("b", Metric::ClicksGross, "1")],
            vec![],
            &cfg,
        );
        assert_eq!((r.count("only_old"), r.count("only_new")), (1, 1));
        assert_eq!(r.outcome, Outcome::Fail);
        let r = reconcile(&[], &[row("b", Metric::ClicksGross, "1")], vec![], &cfg);
        assert_eq!(r.outcome, Outcome::Inconclusive);
    }
}
