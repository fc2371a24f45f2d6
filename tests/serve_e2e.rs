//! End-to-end: `cutover serve` runs the active phase's checks on their cron schedule (every
//! 2 seconds here) against `cutover sim`, stores each run once per check, window and plan
//! version, and delivers the owners' digests to a real SMTP server (aiosmtpd); killed with
//! SIGKILL and restarted, it stores no second run and queues no second email. On Postgres
//! (`CUTOVER_TEST_DATABASE_URL`), two `serve` processes run each tick once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{Env, sim_plan, start_sim, text};

/// The simulator plan with both checks scheduled every 2 seconds (6-field cron).
fn fast_plan(migration: &str) -> String {
    let plan = sim_plan(migration)
        .replace("\"0 7 * * *\"", "\"*/2 * * * * *\"")
        .replace("\"0 8 * * *\"", "\"*/2 * * * * *\"");
    assert_eq!(plan.matches("*/2 * * * * *").count(), 2, "{plan}");
    plan
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd on a free port writing each message into `dir`, or `None` (outside CI) when
/// it is not installed.
fn start_sink(dir: &Path) -> Option<(Proc, u16)> {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with aiosmtpd is required under CI=true (.ci/run installs it)"
        );
        eprintln!("skipping: python3 -m pip install aiosmtpd to run it");
        return None;
    }
    let port = free_port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/notify/tests/smtp_sink.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Some((Proc(child), port))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `cutover serve` on a free port; returns it once its first line named the address.
fn start_serve(env: &Env, smtp_port: Option<u16>, log: &Path) -> (Proc, String) {
    start_serve_with(env, smtp_port, log, &[])
}

fn start_serve_with(
    env: &Env,
    smtp_port: Option<u16>,
    log: &Path,
    more: &[&str],
) -> (Proc, String) {
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--deliver-every",
        "1",
        "--poll-ms",
        "100",
    ];
    args.extend_from_slice(more);
    let mut cmd = env.command(&args);
    if let Some(p) = smtp_port {
        cmd.env("CUTOVER_SMTP_URL", format!("smtp://127.0.0.1:{p}"));
    }
    let log = std::fs::File::create(log).unwrap();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || {
        let mut sink = String::new();
        while out.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let addr = line
        .trim()
        .strip_prefix("cutover serve: /healthz on http://")
        .and_then(|r| r.split(';').next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Proc(child), addr)
}

fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

