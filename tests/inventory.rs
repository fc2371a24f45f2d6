//! End-to-end: the discovery inventory through the CLI. The `inventory:` exit condition
//! refuses `advance` while an essential item's documentation is missing (no file, a URL
//! answering 404 from a real server on 127.0.0.1) or it is not confirmed by a person of
//! its owner layer, naming each item and its owner; confirmations by the wrong layer or
//! of an unknown item are refused (exit 3) and logged; a plan that moves an item's
//! documentation needs a new confirmation; the log verifies. Plan mistakes are located.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

/// A real HTTP server: `/deals` answers 200, `/moved` 302, anything else 404.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(s.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Drain the headers.
            let mut h = String::new();
            while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                h.clear();
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let status = match path {
                "/deals" => "200 OK",
                "/moved" => "302 Found\r\nLocation: /deals",
                _ => "404 Not Found",
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    port
}

fn plan(port: u16, deals_path: &str) -> String {
    format!(
        "migration: inventory
timezone: UTC
currency: EUR
layers:
  product: {{ description: Product }}
  affiliate: {{ description: Affiliate }}
people:
  - {{ id: lead, name: Lead, email: lead@example.com, lead: true, layers: [product] }}
  - {{ id: omar, name: Omar, email: omar@example.com, layers: [product] }}
  - {{ id: priya, name: Priya, email: priya@example.com, layers: [affiliate] }}
inventory:
  - {{ id: postbacks, workflow: postbacks, owner: product, priority: essential, documented: docs/postbacks.md, depends_on: [tracker, kafka] }}
  - {{ id: deals, workflow: deal_types, owner: affiliate, priority: essential, documented: \"http://127.0.0.1:{port}{deals_path}\" }}
  - {{ id: old_reports, workflow: reports, owner: affiliate, priority: secondary }}
phases:
  - id: discovery
    goal: Capture current logic
    owners: [product, affiliate]
    exit:
      - {{ id: workflows_documented, inventory: {{ documented: all }} }}
  - id: setup
    goal: Set up
    owners: [product]
    exit:
      - {{ id: settle, min_duration: 1d }}
"
    )
}

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Env {
    fn new(plan: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let env = Env { dir, db };
        env.ok(&["start", "plan.yaml", "--as", "lead"]);
        env
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env("CUTOVER_DATABASE_URL", &self.db)
            .output()
            .expect("run cutover")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        text(&o)
    }

    fn refused(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o));
        text(&o)
    }

    fn items(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["inventory", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["items"].as_array().unwrap().clone()
    }

    fn item(&self, id: &str) -> serde_json::Value {
        self.items()
            .into_iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("no item {id}"))
    }

    fn advance(&self) -> Output {
        self.run(&["advance", "--as", "lead", "--from", "discovery"])
    }
}

