//! `decide`: the only way a migration's state changes. Pure; time comes in as `now`.

use chrono::{DateTime, NaiveDate, Offset, TimeDelta, TimeZone, Utc};
use cutover_plan::{Check, CheckKind, Condition, ConditionKind, Outcome, Person, Phase, Plan};

use crate::command::Command;
use crate::decision::{Decision, Effect, Notice, Refusal};
use crate::facts::{CheckRun, Facts, Window};
use crate::gate::{self, GateReport};
use crate::plan_change::PlanChange;
use crate::state::{MigrationState, SignOff, Status, Visit, Waiver, Withdrawal};

/// Decides a command against the plan, the current state and the loaded facts.
///
/// On success the returned state replaces `state` and the effects are the caller's to
/// perform; a refusal changes nothing.
pub fn decide(
    plan: &Plan,
    state: &MigrationState,
    facts: &Facts,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Decision, Refusal> {
    let d = Decider {
        plan,
        state,
        facts,
        now,
    };
    match command {
        Command::Start { by } => d.start(by),
        Command::Advance {
            by,
            from,
            to,
            reason,
        } => d.advance(by, from, to.as_deref(), reason.as_deref()),
        Command::Rollback { by, to, reason } => d.rollback(by, to, reason),
        Command::SignOff { by, layer, comment } => d.sign_off(by, layer, comment.as_deref()),
        Command::RevokeSignOff { by, layer, reason } => d.revoke(by, layer, reason.as_deref()),
        Command::Waive {
            by,
            condition,
            justification,
            expires,
        } => d.waive(by, condition, justification, *expires),
        Command::RecordOutcome {
            by,
            check,
            outcome,
            detail,
        } => d.record(by, check, *outcome, detail.as_deref()),
        Command::RecordRun {
            check,
            outcome,
            window,
            detail,
        } => d.record_run(check, *outcome, *window, detail.as_deref()),
        Command::Abort { by, reason } => d.abort(by, reason),
        Command::Complete { by } => d.complete(by),
        Command::ApplyPlan {
            by,
            file,
            sha256,
            version,
            change,
        } => d.apply_plan(by, file, sha256, *version, change),
        Command::Variance {
            by, action, ids, ..
        } => d.variance(by, *action, ids),
        Command::ConfirmInventory {
            by,
            item,
            documented,
        } => d.confirm_inventory(by, item, documented.as_deref()),
    }
}

/// Evaluates the current phase's gate (for `status`). `None` before start.
pub fn current_gate(
    plan: &Plan,
    state: &MigrationState,
    facts: &Facts,
    now: DateTime<Utc>,
) -> Option<GateReport> {
    let phase = plan.phase(state.phase.as_deref()?)?;
    let since = state.entered_at?;
    Some(gate::evaluate(plan, state, facts, phase, since, now))
}

struct Decider<'a> {
    plan: &'a Plan,
    state: &'a MigrationState,
    facts: &'a Facts,
    now: DateTime<Utc>,
}

fn invalid(reason: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        reason: reason.into(),
    }
}

fn not_permitted(by: &str, reason: impl Into<String>) -> Refusal {
    Refusal::NotPermitted {
        by: by.to_string(),
        reason: reason.into(),
    }
}

