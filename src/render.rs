//! How the binary shows things to a person (text) and to scripts (JSON).

use chrono::{DateTime, Utc};
use cutover_engine::{
    ConditionReport, Effect, GateReport, Notice, SignOff, Status, Waiver, current_gate, human,
};
use cutover_plan::Plan;
use cutover_store::{LogEntry, Snapshot, short_hash};
use serde::Serialize;

/// `cutover status`, as data.
#[derive(Debug, Serialize)]
pub struct StatusView {
    pub migration: String,
    pub status: Status,
    pub phase: Option<String>,
    /// 1-based position of the phase in the plan.
    pub phase_number: Option<usize>,
    pub phases: Vec<String>,
    pub goal: Option<String>,
    pub entered_at: Option<DateTime<Utc>>,
    pub next_phase: Option<String>,
    pub plan: PlanRef,
    pub gate: Option<GateReport>,
    pub signoffs: Vec<SignOff>,
    pub waivers: Vec<Waiver>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct PlanRef {
    pub version: i32,
    pub file: String,
    pub sha256: String,
}

impl StatusView {
    pub fn new(snap: &Snapshot, plan: &Plan, now: DateTime<Utc>) -> Self {
        let state = &snap.state;
        let idx = state.phase.as_deref().and_then(|p| plan.phase_index(p));
        let since = state.entered_at;
        StatusView {
            migration: snap.name.clone(),
            status: state.status,
            phase: state.phase.clone(),
            phase_number: idx.map(|i| i + 1),
            phases: plan.phases.iter().map(|p| p.id.clone()).collect(),
            goal: idx.map(|i| plan.phases[i].goal.clone()),
            entered_at: since,
            next_phase: idx
                .and_then(|i| plan.phases.get(i + 1))
                .map(|p| p.id.clone()),
            plan: PlanRef {
                version: snap.plan.version,
                file: snap.plan.file_name.clone(),
                sha256: snap.plan.hash.clone(),
            },
            gate: if state.status == Status::Active {
                current_gate(plan, state, &snap.facts, now)
            } else {
                None
            },
            signoffs: state
                .signoffs
                .iter()
                .filter(|s| {
                    s.standing()
                        && Some(&s.phase) == state.phase.as_ref()
                        && since.is_some_and(|t| s.at >= t)
                })
                .cloned()
                .collect(),
            waivers: state
                .waivers
                .iter()
                .filter(|w| w.at <= now && now < w.expires_at)
                .cloned()
                .collect(),
            now,
        }
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let phase = clean(self.phase.as_deref().unwrap_or("-"));
        out.push_str(&format!(
            "Migration {}: {}, phase {}/{} {}",
            clean(&self.migration.to_string()),
            self.status.as_str(),
            self.phase_number.unwrap_or(0),
            self.phases.len(),
            phase
        ));
        if let Some(t) = self.entered_at {
            out.push_str(&format!(
                " (since {}, {})",
                t.format("%Y-%m-%d %H:%M UTC"),
                human(self.now - t)
            ));
        }
        out.push('\n');
        if let Some(goal) = &self.goal {
            out.push_str(&format!("Goal: {}\n", clean(goal)));
        }
        out.push_str(&format!(
            "Plan: version {} ({}, sha256 {})\n",
            self.plan.version,
            clean(&self.plan.file),
            short_hash(&self.plan.sha256)
        ));
        if let Some(gate) = &self.gate {
            let met = gate.conditions.iter().filter(|c| c.satisfied).count();
            out.push_str(&format!(
                "Exit conditions ({met} of {} met){}:\n",
                gate.conditions.len(),
                if gate.holds { ", gate holds" } else { "" }
            ));
            for c in &gate.conditions {
                condition_lines(c, 1, &mut out);
            }
        }
        match (&self.status, &self.next_phase) {
            (Status::Active, Some(next)) => out.push_str(&format!("Next phase: {}\n", clean(next))),
            (Status::Active, None) => {
                out.push_str("Final phase: `cutover complete` once the gate holds\n")
            }
            _ => {}
        }
        out
    }
}

fn condition_lines(c: &ConditionReport, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let mark = match (c.satisfied, c.waiver) {
        (true, Some(_)) => "[w]",
        (true, None) => "[x]",
        (false, _) => "[ ]",
    };
    out.push_str(&format!(
        "{pad}{mark} {} [{}]: {}\n{pad}      {}\n",
        clean(&c.id),
        clean(&c.owners.join(", ")),
        clean(&c.requires.to_string()),
        clean(&c.reason)
    ));
    for k in &c.children {
        condition_lines(k, depth + 1, out);
    }
}

/// One line per effect, for the terminal.
pub fn effect_lines(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| effect_line(e).map(|line| clean(&line)))
        .collect()
}

