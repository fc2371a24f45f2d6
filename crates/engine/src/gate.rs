//! Exit-condition (gate) evaluation: which conditions of a phase hold now, and why not.

use chrono::{DateTime, TimeDelta, Utc};
use cutover_plan::{Condition, ConditionKind, Outcome, Phase, Plan, VarianceAmount, VarianceGate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::facts::{CheckRun, Facts, VarianceFact};
use crate::state::MigrationState;

/// The evaluation of one phase's exit conditions at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    pub phase: String,
    pub at: DateTime<Utc>,
    /// Runs, sign-offs and durations count from this instant (when the phase was entered).
    pub since: DateTime<Utc>,
    pub holds: bool,
    pub conditions: Vec<ConditionReport>,
}

/// One condition's evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionReport {
    pub id: String,
    pub owners: Vec<String>,
    /// What the condition asks for, in words.
    pub requires: String,
    pub satisfied: bool,
    /// Set when an unexpired waiver satisfies the condition.
    pub waiver: Option<u32>,
    /// One line: why it holds or what is missing.
    pub reason: String,
    pub children: Vec<ConditionReport>,
}

/// An unmet condition, as listed in a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmet {
    pub phase: String,
    pub condition: String,
    pub owners: Vec<String>,
    pub reason: String,
}

impl GateReport {
    /// Every top-level condition that does not hold.
    pub fn unmet(&self) -> Vec<Unmet> {
        self.conditions
            .iter()
            .filter(|c| !c.satisfied)
            .map(|c| Unmet {
                phase: self.phase.clone(),
                condition: c.id.clone(),
                owners: c.owners.clone(),
                reason: c.reason.clone(),
            })
            .collect()
    }
}

