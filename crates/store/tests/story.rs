//! The storage story, run on SQLite always and on Postgres whenever
//! `CUTOVER_TEST_DATABASE_URL` is set (and required when `CI=true`).
//!
//! Each test gets a database of its own: a new SQLite file, or a new Postgres database
//! created on the server the URL points at.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cutover_engine::{Command, Decision, MigrationState, Refusal, Status, decide};
use cutover_plan::{Outcome, Plan};
use cutover_store::{Snapshot, Store, StoreError, content_hash};
use sea_orm::ConnectionTrait;

const PLAN: &str = r#"
migration: store-story
timezone: Europe/Malta
currency: EUR
layers:
  product: { description: Event mapping and configuration }
  finance: { description: Payouts }
people:
  - { id: alex, name: Alex, email: alex@example.com, lead: true }
  - { id: omar, name: Omar, email: omar@example.com, layers: [product] }
  - { id: fiona, name: Fiona, email: fiona@example.com, layers: [finance] }
checks:
  - { id: documented, layer: product, kind: manual }
  - { id: payouts_ok, layer: finance, kind: manual }
  - { id: nightly, layer: finance, kind: reconcile, schedule: "0 7 * * *" }
phases:
  - id: discovery
    goal: Capture current logic
    owners: [product]
    exit:
      - { id: doc_done, check: documented, outcome: pass }
      - { id: signed, signoff: [product, finance] }
  - id: setup
    goal: Connect integrations
    owners: [product]
    exit:
      - { id: payouts, check: payouts_ok, outcome: pass }
      - { id: nightly_ok, check: nightly, outcome: [pass, warn] }
  - id: stabilization
    goal: Watch
    owners: [finance]
    exit:
      - { id: settle, min_duration: 14d }
"#;

fn plan() -> Plan {
    cutover_plan::load("plan.yaml", PLAN)
        .unwrap_or_else(|d| panic!("test plan invalid: {d:?}"))
        .plan
}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

mod common;
use common::backends;

async fn started(url: &str) -> (Store, Plan) {
    let store = Store::connect(url).await.expect("connect");
    let plan = plan();
    let cmd = Command::Start { by: "alex".into() };
    let d = decide(
        &plan,
        &MigrationState::new(),
        &Default::default(),
        &cmd,
        t(0),
    )
    .unwrap();
    store
        .create(&plan.migration, "plan.yaml", PLAN, t(0), &cmd, &d)
        .await
        .expect("create");
    (store, plan)
}

async fn apply(
    store: &Store,
    plan: &Plan,
    cmd: Command,
    at: DateTime<Utc>,
) -> Result<Decision, Refusal> {
    let snap = store.load().await.expect("load");
    let result = decide(plan, &snap.state, &snap.facts, &cmd, at);
    store
        .record(&snap, at, &cmd, result.as_ref())
        .await
        .expect("record");
    result
}

/// A plan apply of `text` by `by`, decided against the snapshot's plan.
fn apply_cmd(snap: &Snapshot, by: &str, text: &str, at: DateTime<Utc>) -> (Command, Decision) {
    let current = cutover_plan::load("plan.yaml", &snap.plan.content)
        .unwrap()
        .plan;
    let new = cutover_plan::load("plan-v2.yaml", text).unwrap().plan;
    let cmd = Command::ApplyPlan {
        by: by.into(),
        file: "plan-v2.yaml".into(),
        sha256: content_hash(text),
        version: snap.plan.version + 1,
        change: cutover_engine::plan_change(&current, &new),
    };
    let d = decide(&current, &snap.state, &snap.facts, &cmd, at).unwrap();
    (cmd, d)
}

fn record(by: &str, check: &str, outcome: Outcome) -> Command {
    Command::RecordOutcome {
        by: by.into(),
        check: check.into(),
        outcome,
        detail: Some("seen".into()),
    }
}

fn signoff(by: &str, layer: &str) -> Command {
    Command::SignOff {
        by: by.into(),
        layer: layer.into(),
        comment: None,
    }
}

