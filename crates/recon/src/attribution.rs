//! `attribution`: listed top-partner links and coupon codes attribute to the expected
//! partner in the new platform (events carrying the link/coupon land on that partner), and
//! the new platform agrees with the old one.

use std::collections::BTreeMap;

use cutover_plan::Outcome;

use crate::check::{CheckResult, Finding, worst};
use crate::model::Event;

/// What is tracked: a link token or a coupon code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracker {
    Link(String),
    Coupon(String),
}

impl Tracker {
    fn of<'a>(&self, e: &'a Event) -> Option<&'a str> {
        match self {
            Tracker::Link(_) => e.link.as_deref(),
            Tracker::Coupon(_) => e.coupon.as_deref(),
        }
    }
    fn value(&self) -> &str {
        match self {
            Tracker::Link(s) | Tracker::Coupon(s) => s,
        }
    }
    fn label(&self) -> String {
        match self {
            Tracker::Link(s) => format!("link {s}"),
            Tracker::Coupon(s) => format!("coupon {s}"),
        }
    }
}

/// One expectation: events with `tracker` belong to `partner` (canonical id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub tracker: Tracker,
    pub partner: String,
}

/// Settings of the `attribution` check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributionConfig {
    pub expect: Vec<Expectation>,
    /// A tracker with no events in the new platform: warn (default) or fail.
    pub fail_on_no_events: bool,
}

fn partners_of(t: &Tracker, events: &[Event]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in events {
        if t.of(e) == Some(t.value()) {
            let p = e.partner.clone().unwrap_or_else(|| "(none)".into());
            *m.entry(p).or_default() += 1;
        }
    }
    m
}

fn show(m: &BTreeMap<String, u64>) -> String {
    let v: Vec<String> = m.iter().map(|(p, n)| format!("{p}×{n}")).collect();
    v.join(", ")
}

/// Events are canonical (partners already mapped).
pub fn attribution(old: &[Event], new: &[Event], cfg: &AttributionConfig) -> CheckResult {
    if cfg.expect.is_empty() {
        return CheckResult::inconclusive("no links or coupons listed");
    }
    let mut outcome = Outcome::Pass;
    let mut findings = Vec::new();
    let mut with_events = 0;
    for x in &cfg.expect {
        let (o, n) = (partners_of(&x.tracker, old), partners_of(&x.tracker, new));
        if n.is_empty() {
            outcome = worst(
                outcome,
                if cfg.fail_on_no_events {
                    Outcome::Fail
                } else {
                    Outcome::Warn
                },
            );
            findings.push(Finding::new(
                "no_events",
                x.tracker.label(),
                "no events carry it in the new platform",
            ));
            continue;
        }
        with_events += 1;
        let wrong: BTreeMap<String, u64> = n
            .iter()
            .filter(|(p, _)| **p != x.partner)
            .map(|(p, c)| (p.clone(), *c))
            .collect();
        if !wrong.is_empty() {
            outcome = Outcome::Fail;
            findings.push(Finding::new(
                "misattributed",
                x.tracker.label(),
                format!("expected {}; new attributes {}", x.partner, show(&n)),
            ));
        }
        let old_parts: Vec<&String> = o.keys().collect();
        let new_parts: Vec<&String> = n.keys().collect();
        if !o.is_empty() && old_parts != new_parts {
            outcome = worst(outcome, Outcome::Warn);
            findings.push(Finding::new(
                "disagrees_with_old",
                x.tracker.label(),
                format!("old attributes {}; new attributes {}", show(&o), show(&n)),
            ));
        }
    }
    let reason = if findings.is_empty() {
        format!("{with_events} trackers attribute as expected")
    } else {
        format!(
            "{} problems over {} trackers",
            findings.len(),
            cfg.expect.len()
        )
    };
    CheckResult::new(outcome, reason, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventStatus, EventType};
    use chrono::{TimeZone, Utc};

    fn ev(partner: &str, link: Option<&str>, coupon: Option<&str>) -> Event {
        Event {
            id: "e".into(),
            kind: EventType::Registration,
            occurred_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            recorded_at: None,
            status: EventStatus::Approved,
            partner: Some(partner.into()),
            link: link.map(Into::into),
            coupon: coupon.map(Into::into),
            customer: None,
            click_id: None,
            order_id: None,
            amount: None,
            currency: None,
        }
    }

    fn cfg() -> AttributionConfig {
        AttributionConfig {
            expect: vec![
                Expectation {
                    tracker: Tracker::Link("btag1".into()),
                    partner: "A".into(),
                },
                Expectation {
                    tracker: Tracker::Coupon("SAVE10".into()),
                    partner: "B".into(),
                },
            ],
            fail_on_no_events: false,
        }
    }

    #[test]
    fn correct_attribution_passes() {
        let evs = [ev("A", Some("btag1"), None), ev("B", None, Some("SAVE10"))];
        let r = attribution(&evs, &evs, &cfg());
        assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.findings);
    }

    #[test]
    fn coupon_landing_on_link_owner_fails() {
        let old = [
            ev("A", Some("btag1"), None),
            ev("B", Some("btag1"), Some("SAVE10")),
        ];
        // New platform gives link precedence over coupon: the coupon's event lands on A.
        let new = [
            ev("A", Some("btag1"), None),
            ev("A", Some("btag1"), Some("SAVE10")),
        ];
        let r = attribution(&old, &new, &cfg());
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.count("misattributed"), 1);
        assert_eq!(r.count("disagrees_with_old"), 2);
    }

    #[test]
    fn no_events_warns() {
        let r = attribution(&[], &[ev("A", Some("btag1"), None)], &cfg());
        assert_eq!(r.outcome, Outcome::Warn);
        assert_eq!(r.count("no_events"), 1);
    }
}
