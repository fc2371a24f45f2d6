//! One focused test per rule the engine enforces: who may give which command, what the
//! gate semantics are, and what an accepted or refused command returns.

mod common;

use chrono::TimeDelta;
use common::*;
use cutover_engine::{
    CheckRun, Decision, Effect, Facts, MigrationState, Notice, Refusal, SignOff, Status, Unmet,
    Visit, Waiver, Withdrawal, current_gate, decide,
};
use cutover_plan::Outcome::{Error, Fail, Inconclusive, Pass, Warn};
use cutover_plan::Plan;

fn ok(
    plan: &Plan,
    state: &MigrationState,
    facts: &Facts,
    cmd: &cutover_engine::Command,
    now: chrono::DateTime<chrono::Utc>,
) -> Decision {
    match decide(plan, state, facts, cmd, now) {
        Ok(d) => d,
        Err(r) => panic!("{cmd:?} refused: {r}"),
    }
}

fn refused(
    plan: &Plan,
    state: &MigrationState,
    facts: &Facts,
    cmd: &cutover_engine::Command,
    now: chrono::DateTime<chrono::Utc>,
) -> Refusal {
    match decide(plan, state, facts, cmd, now) {
        Ok(d) => panic!("{cmd:?} accepted: {}", d.summary),
        Err(r) => r,
    }
}

fn unmet(phase: &str, condition: &str, owners: &[&str], reason: &str) -> Unmet {
    Unmet {
        phase: phase.to_string(),
        condition: condition.to_string(),
        owners: owners.iter().map(|o| o.to_string()).collect(),
        reason: reason.to_string(),
    }
}

fn not_permitted(by: &str, reason: &str) -> Refusal {
    Refusal::NotPermitted {
        by: by.to_string(),
        reason: reason.to_string(),
    }
}

fn invalid(reason: &str) -> Refusal {
    Refusal::Invalid {
        reason: reason.to_string(),
    }
}

fn phase_entered(layers: &[&str], phase: &str, from: Option<&str>, via: &str, by: &str) -> Effect {
    Effect::Notify {
        layers: layers.iter().map(|l| l.to_string()).collect(),
        notice: Notice::PhaseEntered {
            phase: phase.to_string(),
            from: from.map(str::to_string),
            via: via.to_string(),
            by: Some(by.to_string()),
        },
    }
}

/// Applies a manual record and returns the new state and facts (the run stored).
fn recorded(
    plan: &Plan,
    state: &MigrationState,
    facts: &mut Facts,
    by: &str,
    check: &str,
    outcome: cutover_plan::Outcome,
    now: chrono::DateTime<chrono::Utc>,
) -> MigrationState {
    let d = ok(plan, state, facts, &record(by, check, outcome), now);
    facts.check_runs.extend(recorded_runs(&d));
    d.state
}

// ---------------------------------------------------------------------------------------
// start

#[test]
fn start_enters_the_first_phase_once_and_only_by_a_lead() {
    let plan = plan();
    let none = Facts::default();
    let fresh = MigrationState::new();

    assert_eq!(
        refused(&plan, &fresh, &none, &start("alice"), at(0)),
        not_permitted(
            "alice",
            "is not a lead; only a lead may start the migration"
        )
    );

    let d = ok(&plan, &fresh, &none, &start("lena"), at(0));
    assert_eq!(d.state.status, Status::Active);
    assert_eq!(d.state.phase.as_deref(), Some("discovery"));
    assert_eq!(d.state.entered_at, Some(at(0)));
    assert_eq!(
        d.state.history,
        vec![Visit {
            phase: "discovery".into(),
            entered_at: at(0),
            via: "start".into(),
            by: Some("lena".into()),
            reason: None,
        }]
    );
    // discovery has no scheduled check, so nothing to schedule.
    assert_eq!(
        d.effects,
        vec![phase_entered(
            &["affiliate"],
            "discovery",
            None,
            "start",
            "lena"
        )]
    );
    assert_eq!(
        (d.from_phase, d.to_phase.as_deref()),
        (None, Some("discovery"))
    );

    assert_eq!(
        refused(&plan, &d.state, &none, &start("lena"), at(1)),
        invalid("the migration has already been started")
    );
}

// ---------------------------------------------------------------------------------------
// advance

#[test]
fn advance_moves_to_the_next_phase_when_its_gate_holds() {
    let plan = plan();
    let mut facts = Facts::default();
    let s0 = in_phase("discovery", at(0));
    let s1 = ok(&plan, &s0, &facts, &sign_off("alice", "affiliate"), at(1)).state;
    let s2 = recorded(&plan, &s1, &mut facts, "alice", "links", Pass, at(2));

    let d = ok(&plan, &s2, &facts, &advance("lena", "discovery"), at(3));
    assert_eq!(d.state.status, Status::Active);
    assert_eq!(d.state.phase.as_deref(), Some("setup"));
    assert_eq!(d.state.entered_at, Some(at(3)));
    assert_eq!(d.state.history[..1], s2.history[..]);
    assert_eq!(
        d.state.history[1],
        Visit {
            phase: "setup".into(),
            entered_at: at(3),
            via: "advance".into(),
            by: Some("lena".into()),
            reason: None,
        }
    );
    assert_eq!(d.state.signoffs, s2.signoffs);
    let Effect::RecordEvidence { gates } = &d.effects[0] else {
        panic!("first effect is {:?}", d.effects[0]);
    };
    assert_eq!(gates.len(), 1);
    assert_eq!(
        (gates[0].phase.as_str(), gates[0].holds),
        ("discovery", true)
    );
    assert_eq!((gates[0].since, gates[0].at), (at(0), at(3)));
    assert_eq!(
        d.effects[1..],
        [
            phase_entered(&["product"], "setup", Some("discovery"), "advance", "lena"),
            Effect::ScheduleCheck {
                check: "events".into()
            },
        ]
    );
}