/// Evaluates `phase`'s exit conditions at `now`, counting evidence from `since`.
pub fn evaluate(
    plan: &Plan,
    state: &MigrationState,
    facts: &Facts,
    phase: &Phase,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> GateReport {
    let ctx = Ctx {
        plan,
        state,
        facts,
        phase,
        since,
        now,
    };
    let conditions: Vec<ConditionReport> = phase.exit.iter().map(|c| ctx.condition(c)).collect();
    GateReport {
        phase: phase.id.clone(),
        at: now,
        since,
        holds: conditions.iter().all(|c| c.satisfied),
        conditions,
    }
}

struct Ctx<'a> {
    plan: &'a Plan,
    state: &'a MigrationState,
    facts: &'a Facts,
    phase: &'a Phase,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn condition(&self, c: &Condition) -> ConditionReport {
        let (satisfied, reason, children) = self.kind(&c.kind);
        let mut report = ConditionReport {
            id: c.id.clone(),
            owners: c.owners.clone(),
            requires: describe(&c.kind),
            satisfied,
            waiver: None,
            reason,
            children,
        };
        if !report.satisfied
            && let Some(w) = self
                .state
                .waivers
                .iter()
                .rev()
                .find(|w| w.condition == c.id && w.at <= self.now && self.now < w.expires_at)
        {
            report.satisfied = true;
            report.waiver = Some(w.seq);
            report.reason = format!(
                "waived by {} until {} ({}); otherwise: {}",
                w.by, w.expires, w.justification, report.reason
            );
        }
        report
    }

    fn kind(&self, kind: &ConditionKind) -> (bool, String, Vec<ConditionReport>) {
        match kind {
            ConditionKind::CheckOutcome {
                check,
                outcomes,
                consecutive,
                fresh_within,
            } => {
                let (ok, reason) = self.check(check, outcomes, *consecutive, *fresh_within);
                (ok, reason, Vec::new())
            }
            ConditionKind::SignOff { layers } => {
                let missing: Vec<&str> = layers
                    .iter()
                    .filter(|l| !self.signed(l))
                    .map(String::as_str)
                    .collect();
                if missing.is_empty() {
                    (true, format!("signed off by {}", layers.join(", ")), vec![])
                } else {
                    (
                        false,
                        format!("awaiting sign-off from {}", missing.join(", ")),
                        vec![],
                    )
                }
            }
            ConditionKind::MinDuration(min) => {
                let spent = self.now - self.since;
                if spent >= *min {
                    (
                        true,
                        format!("in phase for {} (minimum {})", human(spent), human(*min)),
                        vec![],
                    )
                } else {
                    (
                        false,
                        format!(
                            "in phase for {} of {}; holds from {}",
                            human(spent),
                            human(*min),
                            (self.since + *min).format("%Y-%m-%d %H:%M UTC")
                        ),
                        vec![],
                    )
                }
            }
            ConditionKind::Variances(g) => {
                let (ok, reason) = self.variances(g);
                (ok, reason, Vec::new())
            }
            ConditionKind::Inventory => {
                let (ok, reason) = crate::inventory::gate(self.plan, self.facts);
                (ok, reason, Vec::new())
            }
            ConditionKind::CleanDays { days, checks } => {
                let (ok, reason) = crate::clean_days::gate(
                    self.plan, self.facts, *days, checks, self.since, self.now,
                );
                (ok, reason, Vec::new())
            }
            ConditionKind::Any(kids) | ConditionKind::All(kids) => {
                let any = matches!(kind, ConditionKind::Any(_));
                let reports: Vec<ConditionReport> =
                    kids.iter().map(|k| self.condition(k)).collect();
                let ok = if any {
                    reports.iter().any(|r| r.satisfied)
                } else {
                    reports.iter().all(|r| r.satisfied)
                };
                let failing: Vec<String> = reports
                    .iter()
                    .filter(|r| !r.satisfied)
                    .map(|r| format!("{}: {}", r.id, r.reason))
                    .collect();
                let reason = if ok {
                    let met: Vec<&str> = reports
                        .iter()
                        .filter(|r| r.satisfied)
                        .map(|r| r.id.as_str())
                        .collect();
                    format!("met by {}", met.join(", "))
                } else if any {
                    format!("none holds: {}", failing.join("; "))
                } else {
                    format!("not all hold: {}", failing.join("; "))
                };
                (ok, reason, reports)
            }
        }
    }

    /// The register's material variances in `g`'s scope that are not accepted by every
    /// layer required (or whose explanation has expired), at most `unexplained_material`.
    fn variances(&self, g: &VarianceGate) -> (bool, String) {
        let live = &self.facts.variances;
        let amounts: Vec<VarianceAmount<'_>> = live
            .iter()
            .map(|v| VarianceAmount {
                metric: &v.metric,
                old: v.old,
                delta: v.delta,
            })
            .collect();
        let material = self.plan.variance_policy.material(&amounts);
        let today = self.now.with_timezone(&self.plan.timezone).date_naive();
        let mut in_scope = 0usize;
        let mut immaterial = 0usize;
        let mut blocking: Vec<(&VarianceFact, Option<String>, Vec<String>)> = Vec::new();
        for (v, m) in live.iter().zip(material) {
            let owner = self.plan.metric_owner(&v.check, &v.metric);
            if !g.covers(&v.metric, owner.as_deref()) {
                continue;
            }
            in_scope += 1;
            if !m {
                immaterial += 1;
                continue;
            }
            let required: Vec<String> = if g.accepted_by.is_empty() {
                owner.iter().cloned().collect()
            } else {
                g.accepted_by.clone()
            };
            let missing: Vec<String> = required
                .iter()
                .filter(|l| !v.accepted_layers.contains(l))
                .cloned()
                .collect();
            let expired = v.expires.is_some_and(|d| d < today);
            if v.status == "accepted" && missing.is_empty() && !expired {
                continue;
            }
            let missing = if missing.is_empty() {
                required
            } else {
                missing
            };
            blocking.push((v, owner, missing));
        }
        let allowed = g.unexplained_material as usize;
        let currency = &self.plan.currency;
        if blocking.len() <= allowed {
            let accepted = in_scope - immaterial - blocking.len();
            let mut reason = format!(
                "{} unexplained material variance{} (at most {allowed}); {accepted} accepted, {immaterial} immaterial",
                blocking.len(),
                if blocking.len() == 1 { "" } else { "s" }
            );
            if blocking.is_empty() {
                reason = format!(
                    "no unexplained material variance; {accepted} accepted, {immaterial} immaterial"
                );
            }
            return (true, reason);
        }
        let impact: Decimal = blocking.iter().filter_map(|(v, ..)| v.money_impact).sum();
        const SHOWN: usize = 10;
        let mut items: Vec<String> = blocking
            .iter()
            .take(SHOWN)
            .map(|(v, owner, missing)| {
                let today_expired = v.expires.is_some_and(|d| d < today);
                let state = if v.status == "accepted" && today_expired {
                    format!(
                        "accepted, explanation expired {}",
                        v.expires.unwrap_or(today)
                    )
                } else if v.status == "accepted" || !v.accepted_layers.is_empty() {
                    format!("{}, awaiting {}", v.status, missing.join(" and "))
                } else {
                    v.status.clone()
                };
                format!(
                    "#{} {} {} {} {} delta {}{} [{state}; owner {}]",
                    v.id,
                    v.check,
                    v.partner,
                    v.day,
                    v.metric,
                    v.delta,
                    v.money_impact
                        .map(|m| format!(", impact {m} {currency}"))
                        .unwrap_or_default(),
                    owner.as_deref().unwrap_or("none")
                )
            })
            .collect();
        if blocking.len() > SHOWN {
            items.push(format!("and {} more", blocking.len() - SHOWN));
        }
        (
            false,
            format!(
                "{} unexplained material variance{} (at most {allowed}), money impact {impact} {currency}: {}",
                blocking.len(),
                if blocking.len() == 1 { "" } else { "s" },
                items.join("; ")
            ),
        )
    }

    fn signed(&self, layer: &str) -> bool {
        self.state.signoffs.iter().any(|s| {
            s.standing() && s.layer == layer && s.phase == self.phase.id && s.at >= self.since
        })
    }

    fn check(
        &self,
        check: &str,
        outcomes: &[Outcome],
        consecutive: u32,
        fresh_within: Option<TimeDelta>,
    ) -> (bool, String) {
        let mut runs: Vec<&CheckRun> = self
            .facts
            .check_runs
            .iter()
            .filter(|r| {
                r.check == check && r.recorded_at >= self.since && r.recorded_at <= self.now
            })
            .collect();
        runs.sort_by_key(|r| r.recorded_at);
        let wanted = outcome_list(outcomes);
        let Some(latest) = runs.last() else {
            return (
                false,
                format!("no run of check {check} since the phase was entered"),
            );
        };
        let counts = |o: Outcome| o.can_satisfy() && outcomes.contains(&o);
        let streak = runs.iter().rev().take_while(|r| counts(r.outcome)).count();
        let need = consecutive.max(1) as usize;
        if streak == 0 {
            return (
                false,
                format!(
                    "latest run of {check} is {} ({}), needs {wanted}",
                    latest.outcome,
                    latest.recorded_at.format("%Y-%m-%d %H:%M UTC")
                ),
            );
        }
        if streak < need {
            return (
                false,
                format!("{streak} of {need} consecutive {wanted} runs of {check} so far"),
            );
        }
        if let Some(fresh) = fresh_within {
            let age = self.now - latest.recorded_at;
            if age > fresh {
                return (
                    false,
                    format!(
                        "latest {} of {check} is {} old; must be within {}",
                        latest.outcome,
                        human(age),
                        human(fresh)
                    ),
                );
            }
        }
        if need > 1 {
            (
                true,
                format!("{streak} consecutive {wanted} runs of {check}"),
            )
        } else {
            (
                true,
                format!(
                    "{check} {} at {}",
                    latest.outcome,
                    latest.recorded_at.format("%Y-%m-%d %H:%M UTC")
                ),
            )
        }
    }
}

