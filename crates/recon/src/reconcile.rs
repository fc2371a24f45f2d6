//! `reconcile` on canonical rows (what a scheduled plan check runs after mapping): a keyed
//! full outer comparison partner × day × metric (optionally × link / coupon) with
//! per-metric tolerances — absolute, relative, and a rounding allowance per aggregated
//! row — and warn/fail thresholds by count and by money impact.
//!
//! A money key whose sides carry different currencies, or whose rows on one side do, is a
//! `currency_mismatch` finding (counted like a variance), never compared or summed across
//! currencies. A sum beyond the decimal range makes the result `error`, naming the key.
//!
//! For two big CSV exports use [`crate::csvrecon`], which implements the same rule
//! (without per-metric tolerances) as a streaming, partitioned join.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
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
    /// Whether the currency of `m`'s rows is compared: money metrics (canonical or
    /// declared), and metrics the vocabulary does not know (their rows carry a currency
    /// only when they are money, as in [`crate::mapping::Normaliser`]); never counts.
    fn carries_currency(&self, m: &Metric) -> bool {
        match self.vocabulary.kind(m) {
            Some(kind) => kind == crate::model::MetricKind::Money,
            None => true,
        }
    }

    fn tolerance(&self, m: &Metric) -> MetricTolerance {
        self.metrics
            .iter()
            .find(|(x, _)| x == m)
            .map_or(self.default, |(_, t)| *t)
    }
}

/// The status of one key.
pub use crate::csvrecon::KeyStatus;
use crate::csvrecon::currency_detail;

/// The names behind the interned ids of a comparison (shared by both sides). Ids are
/// ranks in each name's own order (`None` before any link or coupon), so sorting ids
/// sorts keys as their names would sort.
struct Names<'a> {
    partners: Vec<&'a str>,
    metrics: Vec<&'a Metric>,
    /// Links and coupons; id 0 is "none".
    tags: Vec<&'a str>,
    /// Currencies; id 0 is "none".
    currencies: Vec<&'a str>,
}

/// A key as ids: (partner, day, metric, link, coupon).
type Key = (u32, i32, u32, u32, u32);

fn key_text(names: &Names<'_>, k: &Key) -> String {
    let day = NaiveDate::from_num_days_from_ce_opt(k.1).unwrap_or_default();
    let mut s = format!(
        "{},{},{}",
        names.partners[k.0 as usize], day, names.metrics[k.2 as usize]
    );
    if k.3 != 0 {
        s.push_str(&format!(",link={}", names.tags[k.3 as usize]));
    }
    if k.4 != 0 {
        s.push_str(&format!(",coupon={}", names.tags[k.4 as usize]));
    }
    s
}

/// One key's rows on one side.
#[derive(Debug, Default)]
struct Sum {
    value: Decimal,
    rows: u32,
    /// The distinct currencies of its money rows, in order of appearance (0: a row
    /// without one).
    currencies: Vec<u32>,
    /// The sum left the decimal range.
    overflow: bool,
}

impl Sum {
    fn mixed(&self) -> bool {
        self.currencies.len() > 1
    }

    fn currency_names(&self, names: &Names<'_>) -> Vec<String> {
        let mut v: Vec<String> = self
            .currencies
            .iter()
            .map(|&c| names.currencies[c as usize].to_owned())
            .collect();
        v.sort();
        v
    }
}

/// One row of one side, as ids: 44 bytes, no strings (the rows are borrowed, never
/// copied). `seq` keeps a key's rows in their order, so sums add up as they did.
#[derive(Clone, Copy)]
struct Entry {
    key: Key,
    currency: u32,
    seq: u32,
    value: Decimal,
}