#[test]
fn advance_refusal_lists_every_unmet_condition_with_owner_and_reason() {
    let plan = plan();
    let state = in_phase("parallel", at(0));
    let before = state.clone();

    let r = refused(
        &plan,
        &state,
        &Facts::default(),
        &advance("lena", "parallel"),
        at(2),
    );
    assert_eq!(
        r,
        Refusal::GateNotMet {
            from: "parallel".into(),
            to: "stabilization".into(),
            unmet: vec![
                unmet(
                    "parallel",
                    "par_either",
                    &["finance", "bi"],
                    "none holds: par_payout: no run of check payout since the phase was entered; \
                     par_backup: not all hold: par_signoff: awaiting sign-off from finance, bi; \
                     par_totals: no run of check totals since the phase was entered"
                ),
                unmet(
                    "parallel",
                    "par_min",
                    &["finance", "bi"],
                    "in phase for 2h of 1d; holds from 2025-03-04 08:00 UTC"
                ),
            ],
        }
    );
    // The one exact assertion of the gate refusal's Display.
    assert_eq!(
        r.to_string(),
        "refused: cannot leave parallel for stabilization: 2 exit conditions unmet\n  \
         parallel/par_either [finance, bi]: none holds: par_payout: no run of check payout since \
         the phase was entered; par_backup: not all hold: par_signoff: awaiting sign-off from \
         finance, bi; par_totals: no run of check totals since the phase was entered\n  \
         parallel/par_min [finance, bi]: in phase for 2h of 1d; holds from 2025-03-04 08:00 UTC"
    );
    // A refusal is an answer: the state the caller holds is untouched.
    assert_eq!(state, before);
}

#[test]
fn advance_to_a_named_later_phase_needs_every_skipped_gate() {
    let plan = plan();
    let mut facts = Facts::default();
    let s0 = in_phase("discovery", at(0));
    let s1 = ok(&plan, &s0, &facts, &sign_off("alice", "affiliate"), at(0)).state;
    let s2 = recorded(&plan, &s1, &mut facts, "alice", "links", Pass, at(1));

    // discovery holds, setup (skipped) does not: only setup's conditions are listed.
    assert_eq!(
        refused(
            &plan,
            &s2,
            &facts,
            &advance_to("lena", "discovery", "parallel"),
            at(2)
        ),
        Refusal::GateNotMet {
            from: "discovery".into(),
            to: "parallel".into(),
            unmet: vec![
                unmet(
                    "setup",
                    "setup_events",
                    &["product"],
                    "no run of check events since the phase was entered"
                ),
                unmet(
                    "setup",
                    "setup_min",
                    &["product"],
                    "in phase for 2h of 2d; holds from 2025-03-05 08:00 UTC"
                ),
            ],
        }
    );

    // Once the skipped gate holds too (counted from entering discovery), the jump is taken.
    facts.check_runs.push(run("events", Pass, at(47)));
    facts.check_runs.push(run("events", Warn, at(49)));
    let d = ok(
        &plan,
        &s2,
        &facts,
        &advance_to("lena", "discovery", "parallel"),
        at(50),
    );
    assert_eq!(d.state.phase.as_deref(), Some("parallel"));
    assert_eq!(d.state.history.len(), 2);
    assert_eq!(d.state.history[1].reason.as_deref(), Some("skipping ahead"));
    let Effect::RecordEvidence { gates } = &d.effects[0] else {
        panic!("first effect is {:?}", d.effects[0]);
    };
    let judged: Vec<(&str, bool)> = gates.iter().map(|g| (g.phase.as_str(), g.holds)).collect();
    assert_eq!(judged, [("discovery", true), ("setup", true)]);
    // Neither discovery nor parallel runs a scheduled check.
    assert!(!d.effects.iter().any(|e| matches!(
        e,
        Effect::ScheduleCheck { .. } | Effect::UnscheduleCheck { .. }
    )));
}

#[test]
fn advance_only_goes_forward_and_not_past_the_final_phase() {
    let plan = plan();
    let none = Facts::default();
    let setup = in_phase("setup", at(0));
    assert_eq!(
        refused(
            &plan,
            &setup,
            &none,
            &advance_to("lena", "setup", "setup"),
            at(1)
        ),
        invalid("setup is not after setup; use rollback to go back")
    );
    assert_eq!(
        refused(
            &plan,
            &setup,
            &none,
            &advance_to("lena", "setup", "discovery"),
            at(1)
        ),
        invalid("discovery is not after setup; use rollback to go back")
    );
    assert_eq!(
        refused(
            &plan,
            &setup,
            &none,
            &advance_to("lena", "setup", "golive"),
            at(1)
        ),
        invalid("\"golive\" is not a phase of the plan")
    );
    let last = in_phase("stabilization", at(0));
    assert_eq!(
        refused(
            &plan,
            &last,
            &none,
            &advance("lena", "stabilization"),
            at(1)
        ),
        invalid("stabilization is the final phase; use complete to finish the migration")
    );
}

// ---------------------------------------------------------------------------------------
// leads

#[test]
fn only_a_lead_advances_rolls_back_aborts_completes_and_waives() {
    let plan = plan();
    let mut facts = Facts::default();
    // A stabilization whose gate holds, so only permission can stop the commands.
    let s0 = in_phase("stabilization", at(0));
    let s1 = ok(&plan, &s0, &facts, &sign_off("fiona", "finance"), at(1)).state;
    let s2 = recorded(&plan, &s1, &mut facts, "alice", "links", Pass, at(1));
    let s3 = recorded(&plan, &s2, &mut facts, "alice", "links", Pass, at(2));
    let now = at(3);
    ok(&plan, &s3, &facts, &complete("lena"), now);

    for who in ["alice", "fiona", "olga"] {
        let cases = [
            (
                advance_to(who, "stabilization", "stabilization"),
                "advance the migration",
            ),
            (
                rollback(who, "setup", "numbers off"),
                "roll the migration back",
            ),
            (abort(who, "vendor gone"), "abort the migration"),
            (complete(who), "complete the migration"),
            (
                waive(who, "stab_links", "known gap", day(2025, 3, 9)),
                "waive a condition",
            ),
        ];
        for (cmd, what) in cases {
            assert_eq!(
                refused(&plan, &s3, &facts, &cmd, now),
                not_permitted(who, &format!("is not a lead; only a lead may {what}")),
                "{cmd:?}"
            );
        }
    }
    // Somebody the plan does not know is not a lead either.
    assert_eq!(
        refused(&plan, &s3, &facts, &complete("mallory"), now),
        invalid(
            "\"mallory\" is not a person of the plan (people: lena, fred, alice, pete, fiona, bob, olga)"
        )
    );
}

