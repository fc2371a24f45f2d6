//! Mapping rows into one canonical vocabulary before comparing: partner id crosswalk (1:1,
//! N:1 merges, 1:N splits by date), metric label mapping, currency conversion with a named
//! rate table, and re-bucketing events into the days of a named time zone. Whatever has no
//! mapping becomes an `unmapped` finding; nothing is dropped silently. A conversion or sum
//! beyond the decimal range is an error naming the row or key.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::check::{Finding, Overflow};
use crate::model::{Aggregate, Event, EventStatus, EventType, Metric, MetricVocabulary, System};

/// One crosswalk line: `system`'s id `external` is canonical partner `canonical` from
/// `from` (inclusive) to `to` (exclusive), both optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrosswalkEntry {
    pub system: System,
    pub external: String,
    pub canonical: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Partner id crosswalk. Several external ids may point at one canonical id (a merge);
/// one external id may point at different canonical ids over time (a split).
#[derive(Debug, Clone, Default)]
pub struct PartnerCrosswalk {
    by_external: HashMap<(System, String), Vec<CrosswalkEntry>>,
    /// Systems whose ids are canonical as they are (usually the old platform).
    identity: Vec<System>,
}

impl PartnerCrosswalk {
    pub fn new(entries: impl IntoIterator<Item = CrosswalkEntry>) -> Self {
        let mut by_external: HashMap<(System, String), Vec<CrosswalkEntry>> = HashMap::new();
        for e in entries {
            by_external
                .entry((e.system, e.external.clone()))
                .or_default()
                .push(e);
        }
        PartnerCrosswalk {
            by_external,
            identity: Vec::new(),
        }
    }

    /// Ids of `system` without an entry map to themselves.
    pub fn with_identity(mut self, system: System) -> Self {
        self.identity.push(system);
        self
    }

    /// The canonical partner of `system`'s `id` on `day`.
    pub fn map<'a>(&'a self, system: System, id: &'a str, day: NaiveDate) -> Option<&'a str> {
        if let Some(entries) = self.by_external.get(&(system, id.to_owned())) {
            return entries
                .iter()
                .find(|e| e.from.is_none_or(|f| f <= day) && e.to.is_none_or(|t| day < t))
                .map(|e| e.canonical.as_str());
        }
        self.identity.contains(&system).then_some(id)
    }
}

/// Platform labels -> metrics (old "Signups" = new "registrations"). A label that is not
/// mapped is a metric's own name: a canonical one, or one the vocabulary declares.
#[derive(Debug, Clone, Default)]
pub struct MetricMap {
    labels: HashMap<(System, String), Metric>,
    vocabulary: MetricVocabulary,
}

impl MetricMap {
    pub fn new() -> Self {
        MetricMap::default()
    }

    /// Also accept the metrics `vocabulary` declares under their own names.
    pub fn with_vocabulary(mut self, vocabulary: MetricVocabulary) -> Self {
        self.vocabulary = vocabulary;
        self
    }

    pub fn label(mut self, system: System, label: &str, metric: Metric) -> Self {
        self.labels.insert((system, label.to_owned()), metric);
        self
    }

    /// A mapped label, else a canonical or declared metric's name itself.
    pub fn map(&self, system: System, label: &str) -> Option<Metric> {
        self.labels
            .get(&(system, label.to_owned()))
            .cloned()
            .or_else(|| {
                self.vocabulary
                    .is_known(label)
                    .then(|| label.parse().ok())
                    .flatten()
            })
    }

    /// Like [`MetricMap::map`], but an unknown label is an `unmapped_metric` finding.
    pub fn map_or_finding(&self, system: System, label: &str) -> Result<Metric, Box<Finding>> {
        self.map(system, label).ok_or_else(|| {
            Box::new(Finding::new(
                "unmapped_metric",
                format!("{system}:{label}"),
                format!("{system} label \"{label}\" maps to no metric; add it under labels"),
            ))
        })
    }
}