/// Interns the names of both sides' rows into ids ordered like the names, and returns
/// each side's entries sorted by key (rows of a metric outside `only` left out).
fn entries<'a>(
    old: &'a [Aggregate],
    new: &'a [Aggregate],
    cfg: &ReconcileConfig,
) -> (Names<'a>, Vec<Entry>, Vec<Entry>) {
    use std::collections::HashMap;
    fn intern<'a, T: std::hash::Hash + Eq + ?Sized>(
        map: &mut HashMap<&'a T, u32>,
        names: &mut Vec<&'a T>,
        name: &'a T,
    ) -> u32 {
        *map.entry(name).or_insert_with(|| {
            names.push(name);
            (names.len() - 1) as u32
        })
    }
    let mut partners: (HashMap<&str, u32>, Vec<&str>) = Default::default();
    let mut metrics: (HashMap<&Metric, u32>, Vec<&Metric>) = Default::default();
    let mut tags: (HashMap<&str, u32>, Vec<&str>) = (HashMap::new(), vec![""]);
    let mut currencies: (HashMap<&str, u32>, Vec<&str>) = (HashMap::new(), vec![""]);
    // The metrics kept and whether their rows carry a currency, by metric id.
    let mut kept: Vec<(bool, bool)> = Vec::new();
    let mut side = |rows: &'a [Aggregate]| -> Vec<Entry> {
        let mut out = Vec::with_capacity(rows.len());
        for (seq, r) in rows.iter().enumerate() {
            let metric = intern(&mut metrics.0, &mut metrics.1, &r.metric);
            if metric as usize == kept.len() {
                kept.push((
                    cfg.only.is_empty() || cfg.only.contains(&r.metric),
                    cfg.carries_currency(&r.metric),
                ));
            }
            let (keep, carries) = kept[metric as usize];
            if !keep {
                continue;
            }
            let mut tag = |t: &'a Option<String>, on: bool| match t {
                Some(t) if on => intern(&mut tags.0, &mut tags.1, t.as_str()),
                _ => 0,
            };
            let link = tag(&r.link, cfg.by_link);
            let coupon = tag(&r.coupon, cfg.by_coupon);
            // Counts carry no currency: only money is in one (and a metric the plan does
            // not declare, as the mapping stage treats it).
            let currency = match &r.currency {
                Some(c) if carries => intern(&mut currencies.0, &mut currencies.1, c.as_str()),
                _ => 0,
            };
            out.push(Entry {
                key: (
                    intern(&mut partners.0, &mut partners.1, r.partner.as_str()),
                    r.day.num_days_from_ce(),
                    metric,
                    link,
                    coupon,
                ),
                currency,
                seq: seq as u32,
                value: r.value,
            });
        }
        out
    };
    let (mut o, mut n) = (side(old), side(new));
    // Ids in first-seen order -> ids in name order.
    fn ranks<T: Ord + ?Sized>(names: &mut Vec<&T>, skip: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order[skip..].sort_unstable_by(|&a, &b| names[a as usize].cmp(names[b as usize]));
        let mut rank = vec![0u32; names.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let sorted: Vec<&T> = order.iter().map(|&id| names[id as usize]).collect();
        *names = sorted;
        rank
    }
    let (pr, mr, tr) = (
        ranks(&mut partners.1, 0),
        ranks(&mut metrics.1, 0),
        ranks(&mut tags.1, 1),
    );
    for e in o.iter_mut().chain(n.iter_mut()) {
        let k = &mut e.key;
        *k = (
            pr[k.0 as usize],
            k.1,
            mr[k.2 as usize],
            tr[k.3 as usize],
            tr[k.4 as usize],
        );
    }
    o.sort_unstable_by_key(|e| (e.key, e.seq));
    n.sort_unstable_by_key(|e| (e.key, e.seq));
    let names = Names {
        partners: partners.1,
        metrics: metrics.1,
        tags: tags.1,
        currencies: currencies.1,
    };
    (names, o, n)
}

/// The sum of the key at `entries[*at..]` (sorted), moving `at` past its rows.
fn next_sum(entries: &[Entry], at: &mut usize) -> Option<(Key, Sum)> {
    let first = entries.get(*at)?;
    let mut s = Sum::default();
    while let Some(e) = entries.get(*at).filter(|e| e.key == first.key) {
        match s.value.checked_add(e.value) {
            Some(v) => s.value = v,
            None => s.overflow = true,
        }
        s.rows = s.rows.saturating_add(1);
        if !s.currencies.contains(&e.currency) {
            s.currencies.push(e.currency);
        }
        *at += 1;
    }
    Some((first.key, s))
}

