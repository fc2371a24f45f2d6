//! The transition log's hash chain: how an entry's sha256 is computed and verified.
//!
//! Each entry's hash covers its own fields and the previous entry's hash, so editing,
//! removing or reordering any stored entry breaks every link after it. Since the log was
//! bound to the state, an entry also carries `state` (the sha256 of the state rows after
//! it and what it changed), which the hash covers too; its optional `mac` signs the hash.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The hash the first entry points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the transition log as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The command: start, advance, rollback, signoff, signoff_revoke, waive,
    /// check_record, check_run, abort, complete, plan_apply.
    pub kind: String,
    /// `accepted` or `refused`.
    pub result: String,
    pub actor: Option<String>,
    pub from_phase: Option<String>,
    pub to_phase: Option<String>,
    /// The plan version the command was decided against.
    pub plan_version: i32,
    pub summary: String,
    /// The command as JSON.
    pub command: String,
    /// The effects the decision returned (or the refusal), as JSON.
    pub effects: String,
    /// The facts the decision was made on (check runs of the current visit), as JSON.
    pub facts: String,
    /// What binds the state rows to this entry, as JSON: `{"sha256": ..., "changes": ...}`
    /// (see `binding.rs`). Empty on entries written before the binding existed.
    pub state: String,
    pub prev_hash: String,
    pub hash: String,
    /// HMAC-SHA256 of `hash` under `CUTOVER_LOG_KEY`, hex; `None` when written without it.
    /// Not covered by the hash (it signs it).
    pub mac: Option<String>,
}

impl LogEntry {
    /// Recomputes this entry's hash from its fields and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let seq = self.seq.to_string();
        let at = self.at.to_rfc3339_opts(SecondsFormat::Micros, true);
        let version = self.plan_version.to_string();
        let mut fields: Vec<&str> = vec![
            &seq,
            &at,
            &self.kind,
            &self.result,
            self.actor.as_deref().unwrap_or(""),
            self.from_phase.as_deref().unwrap_or(""),
            self.to_phase.as_deref().unwrap_or(""),
            &version,
            &self.summary,
            &self.command,
            &self.effects,
            &self.facts,
            &self.prev_hash,
        ];
        // Entries from before the binding hash exactly as they did then.
        if !self.state.is_empty() {
            fields.push(&self.state);
        }
        for f in fields {
            // Length-prefix every field so no two field lists hash alike.
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// A link of the chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// The result of re-computing the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub entries: usize,
    pub head: String,
    pub broken: Vec<BrokenLink>,
}

/// Re-computes every hash and every back-link, in order.
pub fn verify(entries: &[LogEntry]) -> Verification {
    let mut broken = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let expected_seq = i64::try_from(i).map_or(i64::MAX, |i| i.saturating_add(1));
        if e.seq != expected_seq {
            broken.push(BrokenLink {
                seq: e.seq,
                reason: format!(
                    "expected entry {expected_seq} here; entries are missing or reordered"
                ),
            });
        }
        if e.prev_hash != prev {
            broken.push(BrokenLink {
                seq: e.seq,
                reason: format!(
                    "prev_hash {} does not match the previous entry's hash {}",
                    short_hash(&e.prev_hash),
                    short_hash(&prev)
                ),
            });
        }
        let actual = e.compute_hash();
        if actual != e.hash {
            broken.push(BrokenLink {
                seq: e.seq,
                reason: format!(
                    "stored hash {} does not match its content (recomputed {})",
                    short_hash(&e.hash),
                    short_hash(&actual)
                ),
            });
        }
        prev = e.hash.clone();
    }
    Verification {
        entries: entries.len(),
        head: prev,
        broken,
    }
}

/// The first 16 characters of a hash, for people: never panics on a short or non-ASCII
/// value, and shows anything but a hex digit escaped (a stored hash is untrusted text).
pub fn short_hash(h: &str) -> String {
    h.chars()
        .take(16)
        .map(|c| {
            if c.is_ascii_hexdigit() {
                c.to_string()
            } else {
                c.escape_default().to_string()
            }
        })
        .collect()
}