fn effect_line(e: &Effect) -> Option<String> {
    match e {
        Effect::ScheduleCheck { check } => Some(format!("scheduled check {check}")),
        Effect::UnscheduleCheck { check } => Some(format!("unscheduled check {check}")),
        Effect::Notify { layers, notice } if !layers.is_empty() => Some(format!(
            "notify {} (and leads): {}",
            layers.join(", "),
            notice_text(notice)
        )),
        Effect::Notify { notice, .. } => Some(format!("notify leads: {}", notice_text(notice))),
        Effect::RecordCheckRun { .. } | Effect::RecordEvidence { .. } => None,
    }
}

fn notice_text(n: &Notice) -> String {
    match n {
        Notice::PhaseEntered { phase, via, .. } => format!("entered {phase} ({via})"),
        Notice::SignedOff { phase, layer, by } => format!("{by} signed off {phase} for {layer}"),
        Notice::SignOffRevoked { phase, layer, by } => {
            format!("{by} revoked {layer}'s sign-off on {phase}")
        }
        Notice::SignOffVoided {
            phase,
            layer,
            check,
        } => {
            format!("{layer}'s sign-off on {phase} voided: check {check} failed")
        }
        Notice::WaiverGranted {
            condition,
            by,
            expires,
        } => format!("{by} waived {condition} until {expires}"),
        Notice::CheckRecorded { check, outcome, by } => {
            format!("{by} recorded {check}: {outcome}")
        }
        Notice::Aborted { phase, by, reason } => format!("{by} aborted in {phase}: {reason}"),
        Notice::Completed { phase, by } => format!("{by} completed the migration from {phase}"),
        Notice::PlanApplied {
            version,
            by,
            change,
        } => format!("{by} applied plan version {version} ({change})"),
    }
}

/// One line per log entry.
pub fn entry_line(e: &LogEntry) -> String {
    let phases = match (&e.from_phase, &e.to_phase) {
        (Some(a), Some(b)) if a != b => format!("{a} -> {b}"),
        (_, Some(b)) => b.clone(),
        (Some(a), None) => a.clone(),
        (None, None) => "-".into(),
    };
    let summary = e.summary.lines().next().unwrap_or_default();
    format!(
        "#{:<3} {} {:<14} {:<8} {:<8} {:<40} {}  [{}]",
        e.seq,
        e.at.format("%Y-%m-%d %H:%M:%S UTC"),
        clean(&e.kind),
        clean(&e.result),
        clean(e.actor.as_deref().unwrap_or("-")),
        clean(&phases),
        clean(summary),
        short_hash(&e.hash)
    )
}

/// Text from the database with control characters escaped, so a stored value can never
/// move the cursor or forge a line on a terminal.
pub fn clean(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A log entry as JSON, with its JSON columns parsed.
pub fn entry_json(e: &LogEntry) -> serde_json::Value {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or(s.into());
    serde_json::json!({
        "seq": e.seq,
        "at": e.at,
        "kind": e.kind,
        "result": e.result,
        "actor": e.actor,
        "from_phase": e.from_phase,
        "to_phase": e.to_phase,
        "plan_version": e.plan_version,
        "summary": e.summary,
        "command": parse(&e.command),
        "effects": parse(&e.effects),
        "facts": parse(&e.facts),
        "state": parse(&e.state),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
        "mac": e.mac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `&hash[..12]` panicked when byte 12 fell inside a multi-byte character.
    #[test]
    fn short_hash_of_non_ascii_text() {
        assert_eq!(short_hash("0123456789abcdef0123"), "0123456789abcdef");
        assert_eq!(short_hash("ab"), "ab");
        // Never a panic, and nothing printed raw that is not a hex digit.
        let shown = short_hash("0123456789aé€😀\x1b[2J");
        assert!(shown.is_ascii(), "{shown}");
        assert!(!shown.contains('\x1b'), "{shown}");
    }
}