// ---------------------------------------------------------------------------------------
// rollback

#[test]
fn rollback_goes_to_an_earlier_phase_with_a_reason() {
    let plan = plan();
    let none = Facts::default();
    let setup = in_phase("setup", at(0));

    assert_eq!(
        refused(
            &plan,
            &setup,
            &none,
            &rollback("lena", "discovery", "  "),
            at(5)
        ),
        invalid("a rollback needs a reason")
    );
    assert_eq!(
        refused(
            &plan,
            &setup,
            &none,
            &rollback("lena", "setup", "again"),
            at(5)
        ),
        invalid("setup is not before setup; rollback goes to an earlier phase")
    );
    assert_eq!(
        refused(
            &plan,
            &setup,
            &none,
            &rollback("lena", "parallel", "ahead"),
            at(5)
        ),
        invalid("parallel is not before setup; rollback goes to an earlier phase")
    );

    // The gate does not matter for a rollback.
    let d = ok(
        &plan,
        &setup,
        &none,
        &rollback("lena", "discovery", "mapping incomplete"),
        at(5),
    );
    assert_eq!(d.state.status, Status::Active);
    assert_eq!(d.state.phase.as_deref(), Some("discovery"));
    assert_eq!(d.state.entered_at, Some(at(5)));
    assert_eq!(d.state.history[0], setup.history[0]);
    assert_eq!(
        d.state.history[1],
        Visit {
            phase: "discovery".into(),
            entered_at: at(5),
            via: "rollback".into(),
            by: Some("lena".into()),
            reason: Some("mapping incomplete".into()),
        }
    );
    let Effect::RecordEvidence { gates } = &d.effects[0] else {
        panic!("first effect is {:?}", d.effects[0]);
    };
    assert_eq!(
        (gates.len(), gates[0].phase.as_str(), gates[0].holds),
        (1, "setup", false)
    );
    assert_eq!(
        d.effects[1..],
        [
            phase_entered(
                &["affiliate"],
                "discovery",
                Some("setup"),
                "rollback",
                "lena"
            ),
            Effect::UnscheduleCheck {
                check: "events".into()
            },
        ]
    );
    assert_eq!(
        d.summary,
        "rolled back from setup to discovery: mapping incomplete"
    );
}

#[test]
fn only_evidence_since_the_phase_was_entered_counts() {
    let plan = plan();
    let mut facts = Facts::default();
    let s0 = in_phase("discovery", at(0));
    let s1 = ok(&plan, &s0, &facts, &sign_off("alice", "affiliate"), at(1)).state;
    let s2 = recorded(&plan, &s1, &mut facts, "alice", "links", Pass, at(1));
    let s3 = ok(&plan, &s2, &facts, &advance("lena", "discovery"), at(2)).state;
    let s4 = ok(
        &plan,
        &s3,
        &facts,
        &rollback("lena", "discovery", "redo"),
        at(3),
    )
    .state;

    // The sign-off and the run from the first visit stay on record but no longer count.
    assert!(s4.signoffs[0].standing());
    assert_eq!(
        refused(&plan, &s4, &facts, &advance("lena", "discovery"), at(4)),
        Refusal::GateNotMet {
            from: "discovery".into(),
            to: "setup".into(),
            unmet: vec![
                unmet(
                    "discovery",
                    "disc_links",
                    &["affiliate"],
                    "no run of check links since the phase was entered"
                ),
                unmet(
                    "discovery",
                    "disc_signoff",
                    &["affiliate"],
                    "awaiting sign-off from affiliate"
                ),
            ],
        }
    );
    // And a new sign-off for the same layer is accepted: the old one is not "standing" here.
    let s5 = ok(&plan, &s4, &facts, &sign_off("alice", "affiliate"), at(4)).state;
    assert_eq!(s5.signoffs.len(), 2);
}

// ---------------------------------------------------------------------------------------
// sign-off and revoke

#[test]
fn only_a_member_of_a_layer_signs_off_for_it() {
    let plan = plan();
    let none = Facts::default();
    let par = in_phase("parallel", at(0));

    for who in ["bob", "lena", "olga"] {
        assert_eq!(
            refused(&plan, &par, &none, &sign_off(who, "finance"), at(1)),
            not_permitted(
                who,
                "does not own layer finance; only its owners may sign off for it"
            )
        );
    }
    assert_eq!(
        refused(&plan, &par, &none, &sign_off("fiona", "legal"), at(1)),
        invalid("\"legal\" is not a layer of the plan")
    );

    let d = ok(&plan, &par, &none, &sign_off("fiona", "finance"), at(1));
    assert_eq!(
        d.state.signoffs,
        vec![SignOff {
            seq: 1,
            phase: "parallel".into(),
            layer: "finance".into(),
            by: "fiona".into(),
            at: at(1),
            comment: None,
            revoked: None,
            voided: None,
        }]
    );
    assert_eq!(
        d.effects,
        vec![Effect::Notify {
            layers: vec![],
            notice: Notice::SignedOff {
                phase: "parallel".into(),
                layer: "finance".into(),
                by: "fiona".into(),
            },
        }]
    );
    // A lead who owns the layer may sign off for it too, but not twice.
    assert_eq!(
        refused(&plan, &d.state, &none, &sign_off("fred", "finance"), at(2)),
        invalid("finance already signed off parallel (by fiona at 2025-03-03 09:00 UTC)")
    );
}