/// The status of one key under a tolerance; `None` when it cannot be decided within the
/// decimal range (the difference and the allowance both beyond it; when only the
/// difference is, it is a variance).
pub fn status(old: Decimal, new: Decimal, t: MetricTolerance, rows: u32) -> Option<KeyStatus> {
    if old == new {
        return Some(KeyStatus::Match);
    }
    // An allowance beyond the range is larger than any difference within it.
    let allowed = t
        .rounding_per_row
        .checked_mul(Decimal::from(rows))
        .and_then(|r| t.abs.checked_add(r))
        .and_then(|a| t.rel.checked_mul(old.abs()).map(|r| a.max(r)));
    let status = match (new.checked_sub(old).map(|d| d.abs()), allowed) {
        (Some(diff), Some(allowed)) if diff > allowed => KeyStatus::Variance,
        (Some(_), _) => KeyStatus::WithinTolerance,
        (None, Some(_)) => KeyStatus::Variance,
        (None, None) => return None,
    };
    Some(status)
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
    let (names, o, n) = entries(old, new, cfg);
    let mut findings = unmapped;
    let mut counts: BTreeMap<KeyStatus, u64> = BTreeMap::new();
    let mut money = Decimal::ZERO;
    let beyond = |what: String| {
        CheckResult::new(
            Outcome::Error,
            format!("{what} beyond the decimal range; nothing was compared"),
            Vec::new(),
        )
    };
    // Per metric id: its tolerance and whether it is money.
    let tolerances: Vec<(MetricTolerance, bool)> = names
        .metrics
        .iter()
        .map(|m| (cfg.tolerance(m), cfg.vocabulary.is_money(m)))
        .collect();
    // Merge-walk the two sorted sides, key by key in key order.
    let (mut oi, mut ni) = (0, 0);
    let (mut on, mut nn) = (next_sum(&o, &mut oi), next_sum(&n, &mut ni));
    loop {
        let k = match (&on, &nn) {
            (Some((a, _)), Some((b, _))) => *a.min(b),
            (Some((a, _)), None) => *a,
            (None, Some((b, _))) => *b,
            (None, None) => break,
        };
        let os = match &on {
            Some((a, _)) if *a == k => on.take().map(|(_, s)| s),
            _ => None,
        };
        let ns = match &nn {
            Some((b, _)) if *b == k => nn.take().map(|(_, s)| s),
            _ => None,
        };
        if on.is_none() {
            on = next_sum(&o, &mut oi);
        }
        if nn.is_none() {
            nn = next_sum(&n, &mut ni);
        }
        let (os, ns) = (os.as_ref(), ns.as_ref());
        for (side, s) in [("old", os), ("new", ns)] {
            if let Some(s) = s
                && s.overflow
                && !s.mixed()
            {
                return beyond(format!(
                    "the {side} rows of {} ({} rows) sum",
                    key_text(&names, &k),
                    s.rows
                ));
            }
        }
        let value = |s: Option<&Sum>| s.filter(|s| !s.mixed()).map(|s| s.value);
        let (ov, nv) = (value(os), value(ns));
        let mismatch = os.is_some_and(Sum::mixed)
            || ns.is_some_and(Sum::mixed)
            || matches!((os, ns), (Some(a), Some(b)) if a.currencies != b.currencies);
        let (tolerance, is_money) = tolerances[k.2 as usize];
        let s = match (os, ns) {
            _ if mismatch => KeyStatus::CurrencyMismatch,
            (Some(a), Some(b)) => match status(a.value, b.value, tolerance, a.rows.max(b.rows)) {
                Some(s) => s,
                None => {
                    return beyond(format!(
                        "the difference between old {} and new {} of {} is",
                        a.value,
                        b.value,
                        key_text(&names, &k)
                    ));
                }
            },
            (Some(_), None) => KeyStatus::OnlyOld,
            _ => KeyStatus::OnlyNew,
        };
        *counts.entry(s).or_default() += 1;
        if s == KeyStatus::Match {
            continue;
        }
        // Amounts in different currencies have no difference to add up.
        if s != KeyStatus::WithinTolerance && s != KeyStatus::CurrencyMismatch && is_money {
            let impact = nv
                .unwrap_or_default()
                .checked_sub(ov.unwrap_or_default())
                .and_then(|d| money.checked_add(d.abs()));
            match impact {
                Some(m) => money = m,
                None => {
                    return beyond(format!(
                        "the money impact up to {} is",
                        key_text(&names, &k)
                    ));
                }
            }
        }
        let detail = if s == KeyStatus::CurrencyMismatch {
            currency_detail(
                &os.map(|s| s.currency_names(&names)).unwrap_or_default(),
                &ns.map(|s| s.currency_names(&names)).unwrap_or_default(),
            )
        } else {
            String::new()
        };
        findings.push(Finding::new(s.as_str(), key_text(&names, &k), detail).values(ov, nv));
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
        "{} match, {} within tolerance, {} variance, {} only_old, {} only_new, {} currency_mismatch, {} unmapped; money impact {}",
        c(KeyStatus::Match),
        c(KeyStatus::WithinTolerance),
        c(KeyStatus::Variance),
        c(KeyStatus::OnlyOld),
        c(KeyStatus::OnlyNew),
        c(KeyStatus::CurrencyMismatch),
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

    fn money(p: &str, v: &str, cur: Option<&str>) -> Aggregate {
        Aggregate {
            currency: cur.map(Into::into),
            ..row(p, Metric::FtdAmount, v)
        }
    }

    /// Regression: 100 EUR and 100 USD on a key were a match in the reconcile check.
    #[test]
    fn currency_mismatch_in_reconcile_check() {
        let cfg = ReconcileConfig {
            count: Thresholds::STRICT,
            ..ReconcileConfig::default()
        };
        let r = reconcile(
            &[
                money("a", "100", Some("EUR")),
                row("a", Metric::ClicksGross, "3"),
            ],
            &[
                money("a", "100", Some("USD")),
                row("a", Metric::ClicksGross, "3"),
            ],
            vec![],
            &cfg,
        );
        assert_eq!(r.outcome, Outcome::Fail, "{}", r.reason);
        assert_eq!(r.count("currency_mismatch"), 1);
        let f = &r.findings[0];
        assert_eq!(f.subject, "a,2026-01-01,ftd_amount");
        assert_eq!(f.detail, "old EUR, new USD");
        assert_eq!(
            (f.old, f.new),
            (Some(Decimal::from(100)), Some(Decimal::from(100)))
        );
        assert_eq!(
            r.reason,
            "1 match, 0 within tolerance, 0 variance, 0 only_old, 0 only_new, 1 currency_mismatch, 0 unmapped; money impact 0"
        );
        // Counted like a variance against the thresholds.
        let lenient = ReconcileConfig {
            count: Thresholds {
                warn_at: Some(1),
                fail_at: Some(2),
            },
            ..ReconcileConfig::default()
        };
        let r = reconcile(
            &[money("a", "1", Some("EUR"))],
            &[money("a", "1", None)],
            vec![],
            &lenient,
        );
        assert_eq!(r.outcome, Outcome::Warn);
        assert_eq!(r.findings[0].detail, "old EUR, new no currency");
    }

    /// Regression: duplicate keys were summed across currencies (60 EUR + 40 USD = 100).
    #[test]
    fn duplicate_keys_across_currencies_in_reconcile_check() {
        let cfg = ReconcileConfig {
            count: Thresholds::STRICT,
            ..ReconcileConfig::default()
        };
        let r = reconcile(
            &[money("a", "60", Some("EUR")), money("a", "40", Some("USD"))],
            &[money("a", "100", Some("EUR"))],
            vec![],
            &cfg,
        );
        assert_eq!(r.outcome, Outcome::Fail);
        let f = &r.findings[0];
        assert_eq!(
            (f.code, f.detail.as_str()),
            ("currency_mismatch", "old EUR and USD, new EUR")
        );
        assert_eq!((f.old, f.new), (None, Some(Decimal::from(100))));
        // Duplicates in one currency are still summed.
        let r = reconcile(
            &[money("a", "60", Some("EUR")), money("a", "40", Some("EUR"))],
            &[money("a", "100", Some("EUR"))],
            vec![],
            &cfg,
        );
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.reason);
    }

    /// Keys are compared and reported in key order (partner, day, metric, link, coupon;
    /// no link before any link), whatever order the rows come in, and rows of one key are
    /// summed per side.
    #[test]
    fn keys_in_order_with_links_coupons_and_other_metrics() {
        let cfg = ReconcileConfig {
            count: Thresholds::STRICT,
            by_link: true,
            by_coupon: true,
            ..ReconcileConfig::default()
        };
        let tagged =
            |p: &str, m: Metric, v: &str, link: Option<&str>, coupon: Option<&str>| Aggregate {
                link: link.map(Into::into),
                coupon: coupon.map(Into::into),
                currency: None,
                ..row(p, m, v)
            };
        let other = Metric::parse("zz_custom").unwrap();
        let old = [
            tagged("b", Metric::ClicksGross, "1", None, None),
            tagged("a", other.clone(), "5", Some("L2"), None),
            tagged("a", Metric::ClicksGross, "2", Some("L1"), Some("C9")),
            tagged("a", Metric::ClicksGross, "2", Some("L1"), Some("C9")),
            tagged("a", Metric::ClicksGross, "7", None, None),
        ];
        let new = [
            tagged("a", Metric::ClicksGross, "4", Some("L1"), Some("C9")),
            tagged("a", Metric::ClicksGross, "8", None, None),
            tagged("a", other, "6", Some("L1"), None),
            tagged("b", Metric::ClicksGross, "3", None, Some("C1")),
        ];
        let r = reconcile(&old, &new, vec![], &cfg);
        let got: Vec<(&str, &str)> = r
            .findings
            .iter()
            .map(|f| (f.subject.as_str(), f.code))
            .collect();
        assert_eq!(
            got,
            [
                ("a,2026-01-01,clicks_gross", "variance"),
                ("a,2026-01-01,zz_custom,link=L1", "only_new"),
                ("a,2026-01-01,zz_custom,link=L2", "only_old"),
                ("b,2026-01-01,clicks_gross", "only_old"),
                ("b,2026-01-01,clicks_gross,coupon=C1", "only_new"),
            ]
        );
        assert!(
            r.reason
                .starts_with("1 match, 0 within tolerance, 1 variance, 2 only_old, 2 only_new"),
            "{}",
            r.reason
        );
    }

    /// Regression: `+=` on duplicate keys panicked when the sum overflowed `Decimal`.
    #[test]
    fn overflow_in_sums_is_an_error_naming_the_key() {
        let cfg = ReconcileConfig::default();
        let max = Decimal::MAX.to_string();
        let r = reconcile(
            &[money("a", &max, Some("EUR")), money("a", &max, Some("EUR"))],
            &[money("a", "1", Some("EUR"))],
            vec![],
            &cfg,
        );
        assert_eq!(r.outcome, Outcome::Error);
        assert_eq!(
            r.reason,
            "the old rows of a,2026-01-01,ftd_amount (2 rows) sum beyond the decimal range; nothing was compared"
        );
        // A difference beyond the range under an allowance within it: a variance.
        let r = reconcile(
            &[money("a", &format!("-{max}"), Some("EUR"))],
            &[money("a", &max, Some("EUR"))],
            vec![],
            &ReconcileConfig {
                count: Thresholds::STRICT,
                ..ReconcileConfig::default()
            },
        );
        assert_eq!(r.outcome, Outcome::Error);
        assert_eq!(
            r.reason,
            "the money impact up to a,2026-01-01,ftd_amount is beyond the decimal range; nothing was compared"
        );
        let cfg = ReconcileConfig {
            count: Thresholds::STRICT,
            only: vec![Metric::ClicksGross],
            ..ReconcileConfig::default()
        };
        let r = reconcile(
            &[row("a", Metric::ClicksGross, &format!("-{max}"))],
            &[row("a", Metric::ClicksGross, &max)],
            vec![],
            &cfg,
        );
        assert_eq!((r.outcome, r.count("variance")), (Outcome::Fail, 1));
        // Allowance and difference both beyond the range: undecidable, an error.
        let half = "50000000000000000000000000000";
        let cfg = ReconcileConfig {
            default: MetricTolerance {
                rel: Decimal::from(2),
                ..MetricTolerance::default()
            },
            ..ReconcileConfig::default()
        };
        let r = reconcile(
            &[row("a", Metric::ClicksGross, half)],
            &[row("a", Metric::ClicksGross, &format!("-{half}"))],
            vec![],
            &cfg,
        );
        assert_eq!(r.outcome, Outcome::Error);
        assert_eq!(
            r.reason,
            format!(
                "the difference between old {half} and new -{half} of a,2026-01-01,clicks_gross is beyond the decimal range; nothing was compared"
            )
        );
    }
}
