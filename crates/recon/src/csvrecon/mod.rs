//! The fast path of `reconcile` for two aggregate CSV exports (what `cutover recon` runs):
//! a keyed full outer comparison partner × day × metric with an absolute/relative
//! tolerance, streaming findings as CSV.
//!
//! Any metric name is compared (it needs no vocabulary): canonical names have fixed ids,
//! other names are numbered per side while parsing and given ids shared by both sides at
//! the join (like partner ids).
//!
//! How it stays fast and small: each side is parsed on its own thread straight from the
//! reader's bytes (ids interned, key packed into a `u64`, value fixed-point `i64`) and
//! scattered into 256 radix partitions by (canonical partner, day); then both threads take
//! partitions in turn, sort the two sides of one partition in cache and merge-walk them,
//! freeing the partition as they go. The caller does all IO (readers in, writer out).

mod parse;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use cutover_plan::Outcome;
use rust_decimal::Decimal;

use crate::model::{CANONICAL_METRICS, Metric};
use parse::{
    CANONICAL, EXOTIC, Entry, FxMap, MAX_METRICS, MAX_PARTNERS, PARTS, SAMPLE, SCALE, SCALE_POW,
    Side, format_day, format_fixed, parse_side, unpack, with_partner, with_partner_metric,
};

pub use parse::HEADER as INPUT_HEADER;

/// The header of the findings file.
pub const OUTPUT_HEADER: &str = "partner_id,day,metric,old_value,new_value,status";

/// Errors that stop a comparison (bad rows do not: they are counted and reported).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReconError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error(
        "{file}:1: expected the header \"partner_id,day,metric,value,currency\", found \"{found}\""
    )]
    Header { file: String, found: String },
    #[error("{file}:{line}: {message}")]
    Crosswalk {
        file: String,
        line: u64,
        message: String,
    },
    #[error("cannot write findings: {0}")]
    Write(String),
    #[error("tolerance {name} must be zero or more, got {value}")]
    Tolerance { name: &'static str, value: Decimal },
    #[error("the two files hold more than {limit} distinct {what} together")]
    TooMany { what: &'static str, limit: usize },
}

/// A row that could not be read, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// The partner crosswalk of the one-off command: new-side id -> old-side id (1:1 or N:1).
#[derive(Debug, Clone, Default)]
pub struct Crosswalk {
    map: FxMap<Box<[u8]>, Box<[u8]>>,
    /// Some old id has several new ids (a merge): those rows are summed.
    pub merges: bool,
}

impl Crosswalk {
    /// Parses `old_partner_id,new_partner_id` CSV. A new id mapped to two different old
    /// ids (a split) cannot be reconciled without dates and is an error naming the line.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Crosswalk, ReconError> {
        let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let mut map: FxMap<Box<[u8]>, Box<[u8]>> = FxMap::default();
        let mut olds: FxMap<Box<[u8]>, u32> = FxMap::default();
        let mut merges = false;
        let err = |line: u64, message: String| ReconError::Crosswalk {
            file: file.to_owned(),
            line,
            message,
        };
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line_no = i as u64 + 1;
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if i == 0 {
                if line != b"old_partner_id,new_partner_id" {
                    return Err(err(
                        1,
                        format!(
                            "expected the header \"old_partner_id,new_partner_id\", found \"{}\"",
                            String::from_utf8_lossy(line)
                        ),
                    ));
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&[u8]> = line.split(|&b| b == b',').collect();
            let [old, new] = fields[..] else {
                return Err(err(
                    line_no,
                    format!("expected 2 fields, found {}", fields.len()),
                ));
            };
            if old.is_empty() || new.is_empty() {
                return Err(err(line_no, "empty partner id".into()));
            }
            if let Some(prev) = map.get(new) {
                if &**prev != old {
                    return Err(err(
                        line_no,
                        format!(
                            "new partner \"{}\" is already mapped to \"{}\" (a split needs dated edges; use a plan check)",
                            String::from_utf8_lossy(new),
                            String::from_utf8_lossy(prev)
                        ),
                    ));
                }
                continue;
            }
            let n = olds.entry(old.into()).or_default();
            *n += 1;
            if *n > 1 {
                merges = true;
            }
            map.insert(new.into(), old.into());
        }
        Ok(Crosswalk { map, merges })
    }

    pub fn get(&self, new: &[u8]) -> Option<&[u8]> {
        self.map.get(new).map(|b| &**b)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Tolerance: a key is within tolerance when |new − old| ≤ max(abs, rel × |old|).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    pub abs: Decimal,
    pub rel: Decimal,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            abs: Decimal::ZERO,
            rel: Decimal::ZERO,
        }
    }
}

