//! `event_match`: event-level matching between the systems by click, order or player id,
//! to drill into an aggregate variance: missing in new, missing in old, amount differs,
//! status differs, attributed to another partner, and amounts in different currencies
//! (`currency_mismatch`: never compared as if they were in one).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::check::{CheckResult, Finding, Thresholds};
use crate::csvrecon::currency_detail;
use crate::model::Event;

/// Which id pairs an old event with a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchBy {
    #[default]
    ClickId,
    OrderId,
    Customer,
    EventId,
}

impl MatchBy {
    fn key(self, e: &Event) -> Option<String> {
        let id = match self {
            MatchBy::ClickId => e.click_id.as_deref(),
            MatchBy::OrderId => e.order_id.as_deref(),
            MatchBy::Customer => e.customer.as_deref(),
            MatchBy::EventId => Some(e.id.as_str()),
        }?;
        // Same id, different event types are different events (a player's FTD vs deposit).
        Some(format!("{}:{id}", e.kind.as_str()))
    }
}

/// Settings of the `event_match` check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventMatchConfig {
    pub by: MatchBy,
    pub amount_tolerance: Decimal,
    pub thresholds: Thresholds,
}

/// Events are canonical (partners mapped). Amounts are compared when both sides carry
/// one in the same currency; in different currencies the pair is a `currency_mismatch`.
pub fn event_match(old: &[Event], new: &[Event], cfg: &EventMatchConfig) -> CheckResult {
    if old.is_empty() || new.is_empty() {
        return CheckResult::inconclusive("a system has no events");
    }
    let index = |evs: &[Event]| -> (BTreeMap<String, Event>, u64) {
        let mut m = BTreeMap::new();
        let mut keyless = 0;
        for e in evs {
            match cfg.by.key(e) {
                Some(k) => {
                    m.insert(k, e.clone());
                }
                None => keyless += 1,
            }
        }
        (m, keyless)
    };
    let ((o, ok), (n, nk)) = (index(old), index(new));
    let mut findings = Vec::new();
    for (k, oe) in &o {
        let Some(ne) = n.get(k) else {
            findings.push(Finding::new("missing_in_new", k, "").values(oe.amount, None));
            continue;
        };
        match (oe.amount, ne.amount) {
            (Some(_), Some(_)) if oe.currency != ne.currency => {
                let cur = |e: &Event| vec![e.currency.clone().unwrap_or_default()];
                findings.push(
                    Finding::new("currency_mismatch", k, currency_detail(&cur(oe), &cur(ne)))
                        .values(oe.amount, ne.amount),
                );
            }
            (Some(a), Some(b)) => {
                // A difference beyond the decimal range exceeds any tolerance.
                if b.checked_sub(a)
                    .is_none_or(|d| d.abs() > cfg.amount_tolerance)
                {
                    findings
                        .push(Finding::new("amount_differs", k, "").values(oe.amount, ne.amount));
                }
            }
            (None, None) => {}
            _ => findings.push(Finding::new("amount_differs", k, "").values(oe.amount, ne.amount)),
        }
        if ne.status != oe.status {
            findings.push(Finding::new(
                "status_differs",
                k,
                format!("old {}, new {}", oe.status.as_str(), ne.status.as_str()),
            ));
        }
        if ne.partner != oe.partner {
            findings.push(Finding::new(
                "other_partner",
                k,
                format!(
                    "old {:?}, new {:?}",
                    oe.partner.as_deref().unwrap_or(""),
                    ne.partner.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    for (k, ne) in &n {
        if !o.contains_key(k) {
            findings.push(Finding::new("missing_in_old", k, "").values(None, ne.amount));
        }
    }
    if ok + nk > 0 {
        findings.push(Finding::new(
            "no_match_id",
            format!("{:?}", cfg.by),
            format!("{ok} old and {nk} new events carry no id to match by"),
        ));
    }
    let outcome = cfg.thresholds.judge(findings.len() as u64);
    let reason = format!(
        "{} old, {} new events; {} differences",
        old.len(),
        new.len(),
        findings.len()
    );
    CheckResult::new(outcome, reason, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventStatus, EventType};
    use chrono::{TimeZone, Utc};
    use cutover_plan::Outcome;

    fn ev(click: &str, partner: &str, amount: i64, status: EventStatus) -> Event {
        Event {
            id: click.into(),
            kind: EventType::Purchase,
            occurred_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            recorded_at: None,
            status,
            partner: Some(partner.into()),
            link: None,
            coupon: None,
            customer: None,
            click_id: Some(click.into()),
            order_id: None,
            amount: Some(amount.into()),
            currency: Some("EUR".into()),
        }
    }

    #[test]
    fn every_kind_of_difference() {
        use EventStatus::*;
        let old = [
            ev("c1", "A", 10, Approved),
            ev("c2", "A", 10, Approved),
            ev("c3", "A", 10, Approved),
            ev("c4", "A", 10, Approved),
        ];
        let new = [
            ev("c1", "A", 10, Approved),
            ev("c2", "A", 12, Approved),
            ev("c3", "B", 10, Pending),
            ev("c5", "A", 1, Approved),
        ];
        let cfg = EventMatchConfig {
            thresholds: Thresholds::STRICT,
            ..EventMatchConfig::default()
        };
        let r = event_match(&old, &new, &cfg);
        assert_eq!(r.outcome, Outcome::Fail);
        for (code, n) in [
            ("missing_in_new", 1),
            ("missing_in_old", 1),
            ("amount_differs", 1),
            ("status_differs", 1),
            ("other_partner", 1),
        ] {
            assert_eq!(r.count(code), n, "{code}");
        }
        assert_eq!(event_match(&old, &old, &cfg).outcome, Outcome::Pass);
    }

    /// Regression: an old and a new event with 100 EUR and 100 USD matched.
    #[test]
    fn currency_mismatch_is_a_finding() {
        use EventStatus::*;
        let old = [ev("c1", "A", 100, Approved), ev("c2", "A", 5, Approved)];
        let mut usd = ev("c1", "A", 100, Approved);
        usd.currency = Some("USD".into());
        let new = [usd, ev("c2", "A", 5, Approved)];
        let cfg = EventMatchConfig {
            thresholds: Thresholds::STRICT,
            ..EventMatchConfig::default()
        };
        let r = event_match(&old, &new, &cfg);
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.findings.len(), 1);
        let f = &r.findings[0];
        assert_eq!(
            (f.code, f.subject.as_str(), f.detail.as_str()),
            ("currency_mismatch", "purchase:c1", "old EUR, new USD")
        );
        // Amounts whose difference is beyond the decimal range differ, without a panic.
        let mut a = ev("c1", "A", 0, Approved);
        a.amount = Some(Decimal::MAX);
        let mut b = ev("c1", "A", 0, Approved);
        b.amount = Some(Decimal::MIN);
        let r = event_match(&[a], &[b], &cfg);
        assert_eq!(r.findings[0].code, "amount_differs");
    }
}
