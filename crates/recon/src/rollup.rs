//! `rollup`: for every master partner, the sum of its sub-partners (and its own rows)
//! equals the master's reported total in each system, and the two systems agree at every
//! level of the hierarchy; the lowest level where they part is named. A sum beyond the
//! decimal range makes the result `error`, naming the partner and metric.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use cutover_plan::Outcome;
use rust_decimal::Decimal;

use crate::check::{CheckResult, Finding};
use crate::model::{Aggregate, Metric, Partner, System};

/// Settings of the `rollup` check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RollupConfig {
    /// Metrics to roll up (all present when empty).
    pub metrics: Vec<Metric>,
    pub tolerance: Decimal,
}

/// One system's data: partner-level rows (canonical ids) and, optionally, the totals the
/// system reports for masters (sub-partners included).
#[derive(Debug, Clone, Default)]
pub struct RollupSide {
    pub rows: Vec<Aggregate>,
    pub master_totals: Vec<(String, Metric, Decimal)>,
}

type Totals = BTreeMap<(String, Metric), Decimal>;

/// Sums each row into its partner and every ancestor valid on the row's day; `Err` names
/// the total that left the decimal range.
fn totals(
    partners: &BTreeMap<&str, &Partner>,
    rows: &[Aggregate],
    cfg: &RollupConfig,
    system: System,
) -> Result<Totals, String> {
    let mut t = Totals::new();
    for r in rows {
        if !cfg.metrics.is_empty() && !cfg.metrics.contains(&r.metric) {
            continue;
        }
        let mut at = r.partner.clone();
        let mut seen = BTreeSet::new();
        loop {
            let total = t.entry((at.clone(), r.metric.clone())).or_default();
            *total = total.checked_add(r.value).ok_or_else(|| {
                format!(
                    "the {system} total of {at},{} (with partner {} on {}) is beyond the decimal range",
                    r.metric, r.partner, r.day
                )
            })?;
            if !seen.insert(at.clone()) {
                break; // a cycle: stop rather than loop
            }
            match partners.get(at.as_str()).and_then(|p| p.parent_on(r.day)) {
                Some(parent) => at = parent.to_owned(),
                None => break,
            }
        }
    }
    Ok(t)
}

/// |a − b| > tolerance; a difference beyond the decimal range exceeds any tolerance.
fn apart(a: Decimal, b: Decimal, tolerance: Decimal) -> bool {
    a.checked_sub(b).is_none_or(|d| d.abs() > tolerance)
}

/// Runs the check with one hierarchy for both systems. The structure reported is the
/// hierarchy on `as_of`.
pub fn rollup(
    partners: &[Partner],
    old: &RollupSide,
    new: &RollupSide,
    as_of: NaiveDate,
    cfg: &RollupConfig,
) -> CheckResult {
    rollup_trees(partners, partners, old, new, as_of, cfg)
}