/// A named table of FX rates: `rate(currency, day)` converts one unit of `currency` into
/// the table's base currency. The rate of a day is the latest one on or before it; with a
/// maximum gap set, a rate older than that many days is not carried to the day (a
/// `rate_gap` finding instead of a silent carry).
#[derive(Debug, Clone)]
pub struct RateTable {
    pub name: String,
    pub base: String,
    rates: BTreeMap<(String, NaiveDate), Decimal>,
    max_gap_days: Option<u32>,
}

/// Why an amount could not be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRate {
    /// No rate of the currency on or before the day.
    Missing,
    /// The latest rate, of `since`, is more days before the day than the table allows.
    Gap { since: NaiveDate, days: i64 },
    /// The converted amount is beyond the decimal range.
    Overflow,
}

impl RateTable {
    pub fn new(name: &str, base: &str) -> Self {
        RateTable {
            name: name.to_owned(),
            base: base.to_owned(),
            rates: BTreeMap::new(),
            max_gap_days: None,
        }
    }

    pub fn rate(mut self, currency: &str, from: NaiveDate, rate: Decimal) -> Self {
        self.rates.insert((currency.to_owned(), from), rate);
        self
    }

    /// A rate is carried forward at most `days` days (a Friday rate covers a Monday with
    /// `days` = 3).
    pub fn max_gap(mut self, days: u32) -> Self {
        self.max_gap_days = Some(days);
        self
    }

    /// The latest rate of `currency` on or before `day`, with its day (the base
    /// currency: 1 on `day`).
    pub fn lookup(&self, currency: &str, day: NaiveDate) -> Option<(NaiveDate, Decimal)> {
        if currency == self.base {
            return Some((day, Decimal::ONE));
        }
        self.rates
            .range((currency.to_owned(), NaiveDate::MIN)..=(currency.to_owned(), day))
            .next_back()
            .map(|((_, d), r)| (*d, *r))
    }

    pub fn get(&self, currency: &str, day: NaiveDate) -> Option<Decimal> {
        self.lookup(currency, day).map(|(_, r)| r)
    }

    /// `None`: no rate; `Some(Err)`: the converted amount is beyond the decimal range.
    /// Ignores the maximum gap (see [`RateTable::to_base`]).
    pub fn convert(
        &self,
        amount: Decimal,
        currency: &str,
        day: NaiveDate,
    ) -> Option<Result<Decimal, Overflow>> {
        self.get(currency, day)
            .map(|r| amount.checked_mul(r).ok_or(Overflow))
    }

    /// `amount` of `currency` on `day` in the base currency, honouring the maximum gap.
    pub fn to_base(
        &self,
        amount: Decimal,
        currency: &str,
        day: NaiveDate,
    ) -> Result<Decimal, NoRate> {
        let (since, rate) = self.lookup(currency, day).ok_or(NoRate::Missing)?;
        let days = (day - since).num_days();
        if self.max_gap_days.is_some_and(|max| days > i64::from(max)) {
            return Err(NoRate::Gap { since, days });
        }
        amount.checked_mul(rate).ok_or(NoRate::Overflow)
    }
}

/// How to bring one system's aggregates into the canonical form.
pub struct Normaliser<'a> {
    pub system: System,
    pub crosswalk: &'a PartnerCrosswalk,
    pub rates: Option<&'a RateTable>,
}

