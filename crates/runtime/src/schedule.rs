//! The scheduler's rules: which checks are scheduled (those the active phase's exit
//! conditions name, with a schedule), which cron tick of each is due, and the window a
//! tick's run covers. Re-read from the stored plan and state on every pass, so entering
//! or leaving a phase, or a plan version that changes a schedule, takes effect without a
//! restart.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use cutover_plan::{Check, CheckConfig, Plan};
use serde::{Deserialize, Serialize};

/// How many days a run covers when the check names none (`days:` of a reconcile check).
pub const DEFAULT_DAYS: u32 = 1;

/// One scheduled run of a check: the job a cron tick queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckJob {
    pub check: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The plan version whose schedule made the tick.
    pub plan_version: i32,
    /// The cron tick, in UTC.
    pub tick: DateTime<Utc>,
}

impl CheckJob {
    /// The idempotency key: one run per check, window and plan version.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/v{}",
            self.check, self.from, self.to, self.plan_version
        )
    }

    pub fn window(&self) -> cutover_sources::Window {
        cutover_sources::Window {
            from: self.from,
            to: self.to,
        }
    }
}

/// The scheduled checks of the phase `phase` (none for a phase the plan lacks).
pub fn scheduled<'p>(plan: &'p Plan, phase: &str) -> Vec<&'p Check> {
    let Some(p) = plan.phases.iter().find(|p| p.id == phase) else {
        return Vec::new();
    };
    cutover_engine::scheduled_checks(plan, p)
        .iter()
        .filter_map(|id| plan.check(id))
        .filter(|c| c.schedule.is_some())
        .collect()
}

/// The latest tick of `schedule` (read in `tz`) after `after` and at or before `now`.
pub fn due_tick(
    schedule: &cron::Schedule,
    tz: Tz,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut last = None;
    // Bounded: a schedule every second over a day of catch-up is 86,400 ticks.
    for t in schedule.after(&after.with_timezone(&tz)).take(200_000) {
        let t = t.with_timezone(&Utc);
        if t > now {
            break;
        }
        last = Some(t);
    }
    last
}

/// The window a run at `tick` covers: the check's `days` (reconcile checks; else
/// [`DEFAULT_DAYS`]) ending the day before the tick's day in the plan's zone.
pub fn window_for(plan: &Plan, check: &Check, tick: DateTime<Utc>) -> cutover_sources::Window {
    let days = match check.config() {
        Some(Ok(CheckConfig::Reconcile(r))) => r.days,
        _ => None,
    }
    .unwrap_or(DEFAULT_DAYS)
    .max(1);
    let today = tick.with_timezone(&plan.timezone).date_naive();
    let to = today.checked_sub_days(Days::new(1)).unwrap_or(today);
    let from = to
        .checked_sub_days(Days::new(u64::from(days - 1)))
        .unwrap_or(to);
    cutover_sources::Window { from, to }
}

/// How far back a scheduler looks for a missed tick: `catch_up` before `now`, but never
/// before the phase was entered or the last tick already handled.
pub fn look_back(
    now: DateTime<Utc>,
    catch_up: TimeDelta,
    entered_at: Option<DateTime<Utc>>,
    last_handled: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let mut after = now - catch_up;
    for t in [entered_at, last_handled].into_iter().flatten() {
        after = after.max(t);
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn due_tick_is_the_latest_in_range_in_the_zone() {
        let s = cron::Schedule::from_str("0 30 6 * * *").unwrap();
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let now = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // 06:30 Berlin is 05:30Z in winter.
        let t = due_tick(&s, tz, now - TimeDelta::hours(24), now).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T05:30:00+00:00");
        assert_eq!(due_tick(&s, tz, t, now), None);
        // Two days missed, a day of catch-up: only the latest runs.
        let t2 = due_tick(&s, tz, now - TimeDelta::hours(3), now).unwrap();
        assert_eq!(t2, t);
        assert_eq!(due_tick(&s, tz, now - TimeDelta::hours(1), now), None);
    }

    #[test]
    fn look_back_never_reaches_before_the_phase_or_the_last_tick() {
        let now = Utc::now();
        let entered = now - TimeDelta::minutes(5);
        assert_eq!(
            look_back(now, TimeDelta::hours(1), Some(entered), None),
            entered
        );
        let last = now - TimeDelta::minutes(1);
        assert_eq!(
            look_back(now, TimeDelta::hours(1), Some(entered), Some(last)),
            last
        );
        assert_eq!(
            look_back(now, TimeDelta::seconds(10), Some(entered), None),
            now - TimeDelta::seconds(10)
        );
    }
}