#[tokio::test]
async fn start_stores_plan_state_and_first_log_entry() {
    for b in backends().await {
        let (store, _) = started(&b.url).await;
        let snap: Snapshot = store.load().await.unwrap();
        assert_eq!(snap.name, "store-story", "{}", b.name);
        assert_eq!(snap.state.status, Status::Active, "{}", b.name);
        assert_eq!(snap.state.phase.as_deref(), Some("discovery"));
        assert_eq!(snap.state.entered_at, Some(t(0)));
        assert_eq!(snap.state.history.len(), 1);
        assert_eq!(snap.state.history[0].via, "start");
        assert_eq!(snap.state.history[0].by.as_deref(), Some("alex"));
        assert_eq!(snap.plan.version, 1);
        assert_eq!(snap.plan.hash, content_hash(PLAN));
        assert_eq!(snap.plan.content, PLAN);
        let log = store.log().await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].kind, "start");
        assert_eq!(log[0].prev_hash, cutover_store::GENESIS);
        assert!(cutover_store::verify(&log).broken.is_empty(), "{}", b.name);
    }
}

#[tokio::test]
async fn second_create_is_refused_and_changes_nothing() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let cmd = Command::Start { by: "alex".into() };
        let d = decide(
            &plan,
            &MigrationState::new(),
            &Default::default(),
            &cmd,
            t(1),
        )
        .unwrap();
        let err = store
            .create(&plan.migration, "plan.yaml", PLAN, t(1), &cmd, &d)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::AlreadyExists(ref n) if n == "store-story"),
            "{}: {err}",
            b.name
        );
        assert_eq!(store.log().await.unwrap().len(), 1, "{}", b.name);
    }
}

#[tokio::test]
async fn refusal_is_logged_but_changes_no_state() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let before = store.load().await.unwrap();
        let r = apply(
            &store,
            &plan,
            Command::Advance {
                by: "alex".into(),
                from: "discovery".into(),
                to: None,
                reason: None,
            },
            t(5),
        )
        .await;
        let Err(Refusal::GateNotMet { unmet, .. }) = r else {
            panic!("{}: expected a gate refusal, got {r:?}", b.name)
        };
        assert_eq!(unmet.len(), 2);
        let after = store.load().await.unwrap();
        assert_eq!(after.state, before.state, "{}", b.name);
        assert_eq!(after.version, before.version + 1, "{}", b.name);
        let log = store.log().await.unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].result, "refused");
        assert!(
            log[1].summary.contains("2 exit conditions unmet"),
            "{}",
            log[1].summary
        );
    }
}

#[tokio::test]
async fn signoffs_runs_voiding_and_advance_round_trip() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        apply(
            &store,
            &plan,
            record("omar", "documented", Outcome::Pass),
            t(1),
        )
        .await
        .unwrap();
        apply(&store, &plan, signoff("omar", "product"), t(2))
            .await
            .unwrap();
        apply(&store, &plan, signoff("fiona", "finance"), t(3))
            .await
            .unwrap();
        // A failing product check voids product's sign-off, in the store too.
        apply(
            &store,
            &plan,
            record("omar", "documented", Outcome::Fail),
            t(4),
        )
        .await
        .unwrap();
        let snap = store.load().await.unwrap();
        assert_eq!(snap.facts.check_runs.len(), 2, "{}", b.name);
        assert_eq!(snap.facts.check_runs[1].outcome, Outcome::Fail);
        assert_eq!(
            snap.facts.check_runs[1].recorded_by.as_deref(),
            Some("omar")
        );
        let product = snap
            .state
            .signoffs
            .iter()
            .find(|s| s.layer == "product")
            .unwrap();
        let voided = product.voided.as_ref().expect("voided");
        assert_eq!(voided.by, "documented");
        assert_eq!(voided.at, t(4));
        assert!(
            snap.state
                .signoffs
                .iter()
                .find(|s| s.layer == "finance")
                .unwrap()
                .standing()
        );

        // Recover, sign again, advance.
        apply(
            &store,
            &plan,
            record("omar", "documented", Outcome::Pass),
            t(5),
        )
        .await
        .unwrap();
        apply(&store, &plan, signoff("omar", "product"), t(6))
            .await
            .unwrap();
        let d = apply(
            &store,
            &plan,
            Command::Advance {
                by: "alex".into(),
                from: "discovery".into(),
                to: None,
                reason: Some("inventory complete".into()),
            },
            t(7),
        )
        .await
        .unwrap();
        assert_eq!(d.to_phase.as_deref(), Some("setup"));
        let snap = store.load().await.unwrap();
        assert_eq!(snap.state.phase.as_deref(), Some("setup"), "{}", b.name);
        assert_eq!(snap.state.entered_at, Some(t(7)));
        assert_eq!(snap.state.history.len(), 2);
        assert_eq!(
            snap.state.history[1].reason.as_deref(),
            Some("inventory complete")
        );
        assert_eq!(snap.state.signoffs.len(), 3);
        // Runs before the phase was entered are not facts of the new phase.
        assert!(snap.facts.check_runs.is_empty(), "{}", b.name);
        assert_eq!(store.check_runs(&snap).await.unwrap().len(), 3);
        let log = store.log().await.unwrap();
        assert_eq!(log.len(), 8);
        let v = cutover_store::verify(&log);
        assert!(v.broken.is_empty(), "{}: {:?}", b.name, v.broken);
        // The advance entry carries the gate it was decided on.
        assert!(
            log[7].effects.contains("record_evidence"),
            "{}",
            log[7].effects
        );
        assert!(log[7].facts.contains("check_runs"), "{}", log[7].facts);
    }
}

