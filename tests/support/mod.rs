//! Shared by the end-to-end tests that need the simulated platforms: `cutover sim` as a
//! child process on a free loopback port, killed when dropped. Each test crate uses only
//! some of these, hence the `dead_code` allowances.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_cutover");

pub struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cutover sim --port 0` and returns it with its base address.
#[allow(dead_code)]
pub fn start_sim() -> (Sim, String) {
    spawn_sim(&["sim", "--seed", "3", "--port", "0", "--partners", "30"])
}

/// `cutover sim --real-pair` with the example plan's seed (1) and partner count, whose
/// hand-written ids (payout deals, attribution trackers) are that seed's.
#[allow(dead_code)]
pub fn start_real_pair() -> (Sim, String) {
    spawn_sim(&["sim", "--real-pair", "--seed", "1", "--port", "0"])
}

/// The simulator's `/truth` as JSON.
#[allow(dead_code)]
pub fn truth(addr: &str) -> serde_json::Value {
    let host = addr.strip_prefix("http://").expect("http address");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(s, "GET /truth HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    serde_json::from_str(text.split_once("\r\n\r\n").expect("a body").1).expect("JSON")
}

fn spawn_sim(args: &[&str]) -> (Sim, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sim");
    let out = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    reader.read_line(&mut line).expect("first line");
    // Keep draining so the simulator never writes into a closed pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let addr = line
        .trim()
        .strip_prefix("simulated platforms on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Sim(child), addr)
}

/// The rest of a small plan after its `migration:` line: the two simulated platforms as
/// `old` and `new`, a strict and a lenient reconcile, and a gate that reads both.
#[allow(dead_code)]
const SIM_PLAN_BODY: &str = "timezone: UTC
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

/// [`SIM_PLAN_BODY`] under the migration name `migration`.
#[allow(dead_code)]
pub fn sim_plan(migration: &str) -> String {
    format!("migration: {migration}\n{SIM_PLAN_BODY}")
}

/// A temp directory with `plan.yaml` and a SQLite store, and the simulator's address.
#[allow(dead_code)]
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: String,
    pub base: String,
}

#[allow(dead_code)]
impl Env {
    /// Writes `plan` as plan.yaml in a new temp directory.
    pub fn new(plan: &str, base: String) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        Env { dir, db, base }
    }

    /// `cutover ARGS` in the directory, against the store and the simulated platforms.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("CUTOVER_DATABASE_URL", &self.db)
            .env("EVERFLOW_API_KEY", "sim-old-key")
            .env("EVERFLOW_BASE_URL", format!("{}/old", self.base))
            .env("TUNE_NETWORK_TOKEN", "sim-new-key")
            .env("TUNE_BASE_URL", format!("{}/new", self.base))
            // Mail goes nowhere unless a test says where.
            .env("CUTOVER_MAIL_FROM", "cutover <cutover@example.com>")
            .env_remove("CUTOVER_SMTP_URL");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run cutover")
    }
}

/// Exit code, stdout and stderr of a run, for assertion messages.
#[allow(dead_code)]
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
