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

/// Tests run side by side, except the ones that start a hundred processes at once: they
/// wait until no other test holds an environment, and others wait for them, so nobody
/// else's commands time out while the machine (or Postgres's connection slots) is full.
mod turn {
    use std::sync::{Condvar, Mutex};

    /// (environments in use, an exclusive one in use)
    static STATE: Mutex<(usize, bool)> = Mutex::new((0, false));
    static CHANGED: Condvar = Condvar::new();

    pub enum Turn {
        Shared,
        Exclusive,
    }

    pub fn take(exclusive: bool) -> Turn {
        let mut s = STATE.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let free = if exclusive { !s.1 && s.0 == 0 } else { !s.1 };
            if free {
                break;
            }
            s = CHANGED.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if exclusive {
            s.1 = true;
            Turn::Exclusive
        } else {
            s.0 += 1;
            Turn::Shared
        }
    }

    impl Drop for Turn {
        fn drop(&mut self) {
            let mut s = STATE.lock().unwrap_or_else(|e| e.into_inner());
            match self {
                Turn::Shared => s.0 -= 1,
                Turn::Exclusive => s.1 = false,
            }
            CHANGED.notify_all();
        }
    }
}

/// A working directory and a database for one test.
struct Env {
    dir: tempfile::TempDir,
    url: String,
    _turn: turn::Turn,
}

impl Env {
    fn sqlite() -> Env {
        Env::sqlite_with(turn::take(false))
    }

    /// A SQLite environment while no other test runs.
    fn sqlite_alone() -> Env {
        Env::sqlite_with(turn::take(true))
    }

    fn sqlite_with(turn: turn::Turn) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("cutover.db").display()
        );
        Env {
            dir,
            url,
            _turn: turn,
        }
    }

    async fn postgres() -> Option<Env> {
        Env::postgres_with(false).await
    }

    /// A Postgres environment while no other test runs.
    async fn postgres_alone() -> Option<Env> {
        Env::postgres_with(true).await
    }

    async fn postgres_with(exclusive: bool) -> Option<Env> {
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
        admin.close().await.ok();
        let (head, _) = base.rsplit_once('/').unwrap();
        Some(Env {
            dir: tempfile::tempdir().unwrap(),
            url: format!("{head}/{name}"),
            _turn: turn::take(exclusive),
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
        "--as",
        "alex",
    ])
    .expect(0);
}

/// Makes the discovery gate hold: every essential inventory item confirmed by a person
/// of its owner layer, the completeness check recorded, both sign-offs.
fn satisfy_discovery(env: &Env) {
    confirm_inventory(env);
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

/// The example plan's inventory documents, beside a copy of the plan in `env`'s directory.
fn copy_discovery_docs(env: &Env) {
    let to = env.dir.path().join("discovery");
    std::fs::create_dir_all(&to).unwrap();
    for f in std::fs::read_dir(workflow("discovery")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
}

/// Every essential inventory item of the example plan confirmed by its owner layer.
fn confirm_inventory(env: &Env) {
    for (item, by) in [
        ("tracking_links", "priya"),
        ("postbacks", "omar"),
        ("deal_types", "priya"),
        ("crm_sync", "chen"),
        ("payout_runs", "fiona"),
    ] {
        env.run(&["inventory", "confirm", item, "--as", by])
            .expect(0);
    }
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
    let out = env.run(&["start", &bad, "--as", "alex"]).expect(1);
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

    let refused = env
        .run(&["advance", "--as", "alex", "--from", "discovery"])
        .expect(3);
    assert_eq!(
        refused.stderr(),
        "refused: cannot leave discovery for setup: 3 exit conditions unmet\n  \
         discovery/workflows_documented [product]: no run of check critical_workflows_documented since the phase was entered\n  \
         discovery/inventory_ready [product, affiliate]: 5 of 5 essential inventory items not ready: \
         tracking_links (tracking_links, owner affiliate): not confirmed by affiliate; \
         postbacks (postbacks, owner product): not confirmed by product; \
         deal_types (deal_types, owner affiliate): not confirmed by affiliate; \
         crm_sync (crm_sync, owner crm): not confirmed by crm; \
         payout_runs (payout_runs, owner finance): not confirmed by finance\n  \
         discovery/discovery_signed [product, affiliate]: awaiting sign-off from product, affiliate\n\
         (logged as entry #2; nothing was changed)\n"
    );
    assert_eq!(status_json(&env)["phase"], "discovery");

    satisfy_discovery(&env);
    let json = status_json(&env);
    assert_eq!(json["gate"]["holds"], true, "{json}");

    let out = env
        .run(&[
            "advance",
            "--as",
            "alex",
            "--from",
            "discovery",
            "--reason",
            "inventory signed",
        ])
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
            ("inventory_confirm", "accepted"),
            ("inventory_confirm", "accepted"),
            ("inventory_confirm", "accepted"),
            ("inventory_confirm", "accepted"),
            ("inventory_confirm", "accepted"),
            ("check_record", "accepted"),
            ("signoff", "accepted"),
            ("signoff", "accepted"),
            ("advance", "accepted"),
        ]
    );
    assert_eq!(entries[10]["command"]["reason"], "inventory signed");
    assert!(
        entries[10]["effects"]
            .to_string()
            .contains("record_evidence")
    );
    let out = env.run(&["history", "verify"]).expect(0);
    assert!(
        out.stdout()
            .starts_with("ok: 11 entries, hash chain intact"),
        "{}",
        out.stdout()
    );
}