#[tokio::test]
async fn stale_snapshot_conflicts_and_writes_nothing() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let stale = store.load().await.unwrap();
        apply(&store, &plan, signoff("omar", "product"), t(1))
            .await
            .unwrap();
        let cmd = signoff("fiona", "finance");
        let d = decide(&plan, &stale.state, &stale.facts, &cmd, t(2)).unwrap();
        let err = store.record(&stale, t(2), &cmd, Ok(&d)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{}: {err}", b.name);
        let snap = store.load().await.unwrap();
        assert_eq!(snap.state.signoffs.len(), 1, "{}", b.name);
        assert_eq!(store.log().await.unwrap().len(), 2, "{}", b.name);
    }
}

#[tokio::test]
async fn concurrent_writers_exactly_one_wins() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        // Two processes' worth of pools, both deciding on the same snapshot.
        let other = Store::connect(&b.url).await.unwrap();
        let snap = store.load().await.unwrap();
        let c1 = signoff("omar", "product");
        let c2 = signoff("fiona", "finance");
        let d1 = decide(&plan, &snap.state, &snap.facts, &c1, t(1)).unwrap();
        let d2 = decide(&plan, &snap.state, &snap.facts, &c2, t(1)).unwrap();
        let (r1, r2) = tokio::join!(
            store.record(&snap, t(1), &c1, Ok(&d1)),
            other.record(&snap, t(1), &c2, Ok(&d2))
        );
        let wins = [r1.is_ok(), r2.is_ok()].iter().filter(|x| **x).count();
        assert_eq!(wins, 1, "{}: {r1:?} / {r2:?}", b.name);
        let loser = if r1.is_ok() { r2 } else { r1 };
        assert!(
            matches!(loser, Err(StoreError::Conflict) | Err(StoreError::Busy)),
            "{}: {loser:?}",
            b.name
        );
        let log = store.log().await.unwrap();
        assert_eq!(log.len(), 2, "{}", b.name);
        assert!(cutover_store::verify(&log).broken.is_empty());
        assert_eq!(store.load().await.unwrap().state.signoffs.len(), 1);
    }
}

#[tokio::test]
async fn waivers_round_trip_with_their_expiry() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let d = apply(
            &store,
            &plan,
            Command::Waive {
                by: "alex".into(),
                condition: "doc_done".into(),
                justification: "legacy docs accepted by the steering group".into(),
                expires: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            },
            t(1),
        )
        .await
        .unwrap();
        let snap = store.load().await.unwrap();
        assert_eq!(snap.state.waivers, d.state.waivers, "{}", b.name);
        assert_eq!(
            snap.state.waivers[0].expires,
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
    }
}