fn outcome_list(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(|o| o.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

/// What a condition asks for, in words (for status output).
pub fn describe(kind: &ConditionKind) -> String {
    match kind {
        ConditionKind::CheckOutcome {
            check,
            outcomes,
            consecutive,
            fresh_within,
        } => {
            let mut s = format!("check {check} is {}", outcome_list(outcomes));
            if *consecutive > 1 {
                s.push_str(&format!(" {consecutive} runs in a row"));
            }
            if let Some(f) = fresh_within {
                s.push_str(&format!(", latest within {}", human(*f)));
            }
            s
        }
        ConditionKind::SignOff { layers } => format!("sign-off by {}", layers.join(", ")),
        ConditionKind::MinDuration(d) => format!("at least {} in phase", human(*d)),
        ConditionKind::Variances(g) => {
            let mut s = format!(
                "at most {} unexplained material variance{}",
                g.unexplained_material,
                if g.unexplained_material == 1 { "" } else { "s" }
            );
            if !g.metrics.is_empty() {
                s.push_str(&format!(" of {}", g.metrics.join(", ")));
            }
            if !g.layers.is_empty() {
                s.push_str(&format!(" owned by {}", g.layers.join(", ")));
            }
            if !g.accepted_by.is_empty() {
                s.push_str(&format!(
                    ", each accepted by {}",
                    g.accepted_by.join(" and ")
                ));
            }
            s
        }
        ConditionKind::Inventory => {
            "every essential inventory item documented and confirmed by its owner".to_string()
        }
        ConditionKind::CleanDays { days, checks } => format!(
            "{days} consecutive clean days ({} passed, no new material variance)",
            checks.join(", ")
        ),
        ConditionKind::Any(k) => format!("any of {} conditions", k.len()),
        ConditionKind::All(k) => format!("all of {} conditions", k.len()),
    }
}

/// A duration as `3d 4h`, `45m` or `12s`.
pub fn human(d: TimeDelta) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins, s) = (
        secs / 86_400,
        (secs % 86_400) / 3_600,
        (secs % 3_600) / 60,
        secs % 60,
    );
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if mins > 0 && days == 0 {
        parts.push(format!("{mins}m"));
    }
    if parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}