/// Status of one key (the output's `status` column; `Match` is not written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyStatus {
    Match,
    WithinTolerance,
    Variance,
    OnlyOld,
    OnlyNew,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Match => "match",
            KeyStatus::WithinTolerance => "within_tolerance",
            KeyStatus::Variance => "variance",
            KeyStatus::OnlyOld => "only_old",
            KeyStatus::OnlyNew => "only_new",
        }
    }
}

/// A key present more than once on one side (values are summed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub file: String,
    pub partner: String,
    pub day: String,
    pub metric: Metric,
    pub rows: u32,
}

/// What a comparison found, besides the findings file.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub old_rows: u64,
    pub new_rows: u64,
    pub matched: u64,
    pub within_tolerance: u64,
    pub variance: u64,
    pub only_old: u64,
    pub only_new: u64,
    pub malformed: u64,
    /// The first malformed rows of each side, with file and line.
    pub malformed_samples: Vec<Malformed>,
    pub duplicates: u64,
    pub duplicate_samples: Vec<Duplicate>,
    /// New-side partner ids the crosswalk (when given) does not map; compared as they are.
    pub unmapped: u64,
    pub unmapped_samples: Vec<String>,
}

impl Summary {
    /// pass: every key matches or is within tolerance; warn: that, but rows were malformed,
    /// duplicated or unmapped; fail: any variance or one-sided key; inconclusive: a side
    /// has no rows.
    pub fn outcome(&self) -> (Outcome, String) {
        if self.old_rows == 0 || self.new_rows == 0 {
            let which = match (self.old_rows, self.new_rows) {
                (0, 0) => "both sources have",
                (0, _) => "the old source has",
                _ => "the new source has",
            };
            return (Outcome::Inconclusive, format!("{which} no readable rows"));
        }
        let diffs = self.variance + self.only_old + self.only_new;
        if diffs > 0 {
            return (
                Outcome::Fail,
                format!(
                    "{} variance, {} only_old, {} only_new",
                    self.variance, self.only_old, self.only_new
                ),
            );
        }
        if self.malformed + self.duplicates + self.unmapped > 0 {
            return (
                Outcome::Warn,
                format!(
                    "{} malformed rows, {} duplicate keys, {} unmapped partner ids",
                    self.malformed, self.duplicates, self.unmapped
                ),
            );
        }
        (
            Outcome::Pass,
            format!(
                "{} keys match, {} within tolerance",
                self.matched, self.within_tolerance
            ),
        )
    }
}

/// One input: a name for messages (usually the path) and its bytes.
pub struct Input<R> {
    pub name: String,
    pub reader: R,
}

/// Compares two aggregate CSV exports and writes one findings row per key that is not an
/// exact match (header [`OUTPUT_HEADER`], partner ids as in OLD). Uses two threads.
pub fn reconcile_csv<R1, R2, W>(
    old: Input<R1>,
    new: Input<R2>,
    crosswalk: Option<&Crosswalk>,
    tolerance: Tolerance,
    out: &mut W,
) -> Result<Summary, ReconError>
where
    R1: Read + Send,
    R2: Read + Send,
    W: Write,
{
    for (name, value) in [("abs", tolerance.abs), ("rel", tolerance.rel)] {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(ReconError::Tolerance { name, value });
        }
    }
    let (old_side, new_side) = std::thread::scope(|s| {
        let h = s.spawn(move || parse_side(&new.name, new.reader, crosswalk));
        let o = parse_side(&old.name, old.reader, None);
        let n = h.join().unwrap_or_else(|_| {
            Err(ReconError::Io {
                file: "new".into(),
                message: "parser thread failed".into(),
            })
        });
        (o, n)
    });
    let (old_side, new_side) = (old_side?, new_side?);
    join(old_side, new_side, crosswalk, tolerance, out)
}

