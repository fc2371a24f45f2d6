//! Delivery to a real SMTP server on 127.0.0.1 (Python's aiosmtpd, started by the test;
//! `.ci/run` installs it): the received MIME is parsed, each owner gets only their layers,
//! user text never becomes a header, and a server that dies in the middle of a burst of
//! 1,000 messages ends with every message delivered exactly once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cutover_engine::{Command, MigrationState, Window, decide};
use cutover_notify::{DecisionInput, Mailer, Policy, Sender, deliver_due, for_decision};
use cutover_plan::{Outcome, Plan};
use cutover_store::{Decided, NewFinding, NewOutbox, Store, StoreError};
use mailparse::MailHeaderMap;

const PLAN: &str = r#"
migration: notify-story
timezone: Europe/Malta
currency: EUR
layers:
  product: { description: Event mapping }
  finance: { description: Payouts }
people:
  - { id: alex, name: Alex Lead, email: alex@example.com, lead: true }
  - { id: omar, name: Omar, email: omar@example.com, layers: [product] }
  - { id: fiona, name: Fiona, email: fiona@example.com, layers: [finance] }
checks:
  - { id: documented, layer: product, kind: manual }
  - { id: nightly, layer: finance, kind: reconcile, schedule: "0 7 * * *" }
phases:
  - id: discovery
    goal: Capture current logic
    owners: [product]
    exit:
      - { id: nightly_ok, check: nightly, outcome: [pass, warn] }
      - { id: signed, signoff: [finance] }
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

/// The aiosmtpd process, killed when dropped.
struct Sink {
    child: Child,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether aiosmtpd is importable. Under CI=true it must be; elsewhere the test skips.
fn smtp_available(test: &str) -> bool {
    let ok = Process::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with aiosmtpd is required under CI=true (.ci/run installs it)"
        );
        eprintln!("skipping {test}: python3 -m pip install aiosmtpd to run it");
    }
    ok
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start_sink(port: u16, dir: &Path, die_after: Option<usize>) -> Sink {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
    let mut cmd = Process::new("python3");
    cmd.arg(script).arg(port.to_string()).arg(dir);
    if let Some(n) = die_after {
        cmd.arg(n.to_string());
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read ready line");
    assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
    Sink { child }
}

/// Every message the sink accepted, parsed: (envelope recipients, raw bytes).
fn received(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read sink dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read eml");
            let text = String::from_utf8_lossy(&bytes);
            let (first, rest) = text.split_once("\r\n").expect("envelope line");
            let to = first
                .strip_prefix("X-Envelope-To: ")
                .expect("envelope")
                .to_string();
            (to, rest.as_bytes().to_vec())
        })
        .collect()
}

async fn started(dir: &Path) -> (Store, Plan) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("cutover.db").display());
    let store = Store::connect(&url).await.expect("connect");
    let plan = plan();
    let command = Command::Start { by: "alex".into() };
    let decision = decide(
        &plan,
        &MigrationState::new(),
        &Default::default(),
        &command,
        t(0),
    )
    .expect("start");
    let drafts = for_decision(&DecisionInput {
        plan: &plan,
        state: &MigrationState::new(),
        facts: &Default::default(),
        command: &command,
        result: Ok(&decision),
        findings: &[],
        at: t(0),
    })
    .expect("compose");
    let rows = drafts
        .into_iter()
        .map(|d| d.into_outbox("example.com"))
        .collect();
    store
        .create_with_outbox(
            &plan.migration,
            "plan.yaml",
            PLAN,
            t(0),
            &command,
            &decision,
            rows,
        )
        .await
        .expect("create");
    (store, plan)
}

fn sender() -> Sender {
    Sender::parse("cutover <cutover@example.com>").expect("sender")
}

fn smtp(port: u16) -> Mailer {
    Mailer::smtp(&format!("smtp://127.0.0.1:{port}")).expect("smtp mailer")
}

/// Records a nightly run (with findings) through the same locked path the CLI uses.
async fn record_run(store: &Store, plan: &Plan, outcome: Outcome, findings: &[NewFinding]) {
    store
        .decide_locked_with_outbox(|snap| -> Result<_, StoreError> {
            let command = Command::RecordRun {
                check: "nightly".into(),
                outcome,
                window: Some(Window {
                    from: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                    to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                }),
                detail: Some("2 partners differ".into()),
            };
            let result = decide(plan, &snap.state, &snap.facts, &command, t(10));
            let rows = for_decision(&DecisionInput {
                plan,
                state: &snap.state,
                facts: &snap.facts,
                command: &command,
                result: result.as_ref(),
                findings,
                at: t(10),
            })
            .expect("compose")
            .into_iter()
            .map(|d| d.into_outbox("example.com"))
            .collect();
            Ok(Some((
                Decided {
                    command,
                    result,
                    at: t(10),
                    findings,
                    plan_text: None,
                    register: None,
                },
                rows,
            )))
        })
        .await
        .expect("stored")
        .expect("decided");
}

