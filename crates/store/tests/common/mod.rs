//! Shared by the store suites: a database of its own per test, on SQLite always and on
//! Postgres whenever `CUTOVER_TEST_DATABASE_URL` is set (required when `CI=true`).
//! Postgres test databases are named `cutover_test_*`; `.ci/run` drops them afterwards.

use chrono::Utc;
use sea_orm::ConnectionTrait;

/// A database of its own for one test, on every backend under test.
pub struct Backend {
    pub name: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("cutover.db").display()
    );
    let mut out = vec![Backend {
        name: "sqlite",
        url,
        _dir: Some(dir),
    }];
    match std::env::var("CUTOVER_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => out.push(Backend {
            name: "postgres",
            url: fresh_postgres(&base).await,
            _dir: None,
        }),
        _ => assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CUTOVER_TEST_DATABASE_URL must be set under CI=true: the Postgres half of the store suite may not be skipped"
        ),
    }
    out
}

async fn fresh_postgres(base: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!(
        "cutover_test_store_{}_{}_{}",
        std::process::id(),
        n,
        Utc::now().timestamp_micros()
    );
    let admin = sea_orm::Database::connect(base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach Postgres at CUTOVER_TEST_DATABASE_URL: {e}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    let (head, _) = base.rsplit_once('/').expect("database URL has a path");
    format!("{head}/{name}")
}