#[test]
fn revoke_by_the_layer_or_a_lead_keeps_the_entry_marked() {
    let plan = plan();
    let none = Facts::default();
    let par = in_phase("parallel", at(0));
    let signed = ok(&plan, &par, &none, &sign_off("fiona", "finance"), at(1)).state;

    assert_eq!(
        refused(&plan, &signed, &none, &revoke("bob", "finance"), at(2)),
        not_permitted(
            "bob",
            "does not own layer finance; only its owners may revoke its sign-off"
        )
    );
    assert_eq!(
        refused(&plan, &signed, &none, &revoke("bob", "bi"), at(2)),
        invalid("bi has no standing sign-off on parallel")
    );

    let by_lead = ok(&plan, &signed, &none, &revoke("lena", "finance"), at(2));
    let by_owner = ok(&plan, &signed, &none, &revoke("fiona", "finance"), at(2));
    assert_eq!(by_owner.state.signoffs.len(), 1);
    assert_eq!(
        by_lead.state.signoffs[0],
        SignOff {
            revoked: Some(Withdrawal {
                at: at(2),
                by: "lena".into(),
                reason: "changed my mind".into(),
            }),
            ..signed.signoffs[0].clone()
        }
    );
    assert_eq!(
        by_lead.effects,
        vec![Effect::Notify {
            layers: vec!["finance".into()],
            notice: Notice::SignOffRevoked {
                phase: "parallel".into(),
                layer: "finance".into(),
                by: "lena".into(),
            },
        }]
    );
    let revoked = by_lead.state;
    assert_eq!(
        refused(&plan, &revoked, &none, &revoke("fiona", "finance"), at(3)),
        invalid("finance has no standing sign-off on parallel")
    );
    // Signing again adds a new entry after the revoked one.
    let again = ok(&plan, &revoked, &none, &sign_off("fiona", "finance"), at(3)).state;
    assert_eq!(again.signoffs.len(), 2);
    assert_eq!(again.signoffs[0], revoked.signoffs[0]);
    assert_eq!(
        (again.signoffs[1].seq, again.signoffs[1].standing()),
        (2, true)
    );
}

#[test]
fn a_failing_check_of_a_layer_voids_that_layers_sign_off() {
    let plan = plan();
    let mut facts = Facts::default();
    let par = in_phase("parallel", at(0));
    let s1 = ok(&plan, &par, &facts, &sign_off("fiona", "finance"), at(1)).state;
    let s2 = ok(&plan, &s1, &facts, &sign_off("bob", "bi"), at(1)).state;

    // A warn of finance's check voids nothing; a fail of bi's check voids only bi.
    let warned = recorded(&plan, &s2, &mut facts, "fiona", "payout", Warn, at(2));
    assert!(warned.signoffs.iter().all(SignOff::standing));

    let d = ok(
        &plan,
        &warned,
        &facts,
        &record("fiona", "payout", Fail),
        at(3),
    );
    assert_eq!(
        d.state.signoffs[0].voided,
        Some(Withdrawal {
            at: at(3),
            by: "payout".into(),
            reason: "check payout failed after the sign-off".into(),
        })
    );
    assert_eq!(d.state.signoffs[0].revoked, None);
    assert!(d.state.signoffs[1].standing(), "bi's sign-off stands");
    assert_eq!(
        d.effects,
        vec![
            Effect::RecordCheckRun {
                run: CheckRun {
                    check: "payout".into(),
                    outcome: Fail,
                    recorded_at: at(3),
                    recorded_by: Some("fiona".into()),
                    detail: None,
                    window: None,
                },
            },
            Effect::Notify {
                layers: vec!["finance".into()],
                notice: Notice::CheckRecorded {
                    check: "payout".into(),
                    outcome: "fail".into(),
                    by: "fiona".into(),
                },
            },
            Effect::Notify {
                layers: vec!["finance".into()],
                notice: Notice::SignOffVoided {
                    phase: "parallel".into(),
                    layer: "finance".into(),
                    check: "payout".into(),
                },
            },
        ]
    );
    facts.check_runs.extend(recorded_runs(&d));
    let voided = d.state;
    let report = current_gate(&plan, &voided, &facts, at(3)).unwrap();
    let backup = &report.conditions[0].children[1];
    assert_eq!(
        backup.children[0].reason, "awaiting sign-off from finance",
        "the voided sign-off no longer counts"
    );

    // A sign-off given after the failure stands.
    let resigned = ok(&plan, &voided, &facts, &sign_off("fiona", "finance"), at(4)).state;
    assert!(resigned.signoffs[2].standing());
}

// ---------------------------------------------------------------------------------------
// waivers

#[test]
fn waivers_need_a_lead_outside_the_conditions_layers_a_justification_and_a_future_day() {
    let plan = plan();
    let none = Facts::default();
    let par = in_phase("parallel", at(0));
    let until = day(2025, 3, 5);

    assert_eq!(
        refused(
            &plan,
            &par,
            &none,
            &waive("fred", "par_payout", "known gap", until),
            at(1)
        ),
        not_permitted(
            "fred",
            "owns layer finance, which answers for condition par_payout; nobody waives a condition of their own layer"
        )
    );
    // fiona owns finance, but is refused for not being a lead first.
    assert_eq!(
        refused(
            &plan,
            &par,
            &none,
            &waive("fiona", "par_totals", "known gap", until),
            at(1)
        ),
        not_permitted("fiona", "is not a lead; only a lead may waive a condition")
    );
    assert_eq!(
        refused(
            &plan,
            &par,
            &none,
            &waive("lena", "par_totals", " ", until),
            at(1)
        ),
        invalid("a waiver needs a justification")
    );
    assert_eq!(
        refused(
            &plan,
            &par,
            &none,
            &waive("lena", "par_totals", "gap", day(2025, 3, 2)),
            at(1)
        ),
        invalid("the waiver would expire 2025-03-02, which has already ended in Europe/Berlin")
    );
    assert_eq!(
        refused(
            &plan,
            &par,
            &none,
            &waive("lena", "nope", "gap", until),
            at(1)
        ),
        invalid("\"nope\" is not an exit condition of the plan")
    );

    // fred may waive bi's condition: it is not his layer.
    let d = ok(
        &plan,
        &par,
        &none,
        &waive("fred", "par_totals", " BI backlog ", until),
        at(1),
    );
    assert_eq!(
        d.state.waivers,
        vec![Waiver {
            seq: 1,
            condition: "par_totals".into(),
            by: "fred".into(),
            at: at(1),
            justification: "BI backlog".into(),
            expires: until,
            // End of 5 March in Berlin (UTC+1).
            expires_at: "2025-03-05T23:00:00Z".parse().unwrap(),
        }]
    );
    assert_eq!(
        d.effects,
        vec![Effect::Notify {
            layers: vec!["bi".into()],
            notice: Notice::WaiverGranted {
                condition: "par_totals".into(),
                by: "fred".into(),
                expires: "2025-03-05".into(),
            },
        }]
    );
}

