//! Reference data a check reads beside its two sides, built from a source's rows: the
//! partner crosswalk (new platform id -> old platform id, dated) and the FX rate table
//! (units of the plan currency per unit of a currency, by day). Bad input is an error
//! naming the source, the row (1-based, in the order the source gave them) and the field.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::check::Finding;
use crate::mapping::{CrosswalkEntry, PartnerCrosswalk, RateTable};
use crate::model::{CrosswalkRow, HierarchyRow, ParentEdge, Partner, RateRow, Record, System};

/// How many days a rate is carried forward when a check does not say
/// (`max_rate_gap_days`): a Friday rate still covers the Monday after a public holiday.
pub const DEFAULT_MAX_RATE_GAP_DAYS: u32 = 3;

/// The first day two validity periods `[from, to)` share, or `None` when they share none
/// (`Some(None)`: they share every day from the beginning).
fn overlap(a: &CrosswalkRow, b: &CrosswalkRow) -> Option<Option<NaiveDate>> {
    let from = a.valid_from.max(b.valid_from);
    let to = match (a.valid_to, b.valid_to) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    match (from, to) {
        (Some(f), Some(t)) if f >= t => None,
        _ => Some(from),
    }
}

/// The crosswalk of `source`'s rows: each new id maps to its old id on its valid days; old
/// ids are canonical as they are, and a new id without a line on a day is unmapped.
///
/// `Err` when one new id maps to two different old ids on the same day (a new id must be
/// one partner at a time; several new ids may name one old id, a merge), or a line names
/// an empty id.
pub fn crosswalk(source: &str, rows: &[CrosswalkRow]) -> Result<PartnerCrosswalk, String> {
    let mut by_new: BTreeMap<&str, Vec<(usize, &CrosswalkRow)>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let at = i + 1;
        for (field, v) in [("old", &r.old), ("new", &r.new)] {
            if v.trim().is_empty() {
                return Err(format!(
                    "source \"{source}\" row {at} field \"{field}\": the partner id is empty"
                ));
            }
        }
        let earlier = by_new.entry(r.new.as_str()).or_default();
        for (j, e) in earlier.iter() {
            if e.old == r.old {
                continue;
            }
            if let Some(first) = overlap(e, r) {
                let when = match first {
                    Some(d) => format!("on {d}"),
                    None => "from the first day (neither line has a valid_from)".to_owned(),
                };
                return Err(format!(
                    "source \"{source}\" row {at} field \"old\": new id \"{}\" maps to \"{}\" here and to \"{}\" at row {j} {when}; a new id is one old partner on any day (close the earlier line with valid_to)",
                    r.new, r.old, e.old
                ));
            }
        }
        earlier.push((at, r));
    }
    Ok(PartnerCrosswalk::new(rows.iter().map(|r| CrosswalkEntry {
        system: System::New,
        external: r.new.clone(),
        canonical: r.old.clone(),
        from: r.valid_from,
        to: r.valid_to,
    }))
    .with_identity(System::Old))
}

/// The rate table of `source`'s rows into the plan currency `base`, carrying a rate
/// forward at most `max_gap_days` days.
///
/// `Err` for a rate of zero or below, an empty currency, or two different rates of one
/// currency on one day.
pub fn rate_table(
    source: &str,
    base: &str,
    rows: &[RateRow],
    max_gap_days: u32,
) -> Result<RateTable, String> {
    let mut seen: BTreeMap<(&str, NaiveDate), (usize, Decimal)> = BTreeMap::new();
    let mut table = RateTable::new(source, base).max_gap(max_gap_days);
    for (i, r) in rows.iter().enumerate() {
        let at = i + 1;
        let cur = r.currency.trim();
        if cur.is_empty() {
            return Err(format!(
                "source \"{source}\" row {at} field \"currency\": the currency is empty"
            ));
        }
        if r.rate <= Decimal::ZERO {
            return Err(format!(
                "source \"{source}\" row {at} field \"rate\": {} is not above zero (a rate is the units of {base} one {cur} is worth on {})",
                r.rate, r.day
            ));
        }
        if let Some((j, earlier)) = seen.insert((cur, r.day), (at, r.rate))
            && earlier != r.rate
        {
            return Err(format!(
                "source \"{source}\" row {at} field \"rate\": {cur} on {} is {} here and {earlier} at row {j}",
                r.day, r.rate
            ));
        }
        table = table.rate(cur, r.day, r.rate);
    }
    Ok(table)
}