/// The recorded runs: (check, window) -> how many, from `history --json`.
fn runs(env: &Env) -> BTreeMap<(String, String), usize> {
    let o = env.run(&["history", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("json");
    let mut out = BTreeMap::new();
    for e in entries {
        let c = &e["command"];
        if c["command"] == "record_run" {
            let check = c["check"].as_str().unwrap_or_default().to_owned();
            *out.entry((check, c["window"].to_string())).or_default() += 1;
        }
    }
    out
}

fn outbox(env: &Env) -> Vec<serde_json::Value> {
    let o = env.run(&["notify", "outbox", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).expect("outbox json")
}

/// The `Message-ID`s and `To`s of the messages the sink received.
fn received(dir: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("eml") {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        let mail = mailparse::parse_mail(&bytes).expect("MIME");
        let h = |name: &str| {
            mail.headers
                .iter()
                .find(|h| h.get_key().eq_ignore_ascii_case(name))
                .map(|h| h.get_value())
                .unwrap_or_default()
        };
        out.push((h("Message-ID"), h("To"), h("Subject")));
    }
    out
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn history_of(env: &Env) -> String {
    text(&env.run(&["history"]))
}

#[test]
fn serve_runs_scheduled_checks_mails_digests_and_survives_sigkill() {
    let (_sim, base) = start_sim();
    let env = Env::new(&fast_plan("serve-e2e"), base);
    let mail = env.dir.path().join("received");
    let Some((_smtp, smtp_port)) = start_sink(&mail) else {
        return;
    };
    let o = env.run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // SIGKILL while the first job runs: its queue entry is orphaned, its run not stored.
    let log0 = env.dir.path().join("serve0.log");
    let (serve, _) = start_serve(&env, Some(smtp_port), &log0);
    wait_for("a job picked up", Duration::from_secs(60), || {
        std::fs::read_to_string(&log0).is_ok_and(|l| l.contains("picked up"))
    });
    drop(serve);

    let log1 = env.dir.path().join("serve1.log");
    let (serve, addr) = start_serve(&env, Some(smtp_port), &log1);
    let health = get(&addr, "/healthz");
    assert!(
        health.starts_with("HTTP/1.1 200") || health.starts_with("HTTP/1.0 200"),
        "{health}"
    );
    assert!(health.ends_with("ok\n"), "{health}");

    // Both checks run (once each for yesterday's window) and bea's digests arrive.
    wait_for("both checks to run", Duration::from_secs(120), || {
        runs(&env).len() == 2
    });
    wait_for("bea's digests", Duration::from_secs(60), || {
        received(&mail)
            .iter()
            .filter(|(_, to, s)| to.contains("bea@example.com") && s.contains("check results"))
            .count()
            >= 2
    });
    let got = received(&mail);
    assert!(
        !got.iter()
            .any(|(_, to, s)| to.contains("lead@") && s.contains("check results")),
        "the lead owns no layer: {got:?}"
    );
    // Later ticks fall on the same window and plan version: nothing more is stored.
    std::thread::sleep(Duration::from_secs(5));
    let before = runs(&env);
    assert!(
        before.values().all(|&n| n == 1),
        "{before:?}\n{}",
        history_of(&env)
    );

    // SIGKILL (no chance to clean up), restart: no second run, no second email.
    drop(serve);
    let log2 = env.dir.path().join("serve2.log");
    let (_serve2, addr2) = start_serve(&env, Some(smtp_port), &log2);
    assert!(get(&addr2, "/healthz").ends_with("ok\n"));
    std::thread::sleep(Duration::from_secs(8));
    let after = runs(&env);
    assert_eq!(after, before, "{}", history_of(&env));
    // One digest queued per stored run, never a second; every key once.
    let rows = outbox(&env);
    let digests = rows
        .iter()
        .filter(|r| r["kind"] == "digest" && r["recipient"] == "bea")
        .count();
    assert_eq!(digests, after.len(), "{rows:?}");
    let keys: BTreeSet<&str> = rows.iter().filter_map(|r| r["key"].as_str()).collect();
    assert_eq!(keys.len(), rows.len(), "{rows:?}");
    // What arrived is the outbox's messages, each Message-ID once per row sent (a row
    // claimed by the killed process is sent after its lease: at least once, same ID).
    let ids: BTreeSet<String> = received(&mail).into_iter().map(|(id, _, _)| id).collect();
    let known: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r["message_id"].as_str().map(str::to_owned))
        .collect();
    assert!(ids.is_subset(&known), "{ids:?}\n{known:?}");
    for r in rows.iter().filter(|r| r["status"] == "sent") {
        assert!(ids.contains(r["message_id"].as_str().unwrap()), "{r}");
    }
    assert!(rows.iter().all(|r| r["status"] != "failed"), "{rows:?}");
    let log = std::fs::read_to_string(&log1).unwrap_or_default();
    assert!(
        log.contains("check_job"),
        "spans per job in the log:\n{log}"
    );
}

#[test]
fn bad_smtp_url_is_one_line_and_exit_2() {
    let env = Env::new(&fast_plan("serve-bad-smtp"), "http://127.0.0.1:9".into());
    let o = env
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .env(
            "CUTOVER_SMTP_URL",
            "smtp://u:s3cr3t@mail.example.com:notaport",
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("CUTOVER_SMTP_URL"), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
    assert!(o.stdout.is_empty(), "{}", text(&o));
}

#[test]
fn a_new_plan_version_schedule_applies_without_restart() {
    let (_sim, base) = start_sim();
    // Daily schedules: nothing is due while the test runs.
    let env = Env::new(&sim_plan("serve-replan"), base);
    let o = env.run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = env.dir.path().join("serve.log");
    let (_serve, addr) = start_serve(&env, None, &log);
    assert!(get(&addr, "/healthz").ends_with("ok\n"));
    std::thread::sleep(Duration::from_secs(4));
    assert!(runs(&env).is_empty(), "{}", history_of(&env));

    std::fs::write(env.dir.path().join("plan2.yaml"), fast_plan("serve-replan")).unwrap();
    let o = env.run(&["plan", "apply", "plan2.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    wait_for(
        "runs under plan version 2",
        Duration::from_secs(120),
        || runs(&env).len() == 2,
    );
    let o = env.run(&["history", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        entries
            .iter()
            .filter(|e| e["command"]["command"] == "record_run")
            .all(|e| e["plan_version"] == 2),
        "{entries:?}"
    );
}

#[test]
fn a_job_that_uses_up_its_attempts_records_an_error_run() {
    let (_sim, base) = start_sim();
    let env = Env::new(&fast_plan("serve-give-up"), base);
    let o = env.run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The store refuses every finding: each attempt fails when it records its run (a
    // source that fails is not a job failure: its run is `error` at once).
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&env.db).await.unwrap();
        db.execute_unprepared(
            "CREATE TRIGGER no_findings BEFORE INSERT ON check_findings \
             BEGIN SELECT RAISE(ABORT, 'findings refused by the test'); END",
        )
        .await
        .unwrap();
        db.close().await.ok();
    });
    let log = env.dir.path().join("serve.log");
    let (_serve, _) = start_serve_with(&env, None, &log, &["--retries", "1"]);
    wait_for("an error run", Duration::from_secs(120), || {
        !runs(&env).is_empty()
    });
    let o = env.run(&["history", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let recorded: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["command"]["command"] == "record_run")
        .collect();
    assert!(!recorded.is_empty());
    for e in recorded {
        let c = &e["command"];
        assert_eq!(c["outcome"], "error", "{c}");
        let detail = c["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("gave up after 2 attempts:"), "{detail}");
        assert!(detail.contains("findings refused by the test"), "{detail}");
    }
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("attempt failed; will retry"), "{log}");
}
