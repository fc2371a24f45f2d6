//! Reference data a check reads beside its two sides, built from a source's rows: the
//! partner crosswalk (new platform id -> old platform id, dated) and the FX rate table
//! (units of the plan currency per unit of a currency, by day). Bad input is an error
//! naming the source, the row (1-based, in the order the source gave them) and the field.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::mapping::{CrosswalkEntry, PartnerCrosswalk, RateTable};
use crate::model::{CrosswalkRow, RateRow, System};

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
}