/// Global metric ids: the canonical ones, old-side names, then new-side names unknown to
/// OLD.
struct Metrics {
    /// Global id -> metric.
    all: Vec<Metric>,
    /// New local id -> global id; `None` when they are equal (nothing to rewrite).
    remap: Option<Vec<u16>>,
}

fn global_metrics(old: &Side, new: &Side) -> Result<Metrics, ReconError> {
    let mut all: Vec<Metric> = CANONICAL_METRICS.to_vec();
    all.extend(old.metric_names.iter().cloned());
    let mut remap: Vec<u16> = (0..CANONICAL as u16).collect();
    for m in &new.metric_names {
        let g = match old.metric_index.get(m.as_str().as_bytes()) {
            Some(&g) => g,
            None => {
                all.push(m.clone());
                (all.len() - 1) as u16
            }
        };
        remap.push(g);
    }
    if all.len() > MAX_METRICS {
        return Err(ReconError::TooMany {
            what: "metric names",
            limit: MAX_METRICS,
        });
    }
    let identity = remap.iter().enumerate().all(|(i, &g)| i == g as usize);
    Ok(Metrics {
        all,
        remap: (!identity).then_some(remap),
    })
}

/// Global partner ids: old-side indexes first, then new-side canonical ids unknown to OLD.
struct Partners {
    names: Vec<Box<[u8]>>,
    /// New local index -> global index.
    remap: Vec<u32>,
    /// Two new-side ids share a global id (a merge, or an unmapped id equal to a mapped one).
    collide: bool,
}

fn global_partners(
    old: &Side,
    new: &Side,
    crosswalk: Option<&Crosswalk>,
    summary: &mut Summary,
) -> Partners {
    let mut names = old.names.clone();
    let mut extra: FxMap<Box<[u8]>, u32> = FxMap::default();
    let mut remap = Vec::with_capacity(new.names.len());
    for name in &new.names {
        let canon: &[u8] = match crosswalk {
            Some(x) => match x.get(name) {
                Some(c) => c,
                None => {
                    summary.unmapped += 1;
                    if summary.unmapped_samples.len() < SAMPLE {
                        summary
                            .unmapped_samples
                            .push(String::from_utf8_lossy(name).into_owned());
                    }
                    name
                }
            },
            None => name,
        };
        let g = match old.index.get(canon) {
            Some(&g) => g,
            None => *extra.entry(canon.into()).or_insert_with(|| {
                names.push(canon.into());
                names.len() as u32 - 1
            }),
        };
        remap.push(g);
    }
    let mut seen = vec![false; names.len()];
    let mut collide = false;
    for &g in &remap {
        collide |= std::mem::replace(&mut seen[g as usize], true);
    }
    Partners {
        names,
        remap,
        collide,
    }
}

/// A summed value of one key on one side.
#[derive(Clone, Copy)]
enum Val {
    Fixed(i128),
    Dec(Decimal),
}

impl Val {
    fn dec(self) -> Decimal {
        match self {
            Val::Fixed(v) => Decimal::from_i128_with_scale(v, SCALE),
            Val::Dec(d) => d,
        }
    }
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Val::Fixed(v) => format_fixed(v, out),
            Val::Dec(d) => out.extend_from_slice(d.normalize().to_string().as_bytes()),
        }
    }
}

/// Per-thread results merged at the end.
#[derive(Default)]
struct Counts {
    matched: u64,
    within: u64,
    variance: u64,
    only_old: u64,
    only_new: u64,
    duplicates: u64,
    duplicate_samples: Vec<Duplicate>,
}

struct Ctx<'a> {
    old: &'a Side,
    new: &'a Side,
    partners: &'a Partners,
    metrics: &'a Metrics,
    /// Some old id has several new ids: sort the new side by (global, local) key.
    merges: bool,
    tol: FastTol,
}

/// The tolerance in the fixed-point scale, or `None` to always use decimals.
#[derive(Clone, Copy)]
struct FastTol {
    abs: Option<i128>,
    /// rel = rel_m / 10^rel_s
    rel_m: i128,
    rel_pow: i128,
    dec: Tolerance,
}

