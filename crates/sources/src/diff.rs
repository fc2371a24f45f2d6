//! Comparing two snapshots of the same source and window: which aggregate values,
//! events and reference rows (crosswalk, rates, hierarchy, records) were added, removed
//! or changed between two pulls (late data, restatements).

use std::collections::BTreeMap;

use cutover_recon::{Event, Row};
use rust_decimal::Decimal;
use serde::Serialize;

/// One difference between an earlier and a later pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Change {
    /// An aggregate value that is new, gone or different (`None` = absent).
    Aggregate {
        key: String,
        before: Option<Decimal>,
        after: Option<Decimal>,
    },
    /// An event that is new, gone or different.
    Event {
        id: String,
        before: Option<String>,
        after: Option<String>,
    },
    /// A reference row that is new, gone or different: `key` says what it is about
    /// (`crosswalk new=ID from=DAY`, `rate CUR DAY`, `hierarchy PARTNER from=DAY`,
    /// `record ID`), `before`/`after` what it says.
    Reference {
        key: String,
        before: Option<String>,
        after: Option<String>,
    },
}

/// What changed between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotDiff {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// Every change, in key order.
    pub changes: Vec<Change>,
}

impl SnapshotDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

fn agg_key(a: &cutover_recon::Aggregate) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}",
        a.partner,
        a.day,
        a.metric,
        a.link.as_deref().unwrap_or(""),
        a.coupon.as_deref().unwrap_or(""),
        a.currency.as_deref().unwrap_or("")
    )
}

fn event_text(e: &Event) -> String {
    format!(
        "{} {} {} {}{}",
        e.kind.as_str(),
        e.status.as_str(),
        e.occurred_at.to_rfc3339(),
        e.amount
            .map(|a| a.normalize().to_string())
            .unwrap_or_default(),
        e.currency
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default()
    )
}