fn finding(subject: &str, old: &str, new: &str) -> NewFinding {
    NewFinding {
        code: "variance".into(),
        subject: subject.into(),
        old: Some(old.into()),
        new: Some(new.into()),
        expected: None,
        detail: String::new(),
    }
}

#[tokio::test]
async fn owners_get_their_own_digest_as_multipart_mail_with_the_rows_message_id() {
    if !smtp_available("owners_get_their_own_digest") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, plan) = started(dir.path()).await;
    let findings = [
        finding("Partner <script>alert(1)</script>", "100.00", "90.00"),
        finding("Big partner", "5000.00", "4000.50"),
    ];
    record_run(&store, &plan, Outcome::Pass, &findings).await;

    let port = free_port();
    let mail = dir.path().join("mail");
    let _sink = start_sink(port, &mail, None);
    let report = deliver_due(&store, &smtp(port), &sender(), &Policy::default(), t(11))
        .await
        .expect("deliver");
    assert_eq!(report.failed + report.retrying, 0, "{report:?}");
    let rows = store.outbox(100).await.unwrap();
    assert_eq!(report.sent, rows.len());
    let got = received(&mail);
    assert_eq!(got.len(), rows.len());

    let digests: Vec<_> = rows.iter().filter(|r| r.kind == "digest").collect();
    assert_eq!(
        digests.len(),
        1,
        "only the finance owner gets the nightly digest"
    );
    let digest = digests[0];
    assert_eq!(digest.recipient, "fiona");
    let (to, raw) = got
        .iter()
        .find(|(_, raw)| {
            let m = mailparse::parse_mail(raw).unwrap();
            m.headers.get_first_value("Message-ID").as_deref() == Some(digest.message_id.as_str())
        })
        .expect("the digest arrived under its Message-ID");
    assert_eq!(to, "fiona@example.com");
    let mail = mailparse::parse_mail(raw).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    assert_eq!(mail.subparts.len(), 2);
    assert_eq!(mail.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(mail.subparts[1].ctype.mimetype, "text/html");
    let text = mail.subparts[0].get_body().unwrap();
    let html = mail.subparts[1].get_body().unwrap();
    assert!(text.contains("nightly [finance]: PASS"), "{text}");
    assert!(
        !text.contains("documented"),
        "product's check is not Fiona's: {text}"
    );
    // Largest difference first, with its money impact.
    let big = text.find("Big partner").expect("big partner listed");
    let small = text.find("Partner <script>").expect("small partner listed");
    assert!(big < small, "{text}");
    assert!(text.contains("impact 999.50"), "{text}");
    assert!(text.contains("sign off layer finance"), "{text}");
    // HTML escapes what partners are called.
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    // The start told the lead and the phase owners, and asked finance to sign off.
    assert!(
        rows.iter()
            .any(|r| r.kind == "signoff_requested" && r.recipient == "fiona")
    );
    assert!(
        rows.iter()
            .any(|r| r.kind == "transition" && r.recipient == "alex")
    );
    // The run opened nothing yet (sign-off missing): no gate message.
    assert!(!rows.iter().any(|r| r.kind == "gate_changed"));
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        (0, rows.len() as u64, 0)
    );
}

#[tokio::test]
async fn user_text_never_becomes_a_header() {
    if !smtp_available("user_text_never_becomes_a_header") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = started(dir.path()).await;
    let evil = NewOutbox {
        key: "evil".into(),
        kind: "notice".into(),
        recipient: "omar\r\nBcc: thief@evil.example".into(),
        address: "omar@example.com".into(),
        subject: "Partner X\r\nBcc: thief@evil.example\r\nX-Injected: yes".into(),
        text: "body\r\n.\r\nMAIL FROM:<x@evil.example>\r\n".into(),
        html: "<p>hi</p>".into(),
        domain: "example.com\r\nX-Injected: yes".into(),
    };
    store.enqueue(1, t(1), &[evil]).await.unwrap();
    let port = free_port();
    let mail = dir.path().join("mail");
    let _sink = start_sink(port, &mail, None);
    deliver_due(&store, &smtp(port), &sender(), &Policy::default(), t(2))
        .await
        .unwrap();
    let got = received(&mail);
    let (to, raw) = got
        .iter()
        .find(|(_, raw)| {
            let m = mailparse::parse_mail(raw).unwrap();
            m.headers
                .get_first_value("Subject")
                .is_some_and(|s| s.contains("Partner X"))
        })
        .expect("the message arrived");
    assert_eq!(to, "omar@example.com", "no extra envelope recipient");
    let m = mailparse::parse_mail(raw).unwrap();
    assert!(m.headers.get_first_value("Bcc").is_none());
    assert!(m.headers.get_first_value("X-Injected").is_none());
    let subject = m.headers.get_first_value("Subject").unwrap();
    assert!(
        subject.contains("Bcc: thief@evil.example"),
        "kept as text: {subject}"
    );
    let id = m.headers.get_first_value("Message-ID").unwrap();
    assert!(
        !id.contains('\n') && id.ends_with("@example.comX-Injectedyes>"),
        "{id}"
    );
    // The body's SMTP-looking line did not end the message early.
    assert!(m.subparts[0].get_body().unwrap().contains("MAIL FROM"));
    assert_eq!(got.len(), store.outbox(100).await.unwrap().len());
}

