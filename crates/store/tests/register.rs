//! The variance register on SQLite always and on Postgres whenever
//! `CUTOVER_TEST_DATABASE_URL` is set: check runs upsert their variances in the run's own
//! transaction, re-runs never duplicate, keys that match later converge, people's changes
//! follow the status machine and are kept with who, when and why.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cutover_engine::{Command, MigrationState, Window, decide};
use cutover_plan::{Outcome, Plan};
use cutover_recon::Finding;
use cutover_recon::register::{Action, Status, sightings};
use cutover_store::{
    Change, Decided, Explanation, Proposed, RegisterItem, RegisterRun, Store, StoreError,
};
use rust_decimal::Decimal;

mod common;
use common::backends;

const PLAN: &str = r#"
migration: register-story
timezone: Europe/Malta
currency: EUR
layers:
  finance: { description: Payouts }
people:
  - { id: alex, name: Alex, email: alex@example.com, lead: true }
  - { id: fiona, name: Fiona, email: fiona@example.com, layers: [finance] }
checks:
  - { id: nightly, layer: finance, kind: reconcile, schedule: "0 7 * * *" }
phases:
  - id: parallel
    goal: Compare
    owners: [finance]
    exit:
      - { id: nightly_ok, check: nightly, outcome: [pass, warn] }
"#;

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

async fn started(url: &str) -> (Store, Plan) {
    let store = Store::connect(url).await.expect("connect");
    let plan = cutover_plan::load("plan.yaml", PLAN)
        .unwrap_or_else(|d| panic!("test plan invalid: {d:?}"))
        .plan;
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

/// Records one run of `nightly` over Nov 1..7 with these findings, through the register.
async fn run(store: &Store, plan: &Plan, at: DateTime<Utc>, findings: &[Finding], compared: bool) {
    let items = sightings("nightly", findings, |m| m == "ftd_amount")
        .into_iter()
        .map(|s| RegisterItem {
            proposed: (s.key.metric == "clicks_gross").then(|| Proposed {
                category: "gross_unique".into(),
                confidence: "0.80".into(),
                evidence: serde_json::json!({"sentence": "stable ratio"}),
            }),
            group: (s.key.metric == "clicks_gross").then(|| "gross_unique:nightly:p1".into()),
            sighting: s,
        })
        .collect();
    let reg = RegisterRun {
        check: "nightly".into(),
        from: day(1),
        to: day(7),
        items,
        snapshots: vec![],
        compared,
    };
    let cmd = Command::RecordRun {
        check: "nightly".into(),
        outcome: if compared {
            Outcome::Fail
        } else {
            Outcome::Error
        },
        window: Some(Window {
            from: day(1),
            to: day(7),
        }),
        detail: None,
    };
    store
        .decide_locked(|snap| -> Result<_, StoreError> {
            let result = decide(plan, &snap.state, &snap.facts, &cmd, at);
            assert!(result.is_ok(), "{result:?}");
            Ok(Some(Decided {
                command: cmd.clone(),
                result,
                at,
                findings: &[],
                plan_text: None,
                register: Some(&reg),
            }))
        })
        .await
        .expect("record run");
}

fn findings(ftd_new: &str) -> Vec<Finding> {
    vec![
        Finding::new("variance", "p1,2026-11-02,ftd_amount", "")
            .values(Some(dec("100.10")), Some(dec(ftd_new))),
        Finding::new("variance", "p1,2026-11-03,clicks_gross", "")
            .values(Some(dec("40")), Some(dec("36"))),
        Finding::new("within_tolerance", "p1,2026-11-04,clicks_gross", "")
            .values(Some(dec("40")), Some(dec("40"))),
        Finding::new("unmapped_partner", "new:x", ""),
    ]
}

#[tokio::test]
async fn re_runs_update_and_never_duplicate() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let mid = store.load().await.unwrap().migration_id;
        run(&store, &plan, t(1), &findings("90.00"), true).await;
        let v = store.variances(mid).await.unwrap();
        assert_eq!(v.len(), 2, "{}: {v:?}", b.name);
        assert_eq!(v[0].key.metric, "ftd_amount");
        assert_eq!(v[0].delta, "-10.10");
        assert_eq!(v[0].money_impact.as_deref(), Some("10.10"));
        assert_eq!(v[0].status, Status::Open);
        assert_eq!(v[1].money_impact, None);
        assert_eq!(v[1].proposed.as_ref().unwrap().category, "gross_unique");
        assert_eq!(v[1].group.as_deref(), Some("gross_unique:nightly:p1"));

        run(&store, &plan, t(2), &findings("95.00"), true).await;
        let again = store.variances(mid).await.unwrap();
        assert_eq!(again.len(), 2, "{}: a re-run duplicated", b.name);
        assert_eq!(again[0].id, v[0].id);
        assert_eq!(again[0].delta, "-5.10");
        assert_eq!(again[0].first_seen, t(1));
        assert_eq!(again[0].last_seen, t(2));
        assert_eq!(again[0].runs.len(), 2);
    }
}