#[test]
fn a_waiver_satisfies_a_nested_condition_until_the_end_of_its_expiry_day_in_the_plan_zone() {
    let plan = plan();
    let none = Facts::default();
    let par = in_phase("parallel", at(0));
    // par_payout sits inside par_either (an any:).
    let waived = ok(
        &plan,
        &par,
        &none,
        &waive("lena", "par_payout", "manual statements", day(2025, 3, 5)),
        at(1),
    )
    .state;

    let last_second = "2025-03-05T22:59:59Z".parse().unwrap();
    let lapsed = "2025-03-05T23:00:00Z".parse().unwrap();

    let report = current_gate(&plan, &waived, &none, last_second).unwrap();
    assert!(report.holds);
    let either = &report.conditions[0];
    assert_eq!((either.satisfied, either.waiver), (true, None));
    assert_eq!(either.children[0].waiver, Some(1));
    assert_eq!(
        either.children[0].reason,
        "waived by lena until 2025-03-05 (manual statements); otherwise: no run of check payout since the phase was entered"
    );
    let d = ok(
        &plan,
        &waived,
        &none,
        &advance("lena", "parallel"),
        last_second,
    );
    assert_eq!(d.state.phase.as_deref(), Some("stabilization"));

    match refused(&plan, &waived, &none, &advance("lena", "parallel"), lapsed) {
        Refusal::GateNotMet { unmet, .. } => {
            let ids: Vec<&str> = unmet.iter().map(|u| u.condition.as_str()).collect();
            assert_eq!(ids, ["par_either"]);
        }
        other => panic!("{other:?}"),
    }
    // Before it was granted, the waiver does not count either.
    let before_grant = current_gate(&plan, &waived, &none, at(0)).unwrap();
    assert_eq!(before_grant.conditions[0].children[0].waiver, None);
}

// ---------------------------------------------------------------------------------------
// manual checks

#[test]
fn only_a_layer_member_or_a_lead_records_a_manual_check() {
    let plan = plan();
    let none = Facts::default();
    let disc = in_phase("discovery", at(0));

    for who in ["bob", "olga", "fiona"] {
        assert_eq!(
            refused(&plan, &disc, &none, &record(who, "links", Pass), at(1)),
            not_permitted(
                who,
                "does not own layer affiliate; only its owners or a lead may record links"
            )
        );
    }
    assert_eq!(
        refused(&plan, &disc, &none, &record("pete", "events", Pass), at(1)),
        invalid("events is a event_flow check; its outcomes come from its runs, not by hand")
    );
    assert_eq!(
        refused(&plan, &disc, &none, &record("alice", "clicks", Pass), at(1)),
        invalid("\"clicks\" is not a check of the plan")
    );

    for who in ["alice", "lena"] {
        let d = ok(
            &plan,
            &disc,
            &none,
            &record(who, "links", Inconclusive),
            at(1),
        );
        assert_eq!(d.state, disc, "recording a run changes no state");
        assert_eq!(
            d.effects,
            vec![
                Effect::RecordCheckRun {
                    run: CheckRun {
                        check: "links".into(),
                        outcome: Inconclusive,
                        recorded_at: at(1),
                        recorded_by: Some(who.into()),
                        detail: None,
                        window: None,
                    },
                },
                Effect::Notify {
                    layers: vec!["affiliate".into()],
                    notice: Notice::CheckRecorded {
                        check: "links".into(),
                        outcome: "inconclusive".into(),
                        by: who.into(),
                    },
                },
            ]
        );
    }
}

// ---------------------------------------------------------------------------------------
// gate semantics

#[test]
fn error_and_inconclusive_never_satisfy_an_outcome_condition() {
    let plan = plan();
    let disc = in_phase("discovery", at(0));
    let signed = ok(
        &plan,
        &disc,
        &Facts::default(),
        &sign_off("alice", "affiliate"),
        at(0),
    )
    .state;
    for bad in [Error, Inconclusive, Fail] {
        let facts = facts(vec![run("links", Pass, at(1)), run("links", bad, at(2))]);
        assert_eq!(
            refused(&plan, &signed, &facts, &advance("lena", "discovery"), at(3)),
            Refusal::GateNotMet {
                from: "discovery".into(),
                to: "setup".into(),
                unmet: vec![unmet(
                    "discovery",
                    "disc_links",
                    &["affiliate"],
                    &format!("latest run of links is {bad} (2025-03-03 10:00 UTC), needs pass")
                )],
            }
        );
    }
}

#[test]
fn consecutive_means_the_latest_n_runs_all_in_the_outcome_set() {
    let plan = plan();
    let stab = in_phase("stabilization", at(0));
    let signed = ok(
        &plan,
        &stab,
        &Facts::default(),
        &sign_off("fiona", "finance"),
        at(0),
    )
    .state;
    let complete_with =
        |runs: Vec<CheckRun>| decide(&plan, &signed, &facts(runs), &complete("lena"), at(5));
    let stab_reason = |r: Result<Decision, Refusal>| match r {
        Err(Refusal::GateNotMet { unmet, .. }) => unmet[0].reason.clone(),
        other => panic!("{other:?}"),
    };

    // Two passes in a row (given in any order) hold.
    let d = complete_with(vec![run("links", Pass, at(2)), run("links", Pass, at(1))]).unwrap();
    assert_eq!(d.state.status, Status::Completed);
    // An inconclusive or error run in between breaks the streak.
    for breaker in [Inconclusive, Error] {
        assert_eq!(
            stab_reason(complete_with(vec![
                run("links", Pass, at(1)),
                run("links", breaker, at(2)),
                run("links", Pass, at(3)),
            ])),
            "not all hold: stab_links: 1 of 2 consecutive pass runs of links so far"
        );
    }
    // A run from before the phase was entered does not make up the streak.
    assert_eq!(
        stab_reason(complete_with(vec![
            run("links", Pass, at(-1)),
            run("links", Pass, at(1))
        ])),
        "not all hold: stab_links: 1 of 2 consecutive pass runs of links so far"
    );
    // Nor does a run recorded after `now`.
    assert_eq!(
        stab_reason(complete_with(vec![
            run("links", Pass, at(1)),
            run("links", Pass, at(6))
        ])),
        "not all hold: stab_links: 1 of 2 consecutive pass runs of links so far"
    );
}