/// The partners of `source`'s hierarchy lines (ids as the source gives them).
///
/// `Err` for an empty partner id, a partner with two different masters on one day, or a
/// cycle (a partner that is its own master, directly or through others) on any day.
pub fn hierarchy(source: &str, rows: &[HierarchyRow]) -> Result<Vec<Partner>, String> {
    let mut lines: BTreeMap<&str, Vec<(usize, &HierarchyRow)>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let at = i + 1;
        if r.partner.trim().is_empty() {
            return Err(format!(
                "source \"{source}\" row {at} field \"partner\": the partner id is empty"
            ));
        }
        let earlier = lines.entry(r.partner.as_str()).or_default();
        for (j, e) in earlier.iter() {
            if e.parent == r.parent {
                continue;
            }
            let from = e.valid_from.max(r.valid_from);
            let to = match (e.valid_to, r.valid_to) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            if from.zip(to).is_none_or(|(f, t)| f < t) {
                let name = |p: &Option<String>| {
                    p.as_ref()
                        .map_or("no master".to_owned(), |p| format!("master \"{p}\""))
                };
                return Err(format!(
                    "source \"{source}\" row {at} field \"parent\": partner \"{}\" has {} here and {} at row {j} {}",
                    r.partner,
                    name(&r.parent),
                    name(&e.parent),
                    from.map_or("from the first day".to_owned(), |d| format!("on {d}"))
                ));
            }
        }
        earlier.push((at, r));
    }
    // The tree only changes on the days a line starts or ends: look for a cycle on each.
    let mut days: Vec<NaiveDate> = rows
        .iter()
        .flat_map(|r| [r.valid_from, r.valid_to])
        .flatten()
        .collect();
    days.push(NaiveDate::MIN);
    days.sort();
    days.dedup();
    for day in days {
        let parent: BTreeMap<&str, (usize, &str)> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.covers(day))
            .filter_map(|(i, r)| {
                r.parent
                    .as_deref()
                    .map(|p| (r.partner.as_str(), (i + 1, p)))
            })
            .collect();
        let mut done: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for start in parent.keys() {
            let mut path: Vec<&str> = Vec::new();
            let mut at = *start;
            while !done.contains(at) {
                if let Some(k) = path.iter().position(|p| *p == at) {
                    let cycle = &path[k..];
                    // Name the line that closed the cycle: the one that started last.
                    let row = cycle
                        .iter()
                        .map(|p| parent[p].0)
                        .max_by_key(|row| (rows[row - 1].valid_from, *row))
                        .unwrap_or(1);
                    let shown: Vec<&str> = cycle.iter().copied().chain([at]).collect();
                    let when = if day == NaiveDate::MIN {
                        "from the first day".to_owned()
                    } else {
                        format!("on {day}")
                    };
                    return Err(format!(
                        "source \"{source}\" row {row} field \"parent\": partner \"{at}\" is its own master {when} ({}); a hierarchy has no cycles",
                        shown.join(" -> ")
                    ));
                }
                path.push(at);
                match parent.get(at) {
                    Some((_, p)) => at = p,
                    None => break,
                }
            }
            done.extend(path);
        }
    }
    let mut partners: BTreeMap<&str, Partner> = BTreeMap::new();
    for r in rows {
        let p = partners
            .entry(r.partner.as_str())
            .or_insert_with(|| Partner {
                id: r.partner.clone(),
                external: Vec::new(),
                parents: Vec::new(),
                tier: None,
            });
        if let Some(parent) = &r.parent {
            p.parents.push(ParentEdge {
                parent: parent.clone(),
                from: r.valid_from.unwrap_or(NaiveDate::MIN),
                to: r.valid_to,
            });
        }
    }
    Ok(partners.into_values().collect())
}

/// The tree of `day`: every line checked like [`hierarchy`], then only the partners that
/// have a line holding on `day`. An account closed before `day` (a partner handed over to
/// another account) or opened after it is not part of that day's tree, so it is neither
/// rolled up nor mapped through a crosswalk line that has ended.
pub fn hierarchy_on(
    source: &str,
    rows: &[HierarchyRow],
    day: NaiveDate,
) -> Result<Vec<Partner>, String> {
    let live: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.covers(day))
        .map(|r| r.partner.as_str())
        .collect();
    Ok(hierarchy(source, rows)?
        .into_iter()
        .filter(|p| live.contains(p.id.as_str()))
        .collect())
}

