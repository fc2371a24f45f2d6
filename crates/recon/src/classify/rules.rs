//! The rules of the classifier, one function each, run from the most specific evidence to
//! the least (a variance belongs to the first rule that verifies it). Each rule checks
//! its whole signature and claims nothing when any part fails.
//!
//! Test statistics (the `tz_shift` fit on daily counts) are computed in `f64`: they are
//! not money. Every value that is compared against a money amount stays a `Decimal`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Days, NaiveDate};
use cutover_plan::MetricKind;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{Category, Claim, Claims, ClassifyInput, HourlySeries, Observation, evidence};
use crate::model::{HierarchyRow, Metric};

/// (check, partner, metric, link, coupon): one daily series.
type SeriesKey = (String, String, Metric, Option<String>, Option<String>);

/// One series by day.
type Series<'a> = BTreeMap<NaiveDate, Pt<'a>>;

/// One day of a series: the observation and, for a variance, its index.
#[derive(Clone, Copy)]
pub(crate) struct Pt<'a> {
    pub obs: &'a Observation,
    pub var: Option<usize>,
}

pub(crate) struct Ctx<'a> {
    pub input: &'a ClassifyInput,
    pub series: BTreeMap<SeriesKey, BTreeMap<NaiveDate, Pt<'a>>>,
    /// (check, partner) -> its variances.
    pub by_partner: BTreeMap<(String, String), Vec<usize>>,
    pub hourly: HashMap<(&'a str, &'a Metric, NaiveDate), &'a HourlySeries>,
}

impl<'a> Ctx<'a> {
    pub fn new(input: &'a ClassifyInput) -> Ctx<'a> {
        let mut series: BTreeMap<SeriesKey, BTreeMap<NaiveDate, Pt<'a>>> = BTreeMap::new();
        let mut by_partner: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        let all = input
            .variances
            .iter()
            .enumerate()
            .map(|(i, o)| (o, Some(i)))
            .chain(input.matching.iter().map(|o| (o, None)));
        for (obs, var) in all {
            let k = &obs.key;
            series
                .entry((
                    k.check.clone(),
                    k.partner.clone(),
                    k.metric.clone(),
                    k.link.clone(),
                    k.coupon.clone(),
                ))
                .or_default()
                .insert(k.day, Pt { obs, var });
            if let Some(i) = var {
                by_partner
                    .entry((k.check.clone(), k.partner.clone()))
                    .or_default()
                    .push(i);
            }
        }
        let hourly = input
            .hourly
            .iter()
            .map(|h| ((h.partner.as_str(), &h.metric, h.day), h))
            .collect();
        Ctx {
            input,
            series,
            by_partner,
            hourly,
        }
    }

    fn var(&self, i: usize) -> &'a Observation {
        &self.input.variances[i]
    }

    fn series_of(&self, o: &Observation) -> Option<&BTreeMap<NaiveDate, Pt<'a>>> {
        let k = &o.key;
        self.series.get(&(
            k.check.clone(),
            k.partner.clone(),
            k.metric.clone(),
            k.link.clone(),
            k.coupon.clone(),
        ))
    }

    /// The unclaimed variances of each (check, partner).
    fn open_by_partner<'s>(&'s self, claims: &Claims) -> Vec<(&'s (String, String), Vec<usize>)> {
        self.by_partner
            .iter()
            .filter_map(|(k, v)| {
                let open: Vec<usize> = v
                    .iter()
                    .copied()
                    .filter(|&i| !claims.is_claimed(i))
                    .collect();
                (!open.is_empty()).then_some((k, open))
            })
            .collect()
    }
}

pub(crate) fn run_all(ctx: &Ctx<'_>, claims: &mut Claims) {
    truncation(ctx, claims);
    hierarchy(ctx, claims);
    swap(ctx, claims);
    status_scope(ctx, claims);
    late_data(ctx, claims);
    fx(ctx, claims);
    gross_unique(ctx, claims);
    tz_shift(ctx, claims);
    rounding(ctx, claims);
}

// ---------------------------------------------------------------------------------------
// Small helpers.

/// Half the minor unit of a currency (0.005 for EUR; 0.5 for JPY). Counts: zero.
fn half_minor(kind: MetricKind, currency: Option<&str>) -> Decimal {
    if kind == MetricKind::Count {
        return Decimal::ZERO;
    }
    let decimals = match currency.map(|c| c.to_ascii_uppercase()) {
        Some(c)
            if [
                "JPY", "KRW", "CLP", "ISK", "VND", "XAF", "XOF", "UGX", "PYG",
            ]
            .contains(&c.as_str()) =>
        {
            0
        }
        Some(c) if ["BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"].contains(&c.as_str()) => 3,
        _ => 2,
    };
    Decimal::new(5, decimals + 1)
}

/// The rounding allowance of one observation: half a minor unit per summed row.
fn rounding_allowance(o: &Observation) -> Decimal {
    let rows = o.old_rows.max(o.new_rows).max(1);
    half_minor(
        o.kind,
        o.new_currency.as_deref().or(o.old_currency.as_deref()),
    )
    .checked_mul(Decimal::from(rows))
    .unwrap_or(Decimal::MAX)
}

/// |a - b| <= tol (false when the difference is beyond the decimal range).
fn near(a: Decimal, b: Decimal, tol: Decimal) -> bool {
    a.checked_sub(b).is_some_and(|g| g.abs() <= tol)
}

/// The middle of [lo, hi] (zero when their distance is beyond the decimal range).
fn mid(lo: Decimal, hi: Decimal) -> Decimal {
    hi.checked_sub(lo)
        .map_or(Decimal::ZERO, |w| lo + w / Decimal::TWO)
}

fn f(v: Decimal) -> f64 {
    v.to_f64().unwrap_or(f64::NAN)
}

fn is_commission(m: &Metric) -> bool {
    matches!(m, Metric::Commission) || m.as_str().contains("commission")
}

fn is_click(m: &Metric) -> bool {
    matches!(m, Metric::ClicksGross | Metric::ClicksUnique) || m.as_str().contains("click")
}

fn sign(d: Decimal) -> i64 {
    if d.is_zero() {
        0
    } else if d.is_sign_negative() {
        -1
    } else {
        1
    }
}