#[test]
fn fresh_within_bounds_the_age_of_the_latest_run() {
    let plan = plan();
    let stab = in_phase("stabilization", at(0));
    let signed = ok(
        &plan,
        &stab,
        &Facts::default(),
        &sign_off("fiona", "finance"),
        at(0),
    )
    .state;
    let facts = facts(vec![run("links", Pass, at(1)), run("links", Pass, at(2))]);

    let edge = at(2) + TimeDelta::days(1);
    assert!(decide(&plan, &signed, &facts, &complete("lena"), edge).is_ok());
    assert_eq!(
        refused(
            &plan,
            &signed,
            &facts,
            &complete("lena"),
            edge + TimeDelta::seconds(1)
        ),
        Refusal::GateNotMet {
            from: "stabilization".into(),
            to: "completed".into(),
            unmet: vec![unmet(
                "stabilization",
                "stab_all",
                &["affiliate", "finance"],
                "not all hold: stab_links: latest pass of links is 1d old; must be within 1d"
            )],
        }
    );
}

#[test]
fn min_duration_counts_from_entering_the_phase() {
    let plan = plan();
    let facts = facts(vec![
        run("events", Pass, at(45)),
        run("events", Pass, at(46)),
    ]);
    // setup was first entered long ago, then rolled back to and re-entered at(0).
    let mut setup = in_phase("setup", at(0));
    setup.history.insert(
        0,
        Visit {
            phase: "setup".into(),
            entered_at: at(-200),
            via: "advance".into(),
            by: Some("lena".into()),
            reason: None,
        },
    );

    assert_eq!(
        refused(&plan, &setup, &facts, &advance("lena", "setup"), at(47)),
        Refusal::GateNotMet {
            from: "setup".into(),
            to: "parallel".into(),
            unmet: vec![unmet(
                "setup",
                "setup_min",
                &["product"],
                "in phase for 1d 23h of 2d; holds from 2025-03-05 08:00 UTC"
            )],
        }
    );
    let d = ok(&plan, &setup, &facts, &advance("lena", "setup"), at(48));
    assert_eq!(d.state.phase.as_deref(), Some("parallel"));
    assert!(d.effects.contains(&Effect::UnscheduleCheck {
        check: "events".into()
    }));
}

#[test]
fn any_holds_with_one_branch_and_all_needs_every_child() {
    let plan = plan();
    let mut facts = Facts::default();
    let par = in_phase("parallel", at(0));
    let now = at(30);
    let either = |s: &MigrationState, f: &Facts| {
        let r = current_gate(&plan, s, f, now).unwrap();
        (r.conditions[0].satisfied, r.conditions[0].reason.clone())
    };

    // Backup branch: both sign-offs and a fresh totals run.
    let s1 = ok(&plan, &par, &facts, &sign_off("fiona", "finance"), at(20)).state;
    let s2 = recorded(&plan, &s1, &mut facts, "bob", "totals", Warn, at(21));
    assert_eq!(
        either(&s2, &facts),
        (
            false,
            "none holds: par_payout: no run of check payout since the phase was entered; \
             par_backup: not all hold: par_signoff: awaiting sign-off from bi"
                .to_string()
        )
    );
    let s3 = ok(&plan, &s2, &facts, &sign_off("bob", "bi"), at(22)).state;
    assert_eq!(either(&s3, &facts), (true, "met by par_backup".to_string()));
    ok(&plan, &s3, &facts, &advance("lena", "parallel"), now);

    // Payout branch alone: three passes in a row within two days.
    let mut facts = Facts::default();
    let mut s = par.clone();
    for h in [10, 20, 29] {
        s = recorded(&plan, &s, &mut facts, "fiona", "payout", Pass, at(h));
    }
    assert_eq!(either(&s, &facts), (true, "met by par_payout".to_string()));
    ok(&plan, &s, &facts, &advance("lena", "parallel"), now);
}

// ---------------------------------------------------------------------------------------
// abort and complete

#[test]
fn abort_needs_a_lead_and_a_reason_and_ends_the_migration() {
    let plan = plan();
    let none = Facts::default();
    let setup = in_phase("setup", at(0));

    assert_eq!(
        refused(&plan, &setup, &none, &abort("lena", ""), at(1)),
        invalid("an abort needs a reason")
    );
    let d = ok(
        &plan,
        &setup,
        &none,
        &abort("lena", "vendor contract renewed"),
        at(1),
    );
    assert_eq!(d.state.status, Status::Aborted);
    assert_eq!(d.state.phase.as_deref(), Some("setup"));
    assert_eq!(d.state.history, setup.history);
    assert_eq!(
        d.effects,
        vec![
            Effect::Notify {
                layers: LAYERS.iter().map(|l| l.to_string()).collect(),
                notice: Notice::Aborted {
                    phase: "setup".into(),
                    by: "lena".into(),
                    reason: "vendor contract renewed".into(),
                },
            },
            Effect::UnscheduleCheck {
                check: "events".into()
            },
        ]
    );
    for cmd in [
        advance("lena", "setup"),
        sign_off("pete", "product"),
        record("lena", "links", Pass),
    ] {
        assert_eq!(
            refused(&plan, &d.state, &none, &cmd, at(2)),
            invalid("the migration was aborted")
        );
    }
}