/// `system`'s partners in canonical ids: every id (partner and master) mapped through
/// `crosswalk` on `day`; a partner or master with no mapping is an `unmapped_partner`
/// finding and its lines are left out.
pub fn map_partners(
    system: System,
    partners: &[Partner],
    crosswalk: &PartnerCrosswalk,
    day: NaiveDate,
) -> (Vec<Partner>, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut unmapped = |id: &str| {
        findings.push(Finding::new(
            "unmapped_partner",
            format!("{system}:{id}"),
            format!("{system} hierarchy partner \"{id}\" has no crosswalk entry on {day}"),
        ));
    };
    let mut out = Vec::new();
    for p in partners {
        let Some(id) = crosswalk.map(system, &p.id, day) else {
            unmapped(&p.id);
            continue;
        };
        let mut parents = Vec::new();
        for e in &p.parents {
            match crosswalk.map(system, &e.parent, day) {
                Some(parent) => parents.push(ParentEdge {
                    parent: parent.to_owned(),
                    ..e.clone()
                }),
                None => unmapped(&e.parent),
            }
        }
        out.push(Partner {
            id: id.to_owned(),
            external: vec![(system, p.id.clone())],
            parents,
            tier: None,
        });
    }
    findings.sort_by(|a, b| a.subject.cmp(&b.subject));
    findings.dedup_by(|a, b| a.subject == b.subject);
    (out, findings)
}