#[test]
fn role_rules_are_enforced_through_the_cli() {
    let env = Env::sqlite();
    start_main(&env);
    satisfy_discovery(&env);
    let out = env
        .run(&["advance", "--as", "omar", "--from", "discovery"])
        .expect(3);
    assert_eq!(
        out.stderr().lines().next().unwrap(),
        "refused: omar is not a lead; only a lead may advance the migration"
    );
    let out = env
        .run(&["advance", "--as", "nobody", "--from", "discovery"])
        .expect(3);
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
    let out = env
        .run(&["advance", "--as", "alex", "--from", "discovery"])
        .expect(3);
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
    copy_discovery_docs(&env);
    env.run(&["start", &file, "--as", "alex"]).expect(0);
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
    confirm_inventory(&env);
    env.run(&["signoff", "--as", "omar", "--layer", "product"])
        .expect(0);
    env.run(&["signoff", "--as", "priya", "--layer", "affiliate"])
        .expect(0);
    env.run(&["advance", "--as", "alex", "--from", "discovery"])
        .expect(0);
}

#[test]
fn rollback_skip_and_plan_apply() {
    let env = Env::sqlite();
    start_main(&env);
    satisfy_discovery(&env);
    // Skipping setup needs setup's gate too.
    let out = env
        .run(&[
            "advance",
            "--as",
            "alex",
            "--from",
            "discovery",
            "--to",
            "parallel_validation",
        ])
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
    env.run(&["advance", "--as", "alex", "--from", "discovery"])
        .expect(0);
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
    let out = env
        .run(&["plan", "apply", &dropped, "--as", "alex"])
        .expect(3);
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
        let cmd = env
            .command(&["advance", "--as", "alex", "--from", "discovery"])
            .output();
        move || cmd
    })
    .await
    .unwrap()
    .unwrap();
    txn.rollback().await.unwrap();
    let out = Out(out).expect(1);
    assert_eq!(out.stderr().trim_end(), "error: database busy; retry");
    // Nothing was half-written: the advance can be given again and wins.
    assert_eq!(status_json(&env)["phase"], "discovery");
    env.run(&["advance", "--as", "alex", "--from", "discovery"])
        .expect(0);
}