/// Runs the check with each system's own hierarchy (both in canonical ids): each side's
/// rows roll up its own tree; a partner whose master on `as_of` differs between the trees
/// is a `parent_differs` finding; the structure reported is the old tree's.
pub fn rollup_trees(
    old_tree: &[Partner],
    new_tree: &[Partner],
    old: &RollupSide,
    new: &RollupSide,
    as_of: NaiveDate,
    cfg: &RollupConfig,
) -> CheckResult {
    if old.rows.is_empty() || new.rows.is_empty() {
        return CheckResult::inconclusive("a system has no partner rows to roll up");
    }
    let partners = old_tree;
    let by_id: BTreeMap<&str, &Partner> = partners.iter().map(|p| (p.id.as_str(), p)).collect();
    let new_by_id: BTreeMap<&str, &Partner> = new_tree.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in partners {
        if let Some(parent) = p.parent_on(as_of) {
            children.entry(parent).or_default().push(&p.id);
        }
    }
    let mut findings = Vec::new();
    let ids: BTreeSet<&str> = by_id.keys().chain(new_by_id.keys()).copied().collect();
    for id in ids {
        let (a, b) = (
            by_id.get(id).and_then(|p| p.parent_on(as_of)),
            new_by_id.get(id).and_then(|p| p.parent_on(as_of)),
        );
        if a != b {
            findings.push(Finding::new(
                "parent_differs",
                id,
                format!(
                    "on {as_of}: old master {}, new master {}",
                    a.map_or("none".to_owned(), |p| format!("\"{p}\"")),
                    b.map_or("none".to_owned(), |p| format!("\"{p}\""))
                ),
            ));
        }
    }
    let (to, tn) = match (
        totals(&by_id, &old.rows, cfg, System::Old),
        totals(&new_by_id, &new.rows, cfg, System::New),
    ) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            return CheckResult::new(Outcome::Error, e, Vec::new());
        }
    };
    // 1. Each system's reported master totals against its own sums.
    for (system, side, t) in [(System::Old, old, &to), (System::New, new, &tn)] {
        for (master, metric, reported) in &side.master_totals {
            let sum = t
                .get(&(master.clone(), metric.clone()))
                .copied()
                .unwrap_or_default();
            if apart(sum, *reported, cfg.tolerance) {
                findings.push(
                    Finding::new(
                        "rollup_mismatch",
                        format!("{system}:{master},{metric}"),
                        format!("{system} reports {reported} for master \"{master}\", its partners sum to {sum}"),
                    )
                    .expected(sum)
                    .values(
                        (system == System::Old).then_some(*reported),
                        (system == System::New).then_some(*reported),
                    ),
                );
            }
        }
    }
    // 2. Old vs new at every level; a differing node none of whose children differ is
    //    where the difference starts.
    let keys: BTreeSet<&(String, Metric)> = to.keys().chain(tn.keys()).collect();
    let differs = |p: &str, m: &Metric| {
        let k = (p.to_owned(), m.clone());
        let (a, b) = (
            to.get(&k).copied().unwrap_or_default(),
            tn.get(&k).copied().unwrap_or_default(),
        );
        apart(a, b, cfg.tolerance)
    };
    let depth = |p: &str| {
        let mut d = 0;
        let mut at = p;
        while let Some(parent) = by_id.get(at).and_then(|x| x.parent_on(as_of)) {
            d += 1;
            at = parent;
            if d > partners.len() {
                break;
            }
        }
        d
    };
    let mut lowest = Vec::new();
    for (p, m) in keys {
        if !differs(p, m) {
            continue;
        }
        let kids = children.get(p.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let child_differs = kids.iter().any(|c| differs(c, m));
        let k = (p.clone(), m.clone());
        let code = if child_differs {
            "level_difference"
        } else {
            "lowest_difference"
        };
        if !child_differs {
            lowest.push(format!("{p} ({m}, depth {})", depth(p)));
        }
        findings.push(
            Finding::new(
                code,
                format!("{p},{m}"),
                format!(
                    "depth {}: old {} new {}",
                    depth(p),
                    to.get(&k).copied().unwrap_or_default(),
                    tn.get(&k).copied().unwrap_or_default()
                ),
            )
            .values(to.get(&k).copied(), tn.get(&k).copied()),
        );
    }
    if findings.is_empty() {
        return CheckResult::new(Outcome::Pass, "totals agree at every level", findings);
    }
    let moved = findings
        .iter()
        .filter(|f| f.code == "parent_differs")
        .count();
    let reason = if lowest.is_empty() && moved == findings.len() {
        format!("{moved} partners have another master in the new hierarchy")
    } else if lowest.is_empty() {
        format!(
            "{} reported master totals do not match their partners",
            findings.len()
        )
    } else {
        format!("old and new differ; lowest level: {}", lowest.join(", "))
    };
    CheckResult::new(Outcome::Fail, reason, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ParentEdge;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    fn partner(id: &str, parent: Option<&str>) -> Partner {
        Partner {
            id: id.into(),
            external: vec![],
            parents: parent
                .map(|p| ParentEdge {
                    parent: p.into(),
                    from: day(),
                    to: None,
                })
                .into_iter()
                .collect(),
            tier: None,
        }
    }

    fn row(p: &str, v: i64) -> Aggregate {
        Aggregate {
            partner: p.into(),
            day: day(),
            metric: Metric::FtdCount,
            value: v.into(),
            currency: None,
            link: None,
            coupon: None,
        }
    }

    fn tree() -> Vec<Partner> {
        vec![
            partner("M", None),
            partner("S1", Some("M")),
            partner("S2", Some("M")),
            partner("S21", Some("S2")),
        ]
    }

    #[test]
    fn agreeing_hierarchy_passes() {
        let side = RollupSide {
            rows: vec![row("M", 1), row("S1", 2), row("S2", 3), row("S21", 4)],
            master_totals: vec![("M".into(), Metric::FtdCount, 10.into())],
        };
        let r = rollup(&tree(), &side, &side, day(), &RollupConfig::default());
        assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.findings);
    }

    #[test]
    fn names_the_lowest_level_and_bad_master_totals() {
        let old = RollupSide {
            rows: vec![row("M", 1), row("S1", 2), row("S2", 3), row("S21", 4)],
            master_totals: vec![("M".into(), Metric::FtdCount, 10.into())],
        };
        let new = RollupSide {
            rows: vec![row("M", 1), row("S1", 2), row("S2", 3), row("S21", 5)],
            master_totals: vec![("M".into(), Metric::FtdCount, 10.into())],
        };
        let r = rollup(&tree(), &old, &new, day(), &RollupConfig::default());
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(
            r.reason.contains("S21 (ftd_count, depth 2)"),
            "{}",
            r.reason
        );
        assert_eq!(r.count("lowest_difference"), 1);
        assert_eq!(r.count("level_difference"), 2); // S2 and M
        assert_eq!(r.count("rollup_mismatch"), 1); // new says 10, sums to 11
    }

    #[test]
    fn dated_edges_move_rows() {
        let mut t = tree();
        // S1 left M before the day: its rows no longer roll up into M.
        t[1].parents[0].to = Some(day());
        let side = RollupSide {
            rows: vec![row("S1", 2), row("M", 1)],
            master_totals: vec![("M".into(), Metric::FtdCount, 1.into())],
        };
        let r = rollup(&t, &side, &side, day(), &RollupConfig::default());
        assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.findings);
    }

    /// Regression: `+=` on a master's total panicked when it overflowed `Decimal`.
    #[test]
    fn overflow_in_sums_is_an_error_naming_the_total() {
        let big = |p: &str| Aggregate {
            value: Decimal::MAX,
            ..row(p, 0)
        };
        // Each sub-partner fits; their master's total does not.
        let side = RollupSide {
            rows: vec![big("S1"), big("S2")],
            master_totals: vec![],
        };
        let r = rollup(&tree(), &side, &side, day(), &RollupConfig::default());
        assert_eq!(r.outcome, Outcome::Error);
        assert_eq!(
            r.reason,
            "the old total of M,ftd_count (with partner S2 on 2026-01-01) is beyond the decimal range"
        );
        // A reported total far from the sum differs, without a panic.
        let side = RollupSide {
            rows: vec![big("S1")],
            master_totals: vec![("M".into(), Metric::FtdCount, Decimal::MIN)],
        };
        let r = rollup(&tree(), &side, &side, day(), &RollupConfig::default());
        assert_eq!(r.count("rollup_mismatch"), 2);
    }
}
