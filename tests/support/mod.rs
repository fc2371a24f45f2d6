//! Shared by the end-to-end tests that need the simulated platforms: `cutover sim` as a
//! child process on a free loopback port, killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_cutover");

pub struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cutover sim --port 0` and returns it with its base address.
pub fn start_sim() -> (Sim, String) {
    let mut child = Command::new(BIN)
        .args(["sim", "--seed", "3", "--port", "0", "--partners", "30"])
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