#[tokio::test]
async fn keys_that_match_later_converge_and_come_back_open() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let mid = store.load().await.unwrap().migration_id;
        run(&store, &plan, t(1), &findings("90.00"), true).await;
        // A run that could not compare converges nothing.
        run(&store, &plan, t(2), &[], false).await;
        assert!(
            store
                .variances(mid)
                .await
                .unwrap()
                .iter()
                .all(|v| v.status == Status::Open),
            "{}",
            b.name
        );
        // Late data arrived: only the clicks key still differs.
        let late: Vec<Finding> = findings("90.00").into_iter().skip(1).collect();
        run(&store, &plan, t(3), &late, true).await;
        let v = store.variances(mid).await.unwrap();
        assert_eq!(v[0].status, Status::Converged, "{}", b.name);
        assert_eq!(v[1].status, Status::Open);
        let ev = store.variance_events(v[0].id).await.unwrap();
        assert_eq!(ev.last().unwrap().action, "converge");
        assert_eq!(ev.last().unwrap().actor, "check run");
        // It differs again: open again.
        run(&store, &plan, t(4), &findings("90.00"), true).await;
        assert_eq!(
            store.variances(mid).await.unwrap()[0].status,
            Status::Open,
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn changes_follow_the_status_machine_and_are_kept() {
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let mid = store.load().await.unwrap().migration_id;
        run(&store, &plan, t(1), &findings("90.00"), true).await;
        let v = store.variances(mid).await.unwrap();
        let id = v[1].id;
        let explain = Change {
            action: Action::Explain,
            actor: "alex".into(),
            why: "gross vs unique".into(),
            at: t(5),
            explanation: Some(Explanation {
                category: "gross_unique".into(),
                note: "gross vs unique".into(),
                by: "alex".into(),
                at: t(5),
                expires: None,
            }),
            accept: None,
        };
        // Accepting an open variance is refused and changes nothing.
        let accept = Change {
            action: Action::Accept,
            actor: "fiona".into(),
            why: String::new(),
            at: t(6),
            explanation: None,
            accept: None,
        };
        assert!(
            store
                .change_variances(mid, &[(id, Status::Open)], &accept)
                .await
                .is_err()
        );
        assert_eq!(
            store.variance(mid, id).await.unwrap().unwrap().status,
            Status::Open
        );
        // A stale status is a conflict.
        assert!(matches!(
            store
                .change_variances(mid, &[(id, Status::Explained)], &explain)
                .await,
            Err(StoreError::Conflict)
        ));
        store
            .change_variances(mid, &[(id, Status::Open)], &explain)
            .await
            .unwrap();
        store
            .change_variances(mid, &[(id, Status::Explained)], &accept)
            .await
            .unwrap();
        let got = store.variance(mid, id).await.unwrap().unwrap();
        assert_eq!(got.status, Status::Accepted, "{}", b.name);
        assert_eq!(got.accepted_by.as_deref(), Some("fiona"));
        assert_eq!(got.explanation.unwrap().category, "gross_unique");
        let ev = store.variance_events(id).await.unwrap();
        let actions: Vec<_> = ev
            .iter()
            .map(|e| (e.action.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("seen", "check run"),
                ("explain", "alex"),
                ("accept", "fiona")
            ],
            "{}",
            b.name
        );
        // Seen again while accepted: stays accepted.
        run(&store, &plan, t(7), &findings("90.00"), true).await;
        assert_eq!(
            store.variance(mid, id).await.unwrap().unwrap().status,
            Status::Accepted
        );
    }
}