/// Records of `source` for `record_sync`; `Err` names a record without an id.
pub fn records(source: &str, rows: &[Record]) -> Result<Vec<crate::record_sync::Record>, String> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            if r.id.trim().is_empty() {
                return Err(format!(
                    "source \"{source}\" row {} field \"id\": the record has no id",
                    i + 1
                ));
            }
            Ok(crate::record_sync::Record {
                id: r.id.clone(),
                fields: r.fields.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::NoRate;
    use proptest::prelude::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn line(old: &str, new: &str, from: Option<&str>, to: Option<&str>) -> CrosswalkRow {
        CrosswalkRow {
            old: old.into(),
            new: new.into(),
            valid_from: from.map(day),
            valid_to: to.map(day),
        }
    }

    #[test]
    fn crosswalk_maps_new_ids_to_old_merges_and_reassignments() {
        let x = crosswalk(
            "xw",
            &[
                line("AFF-1", "701", None, None),
                line("AFF-1", "702", None, None),
                line("AFF-2", "709", None, Some("2026-10-03")),
                line("AFF-3", "709", Some("2026-10-03"), None),
                // The same line twice is no conflict.
                line("AFF-1", "701", None, None),
            ],
        )
        .unwrap();
        let d = day("2026-10-02");
        assert_eq!(x.map(System::New, "701", d), Some("AFF-1"));
        assert_eq!(x.map(System::New, "702", d), Some("AFF-1"));
        assert_eq!(x.map(System::New, "709", d), Some("AFF-2"));
        assert_eq!(x.map(System::New, "709", day("2026-10-03")), Some("AFF-3"));
        assert_eq!(
            x.map(System::New, "AFF-1", d),
            None,
            "new ids are not identity"
        );
        assert_eq!(x.map(System::Old, "AFF-9", d), Some("AFF-9"));
    }

    #[test]
    fn one_new_id_on_two_old_ids_the_same_day_names_source_row_and_field() {
        let e = crosswalk(
            "xw",
            &[
                line("AFF-1", "701", None, None),
                line("AFF-2", "709", Some("2026-10-01"), Some("2026-10-05")),
                line("AFF-3", "709", Some("2026-10-04"), None),
            ],
        )
        .unwrap_err();
        assert_eq!(
            e,
            "source \"xw\" row 3 field \"old\": new id \"709\" maps to \"AFF-3\" here and to \"AFF-2\" at row 2 on 2026-10-04; a new id is one old partner on any day (close the earlier line with valid_to)"
        );
        let e = crosswalk(
            "xw",
            &[line("A", "7", None, None), line("B", "7", None, None)],
        )
        .unwrap_err();
        assert!(e.starts_with("source \"xw\" row 2 field \"old\""), "{e}");
        assert!(e.contains("from the first day"), "{e}");
        let e = crosswalk("xw", &[line("A", " ", None, None)]).unwrap_err();
        assert_eq!(
            e,
            "source \"xw\" row 1 field \"new\": the partner id is empty"
        );
    }

    fn rate(d: &str, cur: &str, r: &str) -> RateRow {
        RateRow {
            day: day(d),
            currency: cur.into(),
            rate: r.parse().unwrap(),
        }
    }

    #[test]
    fn rates_carry_forward_within_the_gap_only() {
        let t = rate_table(
            "fx",
            "EUR",
            &[
                rate("2026-10-02", "USD", "0.9"),
                rate("2026-10-06", "USD", "0.8"),
            ],
            3,
        )
        .unwrap();
        let usd = |d: &str| t.to_base(Decimal::from(100), "USD", day(d));
        assert_eq!(usd("2026-10-02"), Ok(Decimal::from(90)));
        // Friday's rate covers Saturday to Monday (3 days), not Tuesday.
        assert_eq!(usd("2026-10-05"), Ok(Decimal::from(90)));
        assert_eq!(usd("2026-10-06"), Ok(Decimal::from(80)));
        assert_eq!(
            usd("2026-10-10"),
            Err(NoRate::Gap {
                since: day("2026-10-06"),
                days: 4
            })
        );
        assert_eq!(usd("2026-10-01"), Err(NoRate::Missing));
        assert_eq!(
            t.to_base(Decimal::from(7), "GBP", day("2026-10-02")),
            Err(NoRate::Missing)
        );
        assert_eq!(
            t.to_base(Decimal::from(7), "EUR", day("2020-01-01")),
            Ok(Decimal::from(7))
        );
    }

    #[test]
    fn bad_rates_name_source_row_and_field() {
        for (rows, expected) in [
            (
                vec![
                    rate("2026-10-01", "USD", "0.9"),
                    rate("2026-10-02", "USD", "0"),
                ],
                "source \"fx\" row 2 field \"rate\": 0 is not above zero (a rate is the units of EUR one USD is worth on 2026-10-02)",
            ),
            (
                vec![rate("2026-10-01", "USD", "-1.5")],
                "source \"fx\" row 1 field \"rate\": -1.5 is not above zero (a rate is the units of EUR one USD is worth on 2026-10-01)",
            ),
            (
                vec![rate("2026-10-01", "", "1")],
                "source \"fx\" row 1 field \"currency\": the currency is empty",
            ),
            (
                vec![
                    rate("2026-10-01", "USD", "0.9"),
                    rate("2026-10-01", "USD", "0.8"),
                ],
                "source \"fx\" row 2 field \"rate\": USD on 2026-10-01 is 0.8 here and 0.9 at row 1",
            ),
        ] {
            assert_eq!(rate_table("fx", "EUR", &rows, 3).unwrap_err(), expected);
        }
    }

    proptest! {
        /// Converting uses the latest rate on or before the day, never a later one, and
        /// refuses exactly when that rate is older than the gap allows.
        #[test]
        fn conversion_uses_the_latest_earlier_rate(
            rates in proptest::collection::btree_map(0u32..40, 1u32..100_000, 1..8),
            offset in 0u32..45,
            gap in 0u32..6,
            amount in -1_000_000i64..1_000_000,
        ) {
            let start = day("2026-01-01");
            let at = |n: u32| start + chrono::Days::new(u64::from(n));
            let rows: Vec<RateRow> = rates
                .iter()
                .map(|(d, r)| RateRow { day: at(*d), currency: "USD".into(), rate: Decimal::new(i64::from(*r), 4) })
                .collect();
            let t = rate_table("fx", "EUR", &rows, gap).unwrap();
            let amount = Decimal::from(amount);
            let got = t.to_base(amount, "USD", at(offset));
            match rates.range(..=offset).next_back() {
                None => prop_assert_eq!(got, Err(NoRate::Missing)),
                Some((d, _)) if offset - d > gap => prop_assert_eq!(
                    got,
                    Err(NoRate::Gap { since: at(*d), days: i64::from(offset - d) })
                ),
                Some((_, r)) => prop_assert_eq!(got, Ok(amount * Decimal::new(i64::from(*r), 4))),
            }
        }
    }

    fn edge(p: &str, parent: Option<&str>, from: Option<&str>, to: Option<&str>) -> HierarchyRow {
        HierarchyRow {
            partner: p.into(),
            parent: parent.map(Into::into),
            valid_from: from.map(day),
            valid_to: to.map(day),
        }
    }

    #[test]
    fn the_tree_of_a_day_leaves_out_accounts_closed_or_not_yet_opened() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let rows = [
            edge("70067", Some("70001"), None, Some("2026-11-12")),
            edge("70001", None, None, None),
            edge("70099", Some("70001"), Some("2026-11-12"), None),
        ];
        let ids = |day| -> Vec<String> {
            hierarchy_on("h", &rows, d(day))
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect()
        };
        assert_eq!(ids("2026-11-11"), ["70001", "70067"]);
        assert_eq!(ids("2026-11-12"), ["70001", "70099"]);
        // A cycle on any day is still an error, even one outside the day asked for.
        let cyclic = [
            edge("A", Some("B"), Some("2026-01-01"), Some("2026-02-01")),
            edge("B", Some("A"), None, None),
        ];
        assert!(hierarchy_on("h", &cyclic, d("2026-03-01")).is_err());
    }

    #[test]
    fn hierarchy_builds_dated_trees_and_names_cycles() {
        let tree = hierarchy(
            "h",
            &[
                edge("M", None, None, None),
                edge("S1", Some("M"), None, None),
                edge("S2", Some("M"), None, Some("2026-10-03")),
                edge("S2", Some("S1"), Some("2026-10-03"), None),
            ],
        )
        .unwrap();
        let s2 = tree.iter().find(|p| p.id == "S2").unwrap();
        assert_eq!(s2.parent_on(day("2026-10-02")), Some("M"));
        assert_eq!(s2.parent_on(day("2026-10-03")), Some("S1"));

        // S1 under S2 from 10-04, while S2 is under S1 from 10-03: a cycle from 10-04.
        let e = hierarchy(
            "h",
            &[
                edge("S1", Some("M"), None, Some("2026-10-04")),
                edge("S2", Some("S1"), Some("2026-10-03"), None),
                edge("S1", Some("S2"), Some("2026-10-04"), None),
            ],
        )
        .unwrap_err();
        assert_eq!(
            e,
            "source \"h\" row 3 field \"parent\": partner \"S1\" is its own master on 2026-10-04 (S1 -> S2 -> S1); a hierarchy has no cycles"
        );
        let e = hierarchy("h", &[edge("A", Some("A"), None, None)]).unwrap_err();
        assert!(
            e.contains("row 1 field \"parent\"") && e.contains("(A -> A)"),
            "{e}"
        );
        let e = hierarchy(
            "h",
            &[
                edge("A", Some("M"), None, None),
                edge("A", Some("N"), Some("2026-10-02"), None),
            ],
        )
        .unwrap_err();
        assert_eq!(
            e,
            "source \"h\" row 2 field \"parent\": partner \"A\" has master \"N\" here and master \"M\" at row 1 on 2026-10-02"
        );
    }

    #[test]
    fn records_need_an_id() {
        let r = |id: &str| Record {
            id: id.into(),
            fields: BTreeMap::new(),
        };
        assert_eq!(records("crm", &[r("a"), r("b")]).unwrap().len(), 2);
        assert_eq!(
            records("crm", &[r("a"), r(" ")]).unwrap_err(),
            "source \"crm\" row 2 field \"id\": the record has no id"
        );
    }

    #[test]
    fn new_hierarchy_maps_into_old_ids() {
        let x = crosswalk(
            "xw",
            &[
                line("AFF-M", "9", None, None),
                line("AFF-S", "7", None, None),
            ],
        )
        .unwrap();
        let tree = hierarchy(
            "h",
            &[
                edge("7", Some("9"), None, None),
                edge("8", Some("9"), None, None),
            ],
        )
        .unwrap();
        let (mapped, found) = map_partners(System::New, &tree, &x, day("2026-10-01"));
        assert_eq!(mapped.len(), 1);
        assert_eq!(mapped[0].id, "AFF-S");
        assert_eq!(mapped[0].parent_on(day("2026-10-01")), Some("AFF-M"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject, "new:8");
    }
}
