//! End-to-end: the commands that store decisions queue their emails in the same
//! transaction, and `cutover notify` lists, previews and delivers them, over SMTP to a
//! real aiosmtpd server on 127.0.0.1 or into a mail directory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

mod support;
use support::{Env, sim_plan, start_sim, text};

/// `cutover ARGS` as [`Env::run`], over SMTP at `smtp` when given.
fn run_with(env: &Env, args: &[&str], smtp: Option<&str>) -> Output {
    let mut cmd = env.command(args);
    if let Some(url) = smtp {
        cmd.env("CUTOVER_SMTP_URL", url);
    }
    cmd.output().expect("run cutover")
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
    let env = Env::new(&sim_plan("notify-e2e"), base);
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
    let o = run_with(
        &env,
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
        let o = run_with(&env, &["notify", "send", "--json"], Some(&url));
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["sent"], queued, "{out}");
        let files = std::fs::read_dir(&mail).unwrap().count();
        assert_eq!(files, queued);
        assert!(outbox(&env).iter().all(|r| r["status"] == "sent"));
        // Nothing is sent twice.
        let o = run_with(&env, &["notify", "send", "--json"], Some(&url));
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
