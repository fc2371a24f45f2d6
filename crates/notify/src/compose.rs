//! Which emails a decision implies, to whom, and what they say: built from the engine's
//! `Effect::Notify` values, the gate before and after, the check runs and their findings,
//! and the plan's people (each owner hears about their own layers only; leads hear about
//! gates and transitions).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use cutover_engine::{
    CheckRun, Command, Decision, Effect, Facts, GateReport, MigrationState, Notice, Refusal,
    current_gate,
};
use cutover_plan::{ConditionKind, Outcome, Person, Plan};
use cutover_store::{NewFinding, NewOutbox};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::render::{Rendered, render};

/// How many differences a digest lists.
pub const TOP_DIFFERENCES: usize = 10;

/// Everything a decision's emails are built from.
pub struct DecisionInput<'a> {
    pub plan: &'a Plan,
    /// The state and facts the command was decided on.
    pub state: &'a MigrationState,
    pub facts: &'a Facts,
    pub command: &'a Command,
    pub result: Result<&'a Decision, &'a Refusal>,
    /// Findings of the check run the decision records.
    pub findings: &'a [NewFinding],
    pub at: DateTime<Utc>,
}

/// A message for one person, before it is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub key: String,
    pub kind: &'static str,
    pub person: Person,
    pub rendered: Rendered,
}

impl Draft {
    /// The outbox row for this draft; `domain` is the sender's (for the `Message-ID`).
    pub fn into_outbox(self, domain: &str) -> NewOutbox {
        NewOutbox {
            key: self.key,
            kind: self.kind.to_string(),
            recipient: self.person.id.clone(),
            address: self.person.email.clone(),
            subject: self.rendered.subject,
            text: self.rendered.text,
            html: self.rendered.html,
            domain: domain.to_string(),
        }
    }
}

/// What went wrong building a message (a template that does not render).
#[derive(Debug, thiserror::Error)]
#[error("cannot render the {kind} message: {reason}")]
pub struct ComposeError {
    pub kind: String,
    pub reason: String,
}

fn rendered(
    kind: &str,
    template: &str,
    subject: String,
    ctx: &impl Serialize,
) -> Result<Rendered, ComposeError> {
    render(template, subject, ctx).map_err(|e| ComposeError {
        kind: kind.to_string(),
        reason: e.to_string(),
    })
}

#[derive(Serialize)]
struct PersonView<'a> {
    id: &'a str,
    name: &'a str,
    layers: &'a [String],
}

fn person_view(p: &Person) -> PersonView<'_> {
    PersonView {
        id: &p.id,
        name: &p.name,
        layers: &p.layers,
    }
}

/// The leads, in plan order.
pub fn leads(plan: &Plan) -> Vec<&Person> {
    plan.people.iter().filter(|p| p.lead).collect()
}

/// The people owning any of `layers`, in plan order.
pub fn owners<'p>(plan: &'p Plan, layers: &[String]) -> Vec<&'p Person> {
    plan.people
        .iter()
        .filter(|p| p.layers.iter().any(|l| layers.contains(l)))
        .collect()
}

/// `a` then `b`, each person once.
fn union<'p>(a: Vec<&'p Person>, b: Vec<&'p Person>) -> Vec<&'p Person> {
    let mut seen = BTreeSet::new();
    a.into_iter()
        .chain(b)
        .filter(|p| seen.insert(p.id.clone()))
        .collect()
}

#[derive(Serialize)]
struct EventCtx<'a> {
    migration: &'a str,
    phase: Option<&'a str>,
    person: PersonView<'a>,
    headline: String,
    lines: Vec<String>,
    action: Option<String>,
}

/// One event message (`gate_changed`, `transition`, `signoff_requested`, `waiver`,
/// `reminder`, `escalation`, `notice`) for `person`.
#[allow(clippy::too_many_arguments)]
pub fn event(
    plan: &Plan,
    phase: Option<&str>,
    kind: &'static str,
    key: String,
    person: &Person,
    headline: String,
    lines: Vec<String>,
    action: Option<String>,
) -> Result<Draft, ComposeError> {
    let subject = format!("[{}] {}", plan.migration, headline);
    let ctx = EventCtx {
        migration: &plan.migration,
        phase,
        person: person_view(person),
        headline,
        lines,
        action,
    };
    Ok(Draft {
        key,
        kind,
        person: person.clone(),
        rendered: rendered(kind, "event", subject, &ctx)?,
    })
}

