//! The outbox on SQLite and on Postgres: rows queued with the decision that implies them
//! (or not at all), never twice for one key, claimed under a lease, marked sent or failed.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cutover_engine::{Command, MigrationState, Refusal, decide};
use cutover_plan::Plan;
use cutover_store::{Decided, NewOutbox, OutboxStatus, Store, StoreError};

mod common;
use common::backends;

const PLAN: &str = r#"
migration: outbox-story
timezone: Europe/Malta
currency: EUR
layers:
  product: { description: Event mapping }
people:
  - { id: alex, name: Alex, email: alex@example.com, lead: true }
  - { id: omar, name: Omar, email: omar@example.com, layers: [product] }
checks:
  - { id: documented, layer: product, kind: manual }
phases:
  - id: discovery
    goal: Capture current logic
    owners: [product]
    exit:
      - { id: doc_done, check: documented, outcome: pass }
  - id: setup
    goal: Connect
    owners: [product]
    exit:
      - { id: settle, min_duration: 1d }
"#;

fn plan() -> Plan {
    cutover_plan::load("plan.yaml", PLAN)
        .unwrap_or_else(|d| panic!("test plan invalid: {d:?}"))
        .plan
}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn row(key: &str, to: &str) -> NewOutbox {
    NewOutbox {
        key: key.to_string(),
        kind: "transition".into(),
        recipient: to.to_string(),
        address: format!("{to}@example.com"),
        subject: format!("about {key}"),
        text: "plain".into(),
        html: "<p>html</p>".into(),
        domain: "example.com".into(),
    }
}

async fn started(url: &str) -> Store {
    let store = Store::connect(url).await.expect("connect");
    let plan = plan();
    let command = Command::Start { by: "alex".into() };
    let decision = decide(
        &plan,
        &MigrationState::new(),
        &Default::default(),
        &command,
        t(0),
    )
    .expect("start accepted");
    store
        .create_with_outbox(
            &plan.migration,
            "plan.yaml",
            PLAN,
            t(0),
            &command,
            &decision,
            vec![
                row("start", "alex"),
                row("start", "alex"),
                row("start2", "omar"),
            ],
        )
        .await
        .expect("create");
    store
}

#[tokio::test]
async fn start_queues_its_rows_once_with_the_log_entry_number() {
    for b in backends().await {
        let store = started(&b.url).await;
        let rows = store.outbox(100).await.expect("outbox");
        assert_eq!(rows.len(), 2, "{}: duplicate key queued once", b.name);
        let mut keys: Vec<_> = rows.iter().map(|r| r.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["log1/start", "log1/start2"], "{}", b.name);
        assert!(rows.iter().all(|r| r.status == OutboxStatus::Queued));
        assert!(rows[0].message_id.starts_with("<cutover."));
        assert!(rows[0].message_id.ends_with("@example.com>"));
        assert_ne!(rows[0].message_id, rows[1].message_id);
        assert_eq!(store.outbox_counts().await.unwrap(), (2, 0, 0));
    }
}

#[tokio::test]
async fn a_decision_and_its_rows_land_together_or_not_at_all() {
    for b in backends().await {
        let store = started(&b.url).await;
        let plan = plan();
        // Accepted: the rows are queued under the new entry's number.
        let out = store
            .decide_locked_with_outbox(|snap| -> Result<_, StoreError> {
                let command = Command::RecordOutcome {
                    by: "omar".into(),
                    check: "documented".into(),
                    outcome: cutover_plan::Outcome::Pass,
                    detail: None,
                };
                let result = decide(&plan, &snap.state, &snap.facts, &command, t(5));
                Ok(Some((
                    Decided {
                        command,
                        result,
                        at: t(5),
                        findings: &[],
                        plan_text: None,
                        register: None,
                    },
                    vec![row("digest/omar", "omar")],
                )))
            })
            .await
            .expect("stored")
            .expect("decided");
        assert_eq!(out.2, 1, "{}", b.name);
        assert!(
            store
                .outbox(100)
                .await
                .unwrap()
                .iter()
                .any(|r| r.key == format!("log{}/digest/omar", out.0.seq)),
            "{}",
            b.name
        );
        // Aborted by the caller: neither the entry nor the rows are stored.
        let before = store.log().await.unwrap().len();
        let err = store
            .decide_locked_with_outbox(
                |_| -> Result<Option<(Decided<'_>, Vec<NewOutbox>)>, StoreError> {
                    Err(StoreError::Busy)
                },
            )
            .await;
        assert!(err.is_err());
        assert_eq!(store.log().await.unwrap().len(), before, "{}", b.name);
        assert_eq!(store.outbox_counts().await.unwrap().0, 3, "{}", b.name);
        // A refusal is logged and its rows queued too.
        let refused = store
            .decide_locked_with_outbox(|snap| -> Result<_, StoreError> {
                let command = Command::Advance {
                    by: "omar".into(),
                    from: "discovery".into(),
                    to: None,
                    reason: None,
                };
                let result: Result<_, Refusal> =
                    decide(&plan, &snap.state, &snap.facts, &command, t(6));
                assert!(result.is_err());
                Ok(Some((
                    Decided {
                        command,
                        result,
                        at: t(6),
                        findings: &[],
                        plan_text: None,
                        register: None,
                    },
                    vec![row("refused/alex", "alex")],
                )))
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refused.2, 1, "{}", b.name);
    }
}

#[tokio::test]
async fn claims_lease_rows_and_marks_them_sent_or_failed() {
    for b in backends().await {
        let store = started(&b.url).await;
        let lease = Duration::minutes(5);
        let claimed = store.claim_due(t(1), lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 2, "{}", b.name);
        // Leased: a second sender finds nothing until the lease runs out.
        assert!(store.claim_due(t(2), lease, 10).await.unwrap().is_empty());
        store.mark_sent(claimed[0].id, t(2)).await.unwrap();
        store
            .mark_attempt_failed(claimed[1].id, "421 try later", Some(t(3)))
            .await
            .unwrap();
        let again = store.claim_due(t(3), lease, 10).await.unwrap();
        assert_eq!(again.len(), 1, "{}: only the failed one is due", b.name);
        assert_eq!(again[0].id, claimed[1].id);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(again[0].last_error.as_deref(), Some("421 try later"));
        store
            .mark_attempt_failed(again[0].id, "550 no such user", None)
            .await
            .unwrap();
        assert_eq!(
            store.outbox_counts().await.unwrap(),
            (0, 1, 1),
            "{}",
            b.name
        );
        // A sent message is never claimed again.
        assert!(store.claim_due(t(60), lease, 10).await.unwrap().is_empty());
        let rows = store.outbox(10).await.unwrap();
        let sent = rows
            .iter()
            .find(|r| r.status == OutboxStatus::Sent)
            .unwrap();
        assert_eq!(sent.sent_at, Some(t(2)));
        assert_eq!(sent.attempts, 1);
    }
}
