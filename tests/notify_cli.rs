//! End-to-end: the commands that store decisions queue their emails in the same
//! transaction, and `cutover notify` lists, previews and delivers them, over SMTP to a
//! real aiosmtpd server on 127.0.0.1 or into a mail directory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

mod support;
use support::{BIN, start_sim};

const PLAN: &str = "migration: notify-e2e
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true }
  - { id: bea, name: Bea, email: bea@example.com, layers: [bi] }
sources:
  - { id: old, system: old, preset: everflow }
  - { id: new, system: new, preset: tune }
checks:
  - id: strict_recon
    layer: bi
    kind: reconcile
    schedule: \"0 7 * * *\"
    sources: { old: old, new: new }
  - id: lenient_recon
    layer: bi
    kind: reconcile
    schedule: \"0 8 * * *\"
    sources: { old: old, new: new }
    params:
      tolerance: { abs: 1000000000, rel: 1 }
      warn: { count: 1 }
      fail: { count: 1000000 }
phases:
  - id: parallel_validation
    goal: Compare old vs new numbers on real traffic
    owners: [bi]
    exit:
      - { id: recon_ok, check: lenient_recon, outcome: [pass, warn] }
      - { id: strict_seen, check: strict_recon, outcome: [pass, warn, fail] }
      - { id: bi_signed, signoff: [bi] }
  - id: controlled_cutover
    goal: Move partner-facing workflows
    owners: [bi]
    exit:
      - { id: settle, min_duration: 1d }
";

struct Env {
    dir: tempfile::TempDir,
    db: String,
    base: String,
}

impl Env {
    fn run_with(&self, args: &[&str], smtp: Option<&str>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("CUTOVER_DATABASE_URL", &self.db)
            .env("EVERFLOW_API_KEY", "sim-old-key")
            .env("EVERFLOW_BASE_URL", format!("{}/old", self.base))
            .env("TUNE_NETWORK_TOKEN", "sim-new-key")
            .env("TUNE_BASE_URL", format!("{}/new", self.base))
            .env("CUTOVER_MAIL_FROM", "cutover <cutover@example.com>")
            .env_remove("CUTOVER_SMTP_URL");
        if let Some(url) = smtp {
            cmd.env("CUTOVER_SMTP_URL", url);
        }
        cmd.output().expect("run cutover")
    }
    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None)
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn outbox(env: &Env) -> Vec<serde_json::Value> {
    let o = env.run(&["notify", "outbox", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).expect("outbox json")
}

struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd on a free port, or `None` (outside CI) when it is not installed.
fn start_sink(dir: &std::path::Path) -> Option<(Sink, u16)> {
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
        eprintln!("skipping the SMTP half: python3 -m pip install aiosmtpd to run it");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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
    Some((Sink(child), port))
}

#[test]
fn decisions_queue_their_emails_and_notify_delivers_them() {
    let (_sim, base) = start_sim();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let env = Env { dir, db, base };
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Days::new(10)).to_string();
    let to = (today - chrono::Days::new(4)).to_string();

    let o = env.run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = outbox(&env);
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "transition" && r["recipient"] == "lead"),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "signoff_requested" && r["recipient"] == "bea"),
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r["status"] == "queued"));

    // A failing run: bea's digest with the run's differences.
    let o = env.run(&["check", "run", "strict_recon", "--from", &from, "--to", &to]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let rows = outbox(&env);
    let digest = rows
        .iter()
        .find(|r| r["kind"] == "digest" && r["recipient"] == "bea")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert!(
        digest["subject"].as_str().unwrap().contains("fail"),
        "{digest}"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r["kind"] == "digest" && r["recipient"] == "lead")
    );

    // A refused advance tells the lead and the owners of what is unmet.
    let o = env.run(&["advance", "--as", "lead", "--from", "parallel_validation"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let rows = outbox(&env);
    assert!(
        rows.iter().any(|r| r["kind"] == "transition"
            && r["recipient"] == "bea"
            && r["subject"].as_str().unwrap().contains("advance refused")),
        "{rows:?}"
    );

    let o = env.run(&["notify", "preview", "--kind", "digest", "--to", "bea"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("strict_recon [bi]: FAIL"), "{out}");
    assert!(out.contains("Largest differences (EUR)"), "{out}");
    assert!(out.contains("explain or accept"), "{out}");
    let o = env.run(&["notify", "preview", "--kind", "digest", "--to", "nobody"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // A bad SMTP URL: one line, exit 2, no password, nothing sent.
    let o = env.run_with(
        &["notify", "send"],
        Some("smtp://mailer:s3cr3t-pw@mail.example.com:notaport"),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(!out.contains("s3cr3t-pw"), "{out}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim().lines().count(),
        1,
        "{out}"
    );
    let queued = outbox(&env).len();

    let mail = env.dir.path().join("received");
    if let Some((_sink, port)) = start_sink(&mail) {
        let url = format!("smtp://127.0.0.1:{port}");
        let o = env.run_with(&["notify", "send", "--json"], Some(&url));
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["sent"], queued, "{out}");
        let files = std::fs::read_dir(&mail).unwrap().count();
        assert_eq!(files, queued);
        assert!(outbox(&env).iter().all(|r| r["status"] == "sent"));
        // Nothing is sent twice.
        let o = env.run_with(&["notify", "send", "--json"], Some(&url));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["sent"], 0);
        assert_eq!(std::fs::read_dir(&mail).unwrap().count(), queued);
    } else {
        // Without SMTP: the mail directory gets one .eml per message.
        let o = env.run(&["notify", "send", "--mail-dir", "out"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let files = std::fs::read_dir(env.dir.path().join("out"))
            .unwrap()
            .count();
        assert_eq!(files, queued);
    }
    let o = env.run(&["notify", "outbox"]);
    let out = text(&o);
    assert!(
        out.contains(&format!("Outbox: 0 queued, {queued} sent, 0 failed.")),
        "{out}"
    );
}