#[test]
fn inventory_gate_needs_every_essential_item_documented_and_confirmed_by_its_owner() {
    let port = serve();
    let env = Env::new(&plan(port, "/dead"));

    // Nothing documented or confirmed: both essential items are named with their owners;
    // the secondary one is not.
    let o = env.advance();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("discovery/workflows_documented"), "{err}");
    assert!(
        err.contains("2 of 2 essential inventory items not ready"),
        "{err}"
    );
    assert!(
        err.contains(
            "postbacks (postbacks, owner product): documentation docs/postbacks.md not found"
        ),
        "{err}"
    );
    assert!(err.contains("not confirmed by product"), "{err}");
    assert!(
        err.contains(&format!(
            "deals (deal_types, owner affiliate): documentation http://127.0.0.1:{port}/dead not found: HTTP 404"
        )),
        "{err}"
    );
    assert!(!err.contains("old_reports"), "{err}");

    let deals = env.item("deals");
    assert_eq!(deals["doc_found"], false);
    assert_eq!(deals["doc_detail"], "HTTP 404");
    assert_eq!(env.item("old_reports")["priority"], "secondary");
    assert_eq!(
        env.item("postbacks")["depends_on"],
        serde_json::json!(["tracker", "kafka"])
    );

    // Wrong layer, unknown item: refused and logged.
    let r = env.refused(&["inventory", "confirm", "deals", "--as", "omar"]);
    assert!(
        r.contains("refused: omar is not in layer affiliate, which owns inventory item deals"),
        "{r}"
    );
    let r = env.refused(&["inventory", "confirm", "payouts", "--as", "omar"]);
    assert!(
        r.contains("\"payouts\" is not an inventory item of the plan (items: postbacks, deals, old_reports)"),
        "{r}"
    );

    // The file appears and its owner confirms it; the deals page still answers 404.
    std::fs::create_dir_all(env.dir.path().join("docs")).unwrap();
    std::fs::write(env.dir.path().join("docs/postbacks.md"), "# Postbacks\n").unwrap();
    env.ok(&["inventory", "confirm", "postbacks", "--as", "omar"]);
    env.ok(&["inventory", "confirm", "deals", "--as", "priya"]);
    let p = env.item("postbacks");
    assert_eq!(p["doc_found"], true, "{p}");
    assert_eq!(p["confirmed_by"], "omar", "{p}");
    let o = env.advance();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains("1 of 2 essential inventory items not ready: deals"),
        "{err}"
    );
    assert!(!err.contains("postbacks ("), "{err}");

    // The plan moves the deals documentation to a page that answers (through a
    // redirect, which counts): priya's confirmation was of the old link, so it must be
    // given again.
    std::fs::write(env.dir.path().join("plan2.yaml"), plan(port, "/moved")).unwrap();
    env.ok(&["plan", "apply", "plan2.yaml", "--as", "lead"]);
    let d = env.item("deals");
    assert_eq!(d["doc_found"], true, "{d}");
    assert_eq!(d["doc_detail"], "HTTP 302", "{d}");
    assert!(d["confirmed_by"].is_null(), "{d}");
    let err = text(&env.advance());
    assert!(
        err.contains("deals (deal_types, owner affiliate): not confirmed by affiliate"),
        "{err}"
    );
    env.ok(&["inventory", "confirm", "deals", "--as", "priya"]);
    let listing = env.ok(&["inventory"]);
    assert!(
        listing.contains("3 inventory items, 2 documented and confirmed"),
        "{listing}"
    );
    assert!(listing.contains("depends on tracker, kafka"), "{listing}");
    let out = env.ok(&["advance", "--as", "lead", "--from", "discovery"]);
    assert!(out.contains("advanced from discovery to setup"), "{out}");

    // Every confirmation and refusal is in the verified log.
    let h = env.ok(&["history", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&h).unwrap();
    let kinds: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["kind"] == "inventory_confirm")
        .map(|e| {
            (
                e["result"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("refused", "omar"),
            ("refused", "omar"),
            ("accepted", "omar"),
            ("accepted", "priya"),
            ("accepted", "priya"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let v = env.ok(&["history", "verify"]);
    assert!(v.starts_with("ok:"), "{v}");
}

#[test]
fn inventory_and_freeze_mistakes_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "migration: m
timezone: UTC
currency: EUR
layers:
  product: { description: P }
people:
  - { id: lead, name: Lead, email: l@example.com, lead: true, layers: [product] }
inventory:
  - { id: a, workflow: postback, owner: product, priority: essential, documented: a.md }
  - { id: a, workflow: reports, owner: prodcut, priority: high }
freezes:
  - { id: close, from: 2026-12-31, to: 2026-12-01, reason: month-end close }
  - { id: bad, from: 31/12/2026, to: 2027-01-02, reason: x }
phases:
  - id: discovery
    goal: G
    owners: [product]
    exit:
      - { id: inv, inventory: { documented: some } }
      - { id: clean, clean_days: 3 }
";
    std::fs::write(dir.path().join("plan.yaml"), bad).unwrap();
    let o = Command::new(BIN)
        .args(["validate", "plan.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    for expected in [
        "plan.yaml:9:24: error: inventory item \"a\" has unknown workflow \"postback\" (expected tracking_links, postbacks, deal_types, crm_sync, reports, payout_runs, other); did you mean \"postbacks\"?",
        "plan.yaml:10:11: error: duplicate inventory item \"a\"; first defined on line 9",
        "plan.yaml:10:40: error: inventory item \"a\" is owned by unknown layer \"prodcut\"; did you mean \"product\"?",
        "plan.yaml:10:59: error: inventory item \"a\" has unknown priority \"high\" (expected essential or secondary)",
        "plan.yaml:12:40: error: freeze \"close\" ends (2026-12-01) before it starts (2026-12-31)",
        "plan.yaml:13:22: error: from of freeze \"bad\" must be a day YYYY-MM-DD (in the plan's time zone), found \"31/12/2026\"",
        "plan.yaml:19:45: error: documented of condition \"inv\" must be \"all\" (every essential item)",
        "plan.yaml:15:5: error: condition \"clean\" of phase \"discovery\" counts clean days of the phase's scheduled checks, but no exit condition of phase \"discovery\" names a scheduled check",
    ] {
        assert!(out.contains(expected), "missing {expected}\n{out}");
    }
}