impl FastTol {
    fn new(t: Tolerance) -> Self {
        let abs = t
            .abs
            .checked_mul(Decimal::from(SCALE_POW))
            .filter(|a| a.fract().is_zero())
            .map(|a| a.mantissa() / 10i128.pow(a.scale()));
        let rel_pow = 10i128.checked_pow(t.rel.scale()).unwrap_or(0);
        FastTol {
            abs: if rel_pow == 0 { None } else { abs },
            rel_m: t.rel.mantissa(),
            rel_pow,
            dec: t,
        }
    }

    fn status(&self, old: Val, new: Val) -> KeyStatus {
        if let (Val::Fixed(o), Val::Fixed(n), Some(abs)) = (old, new, self.abs) {
            if o == n {
                return KeyStatus::Match;
            }
            let diff = (n - o).abs();
            if diff <= abs {
                return KeyStatus::WithinTolerance;
            }
            if let (Some(l), Some(r)) = (
                diff.checked_mul(self.rel_pow),
                self.rel_m.checked_mul(o.abs()),
            ) {
                return if l <= r {
                    KeyStatus::WithinTolerance
                } else {
                    KeyStatus::Variance
                };
            }
        }
        status_decimal(old.dec(), new.dec(), self.dec)
    }
}

/// The reference rule on decimals.
pub fn status_decimal(old: Decimal, new: Decimal, t: Tolerance) -> KeyStatus {
    if old == new {
        return KeyStatus::Match;
    }
    let Some(diff) = new.checked_sub(old).map(|d| d.abs()) else {
        return KeyStatus::Variance;
    };
    let allowed = t
        .abs
        .max(t.rel.checked_mul(old.abs()).unwrap_or(Decimal::MAX));
    if diff <= allowed {
        KeyStatus::WithinTolerance
    } else {
        KeyStatus::Variance
    }
}

fn join<W: Write>(
    mut old: Side,
    mut new: Side,
    crosswalk: Option<&Crosswalk>,
    tolerance: Tolerance,
    out: &mut W,
) -> Result<Summary, ReconError> {
    let mut summary = Summary {
        old_rows: old.rows,
        new_rows: new.rows,
        malformed: old.malformed + new.malformed,
        ..Summary::default()
    };
    summary.malformed_samples.append(&mut old.malformed_samples);
    summary.malformed_samples.append(&mut new.malformed_samples);
    let partners = global_partners(&old, &new, crosswalk, &mut summary);
    if partners.names.len() > MAX_PARTNERS {
        return Err(ReconError::TooMany {
            what: "partner ids",
            limit: MAX_PARTNERS,
        });
    }
    let metrics = global_metrics(&old, &new)?;
    let werr = |e: std::io::Error| ReconError::Write(e.to_string());
    out.write_all(OUTPUT_HEADER.as_bytes()).map_err(werr)?;
    out.write_all(b"\n").map_err(werr)?;

    // Each partition's storage is taken by exactly one worker (and freed by it).
    let old_parts: Vec<std::sync::Mutex<Vec<Vec<Entry>>>> = std::mem::take(&mut old.parts)
        .into_iter()
        .map(|p| std::sync::Mutex::new(p.chunks))
        .collect();
    let new_parts: Vec<std::sync::Mutex<Vec<Vec<Entry>>>> = std::mem::take(&mut new.parts)
        .into_iter()
        .map(|p| std::sync::Mutex::new(p.chunks))
        .collect();
    let ctx = Ctx {
        old: &old,
        new: &new,
        partners: &partners,
        metrics: &metrics,
        merges: partners.collide,
        tol: FastTol::new(tolerance),
    };
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Vec<u8>)>(16);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let mut write_result = Ok(());
    let counts: Vec<Counts> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                let (ctx, next, old_parts, new_parts) = (&ctx, &next, &old_parts, &new_parts);
                s.spawn(move || {
                    let mut counts = Counts::default();
                    let mut a: Vec<Entry> = Vec::new();
                    let mut b: Vec<Entry> = Vec::new();
                    loop {
                        let p = next.fetch_add(1, Ordering::Relaxed);
                        if p >= PARTS {
                            break;
                        }
                        let oc = take(&old_parts[p]);
                        let nc = take(&new_parts[p]);
                        let mut buf = Vec::new();
                        ctx.partition(oc, nc, &mut a, &mut b, &mut counts, &mut buf);
                        if tx.send((p, buf)).is_err() {
                            break;
                        }
                    }
                    counts
                })
            })
            .collect();
        drop(tx);
        // Write partitions in order as they arrive.
        let mut pending: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut want = 0usize;
        for (p, buf) in rx {
            pending.insert(p, buf);
            while let Some(buf) = pending.remove(&want) {
                if write_result.is_ok() {
                    write_result = out.write_all(&buf).map_err(werr);
                }
                want += 1;
            }
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    write_result?;
    for c in counts {
        summary.matched += c.matched;
        summary.within_tolerance += c.within;
        summary.variance += c.variance;
        summary.only_old += c.only_old;
        summary.only_new += c.only_new;
        summary.duplicates += c.duplicates;
        for d in c.duplicate_samples {
            if summary.duplicate_samples.len() < SAMPLE {
                summary.duplicate_samples.push(d);
            }
        }
    }
    out.flush().map_err(werr)?;
    Ok(summary)
}

