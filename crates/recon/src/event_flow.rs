//! `event_flow`: each expected event type arrives in the new platform, its volume is within
//! a band of the old platform's, there is no gap longer than N hours between events, and
//! the latest event is fresh.

use chrono::{DateTime, TimeDelta, Utc};
use cutover_plan::Outcome;
use rust_decimal::Decimal;

use crate::check::{CheckResult, Finding, worst};
use crate::model::{Event, EventType};

/// Settings of the `event_flow` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFlowConfig {
    pub expect: Vec<EventType>,
    /// new/old volume must lie within [min_ratio, max_ratio].
    pub min_ratio: Decimal,
    pub max_ratio: Decimal,
    /// Longest allowed silence between two events of a type (within the window).
    pub max_gap: Option<TimeDelta>,
    /// The newest event of each type must be at most this old at `now`.
    pub fresh_within: Option<TimeDelta>,
}

impl Default for EventFlowConfig {
    fn default() -> Self {
        EventFlowConfig {
            expect: vec![
                EventType::Click,
                EventType::Registration,
                EventType::Ftd,
                EventType::Deposit,
            ],
            min_ratio: Decimal::new(95, 2),
            max_ratio: Decimal::new(105, 2),
            max_gap: None,
            fresh_within: None,
        }
    }
}

/// Runs the check over a window of events ending at `now`.
pub fn event_flow(
    old: &[Event],
    new: &[Event],
    now: DateTime<Utc>,
    cfg: &EventFlowConfig,
) -> CheckResult {
    if old.is_empty() && new.is_empty() {
        return CheckResult::inconclusive("no events in either system");
    }
    let mut outcome = Outcome::Pass;
    let mut findings = Vec::new();
    for &t in &cfg.expect {
        let mut times: Vec<DateTime<Utc>> = new
            .iter()
            .filter(|e| e.kind == t)
            .map(|e| e.occurred_at)
            .collect();
        let n_old = old.iter().filter(|e| e.kind == t).count();
        if times.is_empty() {
            outcome = Outcome::Fail;
            findings.push(
                Finding::new(
                    "missing_type",
                    t.as_str(),
                    format!(
                        "no {} events in the new platform (old has {n_old})",
                        t.as_str()
                    ),
                )
                .values(Some(n_old.into()), Some(Decimal::ZERO)),
            );
            continue;
        }
        if n_old > 0 {
            let ratio = Decimal::from(times.len()) / Decimal::from(n_old);
            if ratio < cfg.min_ratio || ratio > cfg.max_ratio {
                outcome = worst(outcome, Outcome::Fail);
                findings.push(
                    Finding::new(
                        "volume_out_of_band",
                        t.as_str(),
                        format!(
                            "new/old = {}/{} = {} outside [{}, {}]",
                            times.len(),
                            n_old,
                            ratio.round_dp(3),
                            cfg.min_ratio,
                            cfg.max_ratio
                        ),
                    )
                    .values(Some(n_old.into()), Some(times.len().into())),
                );
            }
        }
        times.sort_unstable();
        if let Some(max_gap) = cfg.max_gap {
            let longest = times
                .windows(2)
                .map(|w| (w[1] - w[0], w[0]))
                .max_by_key(|(g, _)| *g);
            if let Some((gap, at)) = longest.filter(|(g, _)| *g > max_gap) {
                outcome = worst(outcome, Outcome::Warn);
                findings.push(Finding::new(
                    "gap",
                    t.as_str(),
                    format!(
                        "no {} events for {} h after {at}",
                        t.as_str(),
                        gap.num_minutes() as f64 / 60.0
                    ),
                ));
            }
        }
        if let (Some(fresh), Some(last)) = (cfg.fresh_within, times.last())
            && now - *last > fresh
        {
            outcome = worst(outcome, Outcome::Warn);
            findings.push(Finding::new(
                "stale",
                t.as_str(),
                format!("latest {} event at {last}", t.as_str()),
            ));
        }
    }
    let reason = if findings.is_empty() {
        format!("{} event types flowing", cfg.expect.len())
    } else {
        let codes: Vec<String> = findings
            .iter()
            .map(|f| format!("{} {}", f.code, f.subject))
            .collect();
        codes.join("; ")
    };
    CheckResult::new(outcome, reason, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventStatus;
    use chrono::TimeZone;

    fn ev(kind: EventType, hour: u32) -> Event {
        Event {
            id: format!("{hour}"),
            kind,
            occurred_at: Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0).unwrap(),
            recorded_at: None,
            status: EventStatus::Approved,
            partner: Some("p".into()),
            link: None,
            coupon: None,
            customer: None,
            click_id: None,
            order_id: None,
            amount: None,
            currency: None,
        }
    }

    fn cfg() -> EventFlowConfig {
        EventFlowConfig {
            expect: vec![EventType::Click, EventType::Ftd],
            max_gap: Some(TimeDelta::hours(6)),
            fresh_within: Some(TimeDelta::hours(2)),
            ..EventFlowConfig::default()
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 23, 0, 0).unwrap()
    }

    #[test]
    fn steady_flow_passes() {
        let evs: Vec<Event> = (0..23)
            .flat_map(|h| [ev(EventType::Click, h), ev(EventType::Ftd, h)])
            .collect();
        let r = event_flow(&evs, &evs, now(), &cfg());
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.reason);
    }

    #[test]
    fn missing_type_volume_gap_and_staleness() {
        let old: Vec<Event> = (0..23)
            .flat_map(|h| [ev(EventType::Click, h), ev(EventType::Ftd, h)])
            .collect();
        // New: no FTDs; clicks stop at 10:00 and only half the volume.
        let new: Vec<Event> = (0..11).map(|h| ev(EventType::Click, h)).collect();
        let r = event_flow(&old, &new, now(), &cfg());
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.count("missing_type"), 1);
        assert_eq!(r.count("volume_out_of_band"), 1);
        assert_eq!(r.count("stale"), 1);
        let gappy: Vec<Event> = [0, 1, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]
            .into_iter()
            .flat_map(|h| [ev(EventType::Click, h), ev(EventType::Ftd, h)])
            .collect();
        let r = event_flow(&gappy, &gappy, now(), &cfg());
        assert_eq!((r.outcome, r.count("gap")), (Outcome::Warn, 2));
        assert_eq!(
            event_flow(&[], &[], now(), &cfg()).outcome,
            Outcome::Inconclusive
        );
    }
}