#[test]
fn complete_needs_the_final_phase_and_its_gate() {
    let plan = plan();
    let mut facts = Facts::default();
    assert_eq!(
        refused(
            &plan,
            &in_phase("parallel", at(0)),
            &facts,
            &complete("lena"),
            at(1)
        ),
        invalid("parallel is not the final phase; advance through the remaining phases first")
    );

    let stab = in_phase("stabilization", at(0));
    let s1 = recorded(&plan, &stab, &mut facts, "alice", "links", Pass, at(1));
    let s2 = recorded(&plan, &s1, &mut facts, "alice", "links", Pass, at(2));
    assert_eq!(
        refused(&plan, &s2, &facts, &complete("lena"), at(3)),
        Refusal::GateNotMet {
            from: "stabilization".into(),
            to: "completed".into(),
            unmet: vec![unmet(
                "stabilization",
                "stab_all",
                &["affiliate", "finance"],
                "not all hold: stab_signoff: awaiting sign-off from finance"
            )],
        }
    );
    let s3 = ok(&plan, &s2, &facts, &sign_off("fiona", "finance"), at(3)).state;
    let d = ok(&plan, &s3, &facts, &complete("fred"), at(4));
    assert_eq!(d.state.status, Status::Completed);
    assert_eq!(d.state.phase.as_deref(), Some("stabilization"));
    assert_eq!(d.state.history, s3.history);
    assert!(
        matches!(&d.effects[0], Effect::RecordEvidence { gates } if gates.len() == 1 && gates[0].holds)
    );
    assert_eq!(
        d.effects[1..],
        [Effect::Notify {
            layers: LAYERS.iter().map(|l| l.to_string()).collect(),
            notice: Notice::Completed {
                phase: "stabilization".into(),
                by: "fred".into(),
            },
        }]
    );
    assert_eq!(
        refused(&plan, &d.state, &facts, &complete("lena"), at(5)),
        invalid("the migration is completed")
    );
}

