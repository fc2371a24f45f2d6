//! The plan's variance policy: which layer owns (accepts variances of) which metric, the
//! materiality threshold per metric (absolute and/or relative) and the cumulative cap on
//! immaterial variances (top-level `variance_policy:`), and the `variances:` exit
//! condition. Reading both from YAML with located diagnostics, and the pure rules the
//! engine and the CLI share: who owns a metric, which layers must accept a variance, and
//! which variances are material. Nothing here reads the register itself.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use marked_yaml::types::MarkedScalarNode;
use marked_yaml::{Node, Spanned};
use rust_decimal::Decimal;

use crate::diag::{Diags, Pos};
use crate::metrics::MetricVocabulary;
use crate::model::{Condition, ConditionKind, Plan};
use crate::suggest::hint;

/// The keys a metric's entry under `variance_policy:` may have.
const POLICY_KEYS: [&str; 5] = ["owner", "absolute", "relative", "cap", "tiers"];

/// The keys of a `variances:` condition.
const GATE_KEYS: [&str; 4] = ["unexplained_material", "metrics", "layers", "accepted_by"];

/// The plan's variance policy, per metric (metrics it does not name: every variance is
/// material, the owner is the default one; see [`Plan::metric_owner`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariancePolicy {
    pub metrics: Vec<MetricPolicy>,
}

/// One metric's entry under `variance_policy:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricPolicy {
    pub metric: String,
    /// The layer that accepts variances of this metric.
    pub owner: Option<String>,
    /// A variance with |delta| at most this (in the metric's unit; money in the plan
    /// currency) is within the absolute threshold.
    pub absolute: Option<Decimal>,
    /// A variance with |delta| / |old| at most this fraction (`1%` is 0.01) is within the
    /// relative threshold; one without an old value never is.
    pub relative: Option<Decimal>,
    /// When the immaterial variances of this metric add up (|delta|) to more than this,
    /// every one of them is material.
    pub cap: Option<Decimal>,
}

/// What a `variances:` exit condition asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarianceGate {
    /// At most this many material variances in scope may be unexplained (not accepted by
    /// the layers required).
    pub unexplained_material: u32,
    /// Only variances of these metrics count (all when empty).
    pub metrics: Vec<String>,
    /// Only variances owned by these layers count (all when empty).
    pub layers: Vec<String>,
    /// The layers that must each have accepted a variance (its owner when empty).
    pub accepted_by: Vec<String>,
}

impl VarianceGate {
    /// Whether a variance of `metric` owned by `owner` is in this condition's scope.
    pub fn covers(&self, metric: &str, owner: Option<&str>) -> bool {
        (self.metrics.is_empty() || self.metrics.iter().any(|m| m == metric))
            && (self.layers.is_empty() || owner.is_some_and(|o| self.layers.iter().any(|l| l == o)))
    }
}

/// One live variance as materiality sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarianceAmount<'a> {
    pub metric: &'a str,
    pub old: Option<Decimal>,
    pub delta: Decimal,
}

impl VariancePolicy {
    /// The entry for `metric`, if the plan has one.
    pub fn get(&self, metric: &str) -> Option<&MetricPolicy> {
        self.metrics.iter().find(|p| p.metric == metric)
    }

    /// Whether a variance is within every threshold its metric has (so immaterial unless
    /// the cap is passed). A metric without thresholds: never.
    pub fn within_thresholds(&self, v: &VarianceAmount<'_>) -> bool {
        let Some(p) = self.get(v.metric) else {
            return false;
        };
        if p.absolute.is_none() && p.relative.is_none() {
            return false;
        }
        let size = v.delta.abs();
        let absolute_ok = p.absolute.is_none_or(|a| size <= a);
        let relative_ok = p.relative.is_none_or(|r| match v.old {
            Some(old) if !old.is_zero() => size <= r * old.abs(),
            _ => false,
        });
        absolute_ok && relative_ok
    }

