//! The kinds `check run` feeds from reference data besides the two sides' report rows:
//! `record_sync` (records of `new` vs `crm`), `rollup` (aggregates rolled up each
//! platform's hierarchy) and `payout` (commission recomputed from the period sums of the
//! aggregate sources, with the hierarchy for sub-partner overrides).

use std::collections::BTreeMap;

use cutover_plan::Outcome;
use cutover_recon::check::worst;
use cutover_recon::payout::{PayoutCase, PayoutConfig, PeriodStats};
use cutover_recon::record_sync::RecordSyncConfig;
use cutover_recon::reference;
use cutover_recon::rollup::{RollupConfig, RollupSide};
use cutover_recon::{
    Aggregate, CheckResult, Deal, Finding, HierarchyRow, Metric, Partner, Record, Row, System,
    TierBasis,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{Read, Refs, evidence, mapping_note, normalised, reference_rows};

fn error(e: String, read: &[Read<'_>]) -> (CheckResult, String) {
    let counts: Vec<usize> = read.iter().map(|r| r.rows.len()).collect();
    (
        CheckResult::new(Outcome::Error, e, Vec::new()),
        evidence(read, "rows", &counts),
    )
}

fn done(
    mut result: CheckResult,
    mapping: Vec<Finding>,
    read: &[Read<'_>],
) -> (CheckResult, String) {
    if let Some(note) = mapping_note(&mapping) {
        // What could not be mapped or converted is left out of the sums: never a pass.
        result.reason.push_str(&format!("; {note} left out"));
        result.outcome = worst(result.outcome, Outcome::Warn);
        result.findings.extend(mapping);
    }
    let counts: Vec<usize> = read.iter().map(|r| r.rows.len()).collect();
    (result, evidence(read, "rows", &counts))
}

/// `record_sync`: the new platform's records against the CRM's.
pub(super) fn record_sync(read: &[Read<'_>], cfg: &RecordSyncConfig) -> (CheckResult, String) {
    let side = |role: &str| -> Result<Vec<cutover_recon::record_sync::Record>, String> {
        let Some(r) = read.iter().find(|r| r.role == role) else {
            return Ok(Vec::new());
        };
        let rows: Vec<Record> = reference_rows(r, "record", |row| match row {
            Row::Record(c) => Some(c),
            _ => None,
        })?
        .into_iter()
        .cloned()
        .collect();
        reference::records(&r.source.id, &rows)
    };
    match side("new").and_then(|n| side("crm").map(|c| (n, c))) {
        Ok((new, crm)) => done(
            cutover_recon::record_sync::record_sync(&new, &crm, cfg),
            Vec::new(),
            read,
        ),
        Err(e) => error(e, read),
    }
}

/// A hierarchy's partners and the findings of mapping them.
type Tree = (Vec<Partner>, Vec<Finding>);

/// The partners of a hierarchy role, in canonical ids on `day` (`None`: the check names
/// no such role), with the mapping findings.
fn tree(
    read: &[Read<'_>],
    refs: &Refs,
    role: &str,
    system: System,
    day: chrono::NaiveDate,
) -> Result<Option<Tree>, String> {
    let Some(r) = read.iter().find(|r| r.role == role) else {
        return Ok(None);
    };
    let rows: Vec<HierarchyRow> = reference_rows(r, "hierarchy", |row| match row {
        Row::Hierarchy(h) => Some(h),
        _ => None,
    })?
    .into_iter()
    .cloned()
    .collect();
    let partners = reference::hierarchy_on(&r.source.id, &rows, day)?;
    Ok(Some(reference::map_partners(
        system,
        &partners,
        &refs.crosswalk,
        day,
    )))
}

/// `rollup`: each side's aggregates rolled up its own hierarchy (as of the window's last
/// day), both in the old platform's ids.
pub(super) fn rollup(
    read: &[Read<'_>],
    refs: &Refs,
    cfg: &RollupConfig,
    window: cutover_sources::Window,
) -> (CheckResult, String) {
    let built = normalised(read, refs).and_then(|(o, n, mapping)| {
        let old = tree(read, refs, "old_hierarchy", System::Old, window.to)?;
        let new = tree(read, refs, "new_hierarchy", System::New, window.to)?;
        Ok((
            o,
            n,
            mapping,
            old.unwrap_or_default(),
            new.unwrap_or_default(),
        ))
    });
    let (o, n, mut mapping, (old_tree, of), (new_tree, nf)) = match built {
        Ok(b) => b,
        Err(e) => return error(e, read),
    };
    mapping.extend(of);
    mapping.extend(nf);
    let side = |rows| RollupSide {
        rows,
        master_totals: Vec::new(),
    };
    let result = cutover_recon::rollup::rollup_trees(
        &old_tree,
        &new_tree,
        &side(o),
        &side(n),
        window.to,
        cfg,
    );
    done(result, mapping, read)
}

/// One partner's sums over the window on one side.
#[derive(Default)]
struct Sums {
    ngr: Decimal,
    ftd: Decimal,
    qualified: Decimal,
    commission: Option<Decimal>,
}

fn sums(rows: &[Aggregate], side: &str) -> Result<BTreeMap<String, Sums>, String> {
    let mut out: BTreeMap<String, Sums> = BTreeMap::new();
    for r in rows {
        let s = out.entry(r.partner.clone()).or_default();
        let slot = match r.metric {
            Metric::NetRevenue => &mut s.ngr,
            Metric::FtdCount => &mut s.ftd,
            Metric::QualifiedFtd => &mut s.qualified,
            Metric::Commission => s.commission.get_or_insert(Decimal::ZERO),
            _ => continue,
        };
        *slot = slot.checked_add(r.value).ok_or_else(|| {
            format!(
                "the {side} {} of partner {} up to {} is beyond the decimal range",
                r.metric, r.partner, r.day
            )
        })?;
    }
    Ok(out)
}

fn count(v: Decimal, what: &str, partner: &str) -> Result<u32, String> {
    (v.fract().is_zero())
        .then(|| v.to_u32())
        .flatten()
        .ok_or_else(|| {
            format!("the old {what} of partner {partner} over the window is {v}, not a count")
        })
}

/// The revshare part of `deal` on `s` (for a master's override on its sub).
fn sub_revshare(deal: &Deal, s: &Sums) -> Result<Decimal, String> {
    let Some(rs) = &deal.revshare else {
        return Ok(Decimal::ZERO);
    };
    let basis = match rs.basis {
        TierBasis::NetRevenue => s.ngr,
        TierBasis::FtdCount => s.ftd,
    };
    cutover_recon::payout::revshare(rs, s.ngr, basis)
        .map_err(|e| format!("the revshare of sub-partner {} is {e}", deal.partner))
}

/// `payout`: each deal's commission for the window recomputed from the old platform's
/// period sums (net revenue, FTD and qualified-FTD counts; the books of record until the
/// cutover), plus the override on its sub-partners' revshare (the hierarchy as of the
/// window's last day), against the commission each platform reports.
pub(super) fn payout(
    read: &[Read<'_>],
    refs: &Refs,
    cfg: &PayoutConfig,
    deals: &[Deal],
    window: cutover_sources::Window,
) -> (CheckResult, String) {
    let built = normalised(read, refs).and_then(|(o, n, mut mapping)| {
        let (old, new) = (sums(&o, "old")?, sums(&n, "new")?);
        let tree = match tree(read, refs, "old_hierarchy", System::Old, window.to)? {
            Some(t) => Some(t),
            None => tree(read, refs, "new_hierarchy", System::New, window.to)?,
        };
        let tree = tree.map(|(t, found)| {
            mapping.extend(found);
            t
        });
        let by_partner: BTreeMap<&str, &Deal> =
            deals.iter().map(|d| (d.partner.as_str(), d)).collect();
        let none = Sums::default();
        let mut cases = Vec::new();
        for deal in deals {
            let s = old.get(&deal.partner).unwrap_or(&none);
            let mut subs = Vec::new();
            for p in tree.iter().flatten() {
                if p.parent_on(window.to) == Some(deal.partner.as_str())
                    && let Some(sub) = by_partner.get(p.id.as_str())
                {
                    subs.push(sub_revshare(sub, old.get(&p.id).unwrap_or(&none))?);
                }
            }
            cases.push(PayoutCase {
                deal: deal.clone(),
                periods: vec![PeriodStats {
                    ngr: s.ngr,
                    ftd_count: count(s.ftd, "ftd_count", &deal.partner)?,
                    qualified_ftd: count(s.qualified, "qualified_ftd", &deal.partner)?,
                    sub_revshare: subs,
                }],
                old: s.commission,
                new: new.get(&deal.partner).and_then(|s| s.commission),
            });
        }
        Ok((cases, mapping))
    });
    match built {
        Ok((cases, mapping)) => done(cutover_recon::payout::check(&cases, cfg), mapping, read),
        Err(e) => error(e, read),
    }
}
