//! Scale-out on Postgres (`CUTOVER_TEST_DATABASE_URL`; required under CI=true): two
//! `cutover serve` processes on one store share the scheduler's ticks and the queue: every
//! tick is queued by one process only, and each check's window is run and stored once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

mod support;
use support::{Env, sim_plan, start_sim, text};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh database on the test server, or `None` outside CI when none is configured.
fn fresh_database() -> Option<String> {
    let base = match std::env::var("CUTOVER_TEST_DATABASE_URL") {
        Ok(b) if !b.is_empty() => b,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CUTOVER_TEST_DATABASE_URL must be set under CI=true"
            );
            eprintln!("skipping: set CUTOVER_TEST_DATABASE_URL to run it");
            return None;
        }
    };
    let name = format!("cutover_test_serve_{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let admin = sea_orm::Database::connect(&base)
            .await
            .expect("reach Postgres");
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        admin.close().await.ok();
    });
    let (head, _) = base.rsplit_once('/').unwrap();
    Some(format!("{head}/{name}"))
}

fn start_serve(env: &Env, log: &std::path::Path) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    let mut child = env
        .command(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--poll-ms",
            "100",
            "--mail-dir",
            "mail",
        ])
        .env("CUTOVER_LOG", "info,sqlx=error,apalis=warn")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("cutover serve: /healthz on"), "{line}");
    Proc(child)
}

/// `tick=...` of every `queued` line of a log, with the check.
fn queued(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(" queued") && l.contains("tick="))
        .filter_map(|l| {
            let check = l.split("check=").nth(1)?.split_whitespace().next()?;
            let tick = l.split("tick=").nth(1)?.split_whitespace().next()?;
            Some(format!("{check}@{tick}"))
        })
        .collect()
}

fn runs(env: &Env) -> BTreeMap<String, usize> {
    let o = env.run(&["history", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("json");
    let mut out = BTreeMap::new();
    for e in entries {
        let c = &e["command"];
        if c["command"] == "record_run" {
            *out.entry(format!("{} {}", c["check"], c["window"]))
                .or_default() += 1;
        }
    }
    out
}

#[test]
fn two_serve_processes_on_postgres_run_each_tick_once() {
    let Some(url) = fresh_database() else {
        return;
    };
    let (_sim, base) = start_sim();
    let plan = sim_plan("serve-pg")
        .replace("\"0 7 * * *\"", "\"*/2 * * * * *\"")
        .replace("\"0 8 * * *\"", "\"*/2 * * * * *\"");
    let mut env = Env::new(&plan, base);
    env.db = url;
    let o = env.run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let (log_a, log_b) = (env.dir.path().join("a.log"), env.dir.path().join("b.log"));
    let a = start_serve(&env, &log_a);
    let b = start_serve(&env, &log_b);
    let start = Instant::now();
    while runs(&env).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no runs: {:?}\n{}",
            runs(&env),
            std::fs::read_to_string(&log_a).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Some more ticks, both schedulers looking at each.
    std::thread::sleep(Duration::from_secs(8));
    drop((a, b));
    let (la, lb) = (
        std::fs::read_to_string(&log_a).unwrap(),
        std::fs::read_to_string(&log_b).unwrap(),
    );
    for log in [&la, &lb] {
        assert!(!log.contains("worker stopped"), "a worker failed:\n{log}");
        assert!(!log.contains("ERROR"), "{log}");
    }
    let mut all = queued(&la);
    all.extend(queued(&lb));
    assert!(all.len() >= 4, "few ticks queued:\n{la}\n{lb}");
    let mut seen = std::collections::BTreeSet::new();
    for t in &all {
        assert!(seen.insert(t), "tick {t} queued twice:\n{la}\n{lb}");
    }
    let r = runs(&env);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r.values().all(|&n| n == 1), "{r:?}");
}