fn conf(bp: i64) -> Decimal {
    Decimal::new(bp, 2)
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn days_text(days: &BTreeSet<NaiveDate>) -> String {
    match (days.first(), days.last()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// truncation: a key absent on one side whose pull of that side hit its row cap.

fn truncation(ctx: &Ctx<'_>, claims: &mut Claims) {
    let mut groups: BTreeMap<(String, String, bool), Vec<usize>> = BTreeMap::new();
    let mut cap_text: BTreeMap<(String, String, bool), String> = BTreeMap::new();
    for (i, o) in ctx.input.variances.iter().enumerate() {
        if claims.is_claimed(i) {
            continue;
        }
        let new_missing = o.new_rows == 0 && o.old_rows > 0;
        let old_missing = o.old_rows == 0 && o.new_rows > 0;
        if !new_missing && !old_missing {
            continue;
        }
        let capped = ctx.input.pulls.iter().find(|p| {
            p.check == o.key.check
                && p.new_side == new_missing
                && p.partner.as_ref().is_none_or(|q| *q == o.key.partner)
                && (p.incomplete || p.cap.is_some_and(|c| p.rows >= c))
        });
        if let Some(p) = capped {
            let k = (o.key.check.clone(), o.key.partner.clone(), new_missing);
            cap_text.insert(
                k.clone(),
                match p.cap {
                    Some(c) if p.rows >= c => format!("{} rows of a {c}-row cap", p.rows),
                    _ => format!("{} rows, flagged incomplete", p.rows),
                },
            );
            groups.entry(k).or_default().push(i);
        }
    }
    for ((check, partner, new_missing), members) in groups {
        let side = if new_missing { "new" } else { "old" };
        let cap = cap_text
            .remove(&(check.clone(), partner.clone(), new_missing))
            .unwrap_or_default();
        claims.add(Claim {
            category: Category::Truncation,
            check: check.clone(),
            partners: vec![partner.clone()],
            what: format!("missing on the {side} platform's capped pull"),
            confidence: conf(80),
            evidence: evidence(
                [
                    ("missing_side", side.to_owned()),
                    ("pull", cap.clone()),
                    ("keys", members.len().to_string()),
                ],
                format!(
                    "{} absent on the {side} platform, whose pull returned {cap}: the report was cut off, the rows were not lost at the source.",
                    plural(members.len(), "key is"),
                ),
            ),
            members,
        });
    }
}

// ---------------------------------------------------------------------------------------
// hierarchy: a master's roll-up moves by exactly the own numbers of the sub-partners whose
// parent differs between the platforms, and those subs' own numbers match.

fn parent_on(rows: &[HierarchyRow], partner: &str, day: NaiveDate) -> Option<Option<String>> {
    rows.iter()
        .find(|r| r.partner == partner && r.covers(day))
        .map(|r| r.parent.clone())
}

fn hierarchy(ctx: &Ctx<'_>, claims: &mut Claims) {
    let Some(h) = &ctx.input.hierarchies else {
        return;
    };
    // The sub-partners whose tree lines differ between the platforms: only they can move
    // a roll-up.
    let mut old_by: HashMap<&str, Vec<HierarchyRow>> = HashMap::new();
    let mut new_by: HashMap<&str, Vec<HierarchyRow>> = HashMap::new();
    for r in &h.old {
        old_by
            .entry(r.partner.as_str())
            .or_default()
            .push(r.clone());
    }
    for r in &h.new {
        new_by
            .entry(r.partner.as_str())
            .or_default()
            .push(r.clone());
    }
    let mut movers: BTreeSet<&str> = BTreeSet::new();
    for p in old_by.keys().chain(new_by.keys()) {
        let lines = |m: &HashMap<&str, Vec<HierarchyRow>>| {
            let mut v: Vec<_> = m
                .get(p)
                .into_iter()
                .flatten()
                .map(|r| (r.parent.clone(), r.valid_from, r.valid_to))
                .collect();
            v.sort();
            v
        };
        if lines(&old_by) != lines(&new_by) {
            movers.insert(p);
        }
    }
    if movers.is_empty() {
        return;
    }
    // The own series (no link, no coupon) of each mover, by metric, with its check.
    let mut own_series: HashMap<(&str, &Metric), Vec<(&str, &Series<'_>)>> = HashMap::new();
    for ((c, p, m, l, cp), series) in &ctx.series {
        if l.is_none() && cp.is_none() && movers.contains(p.as_str()) {
            own_series
                .entry((p.as_str(), m))
                .or_default()
                .push((c.as_str(), series));
        }
    }
    // The own numbers of a partner: its series in other checks, else in this one.
    let own = |partner: &str, metric: &Metric, check: &str| {
        let all = own_series
            .get(&(partner, metric))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let other: Vec<&Series<'_>> = all
            .iter()
            .filter(|(c, _)| *c != check)
            .map(|(_, s)| *s)
            .collect();
        if other.is_empty() {
            all.iter().map(|(_, s)| *s).collect()
        } else {
            other
        }
    };
    let mut groups: BTreeMap<(String, String), (Vec<usize>, BTreeSet<String>)> = BTreeMap::new();
    for (i, o) in ctx.input.variances.iter().enumerate() {
        if claims.is_claimed(i) || o.key.link.is_some() || o.key.coupon.is_some() {
            continue;
        }
        let (master, day) = (o.key.partner.as_str(), o.key.day);
        let mut moved_in = Vec::new();
        let mut moved_out = Vec::new();
        for s in &movers {
            if *s == master {
                continue;
            }
            let rows = |m: &HashMap<&str, Vec<HierarchyRow>>| {
                m.get(s).and_then(|v| parent_on(v, s, day)).flatten()
            };
            let (po, pn) = (rows(&old_by), rows(&new_by));
            if po == pn {
                continue;
            }
            if pn.as_deref() == Some(master) {
                moved_in.push(*s);
            } else if po.as_deref() == Some(master) {
                moved_out.push(*s);
            }
        }
        if moved_in.is_empty() && moved_out.is_empty() {
            continue;
        }
        // Each moved sub's own value that day, which must match on both platforms.
        let value = |s: &str| -> Option<Decimal> {
            let found = own(s, &o.key.metric, &o.key.check);
            if found.is_empty() {
                return None; // nothing known about the sub: cannot verify
            }
            let mut v = None;
            for series in found {
                if let Some(pt) = series.get(&day) {
                    if pt.var.is_some() || pt.obs.old != pt.obs.new {
                        return None; // the sub's own numbers moved too
                    }
                    v = Some(pt.obs.old);
                }
            }
            Some(v.unwrap_or(Decimal::ZERO))
        };
        let mut predicted = Decimal::ZERO;
        let mut ok = true;
        for s in &moved_in {
            match value(s).and_then(|v| predicted.checked_add(v)) {
                Some(p) => predicted = p,
                None => ok = false,
            }
        }
        for s in &moved_out {
            match value(s).and_then(|v| predicted.checked_sub(v)) {
                Some(p) => predicted = p,
                None => ok = false,
            }
        }
        let Some(delta) = o.delta() else { continue };
        if !ok || predicted.is_zero() {
            continue;
        }
        if near(delta, predicted, rounding_allowance(o)) {
            let e = groups
                .entry((o.key.check.clone(), master.to_owned()))
                .or_default();
            e.0.push(i);
            e.1.extend(moved_in.iter().chain(&moved_out).map(|s| s.to_string()));
        }
    }
    for ((check, master), (members, moved)) in groups {
        let moved: Vec<String> = moved.into_iter().collect();
        let list = moved.join(", ");
        claims.add(Claim {
            category: Category::Hierarchy,
            check,
            partners: vec![master.clone()],
            what: format!("roll-up moved by sub-partner {list} hanging under another master"),
            confidence: conf(95),
            evidence: evidence(
                [
                    ("master", master.clone()),
                    ("moved_sub_partners", list.clone()),
                ],
                format!(
                    "The parent of {list} differs between the platforms; master {master}'s roll-up moves by exactly the sub-partners' own numbers, which match on both platforms."
                ),
            ),
            members,
        });
    }
}

// ---------------------------------------------------------------------------------------
// attribution_swap / coupon_precedence: two partners' deltas are equal and opposite, key
// for key (same check, day, metric, coupon); every other variance of both partners is a
// commission on those days moving the same way.

fn swap(ctx: &Ctx<'_>, claims: &mut Claims) {
    type Bucket<'a> = (&'a str, NaiveDate, &'a Metric, Option<&'a str>);
    let mut buckets: HashMap<Bucket<'_>, Vec<(usize, Decimal)>> = HashMap::new();
    for (i, o) in ctx.input.variances.iter().enumerate() {
        if claims.is_claimed(i) || is_commission(&o.key.metric) {
            continue;
        }
        let Some(d) = o.delta() else { continue };
        buckets
            .entry((
                o.key.check.as_str(),
                o.key.day,
                &o.key.metric,
                o.key.coupon.as_deref(),
            ))
            .or_default()
            .push((i, d));
    }
    // The moves seen by coupon: (partner, day, metric, delta) -> coupons.
    type Move<'a> = (&'a str, NaiveDate, &'a Metric, Decimal);
    let mut by_coupon: HashMap<Move<'_>, Vec<&str>> = HashMap::new();
    for o in &ctx.input.variances {
        if let (Some(c), Some(d)) = (o.key.coupon.as_deref(), o.delta()) {
            by_coupon
                .entry((o.key.partner.as_str(), o.key.day, &o.key.metric, d))
                .or_default()
                .push(c);
        }
    }
    // Candidate pairs: a delta met by exactly one opposite delta in its bucket (a money
    // amount usually is); then every key of the two partners is matched directly, so a
    // busy bucket of +1/-1 counts costs nothing and proves nothing.
    let mut candidates: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut keys: Vec<_> = buckets.keys().copied().collect();
    keys.sort();
    for k in keys {
        let mut by_delta: HashMap<Decimal, Vec<usize>> = HashMap::new();
        for &(i, d) in &buckets[&k] {
            by_delta.entry(d).or_default().push(i);
        }
        for (d, is) in &by_delta {
            if d.is_sign_negative() || is.len() != 1 {
                continue;
            }
            let Some(js) = by_delta.get(&-*d) else {
                continue;
            };
            if js.len() != 1 {
                continue;
            }
            let (pi, pj) = (&ctx.var(is[0]).key.partner, &ctx.var(js[0]).key.partner);
            if pi != pj {
                let (a, b) = if pi < pj { (pi, pj) } else { (pj, pi) };
                candidates.insert((k.0.to_owned(), a.clone(), b.clone()));
            }
        }
    }
    // pair (a, b) with a < b by partner id -> matched (ia, ib)
    let mut pairs: BTreeMap<(String, String, String), Vec<(usize, usize)>> = BTreeMap::new();
    for (check, a, b) in candidates {
        let open = |p: &str| -> Vec<usize> {
            ctx.by_partner
                .get(&(check.clone(), p.to_owned()))
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|&i| {
                            !claims.is_claimed(i) && !is_commission(&ctx.var(i).key.metric)
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let of_b: HashMap<(NaiveDate, &Metric, Option<&str>), usize> = open(&b)
            .into_iter()
            .map(|j| {
                let k = &ctx.var(j).key;
                ((k.day, &k.metric, k.coupon.as_deref()), j)
            })
            .collect();
        let mut matched = Vec::new();
        for i in open(&a) {
            let k = &ctx.var(i).key;
            if let Some(&j) = of_b.get(&(k.day, &k.metric, k.coupon.as_deref()))
                && ctx
                    .var(i)
                    .delta()
                    .zip(ctx.var(j).delta())
                    .and_then(|(x, y)| x.checked_add(y))
                    == Some(Decimal::ZERO)
            {
                matched.push((i, j));
            }
        }
        if !matched.is_empty() {
            pairs.insert((check, a, b), matched);
        }
    }
    for ((check, a, b), matched) in pairs {
        let used: BTreeSet<usize> = matched.iter().flat_map(|&(x, y)| [x, y]).collect();
        // Every variance used once, and the pair explains all non-commission variances of
        // both partners on this check.
        if used.len() != 2 * matched.len() {
            continue;
        }
        let of = |p: &str| {
            ctx.by_partner
                .get(&(check.clone(), p.to_owned()))
                .cloned()
                .unwrap_or_default()
        };
        let (va, vb) = (of(&a), of(&b));
        let days: BTreeSet<NaiveDate> = used.iter().map(|&i| ctx.var(i).key.day).collect();
        let mut commission = Vec::new();
        let mut complete = true;
        for &i in va.iter().chain(&vb) {
            if used.contains(&i) {
                continue;
            }
            let o = ctx.var(i);
            if claims.is_claimed(i) || !is_commission(&o.key.metric) || !days.contains(&o.key.day) {
                complete = false;
                break;
            }
            // The commission moves the way the partner's conversions moved that day.
            let conv: i64 = matched
                .iter()
                .flat_map(|&(x, y)| [x, y])
                .map(|j| ctx.var(j))
                .filter(|c| c.key.partner == o.key.partner && c.key.day == o.key.day)
                .filter_map(|c| c.delta())
                .map(sign)
                .sum();
            match o.delta() {
                Some(d) if conv != 0 && sign(d) == conv.signum() => commission.push(i),
                _ => {
                    complete = false;
                    break;
                }
            }
        }
        if !complete {
            continue;
        }
        let money = matched
            .iter()
            .any(|&(x, _)| ctx.var(x).kind == MetricKind::Money);
        if !(matched.len() >= 3 && days.len() >= 2 || matched.len() >= 2 && money) {
            continue;
        }
        // Coupon precedence: every matched key is one coupon's, owned by one of the two:
        // on the key itself, or (a partner-level check) on the same move seen by coupon in
        // another check of the run.
        let mut coupons: BTreeSet<Option<&str>> = used
            .iter()
            .map(|&i| ctx.var(i).key.coupon.as_deref())
            .collect();
        if coupons.len() == 1 && coupons.contains(&None) {
            let seen: Option<BTreeSet<Option<&str>>> = used
                .iter()
                .map(|&i| {
                    let o = ctx.var(i);
                    let d = o.delta()?;
                    by_coupon
                        .get(&(o.key.partner.as_str(), o.key.day, &o.key.metric, d))
                        .filter(|c| c.len() == 1)
                        .map(|c| Some(c[0]))
                })
                .collect();
            if let Some(seen) = seen {
                coupons = seen;
            }
        }
        let owner = match coupons.iter().next() {
            Some(Some(c)) if coupons.len() == 1 => ctx
                .input
                .coupon_owners
                .iter()
                .find(|(x, o)| x == c && (*o == a || *o == b))
                .map(|(x, o)| (x.clone(), o.clone())),
            _ => None,
        };
        let gains = |p: &str| {
            matched
                .iter()
                .flat_map(|&(x, y)| [x, y])
                .map(|j| ctx.var(j))
                .find(|o| o.key.partner == p)
                .and_then(|o| o.delta())
                .is_some_and(|d| d > Decimal::ZERO)
        };
        let (loser, winner) = if gains(&a) { (&b, &a) } else { (&a, &b) };
        let mut members: Vec<usize> = used.iter().copied().collect();
        members.extend(&commission);
        let dt = days_text(&days);
        let (category, what, sentence, confidence) = match owner {
            Some((coupon, own)) => (
                Category::CouponPrecedence,
                format!("coupon {coupon} conversions credited to {winner} instead of {loser}"),
                format!(
                    "On {dt}, {} move from {loser} to {winner}, equal and opposite key for key; they carry coupon {coupon}, owned by {own}: the platforms rank coupon and link differently. Program totals match.",
                    plural(matched.len(), "key's value")
                ),
                conf(90),
            ),
            None => (
                Category::AttributionSwap,
                format!("conversions moved from {loser} to {winner}"),
                format!(
                    "On {dt}, {} move from {loser} to {winner}, equal and opposite key for key: the platforms attribute these conversions differently. Program totals match.",
                    plural(matched.len(), "key's value")
                ),
                conf(85),
            ),
        };
        claims.add(Claim {
            category,
            check,
            partners: vec![a.clone(), b.clone()],
            what,
            confidence,
            evidence: evidence(
                [
                    ("from", loser.clone()),
                    ("to", winner.clone()),
                    ("matched_keys", matched.len().to_string()),
                    ("commission_keys", commission.len().to_string()),
                    ("days", dt.clone()),
                ],
                sentence,
            ),
            members,
        });
    }
}

// ---------------------------------------------------------------------------------------
// status_scope: the difference is exactly a non-approved part (pending / rejected) that one
// platform counts and the other does not, and that holds on every key of the series that
// has such a part, matching or not.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What the new platform does with the non-approved parts.
enum Scope {
    DropsOldPending,
    DropsOldRejected,
    DropsOldBoth,
    AddsPending,
    AddsRejected,
    AddsBoth,
}

impl Scope {
    const ALL: [Scope; 6] = [
        Scope::DropsOldPending,
        Scope::DropsOldRejected,
        Scope::DropsOldBoth,
        Scope::AddsPending,
        Scope::AddsRejected,
        Scope::AddsBoth,
    ];

    /// new - old under this scope difference.
    fn delta(self, o: &Observation) -> Option<Decimal> {
        let s = o.status?;
        Some(match self {
            Scope::DropsOldPending => -s.old_pending,
            Scope::DropsOldRejected => -s.old_rejected,
            Scope::DropsOldBoth => -(s.old_pending.checked_add(s.old_rejected)?),
            Scope::AddsPending => s.new_pending,
            Scope::AddsRejected => s.new_rejected,
            Scope::AddsBoth => s.new_pending.checked_add(s.new_rejected)?,
        })
    }

    fn text(self) -> &'static str {
        match self {
            Scope::DropsOldPending => "the new platform leaves out pending",
            Scope::DropsOldRejected => "the new platform leaves out rejected",
            Scope::DropsOldBoth => "the new platform leaves out pending and rejected",
            Scope::AddsPending => "the new platform counts pending",
            Scope::AddsRejected => "the new platform counts rejected",
            Scope::AddsBoth => "the new platform counts pending and rejected",
        }
    }
}

/// (check, partner, members, scope per metric, days).
type ScopeFound = (
    String,
    String,
    Vec<usize>,
    Vec<(Metric, Scope)>,
    BTreeSet<NaiveDate>,
);

fn status_scope(ctx: &Ctx<'_>, claims: &mut Claims) {
    let mut found: Vec<ScopeFound> = Vec::new();
    let open_now = ctx.open_by_partner(claims);
    for ((check, partner), open) in open_now {
        // Every open variance of the partner must be explained, series by series.
        let mut metrics: BTreeMap<SeriesKey, Vec<usize>> = BTreeMap::new();
        for &i in &open {
            let k = &ctx.var(i).key;
            metrics
                .entry((
                    k.check.clone(),
                    k.partner.clone(),
                    k.metric.clone(),
                    k.link.clone(),
                    k.coupon.clone(),
                ))
                .or_default()
                .push(i);
        }
        let mut scopes = Vec::new();
        let mut all = true;
        for (sk, vars) in &metrics {
            let series = &ctx.series[sk];
            let fits = |scope: Scope| {
                let mut nontrivial = false;
                for pt in series.values() {
                    let o = pt.obs;
                    let Some(d) = o.delta() else { return false };
                    let Some(want) = scope.delta(o) else {
                        // No status split: only a matching key without one is fine.
                        if pt.var.is_some() {
                            return false;
                        }
                        continue;
                    };
                    if !want.is_zero() {
                        nontrivial = true;
                    }
                    if !near(d, want, rounding_allowance(o)) {
                        return false;
                    }
                }
                nontrivial
            };
            match Scope::ALL.into_iter().find(|s| fits(*s)) {
                Some(s) if vars.iter().all(|&i| ctx.var(i).status.is_some()) => {
                    scopes.push((sk.2.clone(), s))
                }
                _ => {
                    all = false;
                    break;
                }
            }
        }
        if all {
            let days = open.iter().map(|&i| ctx.var(i).key.day).collect();
            found.push((check.clone(), partner.clone(), open, scopes, days));
        }
    }
    for (check, partner, members, scopes, days) in found {
        let recent = ctx.input.as_of.map(|a| {
            days.iter()
                .filter(|d| a.signed_duration_since(**d).num_days() < 14)
                .count()
        });
        let mut texts: Vec<&str> = scopes.iter().map(|(_, s)| s.text()).collect();
        texts.sort();
        texts.dedup();
        let metrics: Vec<&str> = scopes.iter().map(|(m, _)| m.as_str()).collect();
        let what = texts.join("; ");
        let recent_text = match recent {
            Some(r) => format!(
                "{r} of {} days within 14 days of the window's end",
                days.len()
            ),
            None => format!("{} days", days.len()),
        };
        claims.add(Claim {
            category: Category::StatusScope,
            check,
            partners: vec![partner.clone()],
            what: what.clone(),
            confidence: if recent.is_none_or(|r| r * 2 >= days.len()) {
                conf(90)
            } else {
                conf(75)
            },
            evidence: evidence(
                [
                    ("scope", what.clone()),
                    ("metrics", metrics.join(", ")),
                    ("days", days_text(&days)),
                    ("recent_days", recent_text.clone()),
                ],
                format!(
                    "On every key of {} the difference is exactly the non-approved part ({what}); {recent_text}.",
                    metrics.join(", ")
                ),
            ),
            members,
        });
    }
}

// ---------------------------------------------------------------------------------------
// late_data: across re-pulls the lagging side only grows and the difference only shrinks,
// on every variance of the series, and it did shrink on at least one.

fn late_data(ctx: &Ctx<'_>, claims: &mut Claims) {
    for ((check, partner), open) in ctx.open_by_partner(claims) {
        let mut sign = None;
        let mut shrank = 0usize;
        let mut ok = true;
        for &i in &open {
            let o = ctx.var(i);
            let Some(d) = o.delta() else {
                ok = false;
                break;
            };
            if o.history.is_empty() || sign.is_some_and(|s| s != self::sign(d)) {
                ok = false;
                break;
            }
            sign = Some(self::sign(d));
            let lagging_new = d < Decimal::ZERO;
            let steps: Vec<(Decimal, Decimal)> = o
                .history
                .iter()
                .map(|r| (r.old, r.new))
                .chain([(o.old, o.new)])
                .collect();
            for w in steps.windows(2) {
                let ((o0, n0), (o1, n1)) = (w[0], w[1]);
                let (lag0, lag1, lead0, lead1) = if lagging_new {
                    (n0, n1, o0, o1)
                } else {
                    (o0, o1, n0, n1)
                };
                let (Some(g0), Some(g1)) = (lead0.checked_sub(lag0), lead1.checked_sub(lag1))
                else {
                    ok = false;
                    continue;
                };
                // The lagging side grows, the leading side never shrinks, the gap never
                // widens or changes side.
                if lag1 < lag0 || lead1 < lead0 || g1 > g0 || g1 <= Decimal::ZERO {
                    ok = false;
                }
            }
            let first = steps[0];
            let gap0 = first
                .1
                .checked_sub(first.0)
                .map_or(Decimal::MAX, |g| g.abs());
            if d.abs() < gap0 {
                shrank += 1;
            }
        }
        if !ok || shrank == 0 || shrank * 3 < open.len() {
            continue;
        }
        let days: BTreeSet<NaiveDate> = open.iter().map(|&i| ctx.var(i).key.day).collect();
        let pulls = open
            .iter()
            .map(|&i| ctx.var(i).history.len() + 1)
            .max()
            .unwrap_or(1);
        let side = if sign.is_some_and(|s| s < 0) {
            "new"
        } else {
            "old"
        };
        claims.add(Claim {
            category: Category::LateData,
            check: check.clone(),
            partners: vec![partner.clone()],
            what: format!("the {side} platform's data still arriving"),
            confidence: conf(85),
            evidence: evidence(
                [
                    ("lagging_side", side.to_owned()),
                    ("pulls", pulls.to_string()),
                    ("keys_shrinking", format!("{shrank} of {}", open.len())),
                    ("days", days_text(&days)),
                ],
                format!(
                    "Over {pulls} pulls the {side} platform's values only grew and the difference shrank on {shrank} of {} keys, never widened: conversions arrive late and the keys converge.",
                    open.len()
                ),
            ),
            members: open,
        });
    }
}

// ---------------------------------------------------------------------------------------
// fx: counts equal (matching, none differ), currencies differ, and the money of each day is
// one ratio new/old (within rounding), that ratio moving little across days.

fn fx(ctx: &Ctx<'_>, claims: &mut Claims) {
    for ((check, partner), open) in ctx.open_by_partner(claims) {
        let all = &ctx.by_partner[&(check.clone(), partner.clone())];
        if all.iter().any(|&i| ctx.var(i).kind != MetricKind::Money) {
            continue; // a count differs
        }
        let counts_seen = ctx.input.matching.iter().any(|o| {
            o.kind == MetricKind::Count && o.key.check == *check && o.key.partner == *partner
        });
        if !counts_seen {
            continue;
        }
        let mut pair = None;
        let mut ok = true;
        for &i in &open {
            let o = ctx.var(i);
            match (&o.old_currency, &o.new_currency) {
                (Some(a), Some(b)) if a != b && pair.is_none_or(|p| p == (a, b)) => {
                    pair = Some((a, b))
                }
                _ => ok = false,
            }
        }
        let Some((from, to)) = pair else { continue };
        if !ok {
            continue;
        }
        // One ratio interval per day: every money key of the day (variance or matching)
        // lies within its rounding allowance of it.
        let mut per_day: BTreeMap<NaiveDate, (Decimal, Decimal)> = BTreeMap::new();
        let mut sized = 0usize;
        for &i in &open {
            let o = ctx.var(i);
            if o.old.abs() < Decimal::ONE {
                continue;
            }
            sized += 1;
            let t = rounding_allowance(o);
            let (Some(lo), Some(hi)) = (
                o.new.checked_sub(t).and_then(|x| x.checked_div(o.old)),
                o.new.checked_add(t).and_then(|x| x.checked_div(o.old)),
            ) else {
                ok = false;
                break;
            };
            let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
            let e = per_day.entry(o.key.day).or_insert((lo, hi));
            *e = (e.0.max(lo), e.1.min(hi));
            if e.0 > e.1 {
                ok = false;
                break;
            }
        }
        if !ok || sized < 2 || per_day.is_empty() {
            continue;
        }
        let mids: Vec<Decimal> = per_day.values().map(|(lo, hi)| mid(*lo, *hi)).collect();
        let (Some(min), Some(max)) = (mids.iter().min(), mids.iter().max()) else {
            continue;
        };
        if *min <= Decimal::ZERO
            || max
                .checked_div(*min)
                .is_none_or(|r| r > Decimal::new(108, 2))
            || (*min <= Decimal::ONE && *max >= Decimal::ONE)
        {
            continue;
        }
        // Small keys (below one unit) must fit the day's ratio too, when the day has one.
        let small_ok = open.iter().all(|&i| {
            let o = ctx.var(i);
            if o.old.abs() >= Decimal::ONE {
                return true;
            }
            let r = per_day
                .get(&o.key.day)
                .map(|(lo, hi)| mid(*lo, *hi))
                .unwrap_or(*min);
            o.old.checked_mul(r).is_some_and(|p| {
                near(
                    p,
                    o.new,
                    rounding_allowance(o).saturating_add(Decimal::new(1, 2)),
                )
            })
        });
        if !small_ok {
            continue;
        }
        let range = if min == max {
            format!("{}", min.round_dp(4))
        } else {
            format!("{}..{}", min.round_dp(4), max.round_dp(4))
        };
        claims.add(Claim {
            category: Category::Fx,
            check: check.clone(),
            partners: vec![partner.clone()],
            what: format!("money in {to} instead of {from} at {range}"),
            confidence: conf(90),
            evidence: evidence(
                [
                    ("from", from.clone()),
                    ("to", to.clone()),
                    ("ratio", range.clone()),
                    ("days", per_day.len().to_string()),
                ],
                format!(
                    "Counts match, money is {from} on the old platform and {to} on the new, and each day's money is one ratio new/old ({range}) within rounding: a conversion, not a difference in the data."
                ),
            ),
            members: open,
        });
    }
}

// ---------------------------------------------------------------------------------------
// gross_unique: only click metrics differ; either the new gross clicks are the old unique
// clicks exactly, or (high volume) a stable ratio far from 1.

fn gross_unique(ctx: &Ctx<'_>, claims: &mut Claims) {
    for ((check, partner), open) in ctx.open_by_partner(claims) {
        let all = &ctx.by_partner[&(check.clone(), partner.clone())];
        if !all.iter().all(|&i| is_click(&ctx.var(i).key.metric)) {
            continue;
        }
        // Exact: the other click metric of the same key says which is which.
        let exact = open.iter().all(|&i| {
            let o = ctx.var(i);
            let other = match o.key.metric {
                Metric::ClicksGross => Metric::ClicksUnique,
                Metric::ClicksUnique => Metric::ClicksGross,
                _ => return false,
            };
            let sk = (
                o.key.check.clone(),
                o.key.partner.clone(),
                other,
                o.key.link.clone(),
                o.key.coupon.clone(),
            );
            ctx.series
                .get(&sk)
                .and_then(|s| s.get(&o.key.day))
                .is_some_and(|u| u.var.is_none() && (u.obs.old == o.new || u.obs.new == o.old))
        });
        let (confidence, how) = if exact {
            (
                conf(95),
                "each differing click count on one platform is the other platform's unique (or gross) count of the same key".to_owned(),
            )
        } else {
            match click_ratio(ctx, &open) {
                Some(r) => (
                    conf(80),
                    format!(
                        "new/old is a stable {} on {} days, far from 1, with enough volume to tell it from noise",
                        r.round_dp(3),
                        open.len()
                    ),
                ),
                None => continue,
            }
        };
        let metrics: BTreeSet<&str> = open
            .iter()
            .map(|&i| ctx.var(i).key.metric.as_str())
            .collect();
        let metrics = metrics.into_iter().collect::<Vec<_>>().join(", ");
        claims.add(Claim {
            category: Category::GrossUnique,
            check: check.clone(),
            partners: vec![partner.clone()],
            what: "clicks counted gross on one platform and unique on the other".to_owned(),
            confidence,
            evidence: evidence(
                [("metrics", metrics.clone()), ("basis", if exact { "exact" } else { "ratio" }.to_owned())],
                format!("Only {metrics} differ and {how}: one platform counts repeat clicks, the other does not."),
            ),
            members: open,
        });
    }
}

/// The pooled new/old ratio of click variances when it is stable (binomially), one-sided,
/// plausible for unique/gross (0.30..0.97 or 1.03..1.6) and backed by volume.
fn click_ratio(ctx: &Ctx<'_>, open: &[usize]) -> Option<Decimal> {
    if open.len() < 5 {
        return None;
    }
    let (mut so, mut sn) = (0f64, 0f64);
    for &i in open {
        let o = ctx.var(i);
        so += f(o.old);
        sn += f(o.new);
    }
    if !(so >= 2000.0 && sn >= 2000.0) {
        return None;
    }
    let r = sn / so;
    let down = (0.30..=0.97).contains(&r);
    let up = (1.03..=1.6).contains(&r);
    if !down && !up {
        return None;
    }
    // Binomial: the smaller count is a thinning of the larger one.
    let p = if down { r } else { 1.0 / r };
    for &i in open {
        let o = ctx.var(i);
        let (big, small) = if down {
            (f(o.old), f(o.new))
        } else {
            (f(o.new), f(o.old))
        };
        if big <= 0.0 || small > big {
            return None;
        }
        let sd = (p * (1.0 - p) * big).sqrt();
        if (small - p * big).abs() > 4.0 * sd + 1.0 {
            return None;
        }
    }
    // Days of the same series with volume that match contradict a systematic difference.
    for &i in open {
        let o = ctx.var(i);
        if let Some(s) = ctx.series_of(o)
            && s.values()
                .any(|pt| pt.var.is_none() && f(pt.obs.old) >= 30.0)
        {
            return None;
        }
    }
    Decimal::try_from(r).ok()
}

// ---------------------------------------------------------------------------------------
// tz_shift: the day boundary differs by h hours, so a share of each day moves to the next
// (or the previous) day. With the old platform's hourly series it is verified exactly;
// without, by a fit on the daily counts.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// The new platform's day starts h hours earlier: the last h hours of an old day are
    /// the next day on the new platform.
    Earlier,
    /// It starts h hours later: the first h hours of an old day are the previous day.
    Later,
}

impl Dir {
    fn text(self) -> &'static str {
        match self {
            Dir::Earlier => "earlier",
            Dir::Later => "later",
        }
    }
}

fn next(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(1))
}

fn prev(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_sub_days(Days::new(1))
}

/// The days a..=b of a series with the gaps as zero (old, new), or `None` when too long.
fn dense(series: &BTreeMap<NaiveDate, Pt<'_>>) -> Option<Vec<(NaiveDate, Decimal, Decimal)>> {
    let (a, b) = (*series.keys().next()?, *series.keys().next_back()?);
    if b.signed_duration_since(a).num_days() > 400 {
        return None;
    }
    let mut out = Vec::new();
    let mut d = a;
    while d <= b {
        match series.get(&d) {
            Some(pt) => out.push((d, pt.obs.old, pt.obs.new)),
            None => out.push((d, Decimal::ZERO, Decimal::ZERO)),
        }
        d = next(d)?;
    }
    Some(out)
}

/// Whether the deltas of a series can be a shift: some carried part o(d) within
/// [0, old(d)] every day. Values must not be negative (a net revenue can be).
fn shift_feasible(days: &[(NaiveDate, Decimal, Decimal)], dir: Dir) -> bool {
    if days
        .iter()
        .any(|(_, o, n)| o.is_sign_negative() || n.is_sign_negative())
    {
        return false;
    }
    // Earlier: o(d) = s - C(d), C = running sum of deltas. Later: e(d+1) = e(a) + C(d),
    // i.e. the part carried back from each day d+1 is s + C(d) with s = e(a).
    let mut c = Decimal::ZERO;
    let (mut lo, mut hi) = (Decimal::ZERO, Decimal::MAX);
    let n = days.len();
    for (k, (_, old, new)) in days.iter().enumerate() {
        let Some(x) = new.checked_sub(*old).and_then(|d| c.checked_add(d)) else {
            return false;
        };
        c = x;
        match dir {
            Dir::Earlier => {
                // 0 <= s - c <= old
                lo = lo.max(c);
                hi = hi.min(old.checked_add(c).unwrap_or(Decimal::MAX));
            }
            Dir::Later => {
                // carried from day k+1: s + c, within [0, old(k+1)]
                lo = lo.max(-c);
                if k + 1 < n {
                    let o1 = days[k + 1].1;
                    hi = hi.min(o1.checked_sub(c).unwrap_or(Decimal::MIN));
                }
            }
        }
    }
    lo <= hi
}

fn tz_shift(ctx: &Ctx<'_>, claims: &mut Claims) {
    for ((check, partner), open) in ctx.open_by_partner(claims) {
        if open
            .iter()
            .any(|&i| ctx.var(i).key.link.is_some() || ctx.var(i).key.coupon.is_some())
        {
            continue;
        }
        let series: Vec<(&Metric, &BTreeMap<NaiveDate, Pt<'_>>)> = ctx
            .series
            .range(
                (
                    check.clone(),
                    partner.clone(),
                    Metric::ClicksGross,
                    None,
                    None,
                )..,
            )
            .take_while(|((c, p, ..), _)| c == check && p == partner)
            .filter(|((.., l, cp), _)| l.is_none() && cp.is_none())
            .map(|((_, _, m, ..), s)| (m, s))
            .collect();
        let found = tz_hourly(ctx, partner, &series).or_else(|| tz_daily(&series));
        let Some(shift) = found else { continue };
        // Every open variance must sit in a series that can carry the shift.
        let feasible = series.iter().all(|(m, s)| {
            !s.values().any(|pt| pt.var.is_some())
                || shift.verified.contains(m)
                || dense(s).is_some_and(|d| shift_feasible(&d, shift.dir))
        });
        if !feasible {
            continue;
        }
        let counts = open.iter().any(|&i| ctx.var(i).kind == MetricKind::Count);
        let money = open.iter().any(|&i| ctx.var(i).kind == MetricKind::Money);
        let which = match (counts, money) {
            (true, false) => "count metrics",
            (false, true) => "money metrics",
            _ => "count and money metrics",
        };
        let hours = shift.hours.clone();
        claims.add(Claim {
            category: Category::TzShift,
            check: check.clone(),
            partners: vec![partner.clone()],
            what: format!("{which} shifted {hours} h ({} day start)", shift.dir.text()),
            confidence: shift.confidence,
            evidence: evidence(
                [
                    ("hours", hours.clone()),
                    ("direction", shift.dir.text().to_owned()),
                    ("basis", shift.basis.clone()),
                    ("share_moved", shift.share.clone()),
                ],
                format!(
                    "The new platform's day starts {hours} h {} than the old one's: {}; neighbouring days' deltas cancel.",
                    shift.dir.text(),
                    shift.basis
                ),
            ),
            members: open,
        });
    }
}

struct Shift {
    dir: Dir,
    hours: String,
    share: String,
    basis: String,
    confidence: Decimal,
    /// Metrics verified hour by hour (their feasibility is already proven).
    verified: Vec<Metric>,
}

/// Exact check against the old platform's hourly series: some (h, direction) predicts the
/// new value of every day that can be predicted, and explains at least one variance.
fn tz_hourly(
    ctx: &Ctx<'_>,
    partner: &str,
    series: &[(&Metric, &BTreeMap<NaiveDate, Pt<'_>>)],
) -> Option<Shift> {
    let with_hourly: Vec<_> = series
        .iter()
        .filter(|(m, s)| {
            s.keys()
                .any(|d| ctx.hourly.contains_key(&(partner, *m, *d)))
        })
        .collect();
    if with_hourly.is_empty() {
        return None;
    }
    let part = |m: &Metric, d: NaiveDate, h: usize, dir: Dir| -> Option<Decimal> {
        let hs = ctx.hourly.get(&(partner, m, d))?;
        let range = match dir {
            Dir::Earlier => 24 - h..24,
            Dir::Later => 0..h,
        };
        hs.values[range]
            .iter()
            .try_fold(Decimal::ZERO, |a, v| a.checked_add(*v))
    };
    let mut fits = Vec::new();
    for dir in [Dir::Earlier, Dir::Later] {
        'h: for h in 1..=12usize {
            let mut explained = 0usize;
            for (m, s) in &with_hourly {
                for (d, pt) in s.iter() {
                    let o = pt.obs;
                    let Some(hs) = ctx.hourly.get(&(partner, *m, *d)) else {
                        if pt.var.is_some() {
                            continue 'h;
                        }
                        continue;
                    };
                    let total = hs
                        .values
                        .iter()
                        .try_fold(Decimal::ZERO, |a, v| a.checked_add(*v));
                    if total != Some(o.old) {
                        continue 'h; // the hourly series is not this key's
                    }
                    let Some(out) = part(m, *d, h, dir) else {
                        continue 'h;
                    };
                    let neighbour = match dir {
                        Dir::Earlier => prev(*d),
                        Dir::Later => next(*d),
                    };
                    let inn = neighbour.and_then(|n| part(m, n, h, dir));
                    let tol = rounding_allowance(o);
                    match inn {
                        Some(inn) => {
                            let Some(pred) =
                                o.old.checked_sub(out).and_then(|x| x.checked_add(inn))
                            else {
                                continue 'h;
                            };
                            if !near(pred, o.new, tol) {
                                continue 'h;
                            }
                            if pt.var.is_some() && out != inn {
                                explained += 1;
                            }
                        }
                        None => {
                            // Window edge: only what leaves is known; what arrives is >= 0
                            // for a count (money such as net revenue can be negative).
                            if o.kind == MetricKind::Count
                                && o.new
                                    .checked_sub(o.old)
                                    .and_then(|x| x.checked_add(out))
                                    .is_none_or(|x| x < -tol)
                            {
                                continue 'h;
                            }
                        }
                    }
                }
            }
            if explained > 0 {
                fits.push((dir, h, explained));
            }
        }
    }
    let (dir, h, n) = *fits.first()?;
    let same: Vec<usize> = fits.iter().filter(|f| f.0 == dir).map(|f| f.1).collect();
    if fits.iter().any(|f| f.0 != dir) {
        return None; // both directions fit: the hours carry nothing to tell them apart
    }
    let hours = if same.len() == 1 {
        h.to_string()
    } else {
        format!("{}..{}", same[0], same[same.len() - 1])
    };
    Some(Shift {
        dir,
        hours,
        share: "hourly".to_owned(),
        basis: format!(
            "the old platform's hourly series, moved by {h} h, gives the new platform's value on {n} differing keys exactly"
        ),
        confidence: if same.len() == 1 { conf(95) } else { conf(85) },
        verified: with_hourly.iter().map(|(m, _)| (*m).clone()).collect(),
    })
}

/// Fit on daily counts: delta(d) = f * (old(d-1) - old(d)) plus binomial noise (earlier
/// day start; old(d+1) - old(d) for later), with f significantly above zero, the
/// residuals binomial-sized and every volume metric agreeing on f.
fn tz_daily(series: &[(&Metric, &BTreeMap<NaiveDate, Pt<'_>>)]) -> Option<Shift> {
    let mut best: Option<(Dir, f64, f64)> = None;
    'dir: for dir in [Dir::Earlier, Dir::Later] {
        // (x, delta, old(d-1)+old(d)) per metric
        let mut rows: Vec<Vec<(f64, f64, f64)>> = Vec::new();
        for (_, s) in series {
            let Some(first) = s.values().next() else {
                continue;
            };
            if first.obs.kind != MetricKind::Count {
                continue;
            }
            let days = dense(s)?;
            let volume: f64 = days.iter().map(|(_, o, _)| f(*o)).sum();
            if volume < 100.0 || days.len() < 7 {
                continue;
            }
            let mut r = Vec::new();
            for w in days.windows(2) {
                let ((_, o0, n0), (_, o1, n1)) = (w[0], w[1]);
                match dir {
                    Dir::Earlier => r.push((f(o0) - f(o1), f(n1) - f(o1), f(o0) + f(o1))),
                    Dir::Later => r.push((f(o1) - f(o0), f(n0) - f(o0), f(o0) + f(o1))),
                }
            }
            rows.push(r);
        }
        if rows.is_empty() {
            continue;
        }
        // Weighted least squares, weights from the binomial variance at the current f.
        let mut fh = 0.05f64;
        for _ in 0..3 {
            let (mut sxy, mut sxx) = (0.0, 0.0);
            for r in rows.iter().flatten() {
                let v = fh.clamp(0.005, 0.5) * (1.0 - fh.clamp(0.005, 0.5)) * r.2 + 1.0;
                sxy += r.0 * r.1 / v;
                sxx += r.0 * r.0 / v;
            }
            if sxx <= 0.0 {
                continue 'dir;
            }
            fh = sxy / sxx;
        }
        if !(0.01..=0.5).contains(&fh) {
            continue;
        }
        let var = |r: &(f64, f64, f64)| fh * (1.0 - fh) * r.2 + 1.0;
        let sxx: f64 = rows.iter().flatten().map(|r| r.0 * r.0 / var(r)).sum();
        let se = (1.0 / sxx).sqrt();
        let n = rows.iter().map(Vec::len).sum::<usize>() as f64;
        let chi2: f64 = rows
            .iter()
            .flatten()
            .map(|r| (r.1 - fh * r.0).powi(2) / var(r))
            .sum::<f64>()
            / n;
        let zmax = rows
            .iter()
            .flatten()
            .map(|r| (r.1 - fh * r.0).abs() / var(r).sqrt())
            .fold(0.0, f64::max);
        // The residuals of a shift are differences of two binomial draws: variance about
        // twice a draw's, so chi2 near 1 with this weighting.
        if fh / se < 6.0 || chi2 > 1.8 || zmax > 4.5 || n < 10.0 {
            continue;
        }
        for r in &rows {
            let (mut sxy, mut sxx) = (0.0, 0.0);
            for x in r {
                sxy += x.0 * x.1 / var(x);
                sxx += x.0 * x.0 / var(x);
            }
            if sxx > 0.0 {
                let (fm, sem) = (sxy / sxx, (1.0 / sxx).sqrt());
                if sem < fh / 2.0 && (fm - fh).abs() > 3.0 * (sem * sem + se * se).sqrt() {
                    continue 'dir;
                }
            }
        }
        if best.is_some() {
            return None; // both directions fit
        }
        best = Some((dir, fh, fh / se));
    }
    let (dir, fh, t) = best?;
    let hours = ((fh * 24.0).round() as i64).max(1);
    Some(Shift {
        dir,
        hours: format!("~{hours}"),
        share: format!("{:.3}", fh),
        basis: format!(
            "on daily counts, {:.1}% of a day moves to the neighbouring day (t = {t:.1}), about {hours} h if events spread evenly over the day",
            fh * 100.0
        ),
        confidence: conf(70),
        verified: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------
// rounding: money in one currency, every variance of the series within half a minor unit
// per summed row.

fn rounding(ctx: &Ctx<'_>, claims: &mut Claims) {
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut seen: BTreeSet<SeriesKey> = BTreeSet::new();
    for (i, o) in ctx.input.variances.iter().enumerate() {
        if claims.is_claimed(i) || o.kind != MetricKind::Money || o.old_currency != o.new_currency {
            continue;
        }
        let k = &o.key;
        let sk = (
            k.check.clone(),
            k.partner.clone(),
            k.metric.clone(),
            k.link.clone(),
            k.coupon.clone(),
        );
        if !seen.insert(sk.clone()) {
            continue;
        }
        let vars: Vec<usize> = ctx.series[&sk].values().filter_map(|p| p.var).collect();
        let all = vars.iter().all(|&j| {
            let v = ctx.var(j);
            !claims.is_claimed(j)
                && v.delta()
                    .is_some_and(|d| !d.is_zero() && d.abs() <= rounding_allowance(v))
        });
        if all {
            groups
                .entry((k.check.clone(), k.partner.clone()))
                .or_default()
                .extend(vars);
        }
    }
    for ((check, partner), members) in groups {
        let max = members
            .iter()
            .filter_map(|&i| ctx.var(i).delta())
            .map(|d| d.abs())
            .max()
            .unwrap_or_default();
        claims.add(Claim {
            category: Category::Rounding,
            check,
            partners: vec![partner],
            what: format!("money within half a minor unit per row (largest {max})"),
            confidence: conf(90),
            evidence: evidence(
                [("largest_delta", max.to_string())],
                format!(
                    "Every differing money key of these series is within half a minor unit per summed row (largest difference {max}): the platforms round at different points."
                ),
            ),
            members,
        });
    }
}