/// The key and the content of a reference row (`None` for aggregates and events).
fn reference(r: &Row) -> Option<(String, String)> {
    let day = |d: &Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    Some(match r {
        Row::Aggregate(_) | Row::Event(_) => return None,
        Row::Crosswalk(x) => (
            format!("crosswalk new={} from={}", x.new, day(&x.valid_from)),
            format!("old={} to={}", x.old, day(&x.valid_to)),
        ),
        Row::Rate(x) => (
            format!("rate {} {}", x.currency, x.day),
            x.rate.normalize().to_string(),
        ),
        Row::Hierarchy(x) => (
            format!("hierarchy {} from={}", x.partner, day(&x.valid_from)),
            format!(
                "parent={} to={}",
                x.parent.as_deref().unwrap_or(""),
                day(&x.valid_to)
            ),
        ),
        Row::Record(x) => (
            format!("record {}", x.id),
            x.fields
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    })
}

/// Compares `before` with `after` (rows of two snapshots of one source).
/// Duplicate aggregate rows of a key are summed; a key whose sum leaves the decimal range
/// is shown at the range's end and always counts as changed (never claimed the same).
pub fn diff_rows(before: &[Row], after: &[Row]) -> SnapshotDiff {
    let mut aggs: BTreeMap<String, (Option<Decimal>, Option<Decimal>)> = BTreeMap::new();
    let mut overflowed: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut events: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    let mut refs: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for (side, rows) in [(0, before), (1, after)] {
        for r in rows {
            match r {
                Row::Aggregate(a) => {
                    let key = agg_key(a);
                    let e = aggs.entry(key.clone()).or_default();
                    let slot = if side == 0 { &mut e.0 } else { &mut e.1 };
                    let sum = slot.unwrap_or_default();
                    *slot = Some(match sum.checked_add(a.value) {
                        Some(v) => v,
                        None => {
                            overflowed.insert(key);
                            sum.saturating_add(a.value)
                        }
                    });
                }
                Row::Event(ev) => {
                    let e = events.entry(ev.id.clone()).or_default();
                    let slot = if side == 0 { &mut e.0 } else { &mut e.1 };
                    *slot = Some(event_text(ev));
                }
                other => {
                    if let Some((key, text)) = reference(other) {
                        let e = refs.entry(key).or_default();
                        let slot = if side == 0 { &mut e.0 } else { &mut e.1 };
                        *slot = Some(text);
                    }
                }
            }
        }
    }
    let mut d = SnapshotDiff::default();
    let mut count = |b: bool, a: bool, same: bool| match (b, a) {
        (false, true) => d.added += 1,
        (true, false) => d.removed += 1,
        _ if same => d.unchanged += 1,
        _ => d.changed += 1,
    };
    let mut changes = Vec::new();
    for (key, (b, a)) in aggs {
        let same =
            !overflowed.contains(&key) && b.map(|x| x.normalize()) == a.map(|x| x.normalize());
        count(b.is_some(), a.is_some(), same);
        if !same {
            changes.push(Change::Aggregate {
                key,
                before: b,
                after: a,
            });
        }
    }
    for (id, (b, a)) in events {
        let same = b == a;
        count(b.is_some(), a.is_some(), same);
        if !same {
            changes.push(Change::Event {
                id,
                before: b,
                after: a,
            });
        }
    }
    for (key, (b, a)) in refs {
        let same = b == a;
        count(b.is_some(), a.is_some(), same);
        if !same {
            changes.push(Change::Reference {
                key,
                before: b,
                after: a,
            });
        }
    }
    d.changes = changes;
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use cutover_recon::{Aggregate, CrosswalkRow, Metric, RateRow, Record};

    fn agg(v: Decimal) -> Row {
        Row::Aggregate(Aggregate {
            partner: "p".into(),
            day: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            metric: Metric::FtdAmount,
            value: v,
            currency: Some("EUR".into()),
            link: None,
            coupon: None,
        })
    }

    /// Regression: summing duplicate rows overflowed `Decimal` (a panic in `+`) in
    /// `pull`'s comparison with the previous snapshot.
    #[test]
    fn overflow_in_sums_of_duplicates_is_a_change_not_a_panic() {
        let rows = [agg(Decimal::MAX), agg(Decimal::MAX)];
        let d = diff_rows(&rows, &rows);
        assert_eq!((d.changed, d.unchanged), (1, 0));
        let d = diff_rows(&[agg(Decimal::ONE)], &[agg(Decimal::ONE)]);
        assert_eq!((d.changed, d.unchanged), (0, 1));
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn reference_rows_are_compared_by_what_they_are_about() {
        let xw = |old: &str| {
            Row::Crosswalk(CrosswalkRow {
                old: old.into(),
                new: "70009".into(),
                valid_from: None,
                valid_to: None,
            })
        };
        let rate = |r: i64, scale: u32| {
            Row::Rate(RateRow {
                day: day("2026-10-01"),
                currency: "USD".into(),
                rate: Decimal::new(r, scale),
            })
        };
        let rec = Row::Record(Record {
            id: "c1".into(),
            fields: [("email".to_owned(), "a@b.c".to_owned())].into(),
        });
        let d = diff_rows(
            &[xw("AFF-005"), rate(85, 2), rec.clone()],
            &[
                xw("AFF-006"),
                rate(850_000, 6),
                Row::Record(Record {
                    id: "c2".into(),
                    fields: Default::default(),
                }),
            ],
        );
        assert_eq!(
            (d.added, d.removed, d.changed, d.unchanged),
            (1, 1, 1, 1),
            "{:#?}",
            d.changes
        );
        assert_eq!(
            d.changes[0],
            Change::Reference {
                key: "crosswalk new=70009 from=".into(),
                before: Some("old=AFF-005 to=".into()),
                after: Some("old=AFF-006 to=".into()),
            }
        );
        assert!(d.changes.contains(&Change::Reference {
            key: "record c1".into(),
            before: Some("email=\"a@b.c\"".into()),
            after: None,
        }));
    }
}