#[derive(Debug, Clone, Serialize)]
struct CheckLine {
    check: String,
    layer: String,
    outcome: String,
    previous: Option<String>,
    trend: Option<&'static str>,
    window: Option<String>,
    detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Difference {
    check: String,
    code: String,
    subject: String,
    old: Option<String>,
    new: Option<String>,
    impact: Decimal,
}

#[derive(Serialize)]
struct DigestCtx<'a> {
    migration: &'a str,
    phase: Option<&'a str>,
    currency: &'a str,
    person: PersonView<'a>,
    layers: &'a [String],
    checks: Vec<CheckLine>,
    differences: Vec<Difference>,
    next: Vec<String>,
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Pass => 0,
        Outcome::Warn => 1,
        Outcome::Inconclusive => 2,
        Outcome::Fail => 3,
        Outcome::Error => 4,
    }
}

fn trend(latest: Outcome, previous: Outcome) -> &'static str {
    match rank(latest).cmp(&rank(previous)) {
        std::cmp::Ordering::Less => "better",
        std::cmp::Ordering::Equal => "unchanged",
        std::cmp::Ordering::Greater => "worse",
    }
}

/// The money a finding moves: |new - old|, or |new - expected| when there is no old value.
fn impact(f: &NewFinding) -> Option<Decimal> {
    let parse = |v: &Option<String>| v.as_deref().and_then(|s| Decimal::from_str(s.trim()).ok());
    let new = parse(&f.new);
    let base = parse(&f.old).or_else(|| parse(&f.expected));
    match (base, new) {
        (Some(a), Some(b)) => Some((b - a).abs()),
        (Some(a), None) | (None, Some(a)) => Some(a.abs()),
        (None, None) => None,
    }
}

/// The digest for `person`: the latest run of every check of their layers (with the run
/// before it, for the trend), the largest differences among `findings` (check id →
/// findings of its latest run), and what their layers must do next.
pub fn digest(
    plan: &Plan,
    state: &MigrationState,
    facts: &Facts,
    findings: &BTreeMap<String, Vec<NewFinding>>,
    person: &Person,
    key: String,
) -> Result<Draft, ComposeError> {
    let mut runs: BTreeMap<&str, Vec<&CheckRun>> = BTreeMap::new();
    for r in &facts.check_runs {
        runs.entry(r.check.as_str()).or_default().push(r);
    }
    for list in runs.values_mut() {
        list.sort_by_key(|r| r.recorded_at);
    }
    let mut checks = Vec::new();
    let mut differences = Vec::new();
    let mut next = Vec::new();
    for check in plan
        .checks
        .iter()
        .filter(|c| person.layers.contains(&c.layer))
    {
        let Some(list) = runs.get(check.id.as_str()) else {
            continue;
        };
        let latest = list[list.len() - 1];
        let previous = list.len().checked_sub(2).map(|i| list[i]);
        checks.push(CheckLine {
            check: check.id.clone(),
            layer: check.layer.clone(),
            outcome: latest.outcome.as_str().to_string(),
            previous: previous.map(|p| p.outcome.as_str().to_string()),
            trend: previous.map(|p| trend(latest.outcome, p.outcome)),
            window: latest.window.map(|w| format!("{} to {}", w.from, w.to)),
            detail: latest.detail.clone(),
        });
        match latest.outcome {
            Outcome::Fail | Outcome::Warn => next.push(format!(
                "{}: explain or accept the differences (`cutover check show {}`)",
                check.id, check.id
            )),
            Outcome::Error | Outcome::Inconclusive => next.push(format!(
                "{}: the check could not judge ({}); fix the source and run it again",
                check.id,
                latest.outcome.as_str()
            )),
            Outcome::Pass => {}
        }
        for f in findings.get(&check.id).into_iter().flatten() {
            if let Some(impact) = impact(f) {
                differences.push(Difference {
                    check: check.id.clone(),
                    code: f.code.clone(),
                    subject: f.subject.clone(),
                    old: f.old.clone(),
                    new: f.new.clone(),
                    impact,
                });
            }
        }
    }
    differences.sort_by_key(|d| std::cmp::Reverse(d.impact));
    differences.truncate(TOP_DIFFERENCES);
    let phase = state.phase.as_deref();
    if let Some(p) = phase.and_then(|id| plan.phase(id)) {
        for layer in signoff_layers(&p.exit) {
            if person.layers.contains(&layer)
                && !state
                    .signoffs
                    .iter()
                    .any(|s| s.layer == layer && s.phase == p.id && s.standing())
            {
                next.push(format!(
                    "sign off layer {layer} for phase {} once its checks are right (`cutover signoff --as {} --layer {layer}`)",
                    p.id, person.id
                ));
            }
        }
    }
    let worst = checks
        .iter()
        .filter_map(|c| Outcome::from_str(&c.outcome).ok())
        .max_by_key(|o| rank(*o));
    let subject = format!(
        "[{}] {} check results for {}: {}",
        plan.migration,
        person.layers.join(", "),
        person.name,
        worst.map_or("no runs yet", |o| o.as_str())
    );
    let ctx = DigestCtx {
        migration: &plan.migration,
        phase,
        currency: &plan.currency,
        person: person_view(person),
        layers: &person.layers,
        checks,
        differences,
        next,
    };
    Ok(Draft {
        key,
        kind: "digest",
        person: person.clone(),
        rendered: rendered("digest", "digest", subject, &ctx)?,
    })
}

