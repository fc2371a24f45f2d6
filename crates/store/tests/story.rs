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
    let cmd = Command::Start {
        by: Some("alex".into()),
    };
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
        let cmd = Command::Start { by: None };
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
            matches!(loser, Err(StoreError::Conflict) | Err(StoreError::Locked)),
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
        let (version, entry) = store
            .apply_plan(&snap, "plan-v2.yaml", &v2, Some("alex"), t(1))
            .await
            .unwrap();
        assert_eq!(version, 2);
        assert_eq!(entry.kind, "plan_apply");
        assert_eq!(entry.plan_version, 2);
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
        let err = store
            .apply_plan(&snap, "plan-v3.yaml", PLAN, None, t(2))
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
