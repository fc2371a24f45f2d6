//! The `clean_days:` exit condition: N consecutive report days (in the plan's zone),
//! ending at the latest day any run of the phase covered, on which every scheduled check
//! of the phase passed and no new material variance opened.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use cutover_plan::{Outcome, Plan, VarianceAmount};

use crate::facts::{CheckRun, Facts};

/// Why one day is not clean, or `None` when it is.
fn unclean(
    day: NaiveDate,
    checks: &[String],
    runs: &[&CheckRun],
    new_material: &[(i32, &str, NaiveDate)],
) -> Option<String> {
    let mut why = Vec::new();
    for check in checks {
        // The latest run of the check whose window covers the day decides it.
        let latest = runs
            .iter()
            .filter(|r| &r.check == check)
            .filter(|r| r.window.is_some_and(|w| w.from <= day && day <= w.to))
            .max_by_key(|r| r.recorded_at);
        match latest {
            None => why.push(format!("no run of {check} covers it")),
            Some(r) if r.outcome != Outcome::Pass => why.push(format!(
                "{check} {} (run of {})",
                r.outcome,
                r.recorded_at.format("%Y-%m-%d %H:%M UTC")
            )),
            Some(_) => {}
        }
    }
    let opened: Vec<String> = new_material
        .iter()
        .filter(|(_, _, d)| *d == day)
        .map(|(id, metric, _)| format!("#{id} {metric}"))
        .collect();
    if !opened.is_empty() {
        why.push(format!("new material variance {}", opened.join(", ")));
    }
    (!why.is_empty()).then(|| why.join(", "))
}

pub(crate) fn gate(
    plan: &Plan,
    facts: &Facts,
    days: u32,
    checks: &[String],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (bool, String) {
    let runs: Vec<&CheckRun> = facts
        .check_runs
        .iter()
        .filter(|r| {
            checks.contains(&r.check)
                && r.recorded_at >= since
                && r.recorded_at <= now
                && r.window.is_some()
        })
        .collect();
    let mut covered: BTreeSet<NaiveDate> = BTreeSet::new();
    for r in &runs {
        if let Some(w) = r.window {
            let mut d = w.from;
            // A window is at most a few months; the bound keeps a bad one from looping long.
            let mut n = 0;
            while d <= w.to && n < 400 {
                covered.insert(d);
                match d.succ_opt() {
                    Some(next) => d = next,
                    None => break,
                }
                n += 1;
            }
        }
    }
    let Some(&last) = covered.iter().next_back() else {
        return (
            false,
            format!(
                "0 of {days} clean days: no run of {} since the phase was entered",
                checks.join(", ")
            ),
        );
    };
    // Material variances first seen in this phase, by their report day.
    let amounts: Vec<VarianceAmount<'_>> = facts
        .variances
        .iter()
        .map(|v| VarianceAmount {
            metric: &v.metric,
            old: v.old,
            delta: v.delta,
        })
        .collect();
    let material = plan.variance_policy.material(&amounts);
    let new_material: Vec<(i32, &str, NaiveDate)> = facts
        .variances
        .iter()
        .zip(material)
        .filter(|(v, m)| *m && v.first_seen.is_some_and(|f| f >= since && f <= now))
        .map(|(v, _)| (v.id, v.metric.as_str(), v.day))
        .collect();
    let mut streak = 0u32;
    let mut day = last;
    let mut breaker = None;
    while streak < days {
        match unclean(day, checks, &runs, &new_material) {
            Some(why) => {
                breaker = Some((day, why));
                break;
            }
            None => streak += 1,
        }
        match day.pred_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    if streak >= days {
        let first = last - chrono::Days::new(u64::from(days) - 1);
        return (
            true,
            format!(
                "{days} clean days ({first} to {last}): {} passed, no new material variance",
                checks.join(", ")
            ),
        );
    }
    let tail = match breaker {
        Some((d, why)) => format!("{d} is not clean: {why}"),
        None => "no earlier day".to_string(),
    };
    (
        false,
        format!("{streak} of {days} clean days up to {last}; {tail}"),
    )
}