/// Layers named by sign-off conditions, nested ones included, in order, once each.
fn signoff_layers(conditions: &[cutover_plan::Condition]) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(cs: &[cutover_plan::Condition], out: &mut Vec<String>) {
        for c in cs {
            match &c.kind {
                ConditionKind::SignOff { layers } => {
                    for l in layers {
                        if !out.contains(l) {
                            out.push(l.clone());
                        }
                    }
                }
                ConditionKind::Any(children) | ConditionKind::All(children) => walk(children, out),
                _ => {}
            }
        }
    }
    walk(conditions, &mut out);
    out
}

fn unmet_lines(report: &GateReport) -> Vec<String> {
    report
        .unmet()
        .into_iter()
        .map(|u| format!("{} [{}]: {}", u.condition, u.owners.join(", "), u.reason))
        .collect()
}

/// Every email `input`'s decision implies, for the outbox.
pub fn for_decision(input: &DecisionInput<'_>) -> Result<Vec<Draft>, ComposeError> {
    let plan = input.plan;
    let mut out = Vec::new();
    let decision = match input.result {
        Ok(d) => d,
        Err(refusal) => return refused(input, refusal),
    };
    let phase = decision.to_phase.as_deref();
    // Facts after the decision: the run it records counts.
    let mut after = input.facts.clone();
    for e in &decision.effects {
        if let Effect::RecordCheckRun { run } = e {
            after.check_runs.push(run.clone());
        }
    }
    for (i, e) in decision.effects.iter().enumerate() {
        let Effect::Notify { layers, notice } = e else {
            continue;
        };
        match notice {
            Notice::CheckRecorded { check, .. } => {
                let mut findings = BTreeMap::new();
                findings.insert(check.clone(), input.findings.to_vec());
                for p in owners(plan, layers) {
                    out.push(digest(
                        plan,
                        &decision.state,
                        &after,
                        &findings,
                        p,
                        format!("digest/{check}/{}", p.id),
                    )?);
                }
            }
            Notice::PhaseEntered {
                phase: entered,
                from,
                via,
                by,
            } => {
                let headline = match from {
                    Some(f) => format!("Phase {entered} entered from {f} ({via})"),
                    None => format!("Migration started in phase {entered}"),
                };
                let mut lines = vec![decision.summary.clone()];
                if let Some(by) = by {
                    lines.push(format!("by {by}"));
                }
                if let Some(p) = plan.phase(entered) {
                    lines.push(format!("goal: {}", p.goal));
                }
                for p in union(leads(plan), owners(plan, layers)) {
                    out.push(event(
                        plan,
                        phase,
                        "transition",
                        format!("transition/{i}/{}", p.id),
                        p,
                        headline.clone(),
                        lines.clone(),
                        None,
                    )?);
                }
                if let Some(p) = plan.phase(entered) {
                    for layer in signoff_layers(&p.exit) {
                        for person in owners(plan, std::slice::from_ref(&layer)) {
                            out.push(event(
                                plan,
                                phase,
                                "signoff_requested",
                                format!("signoff/{entered}/{layer}/{}", person.id),
                                person,
                                format!("Sign-off of {layer} needed to leave phase {entered}"),
                                vec![format!("phase goal: {}", p.goal)],
                                Some(format!(
                                    "when the {layer} checks are right: `cutover signoff --as {} --layer {layer}`",
                                    person.id
                                )),
                            )?);
                        }
                    }
                }
            }
            Notice::WaiverGranted {
                condition,
                by,
                expires,
            } => {
                for p in union(leads(plan), owners(plan, layers)) {
                    out.push(event(
                        plan,
                        phase,
                        "waiver",
                        format!("waiver/{i}/{}", p.id),
                        p,
                        format!("Waiver granted on {condition} until {expires}"),
                        vec![format!("granted by {by}"), decision.summary.clone()],
                        Some(format!(
                            "the condition counts as met until {expires}; fix what it waives before then"
                        )),
                    )?);
                }
            }
            Notice::Aborted { phase: at, by, .. } | Notice::Completed { phase: at, by } => {
                let what = if matches!(notice, Notice::Aborted { .. }) {
                    "aborted"
                } else {
                    "completed"
                };
                for p in union(leads(plan), owners(plan, layers)) {
                    out.push(event(
                        plan,
                        Some(at),
                        "transition",
                        format!("transition/{i}/{}", p.id),
                        p,
                        format!("Migration {what} in phase {at} by {by}"),
                        vec![decision.summary.clone()],
                        None,
                    )?);
                }
            }
            other => {
                let headline = match other {
                    Notice::SignedOff { phase, layer, by } => {
                        format!("{layer} signed off phase {phase} ({by})")
                    }
                    Notice::SignOffRevoked { phase, layer, by } => {
                        format!("{layer} sign-off on phase {phase} revoked by {by}")
                    }
                    Notice::SignOffVoided {
                        phase,
                        layer,
                        check,
                    } => format!("{layer} sign-off on phase {phase} voided: {check} failed"),
                    Notice::PlanApplied { version, by, .. } => {
                        format!("Plan version {version} applied by {by}")
                    }
                    _ => decision.summary.clone(),
                };
                for p in union(leads(plan), owners(plan, layers)) {
                    out.push(event(
                        plan,
                        phase,
                        "notice",
                        format!("notice/{i}/{}", p.id),
                        p,
                        headline.clone(),
                        vec![decision.summary.clone()],
                        None,
                    )?);
                }
            }
        }
    }
    out.extend(gate_changed(input, decision, &after)?);
    Ok(out)
}