fn take(m: &std::sync::Mutex<Vec<Vec<Entry>>>) -> Vec<Vec<Entry>> {
    match m.lock() {
        Ok(mut g) => std::mem::take(&mut *g),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    }
}

impl Ctx<'_> {
    /// A new-side key with the global partner and metric ids.
    #[inline]
    fn global(&self, key: u64) -> u64 {
        let (p, _, m) = unpack(key);
        let g = self.partners.remap[p as usize];
        match &self.metrics.remap {
            None => with_partner(key, g),
            Some(r) => with_partner_metric(key, g, r[m as usize]),
        }
    }

    fn partition(
        &self,
        old_chunks: Vec<Vec<Entry>>,
        new_chunks: Vec<Vec<Entry>>,
        a: &mut Vec<Entry>,
        b: &mut Vec<Entry>,
        counts: &mut Counts,
        buf: &mut Vec<u8>,
    ) {
        a.clear();
        b.clear();
        for c in old_chunks {
            a.extend_from_slice(&c);
        }
        a.sort_unstable_by_key(|e| e.key);
        // New side: keep the local key for duplicate detection and exotic lookups; sort by
        // the global key (then the local one when merges may make global keys collide).
        for c in new_chunks {
            b.extend_from_slice(&c);
        }
        if self.merges {
            b.sort_unstable_by_key(|e| (self.global(e.key), e.key));
        } else {
            // Global keys collide only when local keys do (metric ids map one to one):
            // rewrite in place.
            let mut exotic_locals: FxMap<u64, u64> = FxMap::default();
            for e in b.iter_mut() {
                let g = self.global(e.key);
                if e.val == EXOTIC {
                    exotic_locals.insert(g, e.key);
                }
                e.key = g;
            }
            b.sort_unstable_by_key(|e| e.key);
            if !exotic_locals.is_empty() {
                // Store exotic values keyed by global key for the walk below.
                return self.walk(a, b, counts, buf, Some(&exotic_locals));
            }
        }
        self.walk(a, b, counts, buf, None)
    }

    /// Merge-walks two sorted runs, summing duplicates.
    fn walk(
        &self,
        a: &[Entry],
        b: &[Entry],
        counts: &mut Counts,
        buf: &mut Vec<u8>,
        exotic_globals: Option<&FxMap<u64, u64>>,
    ) {
        let gkey = |e: &Entry| -> u64 {
            if self.merges {
                self.global(e.key)
            } else {
                e.key
            }
        };
        let new_local = |e: &Entry| -> u64 {
            if self.merges {
                e.key
            } else {
                match exotic_globals.and_then(|x| x.get(&{ e.key })) {
                    Some(l) => *l,
                    None => e.key,
                }
            }
        };
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let ka = a.get(i).map(|e| e.key);
            let kb = b.get(j).map(gkey);
            let key = match (ka, kb) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) => x,
                (None, Some(y)) => y,
                (None, None) => break,
            };
            let ov = if ka == Some(key) {
                let (v, n, end) = sum_run(a, i, |e| e.key, |e| e.key, |e| e.key, &self.old.exotic);
                if n > 1 {
                    self.dup(counts, &self.old.file, key, n);
                }
                i = end;
                Some(v)
            } else {
                None
            };
            let nv = if kb == Some(key) {
                let (v, n, end) = sum_run(b, j, gkey, |e| e.key, new_local, &self.new.exotic);
                if n > 1 {
                    self.dup(counts, &self.new.file, key, n);
                }
                j = end;
                Some(v)
            } else {
                None
            };
            let status = match (ov, nv) {
                (Some(o), Some(n)) => self.tol.status(o, n),
                (Some(_), None) => KeyStatus::OnlyOld,
                _ => KeyStatus::OnlyNew,
            };
            match status {
                KeyStatus::Match => {
                    counts.matched += 1;
                    continue;
                }
                KeyStatus::WithinTolerance => counts.within += 1,
                KeyStatus::Variance => counts.variance += 1,
                KeyStatus::OnlyOld => counts.only_old += 1,
                KeyStatus::OnlyNew => counts.only_new += 1,
            }
            self.write_row(buf, key, ov, nv, status);
        }
    }

    fn dup(&self, counts: &mut Counts, file: &str, key: u64, rows: u32) {
        counts.duplicates += 1;
        if counts.duplicate_samples.len() < SAMPLE {
            let (p, d, m) = unpack(key);
            counts.duplicate_samples.push(Duplicate {
                file: file.to_owned(),
                partner: String::from_utf8_lossy(&self.partners.names[p as usize]).into_owned(),
                day: String::from_utf8_lossy(&format_day(d)).into_owned(),
                metric: self.metrics.all[m as usize].clone(),
                rows,
            });
        }
    }

    fn write_row(&self, buf: &mut Vec<u8>, key: u64, o: Option<Val>, n: Option<Val>, s: KeyStatus) {
        let (p, d, m) = unpack(key);
        write_field(buf, &self.partners.names[p as usize]);
        buf.push(b',');
        buf.extend_from_slice(&format_day(d));
        buf.push(b',');
        write_field(buf, self.metrics.all[m as usize].as_str().as_bytes());
        buf.push(b',');
        if let Some(o) = o {
            o.write(buf);
        }
        buf.push(b',');
        if let Some(n) = n {
            n.write(buf);
        }
        buf.push(b',');
        buf.extend_from_slice(s.as_str().as_bytes());
        buf.push(b'\n');
    }
}