impl Normaliser<'_> {
    /// Maps partners and converts money; unmapped partners and unconvertible currencies
    /// become findings and the row is kept out of the comparison (reported, not lost).
    /// Findings name the partner as the crosswalk maps it when it does (the old
    /// platform's id). `Err` names a row whose converted value is beyond the decimal range.
    pub fn aggregates(&self, rows: &[Aggregate]) -> Result<(Vec<Aggregate>, Vec<Finding>), String> {
        let mut out = Vec::with_capacity(rows.len());
        let mut findings = Vec::new();
        for r in rows {
            let Some(partner) = self.crosswalk.map(self.system, &r.partner, r.day) else {
                findings.push(
                    Finding::new(
                        "unmapped_partner",
                        format!("{}:{},{},{}", self.system, r.partner, r.day, r.metric),
                        format!(
                            "{} partner \"{}\" has no crosswalk entry on {}",
                            self.system, r.partner, r.day
                        ),
                    )
                    .values(
                        (self.system == System::Old).then_some(r.value),
                        (self.system == System::New).then_some(r.value),
                    ),
                );
                continue;
            };
            let mut row = r.clone();
            row.partner = partner.to_owned();
            // A canonical metric is money by definition; another metric is money when its
            // row carries a currency (sources set one only for metrics the plan declares
            // as money).
            let money = r.metric.is_money() || !r.metric.is_canonical();
            if let (Some(rates), true, Some(cur)) = (self.rates, money, &r.currency) {
                let subject = format!("{}:{},{},{}", self.system, partner, r.day, r.metric);
                let values = |f: Finding| {
                    f.values(
                        (self.system == System::Old).then_some(r.value),
                        (self.system == System::New).then_some(r.value),
                    )
                };
                match rates.to_base(r.value, cur, r.day) {
                    Ok(v) => {
                        row.value = v;
                        row.currency = Some(rates.base.clone());
                    }
                    Err(NoRate::Overflow) => {
                        return Err(format!(
                            "{} {},{},{}: {} {cur} converted at rate table \"{}\" is {Overflow}",
                            self.system, r.partner, r.day, r.metric, r.value, rates.name
                        ));
                    }
                    Err(NoRate::Missing) => {
                        findings.push(values(Finding::new(
                            "unmapped_currency",
                            subject,
                            format!(
                                "rate table \"{}\" has no {cur} rate on or before {}",
                                rates.name, r.day
                            ),
                        )));
                        continue;
                    }
                    Err(NoRate::Gap { since, days }) => {
                        findings.push(values(Finding::new(
                            "rate_gap",
                            subject,
                            format!(
                                "rate table \"{}\": the latest {cur} rate is of {since}, {days} days before {}, more than the {} days a rate is carried forward",
                                rates.name,
                                r.day,
                                rates.max_gap_days.unwrap_or_default()
                            ),
                        )));
                        continue;
                    }
                }
            }
            out.push(row);
        }
        Ok((out, findings))
    }

    /// Maps each event's partner (on its occurrence day in `tz`) and converts its amount.
    /// An event whose partner has no mapping, or whose amount has no usable rate, is a
    /// finding and is kept as reported (it still happened: counts and matches by id stay
    /// right, and the comparison shows what differs); events without a partner or amount
    /// pass as they are. `Err` names an event whose converted amount is beyond the range.
    pub fn events(&self, events: &[Event], tz: Tz) -> Result<(Vec<Event>, Vec<Finding>), String> {
        let mut out = Vec::with_capacity(events.len());
        let mut findings = Vec::new();
        for e in events {
            let day = e.occurred_at.with_timezone(&tz).date_naive();
            let mut ev = e.clone();
            if let Some(p) = &e.partner {
                match self.crosswalk.map(self.system, p, day) {
                    Some(mapped) => ev.partner = Some(mapped.to_owned()),
                    None => findings.push(Finding::new(
                        "unmapped_partner",
                        format!("{}:{p},{day},{}", self.system, e.kind.as_str()),
                        format!(
                            "{} partner \"{p}\" of event {} has no crosswalk entry on {day}",
                            self.system, e.id
                        ),
                    )),
                }
            }
            if let (Some(rates), Some(amount), Some(cur)) = (self.rates, e.amount, &e.currency) {
                let partner = ev.partner.clone().unwrap_or_default();
                let subject = format!("{}:{partner},{day},{}", self.system, e.kind.as_str());
                let amounts = |f: Finding| {
                    f.values(
                        (self.system == System::Old).then_some(amount),
                        (self.system == System::New).then_some(amount),
                    )
                };
                match rates.to_base(amount, cur, day) {
                    Ok(v) => {
                        ev.amount = Some(v);
                        ev.currency = Some(rates.base.clone());
                    }
                    Err(NoRate::Overflow) => {
                        return Err(format!(
                            "{} event {}: {amount} {cur} converted at rate table \"{}\" is {Overflow}",
                            self.system, e.id, rates.name
                        ));
                    }
                    Err(NoRate::Missing) => {
                        findings.push(amounts(Finding::new(
                            "unmapped_currency",
                            subject,
                            format!(
                                "event {}: rate table \"{}\" has no {cur} rate on or before {day}",
                                e.id, rates.name
                            ),
                        )));
                    }
                    Err(NoRate::Gap { since, days }) => {
                        findings.push(amounts(Finding::new(
                            "rate_gap",
                            subject,
                            format!(
                                "event {}: the latest {cur} rate of rate table \"{}\" is of {since}, {days} days before {day}, more than the {} days a rate is carried forward",
                                e.id,
                                rates.name,
                                rates.max_gap_days.unwrap_or_default()
                            ),
                        )));
                    }
                }
            }
            out.push(ev);
        }
        Ok((out, findings))
    }
}

