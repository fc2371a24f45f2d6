//! Shared by the end-to-end tests that need the simulated platforms: `cutover sim` as a
//! child process on a free loopback port, killed when dropped. Each test crate uses only
//! some of these, hence the `dead_code` allowances.

use std::io::{BufRead, BufReader, Read, Write};
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
