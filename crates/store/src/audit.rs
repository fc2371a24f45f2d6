//! `history verify`: everything that can be checked about a log and the state it
//! produced, reported as one line per problem, each naming its entry or row.
//!
//! 1. The chain: every entry's hash recomputes, links to the one before, seq counts 1, 2,
//!    3... An entry that cannot be read is named by its seq.
//! 2. With a log key: every entry carries a MAC of its hash under that key.
//! 3. With `--head HASH`: an entry with that hash is still in the log (so nothing after it
//!    was truncated and the chain up to it was not re-hashed); the chain check covers the
//!    rest up to the tail.
//! 4. The state: the [`Changes`] of every accepted entry, replayed from an empty state,
//!    give the migration row, plan versions, sign-offs, waivers and check runs; every row
//!    that disagrees is named. The rows' digest is compared with the tail's binding too,
//!    as every command does.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use cutover_engine::{SignOff, Waiver};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::binding::{Binding, Changes, RunRow};
use crate::chain::{GENESIS, short_hash};
use crate::entity::{check_run, migration, plan, signoff, waiver};
use crate::{
    LogEntry, LogRow, Store, StoreError, check_run_from_row, content_hash, plan_from_row,
    read_state, row_error, signoff_from_row, waiver_from_row,
};

/// Which check a problem comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// The hash chain (or an unreadable entry).
    Broken,
    /// A missing or wrong MAC.
    Mac,
    /// `--head`.
    Head,
    /// A state row that disagrees with the log.
    State,
}

impl Area {
    fn as_str(self) -> &'static str {
        match self {
            Area::Broken => "broken",
            Area::Mac => "mac",
            Area::Head => "head",
            Area::State => "state",
        }
    }
}

/// One thing that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub area: Area,
    /// The log entry it is about, if any.
    pub seq: Option<i64>,
    pub text: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.area.as_str(), self.text)
    }
}

/// Where a head someone saw is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeadCheck {
    pub given: String,
    /// The entry with that hash, when it is still there.
    pub seq: Option<i64>,
    /// How many entries the log has after it.
    pub extended_by: usize,
}

/// The result of [`Store::audit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// Log rows read.
    pub entries: usize,
    /// The last entry's seq and full hash.
    pub head: Option<crate::LogHead>,
    /// Entries whose MAC was checked and holds (`None` without a key).
    pub signed: Option<usize>,
    pub head_check: Option<HeadCheck>,
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not failures (entries from before the binding...).
    pub notes: Vec<String>,
}

impl Audit {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn problem(area: Area, seq: Option<i64>, text: impl Into<String>) -> Problem {
    Problem {
        area,
        seq,
        text: text.into(),
    }
}

impl Store {
    /// Verifies the whole log and the state rows against it; `head` (a hash or a prefix of
    /// at least 12 hex digits) must still be an entry of the log.
    pub async fn audit(&self, head: Option<&str>) -> Result<Audit, StoreError> {
        let rows = self.read_log().await?;
        let mut problems = chain_problems(&rows);
        let mut notes = Vec::new();
        let entries: Vec<&LogEntry> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();

        let signed = match &self.key {
            Some(key) => {
                let mut missing = Vec::new();
                let mut good = 0;
                for e in &entries {
                    match &e.mac {
                        None => missing.push(e.seq),
                        Some(m) if key.verifies(&e.hash, m) => good += 1,
                        Some(_) => problems.push(problem(
                            Area::Mac,
                            Some(e.seq),
                            format!(
                                "entry #{}: its MAC does not match CUTOVER_LOG_KEY (another key, or the entry was rewritten)",
                                e.seq
                            ),
                        )),
                    }
                }
                for (a, b) in ranges(&missing) {
                    let which = if a == b {
                        format!("entry #{a} has")
                    } else {
                        format!("entries #{a}-#{b} have")
                    };
                    problems.push(problem(
                        Area::Mac,
                        Some(a),
                        format!("{which} no MAC (written without CUTOVER_LOG_KEY, or re-written)"),
                    ));
                }
                Some(good)
            }
            None => {
                let n = entries.iter().filter(|e| e.mac.is_some()).count();
                if n > 0 {
                    notes.push(format!(
                        "{n} entries carry a MAC; set CUTOVER_LOG_KEY to check them"
                    ));
                }
                None
            }
        };

        let head_check = head.map(|given| {
            let given_l = given.to_ascii_lowercase();
            let found: Vec<&&LogEntry> = entries
                .iter()
                .filter(|e| e.hash.starts_with(&given_l))
                .collect();
            match found.as_slice() {
                [e] => HeadCheck {
                    given: given.to_string(),
                    seq: Some(e.seq),
                    extended_by: entries.iter().filter(|x| x.seq > e.seq).count(),
                },
                [] => {
                    problems.push(problem(
                        Area::Head,
                        None,
                        format!(
                            "{} is not in the log: it was truncated after that head, or rewritten",
                            short_hash(given)
                        ),
                    ));
                    HeadCheck {
                        given: given.to_string(),
                        seq: None,
                        extended_by: 0,
                    }
                }
                many => {
                    problems.push(problem(
                        Area::Head,
                        None,
                        format!(
                            "{} matches {} entries; give more of the hash",
                            short_hash(given),
                            many.len()
                        ),
                    ));
                    HeadCheck {
                        given: given.to_string(),
                        seq: None,
                        extended_by: 0,
                    }
                }
            }
        });

        let unreadable = rows.iter().filter(|r| r.is_err()).count();
        if unreadable > 0 {
            problems.push(problem(
                Area::State,
                None,
                format!(
                    "{unreadable} log entr{} cannot be read, so the state rows cannot be replayed from the log",
                    if unreadable == 1 { "y" } else { "ies" }
                ),
            ));
        } else {
            match self
                .state_problems(&entries, &mut problems, &mut notes)
                .await
            {
                Err(StoreError::Unverified(text)) => {
                    problems.push(problem(Area::State, None, text))
                }
                other => other?,
            }
        }

        let last = entries.last().map(|e| crate::LogHead {
            seq: e.seq,
            hash: e.hash.clone(),
        });
        Ok(Audit {
            entries: rows.len(),
            head: last,
            signed,
            head_check,
            problems,
            notes,
        })
    }