/// Regression: in a zone whose clocks skip local midnight (Chile springs forward from 00:00
/// to 01:00), the end of the day before the change still exists; the waiver must be taken.
#[test]
fn regression_waiver_expiring_before_a_midnight_dst_gap() {
    let mut plan = plan();
    plan.timezone = chrono_tz::America::Santiago;
    let par = in_phase("parallel", "2025-09-05T12:00:00Z".parse().unwrap());
    let d = ok(
        &plan,
        &par,
        &Facts::default(),
        &waive("lena", "par_min", "short phase agreed", day(2025, 9, 6)),
        "2025-09-05T13:00:00Z".parse().unwrap(),
    );
    // 2025-09-06 ends when 2025-09-07 00:00 would have been, at -04:00: 04:00 UTC, the
    // instant the clocks jump to 01:00 -03:00.
    assert_eq!(
        d.state.waivers[0].expires_at,
        "2025-09-07T04:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
}

/// A lead may not waive a combinator one of whose children answers to the lead's own
/// layer: that would waive their own condition by the back door.
#[test]
fn regression_no_self_approval_through_a_combinator() {
    let mut plan = plan();
    let stab = plan
        .phases
        .iter_mut()
        .find(|p| p.id == "stabilization")
        .unwrap();
    stab.exit[0].owners = vec!["affiliate".to_string()];
    let st = in_phase("stabilization", at(0));
    assert_eq!(
        refused(
            &plan,
            &st,
            &Facts::default(),
            &waive("fred", "stab_all", "finance is happy", day(2025, 3, 5)),
            at(1)
        ),
        not_permitted(
            "fred",
            "owns layer finance, which answers for condition stab_all; nobody waives a condition of their own layer"
        )
    );
}

/// A scheduled check's run comes from the runtime, not a person: it is recorded with its
/// window, a failure voids its layer's sign-off like a manual one, and manual checks and
/// backwards windows are refused.
#[test]
fn scheduled_runs_are_recorded_and_a_failure_voids_the_layers_sign_off() {
    use cutover_engine::{Command, Window};
    let plan = plan();
    let facts = Facts::default();
    let st = in_phase("stabilization", at(0));
    let signed = ok(&plan, &st, &facts, &sign_off("fred", "finance"), at(1)).state;
    let signed = ok(&plan, &signed, &facts, &sign_off("pete", "product"), at(1)).state;
    let window = Some(Window {
        from: day(2025, 3, 1),
        to: day(2025, 3, 2),
    });
    let run = |check: &str, outcome| Command::RecordRun {
        check: check.into(),
        outcome,
        window,
        detail: Some("42 keys compared".into()),
    };
    let d = ok(&plan, &signed, &facts, &run("events", Pass), at(2));
    assert_eq!(
        recorded_runs(&d),
        vec![CheckRun {
            check: "events".into(),
            outcome: Pass,
            recorded_at: at(2),
            recorded_by: None,
            detail: Some("42 keys compared".into()),
            window,
        }]
    );
    assert!(d.state.signoffs.iter().all(SignOff::standing));
    // events belongs to product: its failure voids product's sign-off, not finance's.
    let failed = ok(&plan, &d.state, &facts, &run("events", Fail), at(3)).state;
    assert!(failed.signoffs[0].standing(), "finance stands");
    assert_eq!(
        failed.signoffs[1].voided,
        Some(Withdrawal {
            at: at(3),
            by: "events".into(),
            reason: "check events failed after the sign-off".into(),
        })
    );
    let manual = refused(&plan, &signed, &facts, &run("payout", Fail), at(3));
    assert!(
        matches!(manual, Refusal::Invalid { ref reason } if reason == "payout is a manual check; a person records its outcome"),
        "{manual:?}"
    );
    let backwards = Command::RecordRun {
        check: "events".into(),
        outcome: Pass,
        window: Some(Window {
            from: day(2025, 3, 2),
            to: day(2025, 3, 1),
        }),
        detail: None,
    };
    assert!(matches!(
        refused(&plan, &signed, &facts, &backwards, at(3)),
        Refusal::Invalid { .. }
    ));
    let not_started = refused(
        &plan,
        &MigrationState::new(),
        &facts,
        &run("events", Pass),
        at(3),
    );
    assert_eq!(
        not_started,
        Refusal::Invalid {
            reason: "the migration has not been started".into()
        }
    );
}

// ---------------------------------------------------------------------------------------
// advance --from

#[test]
fn regression_two_racing_advances_cannot_move_the_migration_twice() {
    // Both advances were asked for while the migration was in discovery. The first moved it
    // to setup; setup's gate happens to hold too, but the second names discovery and is
    // refused instead of moving on to parallel.
    let plan = plan();
    let mut facts = Facts::default();
    let s0 = in_phase("discovery", at(0));
    let s1 = ok(&plan, &s0, &facts, &sign_off("alice", "affiliate"), at(0)).state;
    let s2 = recorded(&plan, &s1, &mut facts, "alice", "links", Pass, at(0));
    let first = ok(&plan, &s2, &facts, &advance("lena", "discovery"), at(1));
    assert_eq!(first.state.phase.as_deref(), Some("setup"));
    facts.check_runs.push(run("events", Pass, at(50)));
    facts.check_runs.push(run("events", Pass, at(51)));
    assert!(
        current_gate(&plan, &first.state, &facts, at(52))
            .unwrap()
            .holds
    );
    assert_eq!(
        refused(
            &plan,
            &first.state,
            &facts,
            &advance("fred", "discovery"),
            at(52)
        ),
        invalid(
            "the migration is in setup, not discovery; it moved since the advance was asked for"
        )
    );
    // Named correctly, it is taken.
    let d = ok(
        &plan,
        &first.state,
        &facts,
        &advance("fred", "setup"),
        at(52),
    );
    assert_eq!(d.state.phase.as_deref(), Some("parallel"));
}

// ---------------------------------------------------------------------------------------
// plan apply

fn apply(by: &str, current: &Plan, new: &Plan) -> cutover_engine::Command {
    cutover_engine::Command::ApplyPlan {
        by: by.into(),
        file: "v2.yaml".into(),
        sha256: "3fa2c1d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00".into(),
        version: 2,
        change: cutover_engine::plan_change(current, new),
    }
}

fn with_person(plan: &Plan, id: &str, lead: bool, layers: &[&str]) -> Plan {
    let mut p = plan.clone();
    p.people.retain(|x| x.id != id);
    p.people.push(cutover_plan::Person {
        id: id.into(),
        name: id.to_uppercase(),
        email: format!("{id}@example.com"),
        lead,
        layers: layers.iter().map(|l| l.to_string()).collect(),
    });
    p
}

#[test]
fn regression_role_escalation_a_plan_cannot_make_its_applier_lead() {
    let plan = plan();
    let state = in_phase("discovery", at(0));
    let none = Facts::default();
    // mallory is nobody in the current plan: a plan naming them lead of everything is
    // refused, whatever the new plan says.
    let evil = with_person(&plan, "mallory", true, &LAYERS);
    let r = refused(&plan, &state, &none, &apply("mallory", &plan, &evil), at(1));
    assert!(
        matches!(&r, Refusal::Invalid { reason } if reason.starts_with("\"mallory\" is not a person of the plan")),
        "{r:?}"
    );
    // alice is in the plan but not a lead: she may not apply one that promotes her.
    let promoted = with_person(&plan, "alice", true, &["affiliate"]);
    assert_eq!(
        refused(
            &plan,
            &state,
            &none,
            &apply("alice", &plan, &promoted),
            at(1)
        ),
        not_permitted(
            "alice",
            "is not a lead of the current plan; only a lead may apply a plan"
        )
    );
    // A lead may not grant themselves a layer...
    let more = with_person(&plan, "lena", true, &["finance", "bi"]);
    assert_eq!(
        refused(&plan, &state, &none, &apply("lena", &plan, &more), at(1)),
        not_permitted(
            "lena",
            "may not grant themselves rights they do not hold now (layers bi, finance); another lead must apply this plan"
        )
    );
    // ...nor drop one of theirs while staying lead (it would let them waive its conditions).
    let fewer = with_person(&plan, "fred", true, &[]);
    assert_eq!(
        refused(&plan, &state, &none, &apply("fred", &plan, &fewer), at(1)),
        not_permitted(
            "fred",
            "may not drop their own layers finance while staying lead (it would let them waive those layers' conditions); another lead must apply this plan"
        )
    );
    // Another lead may do both, and the diff says who gained and lost what.
    let d = ok(&plan, &state, &none, &apply("lena", &plan, &fewer), at(1));
    assert_eq!(
        d.summary,
        "lena applied plan version 2 from v2.yaml (sha256 3fa2c1d4e5f6); people and layers: fred: loses layers finance"
    );
    assert_eq!(d.state, state);
    let d = ok(&plan, &state, &none, &apply("fred", &plan, &evil), at(1));
    assert_eq!(
        d.summary,
        "fred applied plan version 2 from v2.yaml (sha256 3fa2c1d4e5f6); people and layers: mallory added: gains lead; gains layers affiliate, bi, finance, product"
    );
    assert_eq!(
        d.effects,
        vec![Effect::Notify {
            layers: LAYERS.iter().map(|l| l.to_string()).collect(),
            notice: Notice::PlanApplied {
                version: 2,
                by: "fred".into(),
                change: "mallory added: gains lead; gains layers affiliate, bi, finance, product"
                    .into(),
            },
        }]
    );
}

#[test]
fn plan_apply_keeps_the_migration_and_its_current_phase() {
    let plan = plan();
    let state = in_phase("setup", at(0));
    let none = Facts::default();
    let mut other = plan.clone();
    other.migration = "something-else".into();
    assert_eq!(
        refused(&plan, &state, &none, &apply("lena", &plan, &other), at(1)),
        invalid(
            "the plan is for migration \"something-else\" but this database holds \"acme-to-newtrack\""
        )
    );
    let mut dropped = plan.clone();
    dropped.phases.retain(|p| p.id != "setup");
    assert_eq!(
        refused(&plan, &state, &none, &apply("lena", &plan, &dropped), at(1)),
        invalid(
            "the plan drops phase setup, which the migration is in; keep it (roll back first to leave it)"
        )
    );
    // Dropping a later phase, and losing lead oneself, are fine.
    let mut shorter = with_person(&plan, "lena", false, &[]);
    shorter.phases.retain(|p| p.id != "stabilization");
    let d = ok(&plan, &state, &none, &apply("lena", &plan, &shorter), at(1));
    assert!(
        d.summary.ends_with("people and layers: lena: loses lead"),
        "{}",
        d.summary
    );
}

#[test]
fn plan_change_lists_people_and_layers_both_ways() {
    let plan = plan();
    let mut new = with_person(&plan, "olga", false, &["bi"]);
    new.people.retain(|p| p.id != "bob");
    new.layers.push(cutover_plan::Layer {
        id: "crm".into(),
        description: "CRM".into(),
    });
    let change = cutover_engine::plan_change(&plan, &new);
    assert_eq!(change.layers_added, vec!["crm".to_string()]);
    assert!(change.layers_dropped.is_empty());
    assert_eq!(
        change.to_string(),
        "bob removed: loses layers bi; olga: gains layers bi; layers added: crm"
    );
    assert!(cutover_engine::plan_change(&plan, &plan).is_empty());
}