#[tokio::test]
async fn smtp_down_mid_burst_then_back_delivers_each_of_1000_exactly_once() {
    if !smtp_available("smtp_down_mid_burst") {
        return;
    }
    // The database on tmpfs where there is one: this test is about delivery, and 1,000
    // one-row commits (each message is marked sent on its own) are fsync-bound on disk.
    let dir = match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    };
    let (store, _) = started(dir.path()).await;
    let before = store.outbox(10_000).await.unwrap().len();
    let burst: Vec<NewOutbox> = (0..1000)
        .map(|i| NewOutbox {
            key: format!("burst/{i}"),
            kind: "digest".into(),
            recipient: "omar".into(),
            address: "omar@example.com".into(),
            subject: format!("burst {i}"),
            text: format!("message {i}"),
            html: format!("<p>message {i}</p>"),
            domain: "example.com".into(),
        })
        .collect();
    assert_eq!(store.enqueue(1, t(1), &burst).await.unwrap(), 1000);
    let total = before + 1000;

    let port = free_port();
    let mail = dir.path().join("mail");
    let mailer = smtp(port);
    // The server accepts 300 messages, then dies in the middle of the burst.
    let mut sink = start_sink(port, &mail, Some(300));
    let first = deliver_due(&store, &mailer, &sender(), &Policy::default(), t(2))
        .await
        .unwrap();
    assert_eq!(first.sent, 300, "{first:?}");
    assert_eq!(first.retrying, total - 300, "{first:?}");
    assert_eq!(first.failed, 0);
    let _ = sink.child.wait();
    // Still down on the next pass: nothing is due yet (backoff), then nothing gets through.
    let early = deliver_due(&store, &mailer, &sender(), &Policy::default(), t(2))
        .await
        .unwrap();
    assert_eq!(
        early.sent + early.retrying,
        0,
        "backoff holds them: {early:?}"
    );
    let down = deliver_due(&store, &mailer, &sender(), &Policy::default(), t(5))
        .await
        .unwrap();
    assert_eq!(down.sent, 0);
    assert_eq!(down.retrying, total - 300);
    // The server returns; the next pass after the backoff delivers the rest.
    drop(sink);
    let _sink = start_sink(port, &mail, None);
    let back = deliver_due(&store, &mailer, &sender(), &Policy::default(), t(60))
        .await
        .unwrap();
    assert_eq!(back.sent, total - 300, "{back:?}");
    assert_eq!(store.outbox_counts().await.unwrap(), (0, total as u64, 0));

    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for (_, raw) in received(&mail) {
        let m = mailparse::parse_mail(&raw).unwrap();
        let id = m.headers.get_first_value("Message-ID").expect("Message-ID");
        *by_id.entry(id).or_default() += 1;
    }
    let rows = store.outbox(10_000).await.unwrap();
    assert_eq!(by_id.len(), total, "every message arrived");
    for r in &rows {
        assert_eq!(by_id.get(&r.message_id), Some(&1), "{} once", r.message_id);
    }
    let retried = rows.iter().filter(|r| r.attempts == 3).count();
    assert_eq!(retried, total - 300, "two failed attempts, then sent");
}

#[tokio::test]
async fn the_mail_directory_receives_one_eml_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = started(dir.path()).await;
    let out = dir.path().join("outbox-mail");
    let mailer = Mailer::new(None, &out).expect("dir mailer");
    let report = deliver_due(&store, &mailer, &sender(), &Policy::default(), t(1))
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    assert!(report.sent > 0);
    assert_eq!(files.len(), report.sent);
    let raw = std::fs::read(&files[0]).unwrap();
    let m = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(m.ctype.mimetype, "multipart/alternative");
    assert!(
        m.headers
            .get_first_value("Message-ID")
            .is_some_and(|id| id.starts_with("<cutover."))
    );
}

#[tokio::test]
async fn a_bad_smtp_url_is_one_line_without_the_password() {
    for url in [
        "ftp://user:hunter2secret@mail.example.com",
        "smtp://user:hunter2secret@",
        "smtp://user:hunter2secret@mail.example.com:notaport",
        "smtp://user:hunter2secret@mail.example.com?tls=sometimes",
    ] {
        let e = Mailer::smtp(url).expect_err(url).to_string();
        assert!(!e.contains("hunter2secret"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        assert!(e.starts_with("error: CUTOVER_SMTP_URL"), "{e}");
    }
    for url in [
        "smtp://127.0.0.1:2525",
        "smtps://user:pw@mail.example.com",
        "smtp://user:pw@mail.example.com:587?tls=required",
    ] {
        assert!(Mailer::smtp(url).is_ok(), "{url}");
    }
}
