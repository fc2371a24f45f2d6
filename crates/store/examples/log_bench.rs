//! What binding the state to the log costs a command, on a log of many entries.
//!
//! `cargo run --release -p cutover-store --example log_bench -- [ENTRIES] [POSTGRES_URL]`
//! builds a migration whose log has ENTRIES entries (default 10,000: 20 recorded check
//! runs, two sign-offs, the rest refused advances) in a fresh SQLite file, and in a fresh
//! Postgres database next to POSTGRES_URL when given. Then it times, per command:
//!
//! * `load`: the snapshot every command reads (state rows, the log's tail and its hash
//!   and link, the state digest compared with the tail's binding);
//! * `append`: one refused command decided and appended under the write lock
//!   (`decide_locked`: load again inside the transaction, append, commit);
//! * `audit`: `history verify` over the whole log (chain, replay, every row compared).

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use cutover_engine::{Command, MigrationState, decide};
use cutover_plan::Outcome;
use cutover_store::{Decided, Store, StoreError};
use sea_orm::ConnectionTrait;

const PLAN: &str = r#"
migration: log-bench
timezone: Europe/Malta
currency: EUR
layers:
  product: { description: Event mapping }
  finance: { description: Payouts }
people:
  - { id: alex, name: Alex, email: alex@example.com, lead: true }
  - { id: omar, name: Omar, email: omar@example.com, layers: [product] }
  - { id: fiona, name: Fiona, email: fiona@example.com, layers: [finance] }
checks:
  - { id: documented, layer: product, kind: manual }
phases:
  - id: discovery
    goal: Capture current logic
    owners: [product]
    exit:
      - { id: doc_done, check: documented, outcome: pass, consecutive: 100 }
      - { id: signed, signoff: [product, finance] }
  - id: setup
    goal: Connect
    owners: [product]
    exit:
      - { id: settle, min_duration: 14d }
"#;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

async fn build(store: &Store, entries: usize) {
    let plan = cutover_plan::load("plan.yaml", PLAN).unwrap().plan;
    let start = Command::Start { by: "alex".into() };
    let d = decide(
        &plan,
        &MigrationState::new(),
        &Default::default(),
        &start,
        t(0),
    )
    .unwrap();
    store
        .create(&plan.migration, "plan.yaml", PLAN, t(0), &start, &d)
        .await
        .unwrap();
    for i in 1..entries as i64 {
        let cmd = match i {
            1..=20 => Command::RecordOutcome {
                by: "omar".into(),
                check: "documented".into(),
                outcome: Outcome::Pass,
                detail: None,
            },
            21 => Command::SignOff {
                by: "omar".into(),
                layer: "product".into(),
                comment: None,
            },
            22 => Command::SignOff {
                by: "fiona".into(),
                layer: "finance".into(),
                comment: None,
            },
            _ => Command::Advance {
                by: "alex".into(),
                from: "discovery".into(),
                to: None,
                reason: None,
            },
        };
        let snap = store.load().await.unwrap();
        let result = decide(&plan, &snap.state, &snap.facts, &cmd, t(i));
        store
            .record(&snap, t(i), &cmd, result.as_ref())
            .await
            .unwrap();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(name: &str, store: &Store, entries: usize) {
    let plan = cutover_plan::load("plan.yaml", PLAN).unwrap().plan;
    let mut loads = Vec::new();
    for _ in 0..200 {
        let t0 = Instant::now();
        store.load().await.unwrap();
        loads.push(t0.elapsed());
    }
    let mut appends = Vec::new();
    for i in 0..50 {
        let cmd = Command::Advance {
            by: "alex".into(),
            from: "discovery".into(),
            to: None,
            reason: None,
        };
        let t0 = Instant::now();
        store
            .decide_locked(|snap| -> Result<_, StoreError> {
                let at = t(entries as i64 + i);
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
            .unwrap();
        appends.push(t0.elapsed());
    }
    let t0 = Instant::now();
    let audit = store.audit(None).await.unwrap();
    let audit_time = t0.elapsed();
    assert!(audit.ok(), "{:?}", audit.problems);
    println!(
        "{name}: {} entries: load {:.2} ms, append (locked decide) {:.2} ms, audit {:.0} ms",
        audit.entries,
        median(loads).as_secs_f64() * 1e3,
        median(appends).as_secs_f64() * 1e3,
        audit_time.as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let entries: usize = args.next().map_or(10_000, |a| a.parse().expect("ENTRIES"));
    let pg = args.next();

    let dir = tempfile::tempdir().unwrap();
    // LOG_BENCH_KEEP=FILE keeps the SQLite database for a look afterwards.
    let file = std::env::var("LOG_BENCH_KEEP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("bench.db"));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let store = Store::connect(&url).await.unwrap();
    let t0 = Instant::now();
    build(&store, entries).await;
    println!(
        "sqlite: built {entries} entries in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    measure("sqlite", &store, entries).await;

    if let Some(base) = pg {
        let name = format!("cutover_test_bench_{}", std::process::id());
        let admin = sea_orm::Database::connect(&base).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let (head, _) = base.rsplit_once('/').unwrap();
        let store = Store::connect(&format!("{head}/{name}")).await.unwrap();
        let t0 = Instant::now();
        build(&store, entries).await;
        println!(
            "postgres: built {entries} entries in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        measure("postgres", &store, entries).await;
        drop(store);
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await
            .ok();
    }
}