#[tokio::test]
async fn plan_versions_accumulate() {
    for b in backends().await {
        let (store, _) = started(&b.url).await;
        let snap = store.load().await.unwrap();
        let v2 = PLAN.replace("Watch", "Watch live performance");
        let (cmd, d) = apply_cmd(&snap, "alex", &v2, t(1));
        let entry = store
            .apply_plan(&snap, t(1), &cmd, Ok(&d), &v2)
            .await
            .unwrap();
        assert_eq!(entry.kind, "plan_apply");
        // Decided against version 1.
        assert_eq!(entry.plan_version, 1);
        let snap2 = store.load().await.unwrap();
        assert_eq!(snap2.plan.version, 2, "{}", b.name);
        assert_eq!(snap2.plan.content, v2);
        assert_eq!(snap2.plan.hash, content_hash(&v2));
        let all = store.plans(&snap2).await.unwrap();
        assert_eq!(
            all.iter().map(|p| p.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
        // The old snapshot is stale now.
        let (cmd, d) = apply_cmd(&snap, "alex", PLAN, t(2));
        let err = store
            .apply_plan(&snap, t(2), &cmd, Ok(&d), PLAN)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{}: {err}", b.name);
    }
}

#[tokio::test]
async fn tampering_breaks_the_chain() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        apply(&store, &plan, signoff("omar", "product"), t(1))
            .await
            .unwrap();
        apply(&store, &plan, signoff("fiona", "finance"), t(2))
            .await
            .unwrap();
        assert!(
            cutover_store::verify(&store.log().await.unwrap())
                .broken
                .is_empty()
        );
        store
            .connection()
            .execute_unprepared("UPDATE transition_log SET actor = 'mallory' WHERE seq = 2")
            .await
            .unwrap();
        let v = cutover_store::verify(&store.log().await.unwrap());
        assert_eq!(v.entries, 3);
        assert_eq!(v.broken.len(), 1, "{}: {:?}", b.name, v.broken);
        assert_eq!(v.broken[0].seq, 2);
        store
            .connection()
            .execute_unprepared("DELETE FROM transition_log WHERE seq = 2")
            .await
            .unwrap();
        let v = cutover_store::verify(&store.log().await.unwrap());
        assert!(
            v.broken.iter().any(|l| l.seq == 3),
            "{}: {:?}",
            b.name,
            v.broken
        );
    }
}

#[tokio::test]
async fn unreachable_database_is_one_clear_error() {
    let err = Store::connect("postgres://u:s3cret@127.0.0.1:1/nowhere")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("cannot open database postgres://u:***@127.0.0.1:1/nowhere: "),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn scheduled_run_with_window_and_findings_round_trips() {
    use cutover_engine::Window;
    use cutover_store::NewFinding;
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let window = Some(Window {
            from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 11, 7).unwrap(),
        });
        let cmd = Command::RecordRun {
            check: "nightly".into(),
            outcome: Outcome::Fail,
            window,
            detail: Some("2 variance".into()),
        };
        let findings = vec![
            NewFinding {
                code: "variance".into(),
                subject: "p1,2026-11-02,ftd_amount".into(),
                old: Some("100.10".into()),
                new: Some("90.00".into()),
                expected: None,
                detail: "|new - old| 10.10 over tolerance 1".into(),
            },
            NewFinding {
                code: "only_old".into(),
                subject: "p2,2026-11-03,registrations".into(),
                old: Some("3".into()),
                new: None,
                expected: None,
                detail: "missing in new".into(),
            },
        ];
        let snap = store.load().await.unwrap();
        let d = decide(&plan, &snap.state, &snap.facts, &cmd, t(1)).unwrap();
        store
            .record_with_findings(&snap, t(1), &cmd, Ok(&d), &findings)
            .await
            .unwrap();
        let snap = store.load().await.unwrap();
        let (run, stored) = store
            .latest_findings(&snap, "nightly")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(run.window, window, "{}", b.name);
        assert_eq!(run.recorded_by, None);
        assert_eq!(run.outcome, Outcome::Fail);
        assert_eq!(stored, findings, "{}", b.name);
        assert_eq!(snap.facts.check_runs.len(), 1);
        // A refusal stores no run and no findings.
        let other = Command::RecordRun {
            check: "documented".into(),
            outcome: Outcome::Pass,
            window,
            detail: None,
        };
        let r = decide(&plan, &snap.state, &snap.facts, &other, t(2)).unwrap_err();
        store
            .record_with_findings(&snap, t(2), &other, Err(&r), &findings)
            .await
            .unwrap();
        let (_, again) = store
            .latest_findings(&snap, "nightly")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.len(), 2, "{}", b.name);
        assert!(
            store
                .latest_findings(&snap, "documented")
                .await
                .unwrap()
                .is_none()
        );
    }
}