#[tokio::test]
async fn variance_commands_land_with_their_log_entry_and_refusals_change_nothing() {
    use cutover_engine::{Refusal, VarianceAction};
    for b in backends().await {
        let (store, plan) = started(&b.url).await;
        let mid = store.load().await.unwrap().migration_id;
        run(&store, &plan, t(1), &findings("90.00"), true).await;
        let v = store.variances(mid).await.unwrap();
        let id = v[0].id;
        // The facts every command loads carry the live variances.
        let facts = store.load().await.unwrap().facts.variances;
        assert_eq!(facts.len(), 2, "{}", b.name);
        assert_eq!(facts[0].id, id);
        assert_eq!(facts[0].delta, dec("-10.10"));
        assert_eq!(facts[0].money_impact, Some(dec("10.10")));
        let cmd = Command::Variance {
            by: "alex".into(),
            action: VarianceAction::Explain,
            ids: vec![id],
            group: None,
            category: Some("fx".into()),
            note: Some("rates".into()),
            expires: None,
        };
        let explain = Change {
            action: Action::Explain,
            actor: "alex".into(),
            why: "rates".into(),
            at: t(5),
            explanation: Some(Explanation {
                category: "fx".into(),
                note: "rates".into(),
                by: "alex".into(),
                at: t(5),
                expires: None,
            }),
            accept: None,
        };
        // Refused under the lock: logged, nothing changed.
        let (entry, result) = store
            .variance_command(&cmd, t(5), &[(id, Status::Open)], &explain, |_| {
                Err(Refusal::Invalid {
                    reason: "no".into(),
                })
            })
            .await
            .unwrap();
        assert!(result.is_err());
        assert_eq!(
            (entry.kind.as_str(), entry.result.as_str()),
            ("variance_explain", "refused")
        );
        assert_eq!(
            store.variance(mid, id).await.unwrap().unwrap().status,
            Status::Open
        );
        // Accepted: the change and its entry land together.
        let (entry, result) = store
            .variance_command(&cmd, t(6), &[(id, Status::Open)], &explain, |snap| {
                decide(&plan, &snap.state, &snap.facts, &cmd, t(6))
            })
            .await
            .unwrap();
        assert_eq!(result.unwrap(), [Status::Explained], "{}", b.name);
        assert_eq!(
            (entry.kind.as_str(), entry.result.as_str()),
            ("variance_explain", "accepted")
        );
        assert_eq!(
            store.variance(mid, id).await.unwrap().unwrap().status,
            Status::Explained
        );
        // The entry pins the live variances by count and digest, not by a copy.
        let f: serde_json::Value = serde_json::from_str(&entry.facts).unwrap();
        assert_eq!(f["variances"]["live"], 2, "{f}");
        assert_eq!(
            f["variances"]["sha256"].as_str().map(str::len),
            Some(64),
            "{f}"
        );
        // A stale expected status: a conflict, and no entry.
        let before = store.log().await.unwrap().len();
        assert!(matches!(
            store
                .variance_command(&cmd, t(7), &[(id, Status::Open)], &explain, |snap| {
                    decide(&plan, &snap.state, &snap.facts, &cmd, t(7))
                })
                .await,
            Err(StoreError::Conflict)
        ));
        assert_eq!(store.log().await.unwrap().len(), before);
        let audit = store.audit(None).await.unwrap();
        assert!(audit.ok(), "{}: {:?}", b.name, audit.problems);
    }
}