/// Two `advance` processes at the same moment: exactly one wins, the other is refused,
/// and the log shows both.
fn concurrent_advances(env: &Env) {
    start_main(env);
    satisfy_discovery(env);
    let children: Vec<_> = (0..2)
        .map(|_| {
            env.command(&["advance", "--as", "alex", "--from", "discovery"])
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
        env.run(&["advance", "--as", "alex", "--from", "discovery"])
            .expect(3);
        satisfy_discovery(&env);
        env.run(&["advance", "--as", "alex", "--from", "discovery"])
            .expect(0);
        assert_eq!(status_json(&env)["phase"], "setup");
        env.run(&["history", "verify"]).expect(0);
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------
// Trust: authority from the stored plan, the log's anchors, atomic upgrades, and nothing
// lost under concurrency.

/// A SQLite environment, and a Postgres one when configured.
async fn envs() -> Vec<(&'static str, Env)> {
    let mut out = vec![("sqlite", Env::sqlite())];
    if let Some(pg) = Env::postgres().await {
        out.push(("postgres", pg));
    }
    out
}

/// Runs SQL on the environment's database, behind cutover's back.
async fn sql(env: &Env, sql: &str) {
    let db = sea_orm::Database::connect(&env.url).await.expect("connect");
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    db.close().await.ok();
}

fn history_json(env: &Env) -> Vec<serde_json::Value> {
    serde_json::from_str(&env.run(&["history", "--json"]).expect(0).stdout()).expect("history")
}

fn results(entries: &[serde_json::Value], result: &str) -> usize {
    entries.iter().filter(|e| e["result"] == result).count()
}

/// The example plan with one more person.
fn plan_with(env: &Env, name: &str, person: &str) -> String {
    let plan = std::fs::read_to_string(workflow("affiliate-parallel-run.yaml")).unwrap();
    let anchor =
        "  - { id: bianca, name: Bianca Rossi,  email: bianca@example.com, layers: [bi] }\n";
    assert!(plan.contains(anchor));
    env.write(name, &plan.replace(anchor, &format!("{anchor}{person}\n")))
}

#[tokio::test]
async fn regression_role_escalation_by_plan_apply_is_refused_and_logged() {
    for (backend, env) in envs().await {
        start_main(&env);
        let evil = plan_with(
            &env,
            "evil.yaml",
            "  - { id: mallory, name: Mallory, email: m@example.com, lead: true, layers: [affiliate, product, crm, finance, bi] }",
        );
        // --as is required wherever an actor is recorded.
        let out = env.run(&["plan", "apply", &evil]).expect(2);
        assert!(out.stderr().contains("--as"), "{}", out.stderr());
        // mallory is nobody in the stored plan: the new plan cannot vouch for them.
        let out = env
            .run(&["plan", "apply", &evil, "--as", "mallory"])
            .expect(3);
        assert!(
            out.stderr()
                .starts_with("refused: \"mallory\" is not a person of the plan"),
            "{backend}: {}",
            out.stderr()
        );
        // A layer owner of the current plan is not a lead of it.
        let out = env.run(&["plan", "apply", &evil, "--as", "omar"]).expect(3);
        assert_eq!(
            out.stderr().lines().next().unwrap(),
            "refused: omar is not a lead of the current plan; only a lead may apply a plan"
        );
        // The lead may not hand themselves layers.
        let greedy = env.write(
            "greedy.yaml",
            &std::fs::read_to_string(workflow("affiliate-parallel-run.yaml"))
                .unwrap()
                .replace(
                    "email: alex@example.com,   lead: true }",
                    "email: alex@example.com,   lead: true, layers: [finance] }",
                ),
        );
        let out = env
            .run(&["plan", "apply", &greedy, "--as", "alex"])
            .expect(3);
        assert_eq!(
            out.stderr().lines().next().unwrap(),
            "refused: alex may not grant themselves rights they do not hold now (layers finance); another lead must apply this plan"
        );
        // Nothing changed: mallory still cannot act, and every refusal is in the log.
        let out = env
            .run(&["signoff", "--as", "mallory", "--layer", "finance"])
            .expect(3);
        assert!(
            out.stderr()
                .contains("\"mallory\" is not a person of the plan"),
            "{}",
            out.stderr()
        );
        assert_eq!(status_json(&env)["plan"]["version"], 1);
        let entries = history_json(&env);
        let applies: Vec<(&str, &str)> = entries
            .iter()
            .filter(|e| e["kind"] == "plan_apply")
            .map(|e| (e["actor"].as_str().unwrap(), e["result"].as_str().unwrap()))
            .collect();
        assert_eq!(
            applies,
            vec![
                ("mallory", "refused"),
                ("omar", "refused"),
                ("alex", "refused")
            ],
            "{backend}"
        );
        // The lead adding mallory is logged with who gained what.
        let out = env.run(&["plan", "apply", &evil, "--as", "alex"]).expect(0);
        assert!(
            out.stdout().starts_with("Applied plan version 2 from "),
            "{}",
            out.stdout()
        );
        assert!(
            out.stdout().contains(
                "  people and layers: mallory added: gains lead; gains layers affiliate, bi, crm, finance, product"
            ),
            "{}",
            out.stdout()
        );
        let entries = history_json(&env);
        let last = entries.last().unwrap();
        assert_eq!(last["kind"], "plan_apply");
        assert_eq!(last["command"]["change"]["people"][0]["person"], "mallory");
        assert_eq!(last["command"]["change"]["people"][0]["gained_lead"], true);
        env.run(&["history", "verify"]).expect(0);
    }
}

#[test]
fn regression_actor_and_from_are_required() {
    let env = Env::sqlite();
    let plan = workflow("affiliate-parallel-run.yaml");
    let out = env.run(&["start", plan.to_str().unwrap()]).expect(2);
    assert!(out.stderr().contains("--as"), "{}", out.stderr());
    start_main(&env);
    let out = env.run(&["advance", "--as", "alex"]).expect(2);
    assert!(out.stderr().contains("--from"), "{}", out.stderr());
    // Naming a phase the migration is not in is refused, and logged.
    let out = env
        .run(&["advance", "--as", "alex", "--from", "setup"])
        .expect(3);
    assert_eq!(
        out.stderr(),
        "refused: the migration is in discovery, not setup; it moved since the advance was asked for\n\
         (logged as entry #2; nothing was changed)\n"
    );
}

#[test]
fn every_mutating_command_prints_the_head_and_json_carries_it_in_full() {
    let env = Env::sqlite();
    start_main(&env);
    let out = env
        .run(&["signoff", "--as", "omar", "--layer", "product"])
        .expect(0);
    let head_line = out.stdout().lines().last().unwrap().to_string();
    let entries = history_json(&env);
    let hash = entries[1]["hash"].as_str().unwrap();
    assert_eq!(head_line, format!("head {} (entry #2)", &hash[..16]));
    let out = env
        .run(&["advance", "--as", "alex", "--from", "discovery", "--json"])
        .expect(3);
    let json: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let entries = history_json(&env);
    assert_eq!(json["result"], "refused");
    assert_eq!(json["seq"], 3);
    assert_eq!(json["head"], entries[2]["hash"]);
    assert_eq!(json["head"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn regression_truncation_after_a_known_head_is_detected() {
    for (backend, env) in envs().await {
        start_main(&env);
        satisfy_discovery(&env);
        let seen: serde_json::Value = serde_json::from_str(
            &env.run(&["advance", "--as", "alex", "--from", "discovery", "--json"])
                .expect(0)
                .stdout(),
        )
        .unwrap();
        let head = seen["head"].as_str().unwrap().to_string();
        let out = env.run(&["history", "verify", "--head", &head]).expect(0);
        assert!(
            out.stdout().contains("is entry #10, followed by 0 entries"),
            "{}",
            out.stdout()
        );
        // A later head extends it.
        env.run(&["signoff", "--as", "omar", "--layer", "product"])
            .expect(0);
        let out = env
            .run(&["history", "verify", "--head", &head[..12]])
            .expect(0);
        assert!(
            out.stdout().contains("followed by 1 entry"),
            "{}",
            out.stdout()
        );
        // Deleting the newest entries back past the head someone saw.
        sql(&env, "DELETE FROM transition_log WHERE seq >= 10").await;
        let out = env.run(&["history", "verify", "--head", &head]).expect(1);
        assert!(
            out.stdout().contains(&format!(
                "head: {} is not in the log: it was truncated after that head, or rewritten",
                &head[..16]
            )),
            "{backend}: {}",
            out.stdout()
        );
        // The advance is gone from the log but not from the rows: every command refuses.
        let out = env.run(&["status"]).expect(1);
        assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
        assert!(
            out.stderr()
                .starts_with("error: the log no longer verifies: ")
                && out.stderr().contains("run `cutover history verify`"),
            "{}",
            out.stderr()
        );
        let out = env.run(&["history", "verify"]).expect(1);
        assert!(
            out.stdout().contains(
                "state: migrations.current_phase is \"setup\" but the log says \"discovery\""
            ),
            "{backend}: {}",
            out.stdout()
        );
        // A bad --head is a usage error.
        env.run(&["history", "verify", "--head", "abc"]).expect(2);
    }
}

/// Rewrites the log from `from` on with `actor` and re-hashes it, as someone with write
/// access to the database but not the key could.
async fn rewrite_and_rehash(env: &Env, from: i64, actor: &str) {
    let store = cutover_store::Store::connect(&env.url).await.unwrap();
    let mut entries = store.log().await.unwrap();
    let mut prev = cutover_store::GENESIS.to_string();
    for e in entries.iter_mut() {
        if e.seq >= from {
            if e.seq == from {
                e.actor = Some(actor.to_string());
            }
            e.prev_hash = prev.clone();
            e.hash = e.compute_hash();
            store
                .connection()
                .execute_unprepared(&format!(
                    "UPDATE transition_log SET actor = '{}', prev_hash = '{}', hash = '{}', mac = NULL WHERE seq = {}",
                    e.actor.as_deref().unwrap_or(""),
                    e.prev_hash,
                    e.hash,
                    e.seq
                ))
                .await
                .unwrap();
        }
        prev = e.hash.clone();
    }
}

#[tokio::test]
async fn regression_rehashed_chain_fails_with_the_key_or_a_known_head() {
    for (backend, env) in envs().await {
        let key = "k3y-for-the-log";
        let keyed = |args: &[&str]| {
            let mut c = env.command(args);
            c.env("CUTOVER_LOG_KEY", key);
            Out(c.output().unwrap())
        };
        keyed(&[
            "start",
            workflow("affiliate-parallel-run.yaml").to_str().unwrap(),
            "--as",
            "alex",
        ])
        .expect(0);
        keyed(&["advance", "--as", "alex", "--from", "discovery"]).expect(3);
        let out = keyed(&["signoff", "--as", "omar", "--layer", "product", "--json"]).expect(0);
        let head: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
        let head = head["head"].as_str().unwrap().to_string();
        let out = keyed(&["history", "verify"]).expect(0);
        assert!(
            out.stdout().contains("3 MACs verified"),
            "{backend}: {}",
            out.stdout()
        );
        // The key is never printed.
        assert!(!out.stdout().contains(key) && !out.stderr().contains(key));

        // The whole chain is rewritten (the start made to look like omar's) and re-hashed.
        rewrite_and_rehash(&env, 1, "omar").await;
        // Without an anchor the rewrite is consistent...
        env.run(&["history", "verify"]).expect(0);
        // ...the head someone saw is gone...
        let out = env.run(&["history", "verify", "--head", &head]).expect(1);
        assert!(
            out.stdout().contains("is not in the log"),
            "{}",
            out.stdout()
        );
        // ...and with the key every re-written entry is named.
        let out = keyed(&["history", "verify"]).expect(1);
        assert!(
            out.stdout().contains(
                "mac: entries #1-#3 have no MAC (written without CUTOVER_LOG_KEY, or re-written)"
            ),
            "{backend}: {}",
            out.stdout()
        );
    }
}

#[test]
fn a_wrong_log_key_fails_every_signed_entry() {
    let env = Env::sqlite();
    let with = |key: &str, args: &[&str]| {
        let mut c = env.command(args);
        c.env("CUTOVER_LOG_KEY", key);
        Out(c.output().unwrap())
    };
    let plan = workflow("affiliate-parallel-run.yaml");
    with("right", &["start", plan.to_str().unwrap(), "--as", "alex"]).expect(0);
    with("right", &["signoff", "--as", "omar", "--layer", "product"]).expect(0);
    with("right", &["history", "verify"]).expect(0);
    let out = with("another key", &["history", "verify"]).expect(1);
    let stdout = out.stdout();
    let macs: Vec<&str> = stdout.lines().filter(|l| l.starts_with("mac: ")).collect();
    assert_eq!(
        macs,
        [
            "mac: entry #1: its MAC does not match CUTOVER_LOG_KEY (another key, or the entry was rewritten)",
            "mac: entry #2: its MAC does not match CUTOVER_LOG_KEY (another key, or the entry was rewritten)",
        ]
    );
}

#[tokio::test]
async fn wrong_log_key_refuses_commands_and_a_missing_one_checks_nothing() {
    let env = Env::sqlite();
    let mut c = env.command(&[
        "start",
        workflow("affiliate-parallel-run.yaml").to_str().unwrap(),
        "--as",
        "alex",
    ]);
    c.env("CUTOVER_LOG_KEY", "right");
    Out(c.output().unwrap()).expect(0);
    let mut c = env.command(&["signoff", "--as", "omar", "--layer", "product"]);
    c.env("CUTOVER_LOG_KEY", "wrong");
    let out = Out(c.output().unwrap()).expect(1);
    assert_eq!(
        out.stderr(),
        "error: the log no longer verifies: log entry #1's MAC does not match CUTOVER_LOG_KEY; nothing was changed (run `cutover history verify` to see where)\n"
    );
    // Without a key, MACs are not checked (verify says so).
    env.run(&["signoff", "--as", "omar", "--layer", "product"])
        .expect(0);
    let out = env.run(&["history", "verify"]).expect(0);
    assert!(
        out.stdout()
            .contains("note: 1 entries carry a MAC; set CUTOVER_LOG_KEY to check them"),
        "{}",
        out.stdout()
    );
}

#[tokio::test]
async fn regression_non_ascii_or_short_hash_does_not_panic() {
    let env = Env::sqlite();
    start_main(&env);
    satisfy_discovery(&env);
    sql(
        &env,
        "UPDATE transition_log SET hash = 'ééééééééééééééé' WHERE seq = 2",
    )
    .await;
    sql(
        &env,
        "UPDATE transition_log SET prev_hash = 'ab' WHERE seq = 3",
    )
    .await;
    let out = env.run(&["history"]).expect(0);
    assert!(out.stdout().contains("[\\u{e9}\\u{e9}"), "{}", out.stdout());
    let out = env.run(&["history", "verify"]).expect(1);
    assert!(
        out.stdout()
            .contains("broken: entry #2: stored hash \\u{e9}"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout()
            .contains("broken: entry #3: prev_hash ab does not match"),
        "{}",
        out.stdout()
    );
    env.run(&["history", "--json"]).expect(0);
}

#[tokio::test]
async fn regression_corrupt_timestamp_names_its_entry() {
    let env = Env::sqlite();
    start_main(&env);
    satisfy_discovery(&env);
    sql(
        &env,
        "UPDATE transition_log SET at = 'garbage' WHERE seq = 3",
    )
    .await;
    let out = env.run(&["history"]).expect(1);
    assert!(
        out.stdout()
            .contains("log entry #3 cannot be read: column at (holds \"garbage\")"),
        "{}",
        out.stdout()
    );
    assert_eq!(
        out.stderr(),
        "error: 1 log entry cannot be read; run `cutover history verify`\n"
    );
    let out = env.run(&["history", "verify"]).expect(1);
    assert!(
        out.stdout()
            .contains("broken: entry #3: cannot be read: column at (holds \"garbage\")"),
        "{}",
        out.stdout()
    );
}

/// Kills a first `start` after `delay` and checks the next commands complete.
fn interrupted_start(env: &Env, delay: std::time::Duration) {
    let plan = workflow("affiliate-parallel-run.yaml");
    let mut child = env
        .command(&["start", plan.to_str().unwrap(), "--as", "alex"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
    let out = env.run(&["start", plan.to_str().unwrap(), "--as", "alex"]);
    match out.code() {
        0 => {}
        1 => assert!(
            out.stderr().contains("already holds migration"),
            "after a kill at {delay:?}: {}",
            out.stderr()
        ),
        c => panic!("after a kill at {delay:?}: exit {c}: {}", out.stderr()),
    }
    env.run(&["status"]).expect(0);
    env.run(&["history", "verify"]).expect(0);
}

#[test]
fn regression_interrupted_first_start_never_bricks_sqlite() {
    for ms in (0..40).step_by(3).chain([50, 70, 100, 150]) {
        interrupted_start(&Env::sqlite(), std::time::Duration::from_millis(ms));
    }
}

#[tokio::test]
async fn regression_interrupted_first_start_never_bricks_postgres() {
    for ms in [0, 10, 20, 30, 45, 60, 90, 150] {
        let Some(env) = Env::postgres().await else {
            return;
        };
        tokio::task::spawn_blocking(move || {
            interrupted_start(&env, std::time::Duration::from_millis(ms))
        })
        .await
        .unwrap();
    }
}

/// Spawns every command at once and waits for all of them.
fn all_at_once(env: &Env, commands: &[Vec<&str>]) -> Vec<(Vec<String>, Out)> {
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            let child = env
                .command(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (args.iter().map(|a| a.to_string()).collect(), child)
        })
        .collect();
    children
        .into_iter()
        .map(|(args, c)| (args, Out(c.wait_with_output().unwrap())))
        .collect()
}

/// Exit 1 is allowed only as the one-line busy message.
#[track_caller]
fn assert_clean_exit(args: &[String], out: &Out) {
    match out.code() {
        0 | 3 => {}
        1 => assert_eq!(
            out.stderr(),
            "error: database busy; retry\n",
            "{args:?} exited 1"
        ),
        c => panic!("{args:?} exited {c}: {}{}", out.stdout(), out.stderr()),
    }
}

fn refusal_race(env: &Env) {
    start_main(env);
    let before = results(&history_json(env), "refused");
    let commands: Vec<Vec<&str>> = (0..40)
        .map(|i| match i % 4 {
            0 => vec!["signoff", "--as", "fiona", "--layer", "bi"],
            1 => vec!["advance", "--as", "alex", "--from", "discovery"],
            2 => vec!["advance", "--as", "omar", "--from", "discovery"],
            _ => vec![
                "check",
                "record",
                "critical_workflows_documented",
                "--outcome",
                "pass",
                "--as",
                "bianca",
            ],
        })
        .collect();
    let outs = all_at_once(env, &commands);
    for (args, out) in &outs {
        assert_clean_exit(args, out);
        assert_ne!(out.code(), 0, "{args:?} was accepted");
    }
    let refused = outs.iter().filter(|(_, o)| o.code() == 3).count();
    let entries = history_json(env);
    assert_eq!(results(&entries, "refused") - before, refused);
    assert_eq!(results(&entries, "accepted"), 1);
    env.run(&["history", "verify"]).expect(0);
}

#[tokio::test]
async fn regression_every_refusal_in_a_race_is_logged() {
    for (_, env) in envs().await {
        tokio::task::spawn_blocking(move || refusal_race(&env))
            .await
            .unwrap();
    }
}

fn hundred_commands(env: &Env) {
    start_main(env);
    let setup_entries = history_json(env).len();
    let commands: Vec<Vec<&str>> = (0..100)
        .map(|i| match i % 8 {
            0 | 4 => vec!["status"],
            1 => vec!["signoff", "--as", "omar", "--layer", "product"],
            5 => vec!["signoff", "--as", "priya", "--layer", "affiliate"],
            2 | 6 => vec![
                "check",
                "record",
                "critical_workflows_documented",
                "--outcome",
                "pass",
                "--as",
                "omar",
            ],
            3 => vec!["advance", "--as", "alex", "--from", "discovery"],
            _ => vec!["signoff", "--as", "fiona", "--layer", "bi"],
        })
        .collect();
    let outs = all_at_once(env, &commands);
    let mut accepted = 0;
    let mut refused = 0;
    for (args, out) in &outs {
        assert_clean_exit(args, out);
        if args[0] != "status" {
            accepted += usize::from(out.code() == 0);
            refused += usize::from(out.code() == 3);
        }
    }
    let entries = history_json(env);
    let new = &entries[setup_entries..];
    assert_eq!(results(new, "accepted"), accepted, "accepted entries");
    assert_eq!(results(new, "refused"), refused, "refused entries");
    assert_eq!(new.len(), accepted + refused);
    env.run(&["history", "verify"]).expect(0);
    // The migration moved at most one phase.
    let phase = status_json(env)["phase"].clone();
    assert!(phase == "discovery" || phase == "setup", "{phase}");
}

#[test]
fn hundred_concurrent_commands_on_sqlite_lose_nothing() {
    hundred_commands(&Env::sqlite_alone());
}

#[tokio::test]
async fn hundred_concurrent_commands_on_postgres_lose_nothing() {
    let Some(env) = Env::postgres_alone().await else {
        return;
    };
    tokio::task::spawn_blocking(move || hundred_commands(&env))
        .await
        .unwrap();
}