// ---------------------------------------------------------------------------------------
// The state is bound to the log.

/// Runs `sql` against the test database, bypassing the store.
async fn sql(store: &Store, sql: &str) {
    store
        .connection()
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn unverified(r: Result<Snapshot, StoreError>) -> String {
    match r {
        Err(StoreError::Unverified(why)) => why,
        Err(e) => panic!("expected Unverified, got {e}"),
        Ok(_) => panic!("expected Unverified, got a snapshot"),
    }
}

fn state_problems(a: &cutover_store::Audit) -> Vec<String> {
    a.problems
        .iter()
        .filter(|p| p.area == cutover_store::Area::State)
        .map(|p| p.text.clone())
        .collect()
}

#[tokio::test]
async fn regression_state_row_tampering_is_refused_and_named() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        apply(&store, &plan, signoff("omar", "product"), t(1))
            .await
            .unwrap();
        apply(
            &store,
            &plan,
            record("omar", "documented", Outcome::Pass),
            t(2),
        )
        .await
        .unwrap();
        let clean = store.audit(None).await.unwrap();
        assert!(clean.ok(), "{}: {:?}", b.name, clean.problems);

        // Moving the phase by SQL: no command decides on it, verify names the column.
        sql(
            &store,
            "UPDATE migrations SET current_phase = 'stabilization'",
        )
        .await;
        let why = unverified(store.load().await);
        assert_eq!(
            why,
            "the state rows do not match the state bound to log entry #3 (a row was changed outside cutover)",
            "{}",
            b.name
        );
        let a = store.audit(None).await.unwrap();
        assert_eq!(
            state_problems(&a),
            vec![
                "migrations.current_phase is \"stabilization\" but the log says \"discovery\""
                    .to_string(),
                "the state rows do not match the state bound to the last entry (#3), so every command refuses to run".to_string(),
            ],
            "{}",
            b.name
        );
        sql(&store, "UPDATE migrations SET current_phase = 'discovery'").await;
        store.load().await.expect("restored");

        // A sign-off and a check run inserted by SQL.
        sql(
            &store,
            "INSERT INTO signoffs (migration_id, seq, phase, layer, signed_by, signed_at) \
             VALUES (1, 2, 'discovery', 'finance', 'mallory', '2026-11-25T09:03:00+00:00')",
        )
        .await;
        sql(
            &store,
            "INSERT INTO check_runs (migration_id, check_id, phase, outcome, recorded_by, recorded_at, source) \
             VALUES (1, 'documented', 'discovery', 'pass', 'mallory', '2026-11-25T09:04:00+00:00', 'manual')",
        )
        .await;
        unverified(store.load().await);
        let a = store.audit(None).await.unwrap();
        let problems = state_problems(&a);
        assert_eq!(
            problems[..2],
            [
                "signoffs row seq 2 (layer finance by mallory) has no log entry".to_string(),
                "check_runs row id 2 (check documented: pass by mallory) has no log entry"
                    .to_string(),
            ],
            "{}: {problems:?}",
            b.name
        );
        // Editing a recorded outcome is named too.
        sql(&store, "DELETE FROM signoffs WHERE signed_by = 'mallory'").await;
        sql(
            &store,
            "DELETE FROM check_runs WHERE recorded_by = 'mallory'",
        )
        .await;
        store.load().await.expect("restored");
        sql(
            &store,
            "UPDATE check_runs SET outcome = 'fail' WHERE id = 1",
        )
        .await;
        unverified(store.load().await);
        let a = store.audit(None).await.unwrap();
        assert_eq!(
            state_problems(&a)[0],
            "check_runs row id 1 (check documented: fail by omar): outcome is \"fail\" but the log says \"pass\" (entry #3)",
            "{}",
            b.name
        );
        // And the plan text the authority comes from.
        sql(
            &store,
            "UPDATE check_runs SET outcome = 'pass' WHERE id = 1",
        )
        .await;
        sql(
            &store,
            "UPDATE plans SET content = replace(content, 'omar, name: Omar', 'omar, name: Omar, lead: true')",
        )
        .await;
        assert_eq!(
            unverified(store.load().await),
            "plans row version 1: its text does not match its sha256",
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn regression_seq_at_i64_max_refuses_to_append() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        apply(&store, &plan, signoff("omar", "product"), t(1))
            .await
            .unwrap();
        // Renumber the two entries to the very end of i64 and re-hash them so the tail
        // still verifies.
        let mut log = store.log().await.unwrap();
        log[0].seq = i64::MAX - 1;
        log[0].hash = log[0].compute_hash();
        log[1].seq = i64::MAX;
        log[1].prev_hash = log[0].hash.clone();
        log[1].hash = log[1].compute_hash();
        for (old, e) in [(1, &log[0]), (2, &log[1])] {
            sql(
                &store,
                &format!(
                    "UPDATE transition_log SET seq = {}, prev_hash = '{}', hash = '{}' WHERE seq = {old}",
                    e.seq, e.prev_hash, e.hash
                ),
            )
            .await;
        }
        let snap = store.load().await.expect("the tail verifies");
        assert_eq!(snap.head.seq, i64::MAX);
        let cmd = signoff("fiona", "finance");
        let d = decide(&plan, &snap.state, &snap.facts, &cmd, t(2)).unwrap();
        let err = store.record(&snap, t(2), &cmd, Ok(&d)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::LogFull(n) if n == i64::MAX),
            "{}: {err}",
            b.name
        );
        assert_eq!(
            err.to_string(),
            format!(
                "the log is full (its last entry is #{}); nothing was changed",
                i64::MAX
            )
        );
        // Nothing was written.
        let after = store.load().await.unwrap();
        assert_eq!(after.state.signoffs.len(), 1, "{}", b.name);
        assert_eq!(store.log().await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn a_log_key_signs_every_entry_and_load_refuses_a_forged_tail() {
    use cutover_store::{LogKey, StoreOptions};
    for b in backends().await {
        let key = LogKey::new("correct horse battery staple");
        let store = Store::connect_with(&b.url, StoreOptions::default().with_log_key(key))
            .await
            .unwrap();
        let plan = plan();
        let cmd = Command::Start { by: "alex".into() };
        let d = decide(
            &plan,
            &MigrationState::new(),
            &Default::default(),
            &cmd,
            t(0),
        )
        .unwrap();
        store
            .create(&plan.migration, "plan.yaml", PLAN, t(0), &cmd, &d)
            .await
            .unwrap();
        apply(&store, &plan, signoff("omar", "product"), t(1))
            .await
            .unwrap();
        let log = store.log().await.unwrap();
        assert!(log.iter().all(|e| e.mac.is_some()), "{}", b.name);
        let a = store.audit(None).await.unwrap();
        assert!(a.ok(), "{}: {:?}", b.name, a.problems);
        assert_eq!(a.signed, Some(2));

        // Someone with database access re-hashes the tail after editing it: the chain
        // holds, the MAC does not.
        let mut tail = log[1].clone();
        tail.actor = Some("mallory".into());
        tail.hash = tail.compute_hash();
        sql(
            &store,
            &format!(
                "UPDATE transition_log SET actor = 'mallory', hash = '{}' WHERE seq = 2",
                tail.hash
            ),
        )
        .await;
        assert_eq!(
            unverified(store.load().await),
            "log entry #2's MAC does not match CUTOVER_LOG_KEY",
            "{}",
            b.name
        );
        // Without the MAC, after a signed entry, it is refused too.
        sql(&store, "UPDATE transition_log SET mac = NULL WHERE seq = 2").await;
        assert_eq!(
            unverified(store.load().await),
            "log entry #2 is not signed although the entry before it is",
            "{}",
            b.name
        );
        let a = store.audit(None).await.unwrap();
        let macs: Vec<String> = a
            .problems
            .iter()
            .filter(|p| p.area == cutover_store::Area::Mac)
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            macs,
            vec!["mac: entry #2 has no MAC (written without CUTOVER_LOG_KEY, or re-written)"],
            "{}",
            b.name
        );
        // A store without the key does not check MACs at all.
        let keyless = Store::connect(&b.url).await.unwrap();
        keyless.load().await.expect("no key, no MAC check");
    }
}

#[tokio::test]
async fn regression_failed_schema_upgrade_leaves_no_partial_schema() {
    for b in backends().await {
        // A table in the way of the third migration makes the upgrade fail after the
        // first two have run their statements.
        let raw = sea_orm::Database::connect(&b.url).await.unwrap();
        raw.execute_unprepared("CREATE TABLE check_findings (id integer)")
            .await
            .unwrap();
        let err = Store::connect(&b.url).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("schema migration failed") && !text.contains('\n'),
            "{}: {text}",
            b.name
        );
        // Nothing of the first migrations is left behind...
        let probe = raw
            .execute_unprepared("SELECT count(*) FROM migrations")
            .await;
        assert!(probe.is_err(), "{}: migrations table left behind", b.name);
        // ...so once the obstacle is gone the next connect upgrades from scratch.
        raw.execute_unprepared("DROP TABLE check_findings")
            .await
            .unwrap();
        let (store, _) = started(&b.url).await;
        assert_eq!(store.log().await.unwrap().len(), 1, "{}", b.name);
    }
}