    async fn state_problems(
        &self,
        entries: &[&LogEntry],
        problems: &mut Vec<Problem>,
        notes: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        let mut replay = Replay::default();
        let mut legacy = Vec::new();
        for e in entries {
            if e.state.is_empty() {
                if e.result == "accepted" {
                    legacy.push(e.seq);
                }
                continue;
            }
            let binding = match Binding::parse(&e.state) {
                Ok(b) => b,
                Err(err) => {
                    problems.push(problem(
                        Area::State,
                        Some(e.seq),
                        format!("entry #{}: its state cannot be read: {err}", e.seq),
                    ));
                    continue;
                }
            };
            match (e.result.as_str(), binding.changes) {
                ("accepted", Some(c)) => replay.apply(e.seq, c),
                ("accepted", None) => problems.push(problem(
                    Area::State,
                    Some(e.seq),
                    format!("entry #{} is accepted but records no changes", e.seq),
                )),
                (_, Some(_)) => problems.push(problem(
                    Area::State,
                    Some(e.seq),
                    format!("entry #{} is {} but records changes", e.seq, e.result),
                )),
                (_, None) => {}
            }
        }
        if !legacy.is_empty() {
            let list: Vec<String> = ranges(&legacy)
                .into_iter()
                .map(|(a, b)| {
                    if a == b {
                        format!("#{a}")
                    } else {
                        format!("#{a}-#{b}")
                    }
                })
                .collect();
            notes.push(format!(
                "entries {} were written before the state was bound to the log; the state rows are not checked against the log",
                list.join(", ")
            ));
            return Ok(());
        }

        let db = &self.db;
        let Some(row) = migration::Entity::find()
            .order_by_asc(migration::Column::Id)
            .one(db)
            .await
            .map_err(row_error("migrations"))?
        else {
            return Ok(());
        };
        let mut state = |text: String| problems.push(problem(Area::State, None, text));

        // The migration row.
        let shown = |v: &Option<String>| match v {
            Some(v) => format!("{v:?}"),
            None => "empty".to_string(),
        };
        let when = |v: &Option<DateTime<Utc>>| match v {
            Some(t) => t.to_rfc3339(),
            None => "empty".to_string(),
        };
        if row.status != replay.status {
            state(format!(
                "migrations.status is {:?} but the log says {:?}",
                row.status, replay.status
            ));
        }
        if row.current_phase != replay.phase {
            state(format!(
                "migrations.current_phase is {} but the log says {}",
                shown(&row.current_phase),
                shown(&replay.phase)
            ));
        }
        if row.phase_entered_at != replay.entered_at {
            state(format!(
                "migrations.phase_entered_at is {} but the log says {}",
                when(&row.phase_entered_at),
                when(&replay.entered_at)
            ));
        }
        if Some(row.plan_version) != replay.plan_version {
            state(format!(
                "migrations.plan_version is {} but the log says {}",
                row.plan_version,
                replay
                    .plan_version
                    .map_or("none".to_string(), |v| v.to_string())
            ));
        }

        // Plan versions.
        let plans: Vec<_> = plan::Entity::find()
            .filter(plan::Column::MigrationId.eq(row.id))
            .order_by_asc(plan::Column::Version)
            .all(db)
            .await
            .map_err(row_error("plans"))?
            .into_iter()
            .map(plan_from_row)
            .collect();
        for p in &plans {
            if content_hash(&p.content) != p.hash {
                state(format!(
                    "plans row version {}: its text does not match its sha256",
                    p.version
                ));
            }
            match replay.plans.get(&p.version) {
                None => state(format!(
                    "plans row version {} ({}) has no log entry",
                    p.version, p.file_name
                )),
                Some((seq, sha)) if *sha != p.hash => state(format!(
                    "plans row version {} has sha256 {} but the log (entry #{seq}) says {}",
                    p.version,
                    short_hash(&p.hash),
                    short_hash(sha)
                )),
                Some(_) => {}
            }
        }
        for (v, (seq, _)) in &replay.plans {
            if !plans.iter().any(|p| p.version == *v) {
                state(format!(
                    "plan version {v} of log entry #{seq} has no plans row"
                ));
            }
        }

        // Sign-offs.
        let rows: Vec<SignOff> = signoff::Entity::find()
            .filter(signoff::Column::MigrationId.eq(row.id))
            .order_by_asc(signoff::Column::Seq)
            .all(db)
            .await
            .map_err(row_error("signoffs"))?
            .into_iter()
            .map(signoff_from_row)
            .collect();
        for s in &rows {
            let name = format!("signoffs row seq {} (layer {} by {})", s.seq, s.layer, s.by);
            match replay.signoffs.get(&s.seq) {
                None => state(format!("{name} has no log entry")),
                Some((seq, l)) => {
                    if let Some(d) = signoff_diff(s, l) {
                        state(format!("{name}: {d} (entry #{seq})"));
                    }
                }
            }
        }
        for (n, (seq, l)) in &replay.signoffs {
            if !rows.iter().any(|s| s.seq == *n) {
                state(format!(
                    "sign-off seq {n} (layer {} by {}) of log entry #{seq} has no signoffs row",
                    l.layer, l.by
                ));
            }
        }

        // Waivers.
        let rows: Vec<Waiver> = waiver::Entity::find()
            .filter(waiver::Column::MigrationId.eq(row.id))
            .order_by_asc(waiver::Column::Seq)
            .all(db)
            .await
            .map_err(row_error("waivers"))?
            .into_iter()
            .map(waiver_from_row)
            .collect();
        for w in &rows {
            let name = format!(
                "waivers row seq {} (condition {} by {})",
                w.seq, w.condition, w.by
            );
            match replay.waivers.get(&w.seq) {
                None => state(format!("{name} has no log entry")),
                Some((seq, l)) if l != w => state(format!("{name} differs from log entry #{seq}")),
                Some(_) => {}
            }
        }
        for (n, (seq, l)) in &replay.waivers {
            if !rows.iter().any(|w| w.seq == *n) {
                state(format!(
                    "waiver seq {n} (condition {} by {}) of log entry #{seq} has no waivers row",
                    l.condition, l.by
                ));
            }
        }

        // Check runs.
        let rows: Vec<RunRow> = check_run::Entity::find()
            .filter(check_run::Column::MigrationId.eq(row.id))
            .order_by_asc(check_run::Column::Id)
            .all(db)
            .await
            .map_err(row_error("check_runs"))?
            .into_iter()
            .map(check_run_from_row)
            .collect::<Result<_, _>>()?;
        for r in &rows {
            let name = format!(
                "check_runs row id {} (check {}: {} by {})",
                r.id,
                r.run.check,
                r.run.outcome,
                r.run.recorded_by.as_deref().unwrap_or("the scheduler")
            );
            match replay.runs.get(&r.id) {
                None => state(format!("{name} has no log entry")),
                Some((seq, l)) => {
                    if let Some(d) = run_diff(r, l) {
                        state(format!("{name}: {d} (entry #{seq})"));
                    }
                }
            }
        }
        for (id, (seq, l)) in &replay.runs {
            if !rows.iter().any(|r| r.id == *id) {
                state(format!(
                    "check run id {id} (check {}) of log entry #{seq} has no check_runs row",
                    l.run.check
                ));
            }
        }

        // What every command checks: the rows' digest against the tail's binding.
        if let Some(last) = entries.last()
            && let Ok(b) = Binding::parse(&last.state)
        {
            let (rows, _) = read_state(db, &row).await?;
            if rows.digest() != b.sha256 {
                state(format!(
                    "the state rows do not match the state bound to the last entry (#{}), so every command refuses to run",
                    last.seq
                ));
            }
        }
        Ok(())
    }
}

/// The state the log's changes add up to.
#[derive(Default)]
struct Replay {
    status: String,
    phase: Option<String>,
    entered_at: Option<DateTime<Utc>>,
    plan_version: Option<i32>,
    /// version -> (entry, sha256)
    plans: BTreeMap<i32, (i64, String)>,
    signoffs: BTreeMap<u32, (i64, SignOff)>,
    waivers: BTreeMap<u32, (i64, Waiver)>,
    runs: BTreeMap<i32, (i64, RunRow)>,
}

impl Replay {
    fn apply(&mut self, seq: i64, c: Changes) {
        self.status = c.status;
        self.phase = c.phase;
        self.entered_at = c.entered_at;
        if let Some(p) = c.plan {
            self.plan_version = Some(p.version);
            self.plans.insert(p.version, (seq, p.sha256));
        }
        for s in c.signoffs {
            self.signoffs.insert(s.seq, (seq, s));
        }
        for w in c.waivers {
            self.waivers.insert(w.seq, (seq, w));
        }
        for r in c.check_runs {
            self.runs.insert(r.id, (seq, r));
        }
    }
}

/// The first field of a sign-off row that differs from the log, in words.
fn signoff_diff(row: &SignOff, log: &SignOff) -> Option<String> {
    let w = |x: &Option<cutover_engine::Withdrawal>| match x {
        Some(w) => format!("by {} at {}", w.by, w.at.to_rfc3339()),
        None => "none".to_string(),
    };
    if row.phase != log.phase {
        Some(format!(
            "phase is {:?} but the log says {:?}",
            row.phase, log.phase
        ))
    } else if row.layer != log.layer || row.by != log.by {
        Some(format!(
            "was given by {} for {} but the log says by {} for {}",
            row.by, row.layer, log.by, log.layer
        ))
    } else if row.at != log.at {
        Some(format!(
            "signed_at is {} but the log says {}",
            row.at.to_rfc3339(),
            log.at.to_rfc3339()
        ))
    } else if row.revoked != log.revoked {
        Some(format!(
            "revoked is {} but the log says {}",
            w(&row.revoked),
            w(&log.revoked)
        ))
    } else if row.voided != log.voided {
        Some(format!(
            "voided is {} but the log says {}",
            w(&row.voided),
            w(&log.voided)
        ))
    } else if row.comment != log.comment {
        Some("its comment differs from the log".to_string())
    } else {
        None
    }
}

/// The first field of a check-run row that differs from the log, in words.
fn run_diff(row: &RunRow, log: &RunRow) -> Option<String> {
    if row.run.check != log.run.check {
        Some(format!(
            "check is {:?} but the log says {:?}",
            row.run.check, log.run.check
        ))
    } else if row.run.outcome != log.run.outcome {
        Some(format!(
            "outcome is \"{}\" but the log says \"{}\"",
            row.run.outcome, log.run.outcome
        ))
    } else if row.run.recorded_at != log.run.recorded_at {
        Some(format!(
            "recorded_at is {} but the log says {}",
            row.run.recorded_at.to_rfc3339(),
            log.run.recorded_at.to_rfc3339()
        ))
    } else if row != log {
        Some("it differs from the log (recorded_by, detail, window, phase or source)".into())
    } else {
        None
    }
}

/// Runs of consecutive numbers, as (first, last).
fn ranges(seqs: &[i64]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &s in seqs {
        match out.last_mut() {
            Some((_, b)) if b.checked_add(1) == Some(s) => *b = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// The chain checks over rows that may include unreadable entries.
fn chain_problems(rows: &[LogRow]) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut prev = GENESIS.to_string();
    let mut expected: i64 = 1;
    for r in rows {
        match r {
            Ok(e) => {
                let broken = |text: String| problem(Area::Broken, Some(e.seq), text);
                if e.seq != expected {
                    out.push(broken(format!(
                        "entry #{}: expected entry {expected} here; entries are missing or reordered",
                        e.seq
                    )));
                }
                if e.prev_hash != prev {
                    out.push(broken(format!(
                        "entry #{}: prev_hash {} does not match the previous entry's hash {}",
                        e.seq,
                        short_hash(&e.prev_hash),
                        short_hash(&prev)
                    )));
                }
                let actual = e.compute_hash();
                if actual != e.hash {
                    out.push(broken(format!(
                        "entry #{}: stored hash {} does not match its content (recomputed {})",
                        e.seq,
                        short_hash(&e.hash),
                        short_hash(&actual)
                    )));
                }
                prev = e.hash.clone();
                expected = e.seq.saturating_add(1);
            }
            Err(u) => {
                let text = match u.seq {
                    Some(seq) => format!("entry #{seq}: cannot be read: {}", u.reason),
                    None => u.to_string(),
                };
                out.push(problem(Area::Broken, u.seq, text));
                prev = u.hash.clone().unwrap_or_default();
                expected = u
                    .seq
                    .map_or(expected.saturating_add(1), |s| s.saturating_add(1));
            }
        }
    }
    out
}