/// Re-buckets events into daily aggregates by their occurrence day in `tz`: counts per
/// event type and amount sums for money-bearing types (per currency). Rejected events are
/// left out. `Err` names a key whose sum is beyond the decimal range.
pub fn rebucket(events: &[Event], tz: Tz) -> Result<Vec<Aggregate>, String> {
    let mut sums: BTreeMap<(String, NaiveDate, Metric, Option<String>), Decimal> = BTreeMap::new();
    for e in events {
        if e.status == EventStatus::Rejected {
            continue;
        }
        let Some(partner) = &e.partner else { continue };
        let day = e.occurred_at.with_timezone(&tz).date_naive();
        let (count, amount) = match e.kind {
            EventType::Click => (Some(Metric::ClicksGross), None),
            EventType::Registration => (Some(Metric::Registrations), None),
            EventType::Ftd => (Some(Metric::FtdCount), Some(Metric::FtdAmount)),
            EventType::Qualification => (Some(Metric::QualifiedFtd), None),
            EventType::Deposit => (Some(Metric::DepositsCount), Some(Metric::DepositsAmount)),
            EventType::Withdrawal => (None, Some(Metric::WithdrawalsAmount)),
            EventType::Purchase => (Some(Metric::Purchases), Some(Metric::PurchasesAmount)),
            EventType::Trade => (Some(Metric::Trades), None),
            EventType::Commission => (None, Some(Metric::Commission)),
            _ => (None, None),
        };
        let mut add = |key: (String, NaiveDate, Metric, Option<String>), v: Decimal| {
            let metric = key.2.clone();
            let sum = sums.entry(key).or_default();
            match sum.checked_add(v) {
                Some(s) => {
                    *sum = s;
                    Ok(())
                }
                None => Err(format!(
                    "{partner},{day},{metric}: the sum of its events up to event {} is {Overflow}",
                    e.id
                )),
            }
        };
        if let Some(m) = count {
            add((partner.clone(), day, m, None), Decimal::ONE)?;
        }
        if let (Some(m), Some(a)) = (amount, e.amount) {
            add((partner.clone(), day, m, e.currency.clone()), a)?;
        }
    }
    Ok(sums
        .into_iter()
        .map(|((partner, day, metric, currency), value)| Aggregate {
            partner,
            day,
            metric,
            value,
            currency,
            link: None,
            coupon: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn crosswalk_merges_and_dated_splits() {
        let x = PartnerCrosswalk::new([
            CrosswalkEntry {
                system: System::New,
                external: "n1".into(),
                canonical: "A".into(),
                from: None,
                to: None,
            },
            CrosswalkEntry {
                system: System::New,
                external: "n2".into(),
                canonical: "A".into(),
                from: None,
                to: None,
            },
            CrosswalkEntry {
                system: System::New,
                external: "s".into(),
                canonical: "B".into(),
                from: None,
                to: Some(day("2026-03-01")),
            },
            CrosswalkEntry {
                system: System::New,
                external: "s".into(),
                canonical: "C".into(),
                from: Some(day("2026-03-01")),
                to: None,
            },
        ])
        .with_identity(System::Old);
        let d = day("2026-02-28");
        assert_eq!(x.map(System::New, "n1", d), Some("A"));
        assert_eq!(x.map(System::New, "n2", d), Some("A"));
        assert_eq!(x.map(System::New, "s", d), Some("B"));
        assert_eq!(x.map(System::New, "s", day("2026-03-01")), Some("C"));
        assert_eq!(x.map(System::New, "zz", d), None);
        assert_eq!(x.map(System::Old, "zz", d), Some("zz"));
    }

    #[test]
    fn metric_labels() {
        let m = MetricMap::new().label(System::Old, "Signups", Metric::Registrations);
        assert_eq!(m.map(System::Old, "Signups"), Some(Metric::Registrations));
        assert_eq!(
            m.map(System::New, "registrations"),
            Some(Metric::Registrations)
        );
        assert_eq!(m.map(System::New, "Signups"), None);
        let f = m.map_or_finding(System::New, "Signups").unwrap_err();
        assert_eq!(
            (f.code, f.subject.as_str()),
            ("unmapped_metric", "new:Signups")
        );
    }

    #[test]
    fn rates_and_unmapped_findings() {
        let rates = RateTable::new("ecb", "EUR")
            .rate("USD", day("2026-01-01"), Decimal::new(92, 2))
            .rate("USD", day("2026-01-10"), Decimal::new(90, 2));
        assert_eq!(
            rates.get("USD", day("2026-01-05")),
            Some(Decimal::new(92, 2))
        );
        assert_eq!(
            rates.get("USD", day("2026-01-10")),
            Some(Decimal::new(90, 2))
        );
        assert_eq!(rates.get("USD", day("2025-12-31")), None);
        let x = PartnerCrosswalk::default().with_identity(System::New);
        let n = Normaliser {
            system: System::New,
            crosswalk: &x,
            rates: Some(&rates),
        };
        let row = |cur: &str| Aggregate {
            partner: "p".into(),
            day: day("2026-01-05"),
            metric: Metric::FtdAmount,
            value: Decimal::from(100),
            currency: Some(cur.into()),
            link: None,
            coupon: None,
        };
        let (rows, findings) = n.aggregates(&[row("USD"), row("GBP")]).unwrap();
        assert_eq!(rows[0].value, Decimal::from(92));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, "unmapped_currency");
        let none = PartnerCrosswalk::default();
        let n = Normaliser {
            system: System::New,
            crosswalk: &none,
            rates: None,
        };
        let (rows, findings) = n.aggregates(&[row("EUR")]).unwrap();
        assert!(rows.is_empty());
        assert_eq!(findings[0].code, "unmapped_partner");
    }

    #[test]
    fn rebucket_uses_the_named_zone() {
        let ev = |h: u32| Event {
            id: format!("e{h}"),
            kind: EventType::Ftd,
            occurred_at: Utc.with_ymd_and_hms(2026, 1, 1, h, 30, 0).unwrap(),
            recorded_at: None,
            status: EventStatus::Approved,
            partner: Some("p".into()),
            link: None,
            coupon: None,
            customer: None,
            click_id: None,
            order_id: None,
            amount: Some(Decimal::from(10)),
            currency: Some("EUR".into()),
        };
        // 23:30 UTC is already Jan 2 in Berlin.
        let rows = rebucket(&[ev(10), ev(23)], chrono_tz::Europe::Berlin).unwrap();
        let ftd: Vec<_> = rows
            .iter()
            .filter(|r| r.metric == Metric::FtdCount)
            .collect();
        assert_eq!(ftd.len(), 2);
        assert_eq!(ftd[1].day, day("2026-01-02"));
    }

    /// Regression: `amount * rate` and the re-bucketed sums panicked on overflow.
    #[test]
    fn overflow_in_conversion_and_sums_is_an_error_naming_the_row() {
        let rates = RateTable::new("ecb", "EUR").rate("USD", day("2026-01-01"), Decimal::from(2));
        let x = PartnerCrosswalk::default().with_identity(System::New);
        let n = Normaliser {
            system: System::New,
            crosswalk: &x,
            rates: Some(&rates),
        };
        let row = Aggregate {
            partner: "p".into(),
            day: day("2026-01-05"),
            metric: Metric::FtdAmount,
            value: Decimal::MAX,
            currency: Some("USD".into()),
            link: None,
            coupon: None,
        };
        assert_eq!(
            n.aggregates(&[row]).unwrap_err(),
            "new p,2026-01-05,ftd_amount: 79228162514264337593543950335 USD converted at rate table \"ecb\" is beyond the decimal range (±79228162514264337593543950335)"
        );
        let ev = |id: &str| Event {
            id: id.into(),
            kind: EventType::Deposit,
            occurred_at: Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap(),
            recorded_at: None,
            status: EventStatus::Approved,
            partner: Some("p".into()),
            link: None,
            coupon: None,
            customer: None,
            click_id: None,
            order_id: None,
            amount: Some(Decimal::MAX),
            currency: Some("EUR".into()),
        };
        assert_eq!(
            rebucket(&[ev("e1"), ev("e2")], chrono_tz::UTC).unwrap_err(),
            "p,2026-01-01,deposits_amount: the sum of its events up to event e2 is beyond the decimal range (±79228162514264337593543950335)"
        );
    }

    #[test]
    fn events_map_partners_convert_amounts_and_keep_what_has_no_mapping() {
        let x = PartnerCrosswalk::new([CrosswalkEntry {
            system: System::New,
            external: "701".into(),
            canonical: "AFF-1".into(),
            from: None,
            to: None,
        }]);
        let rates = RateTable::new("fx", "EUR")
            .rate("USD", day("2026-01-01"), Decimal::new(8, 1))
            .max_gap(3);
        let n = Normaliser {
            system: System::New,
            crosswalk: &x,
            rates: Some(&rates),
        };
        let ev = |id: &str, partner: &str, d: u32, cur: &str| Event {
            id: id.into(),
            kind: EventType::Ftd,
            occurred_at: Utc.with_ymd_and_hms(2026, 1, d, 10, 0, 0).unwrap(),
            recorded_at: None,
            status: EventStatus::Approved,
            partner: Some(partner.into()),
            link: None,
            coupon: None,
            customer: None,
            click_id: None,
            order_id: None,
            amount: Some(Decimal::from(10)),
            currency: Some(cur.into()),
        };
        let (out, found) = n
            .events(
                &[
                    ev("a", "701", 2, "USD"),
                    ev("b", "799", 2, "USD"),
                    ev("c", "701", 9, "USD"),
                    ev("d", "701", 2, "GBP"),
                ],
                chrono_tz::UTC,
            )
            .unwrap();
        // Every event is kept; what could not be mapped stays as reported.
        let shown: Vec<(&str, Option<&str>, String, Option<&str>)> = out
            .iter()
            .map(|e| {
                (
                    e.id.as_str(),
                    e.partner.as_deref(),
                    e.amount.unwrap().to_string(),
                    e.currency.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("a", Some("AFF-1"), "8.0".to_owned(), Some("EUR")),
                ("b", Some("799"), "8.0".to_owned(), Some("EUR")),
                ("c", Some("AFF-1"), "10".to_owned(), Some("USD")),
                ("d", Some("AFF-1"), "10".to_owned(), Some("GBP")),
            ]
        );
        let codes: Vec<(&str, &str)> = found.iter().map(|f| (f.code, f.subject.as_str())).collect();
        assert_eq!(
            codes,
            vec![
                ("unmapped_partner", "new:799,2026-01-02,ftd"),
                ("rate_gap", "new:AFF-1,2026-01-09,ftd"),
                ("unmapped_currency", "new:AFF-1,2026-01-02,ftd"),
            ]
        );
    }
}