#[tokio::test]
async fn decide_locked_queues_concurrent_writers_instead_of_conflicting() {
    use cutover_store::Decided;
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let stores: Vec<Store> = stores_on(&b.url, 6).await;
        let cmds = [
            signoff("omar", "product"),
            signoff("fiona", "finance"),
            record("omar", "documented", Outcome::Pass),
            record("fiona", "payouts_ok", Outcome::Pass),
            signoff("omar", "product"),
            signoff("alex", "finance"),
        ];
        let tasks: Vec<_> = stores
            .into_iter()
            .zip(cmds)
            .enumerate()
            .map(|(i, (s, cmd))| {
                let plan = plan.clone();
                tokio::spawn(async move {
                    s.decide_locked(|snap| -> Result<_, StoreError> {
                        let at = t(10 + i as i64);
                        let result = decide(&plan, &snap.state, &snap.facts, &cmd, at);
                        Ok(Some(Decided {
                            command: cmd.clone(),
                            result,
                            at,
                            findings: &[],
                            plan_text: None,
                            register: None,
                        }))
                    })
                    .await
                    .map(|o| o.map(|(e, d)| (e.seq, d.result.is_ok())))
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        // Nobody conflicted: six entries after the start, each decided on the state the
        // one before left.
        assert!(
            results.iter().all(|r| matches!(r, Ok(Some(_)))),
            "{}: {results:?}",
            b.name
        );
        let log = store.log().await.unwrap();
        assert_eq!(log.len(), 7, "{}", b.name);
        // omar signed off product once; the second try was refused as a duplicate.
        let snap = store.load().await.unwrap();
        assert_eq!(
            snap.state
                .signoffs
                .iter()
                .filter(|s| s.layer == "product")
                .count(),
            1
        );
        assert!(store.audit(None).await.unwrap().ok());
    }
}

/// `n` stores on one database, as `n` processes would have.
async fn stores_on(url: &str, n: usize) -> Vec<Store> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Store::connect(url).await.unwrap());
    }
    out
}
