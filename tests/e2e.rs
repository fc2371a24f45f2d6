//! End-to-end tests of the `cutover` binary: real processes, a real SQLite file, and a
//! real Postgres database when `CUTOVER_TEST_DATABASE_URL` is set (required under CI=true).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sea_orm::ConnectionTrait;

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

fn workflow(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workflows")
        .join(name)
}

/// A working directory and a database for one test.
struct Env {
    dir: tempfile::TempDir,
    url: String,
}

impl Env {
    fn sqlite() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("cutover.db").display()
        );
        Env { dir, url }
    }

    async fn postgres() -> Option<Env> {
        let base = match std::env::var("CUTOVER_TEST_DATABASE_URL") {
            Ok(b) if !b.is_empty() => b,
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CUTOVER_TEST_DATABASE_URL must be set under CI=true"
                );
                return None;
            }
        };
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "cutover_test_e2e_{}_{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
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
        let (head, _) = base.rsplit_once('/').unwrap();
        Some(Env {
            dir: tempfile::tempdir().unwrap(),
            url: format!("{head}/{name}"),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env("CUTOVER_DATABASE_URL", &self.url)
            .env_remove("CUTOVER_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> Out {
        Out(self.command(args).output().expect("run cutover"))
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

struct Out(Output);

impl Out {
    fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    #[track_caller]
    fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

fn start_main(env: &Env) {
    env.run(&[
        "start",
        workflow("affiliate-parallel-run.yaml").to_str().unwrap(),
    ])
    .expect(0);
}

/// Makes the discovery gate hold.
fn satisfy_discovery(env: &Env) {
    env.run(&[
        "check",
        "record",
        "critical_workflows_documented",
        "--outcome",
        "pass",
        "--as",
        "omar",
        "--detail",
        "inventory in the wiki",
    ])
    .expect(0);
    env.run(&["signoff", "--as", "omar", "--layer", "product"])
        .expect(0);
    env.run(&["signoff", "--as", "priya", "--layer", "affiliate"])
        .expect(0);
}

fn status_json(env: &Env) -> serde_json::Value {
    serde_json::from_str(&env.run(&["status", "--json"]).expect(0).stdout()).expect("status json")
}

#[test]
fn validate_accepts_both_example_workflows() {
    let env = Env::sqlite();
    let out = env
        .run(&[
            "validate",
            workflow("affiliate-parallel-run.yaml").to_str().unwrap(),
            workflow("hard-cutover.yaml").to_str().unwrap(),
        ])
        .expect(0);
    assert!(
        out.stdout()
            .contains("affiliate-parallel-run.yaml: valid (5 phases"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout().contains("hard-cutover.yaml: valid (3 phases"),
        "{}",
        out.stdout()
    );
}

#[test]
fn validate_reports_every_error_with_position_and_exit_1() {
    let env = Env::sqlite();
    let bad = env.write(
        "bad.yaml",
        "migration: m\ntimezone: Europe/Malt\ncurrency: EUR\nlayers:\n  bi: { description: BI }\npeople:\n  - { id: a, name: A, email: a@x.io, lead: true, layers: [bi] }\nchecks: []\nphases:\n  - id: p\n    goal: g\n    owners: [bii]\n    exitt: []\n",
    );
    let out = env.run(&["validate", &bad]).expect(1);
    let text = out.stdout();
    assert!(
        text.contains(&format!(
            "{bad}:2:11: error: unknown time zone \"Europe/Malt\""
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{bad}:13:5: error: unknown key \"exitt\"")),
        "{text}"
    );
    assert!(text.contains(&format!("{bad}:12:14: error: phase \"p\" is owned by unknown layer \"bii\"; did you mean \"bi\"?")), "{text}");
    assert!(text.contains("bad.yaml: invalid ("), "{text}");
}

#[test]
fn validate_unreadable_file_exits_2() {
    let env = Env::sqlite();
    let out = env.run(&["validate", "no-such-plan.yaml"]).expect(2);
    assert!(
        out.stderr().contains("cannot read no-such-plan.yaml"),
        "{}",
        out.stderr()
    );
}

#[test]
fn invalid_plan_is_not_started_and_nothing_is_stored() {
    let env = Env::sqlite();
    let bad = env.write("bad.yaml", "migration: [\n");
    let out = env.run(&["start", &bad]).expect(1);
    assert!(out.stderr().contains("bad.yaml:"), "{}", out.stderr());
    assert!(
        out.stderr().contains("nothing was changed"),
        "{}",
        out.stderr()
    );
    let out = env.run(&["status"]).expect(1);
    assert!(
        out.stderr().contains("no migration has been started"),
        "{}",
        out.stderr()
    );
}

#[test]
fn walkthrough_refused_then_recorded_signed_and_advanced() {
    let env = Env::sqlite();
    start_main(&env);
    let status = env.run(&["status"]).expect(0).stdout();
    assert!(status.contains("phase 1/5 discovery"), "{status}");
    assert!(
        status.contains("[ ] workflows_documented [product]"),
        "{status}"
    );

    let refused = env.run(&["advance", "--as", "alex"]).expect(3);
    assert_eq!(
        refused.stderr(),
        "refused: cannot leave discovery for setup: 2 exit conditions unmet\n  \
         discovery/workflows_documented [product]: no run of check critical_workflows_documented since the phase was entered\n  \
         discovery/discovery_signed [product, affiliate]: awaiting sign-off from product, affiliate\n\
         (logged as entry #2; nothing was changed)\n"
    );
    assert_eq!(status_json(&env)["phase"], "discovery");

    satisfy_discovery(&env);
    let json = status_json(&env);
    assert_eq!(json["gate"]["holds"], true, "{json}");

    let out = env
        .run(&["advance", "--as", "alex", "--reason", "inventory signed"])
        .expect(0);
    assert!(
        out.stdout()
            .contains("Accepted: advanced from discovery to setup"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout().contains("scheduled check test_event_flow"),
        "{}",
        out.stdout()
    );
    let json = status_json(&env);
    assert_eq!(json["phase"], "setup");
    assert_eq!(json["phase_number"], 2);
    assert_eq!(json["gate"]["holds"], false);

    let history = env.run(&["history", "--json"]).expect(0).stdout();
    let entries: Vec<serde_json::Value> = serde_json::from_str(&history).unwrap();
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("start", "accepted"),
            ("advance", "refused"),
            ("check_record", "accepted"),
            ("signoff", "accepted"),
            ("signoff", "accepted"),
            ("advance", "accepted"),
        ]
    );
    assert_eq!(entries[5]["command"]["reason"], "inventory signed");
    assert!(
        entries[5]["effects"]
            .to_string()
            .contains("record_evidence")
    );
    let out = env.run(&["history", "verify"]).expect(0);
    assert!(
        out.stdout().starts_with("ok: 6 entries, hash chain intact"),
        "{}",
        out.stdout()
    );
}

#[test]
fn role_rules_are_enforced_through_the_cli() {
    let env = Env::sqlite();
    start_main(&env);
    satisfy_discovery(&env);
    let out = env.run(&["advance", "--as", "omar"]).expect(3);
    assert_eq!(
        out.stderr().lines().next().unwrap(),
        "refused: omar is not a lead; only a lead may advance the migration"
    );
    let out = env.run(&["advance", "--as", "nobody"]).expect(3);
    assert!(
        out.stderr()
            .contains("\"nobody\" is not a person of the plan"),
        "{}",
        out.stderr()
    );
    let out = env
        .run(&["signoff", "--as", "fiona", "--layer", "bi"])
        .expect(3);
    assert!(
        out.stderr().contains("fiona does not own layer bi"),
        "{}",
        out.stderr()
    );
    let out = env
        .run(&[
            "check",
            "record",
            "critical_workflows_documented",
            "--outcome",
            "pass",
            "--as",
            "bianca",
        ])
        .expect(3);
    assert!(
        out.stderr().contains("bianca does not own layer product"),
        "{}",
        out.stderr()
    );
    // A product failure voids product's sign-off, so the gate no longer holds.
    env.run(&[
        "check",
        "record",
        "critical_workflows_documented",
        "--outcome",
        "fail",
        "--as",
        "omar",
    ])
    .expect(0);
    let json = status_json(&env);
    assert_eq!(json["gate"]["holds"], false);
    let out = env.run(&["advance", "--as", "alex"]).expect(3);
    assert!(
        out.stderr().contains("awaiting sign-off from product"),
        "{}",
        out.stderr()
    );
    assert_eq!(status_json(&env)["phase"], "discovery");
}

#[test]
fn waiver_rules_and_effect() {
    let env = Env::sqlite();
    let plan = std::fs::read_to_string(workflow("affiliate-parallel-run.yaml")).unwrap();
    // A second lead who owns the product layer.
    let plan = plan.replace(
        "  - { id: omar,   name: Omar Haddad,   email: omar@example.com,   layers: [product] }",
        "  - { id: omar,   name: Omar Haddad,   email: omar@example.com,   layers: [product], lead: true }",
    );
    assert!(plan.contains("layers: [product], lead: true"));
    let file = env.write("plan.yaml", &plan);
    env.run(&["start", &file]).expect(0);
    let out = env
        .run(&[
            "waive",
            "--as",
            "omar",
            "--condition",
            "workflows_documented",
            "--justification",
            "mine",
            "--expires",
            "2099-01-01",
        ])
        .expect(3);
    assert!(
        out.stderr()
            .contains("nobody waives a condition of their own layer"),
        "{}",
        out.stderr()
    );
    let out = env
        .run(&[
            "waive",
            "--as",
            "alex",
            "--condition",
            "workflows_documented",
            "--justification",
            "legacy wiki accepted",
            "--expires",
            "2020-01-01",
        ])
        .expect(3);
    assert!(
        out.stderr().contains("has already ended"),
        "{}",
        out.stderr()
    );
    env.run(&[
        "waive",
        "--as",
        "alex",
        "--condition",
        "workflows_documented",
        "--justification",
        "legacy wiki accepted",
        "--expires",
        "2099-01-01",
    ])
    .expect(0);
    let status = env.run(&["status"]).expect(0).stdout();
    assert!(status.contains("[w] workflows_documented"), "{status}");
    env.run(&["signoff", "--as", "omar", "--layer", "product"])
        .expect(0);
    env.run(&["signoff", "--as", "priya", "--layer", "affiliate"])
        .expect(0);
    env.run(&["advance", "--as", "alex"]).expect(0);
}

#[test]
fn rollback_skip_and_plan_apply() {
    let env = Env::sqlite();
    start_main(&env);
    satisfy_discovery(&env);
    // Skipping setup needs setup's gate too.
    let out = env
        .run(&["advance", "--as", "alex", "--to", "parallel_validation"])
        .expect(3);
    assert!(
        out.stderr()
            .starts_with("refused: cannot leave discovery for parallel_validation"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("setup/setup_signed"),
        "{}",
        out.stderr()
    );
    env.run(&["advance", "--as", "alex"]).expect(0);
    let out = env
        .run(&["rollback", "--as", "alex", "--to", "setup", "--reason", "x"])
        .expect(3);
    assert!(
        out.stderr().contains("setup is not before setup"),
        "{}",
        out.stderr()
    );
    env.run(&[
        "rollback",
        "--as",
        "alex",
        "--to",
        "discovery",
        "--reason",
        "deal sheet incomplete",
    ])
    .expect(0);
    let json = status_json(&env);
    assert_eq!(json["phase"], "discovery");
    // Old sign-offs do not carry over into the new visit.
    assert_eq!(json["gate"]["holds"], false);

    // A plan that drops the current phase is refused; a compatible one is applied.
    let plan = std::fs::read_to_string(workflow("affiliate-parallel-run.yaml")).unwrap();
    let dropped = env.write(
        "dropped.yaml",
        &plan.replace("id: discovery", "id: inventory"),
    );
    let out = env.run(&["plan", "apply", &dropped]).expect(3);
    assert!(
        out.stderr().contains("drops phase discovery"),
        "{}",
        out.stderr()
    );
    let v2 = env.write(
        "v2.yaml",
        &plan.replace("Capture current logic", "Capture all current logic"),
    );
    let out = env.run(&["plan", "apply", &v2, "--as", "alex"]).expect(0);
    assert!(
        out.stdout().starts_with("Applied plan version 2"),
        "{}",
        out.stdout()
    );
    assert_eq!(status_json(&env)["plan"]["version"], 2);
    env.run(&["history", "verify"]).expect(0);
}

#[tokio::test]
async fn tampered_log_fails_verify() {
    let env = Env::sqlite();
    start_main(&env);
    satisfy_discovery(&env);
    env.run(&["history", "verify"]).expect(0);
    let store = cutover_store::Store::connect(&env.url).await.unwrap();
    store
        .connection()
        .execute_unprepared("UPDATE transition_log SET summary = 'nothing happened' WHERE seq = 3")
        .await
        .unwrap();
    let out = env.run(&["history", "verify"]).expect(1);
    assert!(
        out.stdout().contains("broken: entry #3: stored hash"),
        "{}",
        out.stdout()
    );
}

#[test]
fn unreachable_database_is_one_line_exit_1() {
    let env = Env::sqlite();
    let out = env
        .command(&["status"])
        .env(
            "CUTOVER_DATABASE_URL",
            "postgres://cutover:hunter2@127.0.0.1:1/none",
        )
        .output()
        .unwrap();
    let out = Out(out).expect(1);
    let err = out.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot open database postgres://cutover:***@127.0.0.1:1/none"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn locked_sqlite_database_is_one_line_exit_1() {
    let env = Env::sqlite();
    start_main(&env);
    satisfy_discovery(&env);
    let store = cutover_store::Store::connect(&env.url).await.unwrap();
    let conn = store.connection();
    // Hold the write lock from another connection for longer than the busy timeout.
    conn.execute_unprepared("PRAGMA busy_timeout = 0")
        .await
        .unwrap();
    let txn = sea_orm::TransactionTrait::begin(conn).await.unwrap();
    txn.execute_unprepared("UPDATE migrations SET updated_at = updated_at")
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking({
        let cmd = env.command(&["advance", "--as", "alex"]).output();
        move || cmd
    })
    .await
    .unwrap()
    .unwrap();
    txn.rollback().await.unwrap();
    let out = Out(out).expect(1);
    assert_eq!(
        out.stderr().trim_end(),
        "error: the database is locked by another process; retry in a moment"
    );
    // Nothing was half-written: the advance can be given again and wins.
    assert_eq!(status_json(&env)["phase"], "discovery");
    env.run(&["advance", "--as", "alex"]).expect(0);
}

/// Two `advance` processes at the same moment: exactly one wins, the other is refused,
/// and the log shows both.
fn concurrent_advances(env: &Env) {
    start_main(env);
    satisfy_discovery(env);
    let children: Vec<_> = (0..2)
        .map(|_| {
            env.command(&["advance", "--as", "alex"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Out> = children
        .into_iter()
        .map(|c| Out(c.wait_with_output().unwrap()))
        .collect();
    let codes: Vec<i32> = outs.iter().map(Out::code).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 0).count(),
        1,
        "exactly one advance must win: {codes:?}\n{}\n{}",
        outs[0].stderr(),
        outs[1].stderr()
    );
    let loser = outs.iter().find(|o| o.code() != 0).unwrap();
    assert_eq!(loser.code(), 3, "{}", loser.stderr());
    assert_eq!(status_json(env)["phase"], "setup");
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&env.run(&["history", "--json"]).expect(0).stdout()).unwrap();
    let advances: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "advance")
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        advances.iter().filter(|r| **r == "accepted").count(),
        1,
        "{advances:?}"
    );
    assert_eq!(
        advances.iter().filter(|r| **r == "refused").count(),
        1,
        "{advances:?}"
    );
    env.run(&["history", "verify"]).expect(0);
}

#[test]
fn concurrent_advances_on_sqlite() {
    for _ in 0..3 {
        concurrent_advances(&Env::sqlite());
    }
}

#[tokio::test]
async fn concurrent_advances_on_postgres() {
    for _ in 0..3 {
        let Some(env) = Env::postgres().await else {
            return;
        };
        tokio::task::spawn_blocking(move || concurrent_advances(&env))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn walkthrough_on_postgres() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        start_main(&env);
        env.run(&["advance", "--as", "alex"]).expect(3);
        satisfy_discovery(&env);
        env.run(&["advance", "--as", "alex"]).expect(0);
        assert_eq!(status_json(&env)["phase"], "setup");
        env.run(&["history", "verify"]).expect(0);
    })
    .await
    .unwrap();
}