/// A gate that newly holds or newly does not, within the same phase: to the leads and the
/// owners of the conditions that changed.
fn gate_changed(
    input: &DecisionInput<'_>,
    decision: &Decision,
    after: &Facts,
) -> Result<Vec<Draft>, ComposeError> {
    let plan = input.plan;
    if decision.from_phase != decision.to_phase || input.state.phase != decision.state.phase {
        return Ok(vec![]);
    }
    let (Some(before), Some(now)) = (
        current_gate(plan, input.state, input.facts, input.at),
        current_gate(plan, &decision.state, after, input.at),
    ) else {
        return Ok(vec![]);
    };
    if before.holds == now.holds {
        return Ok(vec![]);
    }
    let mut layers = Vec::new();
    for (b, a) in before.conditions.iter().zip(&now.conditions) {
        if b.satisfied != a.satisfied {
            layers.extend(a.owners.iter().cloned());
        }
    }
    let (headline, action) = if now.holds {
        (
            format!("Gate of phase {} is open", now.phase),
            Some(format!(
                "a lead may advance: `cutover advance --from {} --as LEAD`",
                now.phase
            )),
        )
    } else {
        (
            format!("Gate of phase {} is blocked again", now.phase),
            None,
        )
    };
    let mut lines = unmet_lines(&now);
    if lines.is_empty() {
        lines.push("every exit condition holds".into());
    }
    union(leads(plan), owners(plan, &layers))
        .into_iter()
        .map(|p| {
            event(
                plan,
                Some(&now.phase),
                "gate_changed",
                format!(
                    "gate/{}/{}/{}",
                    now.phase,
                    if now.holds { "open" } else { "blocked" },
                    p.id
                ),
                p,
                headline.clone(),
                lines.clone(),
                action.clone(),
            )
        })
        .collect()
}

/// A refused transition: to the person who asked, the leads, and the owners of the unmet
/// conditions. Other refusals (a sign-off by the wrong person...) stay in the log.
fn refused(input: &DecisionInput<'_>, refusal: &Refusal) -> Result<Vec<Draft>, ComposeError> {
    let plan = input.plan;
    let by = match input.command {
        Command::Advance { by, .. }
        | Command::Rollback { by, .. }
        | Command::Complete { by }
        | Command::Abort { by, .. } => by,
        _ => return Ok(vec![]),
    };
    let (lines, layers) = match refusal {
        Refusal::GateNotMet { unmet, .. } => (
            unmet
                .iter()
                .map(|u| format!("{} [{}]: {}", u.condition, u.owners.join(", "), u.reason))
                .collect(),
            unmet.iter().flat_map(|u| u.owners.clone()).collect(),
        ),
        other => (vec![other.to_string()], vec![]),
    };
    let asker: Vec<&Person> = plan.person(by).into_iter().collect();
    let headline = format!("{} refused: {}", input.command.kind(), first_line(refusal));
    union(union(asker, leads(plan)), owners(plan, &layers))
        .into_iter()
        .map(|p| {
            event(
                plan,
                input.state.phase.as_deref(),
                "transition",
                format!("refused/{}", p.id),
                p,
                headline.clone(),
                lines.clone(),
                None,
            )
        })
        .collect()
}

fn first_line(r: &Refusal) -> String {
    r.to_string().lines().next().unwrap_or("").to_string()
}