impl<'a> Decider<'a> {
    fn person(&self, id: &str) -> Result<&'a Person, Refusal> {
        self.plan.person(id).ok_or_else(|| {
            invalid(format!(
                "\"{id}\" is not a person of the plan (people: {})",
                self.plan
                    .people
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    fn lead(&self, by: &str, what: &str) -> Result<&'a Person, Refusal> {
        let p = self.person(by)?;
        if p.lead {
            Ok(p)
        } else {
            Err(not_permitted(
                by,
                format!("is not a lead; only a lead may {what}"),
            ))
        }
    }

    /// The current phase while the migration is active.
    fn active(&self) -> Result<(usize, &'a Phase, DateTime<Utc>), Refusal> {
        match self.state.status {
            Status::NotStarted => return Err(invalid("the migration has not been started")),
            Status::Completed => return Err(invalid("the migration is completed")),
            Status::Aborted => return Err(invalid("the migration was aborted")),
            Status::Active => {}
        }
        let id = self.state.phase.as_deref().unwrap_or_default();
        let idx = self.plan.phase_index(id).ok_or_else(|| {
            invalid(format!(
                "the current phase \"{id}\" is not in the plan; apply a plan that has it"
            ))
        })?;
        let since = self.state.entered_at.unwrap_or(self.now);
        Ok((idx, &self.plan.phases[idx], since))
    }

    fn gate(&self, phase: &Phase, since: DateTime<Utc>) -> GateReport {
        gate::evaluate(self.plan, self.state, self.facts, phase, since, self.now)
    }

    /// A change to the variance register: logged, the migration's state unchanged.
    fn variance(
        &self,
        by: &str,
        action: crate::command::VarianceAction,
        ids: &[i32],
    ) -> Result<Decision, Refusal> {
        self.person(by)?;
        if self.state.status == Status::NotStarted {
            return Err(invalid("the migration has not been started"));
        }
        if ids.is_empty() {
            return Err(invalid(format!("no variance to {action}")));
        }
        let list: Vec<String> = ids.iter().map(|i| format!("#{i}")).collect();
        Ok(Decision {
            state: self.state.clone(),
            effects: Vec::new(),
            from_phase: self.state.phase.clone(),
            to_phase: self.state.phase.clone(),
            summary: format!("variance {action} {} by {by}", list.join(", ")),
        })
    }

    /// An inventory item confirmed by a person of its owner layer: logged, the state
    /// unchanged (the gate reads confirmations from the log).
    fn confirm_inventory(
        &self,
        by: &str,
        item: &str,
        documented: Option<&str>,
    ) -> Result<Decision, Refusal> {
        let person = self.person(by)?;
        if self.state.status == Status::NotStarted {
            return Err(invalid("the migration has not been started"));
        }
        let Some(it) = self.plan.inventory_item(item) else {
            let known: Vec<&str> = self.plan.inventory.iter().map(|i| i.id.as_str()).collect();
            return Err(invalid(format!(
                "\"{item}\" is not an inventory item of the plan (items: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        if !person.layers.contains(&it.owner) {
            return Err(not_permitted(
                by,
                format!(
                    "is not in layer {}, which owns inventory item {item}; a person of {} confirms it",
                    it.owner, it.owner
                ),
            ));
        }
        let Some(doc) = it.documented.as_deref() else {
            return Err(invalid(format!(
                "inventory item {item} has no \"documented:\" in the plan; write its logic down and apply the plan first"
            )));
        };
        if documented != Some(doc) {
            return Err(invalid(format!(
                "inventory item {item} is documented at {doc} in the current plan, not {}",
                documented.unwrap_or("(nothing)")
            )));
        }
        Ok(Decision {
            state: self.state.clone(),
            effects: Vec::new(),
            from_phase: self.state.phase.clone(),
            to_phase: self.state.phase.clone(),
            summary: format!(
                "inventory item {item} ({doc}) confirmed by {by} for {}",
                it.owner
            ),
        })
    }

    /// Refuses a transition on a day (in the plan's zone) inside a freeze window.
    fn not_frozen(&self, what: &str) -> Result<(), Refusal> {
        let today = self.now.with_timezone(&self.plan.timezone).date_naive();
        match self.plan.freeze_on(today) {
            None => Ok(()),
            Some(f) => Err(invalid(format!(
                "{today} is inside freeze {} ({} to {}, {}): no {what} until {}",
                f.id,
                f.from,
                f.to,
                f.reason,
                f.to.succ_opt().unwrap_or(f.to)
            ))),
        }
    }

    fn start(&self, by: &str) -> Result<Decision, Refusal> {
        if self.state.status != Status::NotStarted {
            return Err(invalid("the migration has already been started"));
        }
        self.lead(by, "start the migration")?;
        let first = self
            .plan
            .phases
            .first()
            .ok_or_else(|| invalid("the plan has no phases"))?;
        let mut state = self.state.clone();
        self.enter(&mut state, first, "start", Some(by), None);
        let mut effects = vec![phase_notice(first, None, "start", Some(by))];
        effects.extend(schedule_changes(self.plan, None, Some(first)));
        Ok(Decision {
            state,
            effects,
            from_phase: None,
            to_phase: Some(first.id.clone()),
            summary: format!("started in phase {}", first.id),
        })
    }

    fn enter(
        &self,
        state: &mut MigrationState,
        phase: &Phase,
        via: &str,
        by: Option<&str>,
        reason: Option<&str>,
    ) {
        state.status = Status::Active;
        state.phase = Some(phase.id.clone());
        state.entered_at = Some(self.now);
        state.history.push(Visit {
            phase: phase.id.clone(),
            entered_at: self.now,
            via: via.to_string(),
            by: by.map(str::to_string),
            reason: reason.map(str::to_string),
        });
    }

    fn advance(
        &self,
        by: &str,
        from: &str,
        to: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Decision, Refusal> {
        self.lead(by, "advance the migration")?;
        let (idx, current, since) = self.active()?;
        self.not_frozen("advance")?;
        if current.id != from {
            return Err(invalid(format!(
                "the migration is in {}, not {from}; it moved since the advance was asked for",
                current.id
            )));
        }
        let target_idx = match to {
            None => {
                if idx + 1 >= self.plan.phases.len() {
                    return Err(invalid(format!(
                        "{} is the final phase; use complete to finish the migration",
                        current.id
                    )));
                }
                idx + 1
            }
            Some(t) => {
                let t_idx = self
                    .plan
                    .phase_index(t)
                    .ok_or_else(|| invalid(format!("\"{t}\" is not a phase of the plan")))?;
                if t_idx <= idx {
                    return Err(invalid(format!(
                        "{t} is not after {}; use rollback to go back",
                        current.id
                    )));
                }
                t_idx
            }
        };
        let target = &self.plan.phases[target_idx];
        // The current phase's gate and the gate of every phase skipped over must hold.
        let gates: Vec<GateReport> = self.plan.phases[idx..target_idx]
            .iter()
            .map(|p| self.gate(p, since))
            .collect();
        let unmet: Vec<_> = gates.iter().flat_map(GateReport::unmet).collect();
        if !unmet.is_empty() {
            return Err(Refusal::GateNotMet {
                from: current.id.clone(),
                to: target.id.clone(),
                unmet,
            });
        }
        let mut state = self.state.clone();
        self.enter(&mut state, target, "advance", Some(by), reason);
        let mut effects = vec![Effect::RecordEvidence { gates }];
        effects.push(phase_notice(target, Some(&current.id), "advance", Some(by)));
        effects.extend(schedule_changes(self.plan, Some(current), Some(target)));
        Ok(Decision {
            state,
            effects,
            from_phase: Some(current.id.clone()),
            to_phase: Some(target.id.clone()),
            summary: format!("advanced from {} to {}", current.id, target.id),
        })
    }

    fn rollback(&self, by: &str, to: &str, reason: &str) -> Result<Decision, Refusal> {
        self.lead(by, "roll the migration back")?;
        let (idx, current, since) = self.active()?;
        self.not_frozen("rollback")?;
        if reason.trim().is_empty() {
            return Err(invalid("a rollback needs a reason"));
        }
        let t_idx = self
            .plan
            .phase_index(to)
            .ok_or_else(|| invalid(format!("\"{to}\" is not a phase of the plan")))?;
        if t_idx >= idx {
            return Err(invalid(format!(
                "{to} is not before {}; rollback goes to an earlier phase",
                current.id
            )));
        }
        let target = &self.plan.phases[t_idx];
        let mut state = self.state.clone();
        self.enter(&mut state, target, "rollback", Some(by), Some(reason));
        let mut effects = vec![Effect::RecordEvidence {
            gates: vec![self.gate(current, since)],
        }];
        effects.push(phase_notice(
            target,
            Some(&current.id),
            "rollback",
            Some(by),
        ));
        effects.extend(schedule_changes(self.plan, Some(current), Some(target)));
        Ok(Decision {
            state,
            effects,
            from_phase: Some(current.id.clone()),
            to_phase: Some(target.id.clone()),
            summary: format!("rolled back from {} to {}: {reason}", current.id, target.id),
        })
    }

    fn layer_member(&self, by: &str, layer: &str, what: &str) -> Result<(), Refusal> {
        if self.plan.layer(layer).is_none() {
            return Err(invalid(format!("\"{layer}\" is not a layer of the plan")));
        }
        let p = self.person(by)?;
        if p.layers.iter().any(|l| l == layer) {
            Ok(())
        } else {
            Err(not_permitted(
                by,
                format!("does not own layer {layer}; only its owners may {what}"),
            ))
        }
    }

    fn sign_off(&self, by: &str, layer: &str, comment: Option<&str>) -> Result<Decision, Refusal> {
        self.layer_member(by, layer, "sign off for it")?;
        let (_, current, since) = self.active()?;
        if let Some(s) = self.standing_signoff(&current.id, layer, since) {
            return Err(invalid(format!(
                "{layer} already signed off {} (by {} at {})",
                current.id,
                s.by,
                s.at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        let mut state = self.state.clone();
        state.signoffs.push(SignOff {
            seq: next_seq(state.signoffs.iter().map(|s| s.seq)),
            phase: current.id.clone(),
            layer: layer.to_string(),
            by: by.to_string(),
            at: self.now,
            comment: comment.map(str::to_string),
            revoked: None,
            voided: None,
        });
        Ok(Decision {
            state,
            effects: vec![Effect::Notify {
                layers: vec![],
                notice: Notice::SignedOff {
                    phase: current.id.clone(),
                    layer: layer.to_string(),
                    by: by.to_string(),
                },
            }],
            from_phase: Some(current.id.clone()),
            to_phase: Some(current.id.clone()),
            summary: format!("{by} signed off {} for {layer}", current.id),
        })
    }

    fn standing_signoff(&self, phase: &str, layer: &str, since: DateTime<Utc>) -> Option<&SignOff> {
        self.state
            .signoffs
            .iter()
            .find(|s| s.standing() && s.phase == phase && s.layer == layer && s.at >= since)
    }

    fn revoke(&self, by: &str, layer: &str, reason: Option<&str>) -> Result<Decision, Refusal> {
        let person = self.person(by)?;
        if !person.lead {
            self.layer_member(by, layer, "revoke its sign-off")?;
        }
        let (_, current, since) = self.active()?;
        let Some(existing) = self.standing_signoff(&current.id, layer, since) else {
            return Err(invalid(format!(
                "{layer} has no standing sign-off on {}",
                current.id
            )));
        };
        let seq = existing.seq;
        let mut state = self.state.clone();
        if let Some(s) = state.signoffs.iter_mut().find(|s| s.seq == seq) {
            s.revoked = Some(Withdrawal {
                at: self.now,
                by: by.to_string(),
                reason: reason.unwrap_or("revoked").to_string(),
            });
        }
        Ok(Decision {
            state,
            effects: vec![Effect::Notify {
                layers: vec![layer.to_string()],
                notice: Notice::SignOffRevoked {
                    phase: current.id.clone(),
                    layer: layer.to_string(),
                    by: by.to_string(),
                },
            }],
            from_phase: Some(current.id.clone()),
            to_phase: Some(current.id.clone()),
            summary: format!("{by} revoked {layer}'s sign-off on {}", current.id),
        })
    }

    fn waive(
        &self,
        by: &str,
        condition: &str,
        justification: &str,
        expires: NaiveDate,
    ) -> Result<Decision, Refusal> {
        let person = self.lead(by, "waive a condition")?;
        let (_, current, _) = self.active()?;
        let Some((phase, cond)) = self.plan.condition(condition) else {
            return Err(invalid(format!(
                "\"{condition}\" is not an exit condition of the plan"
            )));
        };
        // A combinator answers for its children too: waiving it would waive theirs.
        let mut answerable = Vec::new();
        collect_owners(cond, &mut answerable);
        if let Some(own) = person.layers.iter().find(|l| answerable.contains(l)) {
            return Err(not_permitted(
                by,
                format!(
                    "owns layer {own}, which answers for condition {condition}; nobody waives a condition of their own layer"
                ),
            ));
        }
        if justification.trim().is_empty() {
            return Err(invalid("a waiver needs a justification"));
        }
        let expires_at = end_of_day(self.plan, expires).ok_or_else(|| {
            invalid(format!(
                "{expires} does not exist in {}",
                self.plan.timezone
            ))
        })?;
        if expires_at <= self.now {
            return Err(invalid(format!(
                "the waiver would expire {expires}, which has already ended in {}",
                self.plan.timezone
            )));
        }
        let mut state = self.state.clone();
        state.waivers.push(Waiver {
            seq: next_seq(state.waivers.iter().map(|w| w.seq)),
            condition: cond.id.clone(),
            by: by.to_string(),
            at: self.now,
            justification: justification.trim().to_string(),
            expires,
            expires_at,
        });
        Ok(Decision {
            state,
            effects: vec![Effect::Notify {
                layers: cond.owners.clone(),
                notice: Notice::WaiverGranted {
                    condition: cond.id.clone(),
                    by: by.to_string(),
                    expires: expires.to_string(),
                },
            }],
            from_phase: Some(current.id.clone()),
            to_phase: Some(current.id.clone()),
            summary: format!("{by} waived {}/{} until {expires}", phase.id, cond.id),
        })
    }

    fn record(
        &self,
        by: &str,
        check_id: &str,
        outcome: Outcome,
        detail: Option<&str>,
    ) -> Result<Decision, Refusal> {
        let person = self.person(by)?;
        let check = self
            .plan
            .check(check_id)
            .ok_or_else(|| invalid(format!("\"{check_id}\" is not a check of the plan")))?;
        if check.kind != CheckKind::Manual {
            return Err(invalid(format!(
                "{check_id} is a {} check; its outcomes come from its runs, not by hand",
                check.kind.name()
            )));
        }
        if !person.lead && !person.layers.contains(&check.layer) {
            return Err(not_permitted(
                by,
                format!(
                    "does not own layer {}; only its owners or a lead may record {check_id}",
                    check.layer
                ),
            ));
        }
        let run = CheckRun {
            check: check_id.to_string(),
            outcome,
            recorded_at: self.now,
            recorded_by: Some(by.to_string()),
            detail: detail.map(str::to_string),
            window: None,
        };
        self.store_run(check, run, by)
    }

    fn record_run(
        &self,
        check_id: &str,
        outcome: Outcome,
        window: Option<Window>,
        detail: Option<&str>,
    ) -> Result<Decision, Refusal> {
        let check = self
            .plan
            .check(check_id)
            .ok_or_else(|| invalid(format!("\"{check_id}\" is not a check of the plan")))?;
        if check.kind == CheckKind::Manual {
            return Err(invalid(format!(
                "{check_id} is a manual check; a person records its outcome"
            )));
        }
        if let Some(w) = window
            && w.from > w.to
        {
            return Err(invalid(format!(
                "the window of {check_id} starts {} after it ends {}",
                w.from, w.to
            )));
        }
        let run = CheckRun {
            check: check_id.to_string(),
            outcome,
            recorded_at: self.now,
            recorded_by: None,
            detail: detail.map(str::to_string),
            window,
        };
        self.store_run(check, run, "scheduler")
    }

    /// A run of `check` in the current phase; a failure voids the layer's sign-offs.
    fn store_run(&self, check: &Check, run: CheckRun, by: &str) -> Result<Decision, Refusal> {
        let (_, current, _) = self.active()?;
        let outcome = run.outcome;
        let mut state = self.state.clone();
        let mut effects = vec![
            Effect::RecordCheckRun { run },
            Effect::Notify {
                layers: vec![check.layer.clone()],
                notice: Notice::CheckRecorded {
                    check: check.id.clone(),
                    outcome: outcome.to_string(),
                    by: by.to_string(),
                },
            },
        ];
        if outcome == Outcome::Fail {
            effects.extend(void_signoffs(
                &mut state,
                &current.id,
                &check.layer,
                &check.id,
                self.now,
            ));
        }
        Ok(Decision {
            state,
            effects,
            from_phase: Some(current.id.clone()),
            to_phase: Some(current.id.clone()),
            summary: format!("{by} recorded {}: {outcome}", check.id),
        })
    }

    fn abort(&self, by: &str, reason: &str) -> Result<Decision, Refusal> {
        self.lead(by, "abort the migration")?;
        let (_, current, _) = self.active()?;
        if reason.trim().is_empty() {
            return Err(invalid("an abort needs a reason"));
        }
        let mut state = self.state.clone();
        state.status = Status::Aborted;
        let mut effects = vec![Effect::Notify {
            layers: all_layers(self.plan),
            notice: Notice::Aborted {
                phase: current.id.clone(),
                by: by.to_string(),
                reason: reason.to_string(),
            },
        }];
        effects.extend(schedule_changes(self.plan, Some(current), None));
        Ok(Decision {
            state,
            effects,
            from_phase: Some(current.id.clone()),
            to_phase: Some(current.id.clone()),
            summary: format!("aborted in {}: {reason}", current.id),
        })
    }

    fn complete(&self, by: &str) -> Result<Decision, Refusal> {
        self.lead(by, "complete the migration")?;
        let (idx, current, since) = self.active()?;
        if idx + 1 != self.plan.phases.len() {
            return Err(invalid(format!(
                "{} is not the final phase; advance through the remaining phases first",
                current.id
            )));
        }
        let gate = self.gate(current, since);
        let unmet = gate.unmet();
        if !unmet.is_empty() {
            return Err(Refusal::GateNotMet {
                from: current.id.clone(),
                to: "completed".to_string(),
                unmet,
            });
        }
        let mut state = self.state.clone();
        state.status = Status::Completed;
        let mut effects = vec![
            Effect::RecordEvidence { gates: vec![gate] },
            Effect::Notify {
                layers: all_layers(self.plan),
                notice: Notice::Completed {
                    phase: current.id.clone(),
                    by: by.to_string(),
                },
            },
        ];
        effects.extend(schedule_changes(self.plan, Some(current), None));
        Ok(Decision {
            state,
            effects,
            from_phase: Some(current.id.clone()),
            to_phase: Some(current.id.clone()),
            summary: format!("completed from {}", current.id),
        })
    }
}

impl Decider<'_> {
    /// A new plan version, decided against the current plan. Only a lead of the current
    /// plan applies one, so adding or promoting a lead always takes a current lead; the
    /// applier may not grant themselves lead or a layer, nor drop one of their own layers
    /// while staying lead (which would let them waive that layer's conditions).
    fn apply_plan(
        &self,
        by: &str,
        file: &str,
        sha256: &str,
        version: i32,
        change: &PlanChange,
    ) -> Result<Decision, Refusal> {
        let person = self.person(by)?;
        if !person.lead {
            return Err(not_permitted(
                by,
                "is not a lead of the current plan; only a lead may apply a plan",
            ));
        }
        if change.migration != self.plan.migration {
            return Err(invalid(format!(
                "the plan is for migration \"{}\" but this database holds \"{}\"",
                change.migration, self.plan.migration
            )));
        }
        if let Some(phase) = &self.state.phase
            && !change.phases.contains(phase)
        {
            return Err(invalid(format!(
                "the plan drops phase {phase}, which the migration is in; keep it (roll back first to leave it)"
            )));
        }
        if let Some(own) = change.person(by) {
            if own.gains() {
                let mut gains = Vec::new();
                if own.gained_lead {
                    gains.push("lead".to_string());
                }
                if !own.gained_layers.is_empty() {
                    gains.push(format!("layers {}", own.gained_layers.join(", ")));
                }
                return Err(not_permitted(
                    by,
                    format!(
                        "may not grant themselves rights they do not hold now ({}); another lead must apply this plan",
                        gains.join(" and ")
                    ),
                ));
            }
            if !own.lost_lead && !own.removed && !own.lost_layers.is_empty() {
                return Err(not_permitted(
                    by,
                    format!(
                        "may not drop their own layers {} while staying lead (it would let them waive those layers' conditions); another lead must apply this plan",
                        own.lost_layers.join(", ")
                    ),
                ));
            }
        }
        let phase = self.state.phase.clone();
        let short: String = sha256.chars().take(12).collect();
        let mut summary =
            format!("{by} applied plan version {version} from {file} (sha256 {short})");
        if !change.is_empty() {
            summary.push_str(&format!("; people and layers: {change}"));
        }
        Ok(Decision {
            state: self.state.clone(),
            effects: vec![Effect::Notify {
                layers: all_layers(self.plan),
                notice: Notice::PlanApplied {
                    version,
                    by: by.to_string(),
                    change: change.to_string(),
                },
            }],
            from_phase: phase.clone(),
            to_phase: phase,
            summary,
        })
    }
}

/// A failed check of `layer` voids that layer's standing sign-offs on the current phase.
fn void_signoffs(
    state: &mut MigrationState,
    phase: &str,
    layer: &str,
    check: &str,
    now: DateTime<Utc>,
) -> Vec<Effect> {
    let mut effects = Vec::new();
    for s in state
        .signoffs
        .iter_mut()
        .filter(|s| s.standing() && s.phase == phase && s.layer == layer && s.at <= now)
    {
        s.voided = Some(Withdrawal {
            at: now,
            by: check.to_string(),
            reason: format!("check {check} failed after the sign-off"),
        });
        effects.push(Effect::Notify {
            layers: vec![layer.to_string()],
            notice: Notice::SignOffVoided {
                phase: phase.to_string(),
                layer: layer.to_string(),
                check: check.to_string(),
            },
        });
    }
    effects
}

fn next_seq(seqs: impl Iterator<Item = u32>) -> u32 {
    seqs.max().unwrap_or(0) + 1
}

fn all_layers(plan: &Plan) -> Vec<String> {
    plan.layers.iter().map(|l| l.id.clone()).collect()
}

fn phase_notice(phase: &Phase, from: Option<&str>, via: &str, by: Option<&str>) -> Effect {
    let mut layers = phase.owners.clone();
    for c in &phase.exit {
        collect_owners(c, &mut layers);
    }
    Effect::Notify {
        layers,
        notice: Notice::PhaseEntered {
            phase: phase.id.clone(),
            from: from.map(str::to_string),
            via: via.to_string(),
            by: by.map(str::to_string),
        },
    }
}

fn collect_owners(c: &Condition, out: &mut Vec<String>) {
    for o in &c.owners {
        if !out.contains(o) {
            out.push(o.clone());
        }
    }
    if let ConditionKind::Any(kids) | ConditionKind::All(kids) = &c.kind {
        for k in kids {
            collect_owners(k, out);
        }
    }
}

/// Scheduled checks named by a phase's exit conditions.
pub fn scheduled_checks(plan: &Plan, phase: &Phase) -> Vec<String> {
    fn walk(plan: &Plan, c: &Condition, out: &mut Vec<String>) {
        match &c.kind {
            ConditionKind::CheckOutcome { check, .. }
                if plan.check(check).is_some_and(|k| k.schedule.is_some())
                    && !out.contains(check) =>
            {
                out.push(check.clone());
            }
            ConditionKind::Any(kids) | ConditionKind::All(kids) => {
                kids.iter().for_each(|k| walk(plan, k, out))
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    phase.exit.iter().for_each(|c| walk(plan, c, &mut out));
    out
}

fn schedule_changes(plan: &Plan, from: Option<&Phase>, to: Option<&Phase>) -> Vec<Effect> {
    let before = from.map(|p| scheduled_checks(plan, p)).unwrap_or_default();
    let after = to.map(|p| scheduled_checks(plan, p)).unwrap_or_default();
    let mut effects: Vec<Effect> = before
        .iter()
        .filter(|c| !after.contains(c))
        .map(|c| Effect::UnscheduleCheck { check: c.clone() })
        .collect();
    effects.extend(
        after
            .iter()
            .filter(|c| !before.contains(c))
            .map(|c| Effect::ScheduleCheck { check: c.clone() }),
    );
    effects
}

/// The instant a day ends in the plan's zone (the start of the next day).
fn end_of_day(plan: &Plan, day: NaiveDate) -> Option<DateTime<Utc>> {
    let next = day.succ_opt()?.and_hms_opt(0, 0, 0)?;
    match plan.timezone.from_local_datetime(&next).earliest() {
        Some(t) => Some(t.with_timezone(&Utc)),
        // Local midnight is skipped (a DST jump at 00:00): the day ends at the jump, which is
        // midnight read with the offset in force just before it.
        None => {
            let before = plan
                .timezone
                .offset_from_local_datetime(&(next - TimeDelta::seconds(1)))
                .earliest()?;
            let offset = TimeDelta::seconds(before.fix().local_minus_utc().into());
            Some((next - offset).and_utc())
        }
    }
}

/// Whether `new_plan` may replace the current plan of a migration in `state`: it must be
/// for the same migration and still have the phase the migration is in.
pub fn check_plan_change(
    new_plan: &Plan,
    migration: &str,
    state: &MigrationState,
) -> Result<(), Refusal> {
    if new_plan.migration != migration {
        return Err(invalid(format!(
            "the plan is for migration \"{}\" but this database holds \"{migration}\"",
            new_plan.migration
        )));
    }
    if let Some(phase) = &state.phase
        && new_plan.phase(phase).is_none()
    {
        return Err(invalid(format!(
            "the plan drops phase {phase}, which the migration is in; keep it (roll back first to leave it)"
        )));
    }
    Ok(())
}