    /// Which of `live` (the register's variances that are neither converged nor resolved)
    /// are material: those beyond a threshold, and every variance of a metric whose
    /// immaterial ones add up to more than its cap.
    pub fn material(&self, live: &[VarianceAmount<'_>]) -> Vec<bool> {
        let within: Vec<bool> = live.iter().map(|v| self.within_thresholds(v)).collect();
        let mut sums: HashMap<&str, Decimal> = HashMap::new();
        for (v, w) in live.iter().zip(&within) {
            if *w {
                *sums.entry(v.metric).or_default() += v.delta.abs();
            }
        }
        let over: HashSet<&str> = sums
            .iter()
            .filter(|(m, sum)| {
                self.get(m)
                    .and_then(|p| p.cap)
                    .is_some_and(|cap| **sum > cap)
            })
            .map(|(m, _)| *m)
            .collect();
        live.iter()
            .zip(within)
            .map(|(v, w)| !w || over.contains(v.metric))
            .collect()
    }

    /// The sum of |delta| of the immaterial-by-threshold variances of `metric` in `live`,
    /// with the cap, for messages.
    pub fn cap_use(&self, metric: &str, live: &[VarianceAmount<'_>]) -> Option<(Decimal, Decimal)> {
        let cap = self.get(metric)?.cap?;
        let sum = live
            .iter()
            .filter(|v| v.metric == metric && self.within_thresholds(v))
            .map(|v| v.delta.abs())
            .sum();
        Some((sum, cap))
    }
}

impl Plan {
    /// The layer that accepts variances of `metric` found by `check`: the plan's
    /// `variance_policy` owner; else `finance` for money when the plan has that layer;
    /// else the check's own layer.
    pub fn metric_owner(&self, check: &str, metric: &str) -> Option<String> {
        if let Some(o) = self
            .variance_policy
            .get(metric)
            .and_then(|p| p.owner.clone())
        {
            return Some(o);
        }
        if self.vocabulary().is_money(metric) && self.layer("finance").is_some() {
            return Some("finance".into());
        }
        self.check(check).map(|c| c.layer.clone())
    }

    /// Every `variances:` exit condition of the plan, nested ones included, in order.
    pub fn variance_gates(&self) -> Vec<&VarianceGate> {
        fn walk<'a>(cs: &'a [Condition], out: &mut Vec<&'a VarianceGate>) {
            for c in cs {
                match &c.kind {
                    ConditionKind::Variances(g) => out.push(g),
                    ConditionKind::Any(k) | ConditionKind::All(k) => walk(k, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for p in &self.phases {
            walk(&p.exit, &mut out);
        }
        out
    }

    /// The layers that must each accept a variance of `metric` found by `check`: its owner
    /// and the `accepted_by` layers of every `variances:` condition that covers it, in
    /// that order, once each.
    pub fn required_acceptors(&self, check: &str, metric: &str) -> Vec<String> {
        let owner = self.metric_owner(check, metric);
        let mut out: Vec<String> = owner.iter().cloned().collect();
        for g in self.variance_gates() {
            if g.covers(metric, owner.as_deref()) {
                for l in &g.accepted_by {
                    if !out.contains(l) {
                        out.push(l.clone());
                    }
                }
            }
        }
        out
    }
}

/// A decimal from a YAML scalar (`50`, `12.5`, `"0.10"`).
fn decimal(s: &MarkedScalarNode) -> Option<Decimal> {
    Decimal::from_str(s.as_str().trim()).ok()
}

/// A relative threshold: `2%` or a fraction such as `0.02`.
fn fraction(s: &MarkedScalarNode) -> Option<Decimal> {
    let t = s.as_str().trim();
    match t.strip_suffix('%') {
        Some(p) => Decimal::from_str(p.trim())
            .ok()
            .map(|d| d / Decimal::ONE_HUNDRED),
        None => Decimal::from_str(t).ok(),
    }
}

fn pos(node: &Node) -> Pos {
    Pos::of_span(node.span())
}

/// Reads the top-level `variance_policy:`, reporting every problem at its place.
/// `layers` are the plan's layer ids.
pub(crate) fn policy(
    root: &Node,
    layers: &HashSet<String>,
    vocabulary: &MetricVocabulary,
    diags: &mut Diags,
) -> VariancePolicy {
    let Some(node) = root
        .as_mapping()
        .and_then(|m| m.get_node("variance_policy"))
    else {
        return VariancePolicy::default();
    };
    let map = match node {
        Node::Mapping(m) => m,
        Node::Scalar(s) if s.as_str().is_empty() => return VariancePolicy::default(),
        _ => {
            diags.error(
                pos(node),
                "\"variance_policy\" must be a mapping of metric name to its policy, e.g. \"variance_policy: {ftd_amount: {owner: finance, absolute: 50, relative: 1%, cap: 200}}\"",
            );
            return VariancePolicy::default();
        }
    };
    let mut out = Vec::new();
    for (k, v) in map.iter() {
        let metric = k.as_str();
        let at = Pos::of_span(k.span());
        let ctx = format!("variance_policy of \"{metric}\"");
        if !vocabulary.is_known(metric) {
            let h = diags.hint(metric, vocabulary.names());
            diags.error(
                at,
                format!("variance_policy names unknown metric \"{metric}\" (declare it under \"metrics\" or use a canonical one){h}"),
            );
            continue;
        }
        let entry = match v {
            Node::Mapping(m) => m,
            _ => {
                diags.error(
                    pos(v),
                    format!("{ctx} must be a mapping with owner, absolute, relative and/or cap"),
                );
                continue;
            }
        };
        let mut p = MetricPolicy {
            metric: metric.to_owned(),
            owner: None,
            absolute: None,
            relative: None,
            cap: None,
        };
        let mut ok = true;
        for (key, value) in entry.iter() {
            let kpos = Pos::of_span(key.span());
            let name = key.as_str();
            if !POLICY_KEYS.contains(&name) {
                diags.error(
                    kpos,
                    format!(
                        "{ctx} has unknown key \"{name}\" (expected owner, absolute, relative or cap){}",
                        hint(name, POLICY_KEYS)
                    ),
                );
                ok = false;
                continue;
            }
            if name == "tiers" {
                diags.error(
                    kpos,
                    format!(
                        "{ctx}: thresholds per partner tier need partner tiers, which a plan cannot declare yet; give one threshold for the metric"
                    ),
                );
                ok = false;
                continue;
            }
            let Some(s) = value.as_scalar() else {
                diags.error(
                    pos(value),
                    format!("{name} of {ctx} must be a single value, found a list or mapping"),
                );
                ok = false;
                continue;
            };
            let vpos = Pos::of_span(s.span());
            match name {
                "owner" => {
                    if layers.contains(s.as_str()) {
                        p.owner = Some(s.as_str().to_owned());
                    } else {
                        let h = diags.hint(s.as_str(), layers.iter().map(String::as_str));
                        diags.error(
                            vpos,
                            format!("{ctx} is owned by unknown layer \"{}\"{h}", s.as_str()),
                        );
                        ok = false;
                    }
                }
                "relative" => match fraction(s) {
                    Some(d) if !d.is_sign_negative() => p.relative = Some(d),
                    _ => {
                        diags.error(
                            vpos,
                            format!(
                                "relative of {ctx} must be a percentage such as \"2%\" or a fraction such as 0.02, not negative; found \"{}\"",
                                s.as_str()
                            ),
                        );
                        ok = false;
                    }
                },
                _ => match decimal(s) {
                    Some(d) if !d.is_sign_negative() => {
                        if name == "absolute" {
                            p.absolute = Some(d);
                        } else {
                            p.cap = Some(d);
                        }
                    }
                    _ => {
                        diags.error(
                            vpos,
                            format!(
                                "{name} of {ctx} must be a number, 0 or more; found \"{}\"",
                                s.as_str()
                            ),
                        );
                        ok = false;
                    }
                },
            }
        }
        if ok {
            out.push(p);
        }
    }
    VariancePolicy { metrics: out }
}

/// The names of a `metrics:`/`layers:`/`accepted_by:` value of a `variances:` condition:
/// a name or a list of names, each with its position. `None` (reported) otherwise.
fn names(node: &Node, key: &str, ctx: &str, diags: &mut Diags) -> Option<Vec<Spanned<String>>> {
    let one = |s: &MarkedScalarNode| Spanned::new(*s.span(), s.as_str().to_owned());
    match node {
        Node::Scalar(s) if !s.as_str().is_empty() => Some(vec![one(s)]),
        Node::Sequence(items) if !items.is_empty() => {
            let mut out = Vec::new();
            for i in items.iter() {
                match i.as_scalar() {
                    Some(s) => out.push(one(s)),
                    None => {
                        diags.error(
                            pos(i),
                            format!("{key} of {ctx} must list names, found a list or mapping"),
                        );
                        return None;
                    }
                }
            }
            Some(out)
        }
        _ => {
            diags.error(
                pos(node),
                format!("{key} of {ctx} must be a name or a non-empty list of names"),
            );
            None
        }
    }
}

/// Reads the value of a condition's `variances:` key. `layer_ok` reports (and says
/// whether) a name is a known layer.
pub(crate) fn gate(
    node: &Node,
    ctx: &str,
    vocabulary: &MetricVocabulary,
    diags: &mut Diags,
    layer_ok: &mut dyn FnMut(&Spanned<String>, &str, &mut Diags) -> bool,
) -> Option<VarianceGate> {
    let Node::Mapping(map) = node else {
        diags.error(
            pos(node),
            format!("variances of {ctx} must be a mapping such as \"{{unexplained_material: 0}}\""),
        );
        return None;
    };
    let mut ok = true;
    let mut g = VarianceGate {
        unexplained_material: 0,
        metrics: Vec::new(),
        layers: Vec::new(),
        accepted_by: Vec::new(),
    };
    let mut count = false;
    for (key, value) in map.iter() {
        let kpos = Pos::of_span(key.span());
        let name = key.as_str();
        match name {
            "unexplained_material" => {
                count = true;
                match value
                    .as_scalar()
                    .and_then(|s| s.as_str().parse::<u32>().ok())
                {
                    Some(n) => g.unexplained_material = n,
                    None => {
                        diags.error(
                            pos(value),
                            format!(
                                "unexplained_material of {ctx} must be a whole number, 0 or more; found {}",
                                match value.as_scalar() {
                                    Some(s) => format!("\"{}\"", s.as_str()),
                                    None => "a list or mapping".to_owned(),
                                }
                            ),
                        );
                        ok = false;
                    }
                }
            }
            "metrics" => match names(value, name, ctx, diags) {
                Some(list) => {
                    for m in list {
                        if vocabulary.is_known(m.as_str()) {
                            g.metrics.push(m.as_str().to_owned());
                        } else {
                            let h = diags.hint(m.as_str(), vocabulary.names());
                            diags.error(
                                Pos::of_span_or(m.span(), kpos),
                                format!(
                                    "variances of {ctx} names unknown metric \"{}\"{h}",
                                    m.as_str()
                                ),
                            );
                            ok = false;
                        }
                    }
                }
                None => ok = false,
            },
            "layers" | "accepted_by" => match names(value, name, ctx, diags) {
                Some(list) => {
                    let what = if name == "layers" {
                        format!("variances of {ctx} counts variances owned by")
                    } else {
                        format!("variances of {ctx} asks for acceptance by")
                    };
                    for l in list {
                        if layer_ok(&l, &what, diags) {
                            let target = if name == "layers" {
                                &mut g.layers
                            } else {
                                &mut g.accepted_by
                            };
                            if !target.iter().any(|t| t == l.as_str()) {
                                target.push(l.as_str().to_owned());
                            }
                        } else {
                            ok = false;
                        }
                    }
                }
                None => ok = false,
            },
            other => {
                diags.error(
                    kpos,
                    format!(
                        "variances of {ctx} has unknown key \"{other}\" (expected unexplained_material, metrics, layers or accepted_by){}",
                        hint(other, GATE_KEYS)
                    ),
                );
                ok = false;
            }
        }
    }
    if !count {
        diags.error(
            pos(node),
            format!("variances of {ctx} needs \"unexplained_material\" (how many material variances may stay unexplained, usually 0)"),
        );
        ok = false;
    }
    ok.then_some(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn policy() -> VariancePolicy {
        VariancePolicy {
            metrics: vec![
                MetricPolicy {
                    metric: "ftd_amount".into(),
                    owner: None,
                    absolute: Some(d("5")),
                    relative: Some(d("0.10")),
                    cap: Some(d("8")),
                },
                MetricPolicy {
                    metric: "clicks_gross".into(),
                    owner: None,
                    absolute: None,
                    relative: Some(d("0.02")),
                    cap: None,
                },
            ],
        }
    }

    fn v<'a>(metric: &'a str, old: Option<&str>, delta: &str) -> VarianceAmount<'a> {
        VarianceAmount {
            metric,
            old: old.map(d),
            delta: d(delta),
        }
    }

    #[test]
    fn within_every_threshold_is_immaterial() {
        let p = policy();
        // 4 of 100: within 5 and within 10%.
        assert!(p.within_thresholds(&v("ftd_amount", Some("100"), "-4")));
        // 6 > 5 absolute.
        assert!(!p.within_thresholds(&v("ftd_amount", Some("100"), "6")));
        // 4 of 20 is 20% > 10%.
        assert!(!p.within_thresholds(&v("ftd_amount", Some("20"), "4")));
        // No old value: the relative threshold cannot hold.
        assert!(!p.within_thresholds(&v("ftd_amount", None, "1")));
        assert!(p.within_thresholds(&v("clicks_gross", Some("1000"), "20")));
        assert!(!p.within_thresholds(&v("clicks_gross", Some("1000"), "21")));
        // A metric without a policy: always material.
        assert!(!p.within_thresholds(&v("registrations", Some("1000"), "1")));
    }

    #[test]
    fn the_cap_makes_many_small_ones_material() {
        let p = policy();
        let two = [
            v("ftd_amount", Some("100"), "4"),
            v("ftd_amount", Some("100"), "-4"),
            v("clicks_gross", Some("1000"), "1"),
        ];
        // 4 + 4 = 8, not more than the cap.
        assert_eq!(p.material(&two), vec![false, false, false]);
        let three = [
            v("ftd_amount", Some("100"), "4"),
            v("ftd_amount", Some("100"), "-4"),
            v("ftd_amount", Some("100"), "0.01"),
            v("ftd_amount", Some("100"), "50"),
            v("clicks_gross", Some("1000"), "1"),
        ];
        assert_eq!(p.material(&three), vec![true, true, true, true, false]);
        assert_eq!(p.cap_use("ftd_amount", &three), Some((d("8.01"), d("8"))));
    }
}
