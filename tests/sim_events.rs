//! End-to-end: `cutover check run` of an `event_match` check on the simulator's event-level
//! data, pulled from both platforms with the Impact preset: the FTDs of the link the new
//! platform loses show up as `missing_in_new` findings and the check fails.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Output};

use support::{BIN, start_sim};

const PLAN: &str = "migration: sim-events
timezone: UTC
currency: EUR
layers:
  product: { description: Product }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [product] }
sources:
  - id: old_ev
    system: old
    preset: impact
    http: { rate_limit: 100 }
  - id: new_ev
    system: new
    preset: impact
    http:
      url: \"${SIM_NEW_URL}/Advertisers/${SIM_NEW_SID}/Actions\"
      auth: { basic: { user: \"${SIM_NEW_SID}\", password: \"${SIM_NEW_TOKEN}\" } }
      rate_limit: 100
checks:
  - id: events_match
    layer: product
    kind: event_match
    schedule: \"0 8 * * *\"
    sources: { old: old_ev, new: new_ev }
    params: { by: order_id }
phases:
  - id: parallel_validation
    goal: Compare
    owners: [product]
    exit:
      - { id: matched, check: events_match, outcome: [pass, warn] }
";

/// `GET /truth` of the simulator at `addr` (`http://127.0.0.1:PORT`).
fn truth(addr: &str) -> serde_json::Value {
    let host = addr.strip_prefix("http://").expect("http address");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(s, "GET /truth HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").expect("a body").1;
    serde_json::from_str(body).expect("truth is JSON")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn event_match_against_the_simulator_finds_the_lost_link() {
    let (_sim, base) = start_sim();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .env("CUTOVER_DATABASE_URL", &db)
            .env("IMPACT_BASE_URL", format!("{base}/old"))
            .env("IMPACT_ACCOUNT_SID", "IRsim-old")
            .env("IMPACT_AUTH_TOKEN", "sim-old-key")
            .env("SIM_NEW_URL", format!("{base}/new"))
            .env("SIM_NEW_SID", "IRsim-new")
            .env("SIM_NEW_TOKEN", "sim-new-key")
            .output()
            .expect("run cutover")
    };
    let o = run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let truth = truth(&base);
    let lost = truth["events"]
        .as_array()
        .expect("events truth")
        .iter()
        .find(|e| e["defect"] == "lost_events")
        .expect("lost events defect");
    assert_eq!(lost["affects_events"], true);
    let partner = lost["partner"].as_str().unwrap().to_owned();

    // Days well before today: no pending or late conversions in the window.
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Days::new(9)).to_string();
    let to = (today - chrono::Days::new(8)).to_string();
    let o = run(&["check", "run", "events_match", "--from", &from, "--to", &to]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains(&format!("events_match: fail for {from}..{to}")),
        "{out}"
    );
    assert!(out.contains(" missing_in_new\n"), "{out}");
    assert!(!out.contains(" missing_in_old\n"), "{out}");

    let (run, findings) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            let store = cutover_store::Store::connect(&db).await.unwrap();
            let snap = store.load().await.unwrap();
            store.latest_findings(&snap, "events_match").await.unwrap()
        })
        .expect("a stored run");
    assert_eq!(run.outcome, cutover_plan::Outcome::Fail);
    let missing: Vec<_> = findings
        .iter()
        .filter(|f| f.code == "missing_in_new")
        .collect();
    assert!(!missing.is_empty());
    // Only the lost link's FTDs are missing: order ids name the partner.
    let prefix = format!("ftd:ord-{partner}-");
    for f in &missing {
        assert!(f.subject.starts_with(&prefix), "{} vs {prefix}", f.subject);
    }
}