/// Sums the run of entries with the same global key starting at `start`. `local` tells
/// rows of one file key apart from merged ones (duplicates are adjacent: the run is sorted
/// by (global, local)); `exo_key` is the key the side table of exotic values uses.
/// Returns the value, the most rows of one local key (duplicates), and the run's end.
fn sum_run(
    run: &[Entry],
    start: usize,
    gkey: impl Fn(&Entry) -> u64,
    local: impl Fn(&Entry) -> u64,
    exo_key: impl Fn(&Entry) -> u64,
    exotic: &FxMap<u64, Decimal>,
) -> (Val, u32, usize) {
    let key = gkey(&run[start]);
    let mut fixed: i128 = 0;
    let mut dec: Option<Decimal> = None;
    let mut end = start;
    let mut max_same = 1u32;
    let mut same = 0u32;
    let mut prev_local = None;
    let mut seen_exotic_locals: Vec<u64> = Vec::new();
    while end < run.len() && gkey(&run[end]) == key {
        let e = &run[end];
        let l = local(e);
        if prev_local == Some(l) {
            same += 1;
        } else {
            same = 1;
            prev_local = Some(l);
        }
        max_same = max_same.max(same);
        if e.val == EXOTIC {
            // The side table already holds the sum of every exotic row of this local key.
            let x = exo_key(e);
            if !seen_exotic_locals.contains(&x) {
                seen_exotic_locals.push(x);
                let d = exotic.get(&x).copied().unwrap_or_default();
                dec = Some(dec.unwrap_or_default().saturating_add(d));
            }
        } else {
            fixed += e.val as i128;
        }
        end += 1;
    }
    let v = match dec {
        None => Val::Fixed(fixed),
        Some(d) => Val::Dec(Decimal::from_i128_with_scale(fixed, SCALE).saturating_add(d)),
    };
    (v, max_same, end)
}

fn write_field(buf: &mut Vec<u8>, s: &[u8]) {
    if s.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for &b in s {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests;
