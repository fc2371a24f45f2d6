//! The fast path of `reconcile` for two aggregate CSV exports (what `cutover recon` runs):
//! a keyed full outer comparison partner × day × metric with an absolute/relative
//! tolerance, streaming findings as CSV. A money key whose sides (or whose duplicate rows
//! on one side) carry different currencies is a `currency_mismatch`, never compared or
//! summed across currencies; a sum beyond the decimal range is an error naming the rows.
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
    CANONICAL, CUR_BITS, EXOTIC, Entry, FxMap, MAX_METRICS, MAX_OTHER_METRICS, MAX_PARTNERS,
    OTHER_METRICS, PARTS, SAMPLE, SCALE, SCALE_POW, Side, currency, decode_currency, format_day,
    format_fixed, ident, parse_side, unpack, with_ids, with_partner,
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
    /// A sum or difference beyond the decimal range (±79,228,162,514,264,337,593,543,950,335);
    /// the message names the file, line and key.
    #[error("{0}")]
    Overflow(String),
    /// More distinct partner ids, metric names or currencies than the packed key holds;
    /// `file` is where (a file and line, or both files).
    #[error("{file}: more than {limit} distinct {what}; compare the files in parts")]
    TooMany {
        file: String,
        what: &'static str,
        limit: usize,
    },
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
    /// The sides carry different currencies (or one side's rows do): never a match, never
    /// compared; fails like a variance.
    CurrencyMismatch,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Match => "match",
            KeyStatus::WithinTolerance => "within_tolerance",
            KeyStatus::Variance => "variance",
            KeyStatus::OnlyOld => "only_old",
            KeyStatus::OnlyNew => "only_new",
            KeyStatus::CurrencyMismatch => "currency_mismatch",
        }
    }
}

/// A key in `currency_mismatch`: the currencies of each side's rows (`""` for rows
/// without one; no entry when the side has no rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyMismatch {
    pub partner: String,
    pub day: String,
    pub metric: Metric,
    pub old: Vec<String>,
    pub new: Vec<String>,
}

impl CurrencyMismatch {
    /// E.g. `old EUR, new USD` or `old EUR and USD, new missing`.
    pub fn detail(&self) -> String {
        currency_detail(&self.old, &self.new)
    }
}

/// How the currencies of a key's two sides are shown.
pub fn currency_detail(old: &[String], new: &[String]) -> String {
    let side = |c: &[String]| -> String {
        if c.is_empty() {
            return "missing".into();
        }
        c.iter()
            .map(|c| {
                if c.is_empty() {
                    "no currency"
                } else {
                    c.as_str()
                }
            })
            .collect::<Vec<_>>()
            .join(" and ")
    };
    format!("old {}, new {}", side(old), side(new))
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
    pub currency_mismatch: u64,
    /// The first keys in `currency_mismatch`, with their currencies.
    pub currency_samples: Vec<CurrencyMismatch>,
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
    /// duplicated or unmapped; fail: any variance, currency mismatch or one-sided key;
    /// inconclusive: a side has no rows.
    pub fn outcome(&self) -> (Outcome, String) {
        if self.old_rows == 0 || self.new_rows == 0 {
            let which = match (self.old_rows, self.new_rows) {
                (0, 0) => "both sources have",
                (0, _) => "the old source has",
                _ => "the new source has",
            };
            return (Outcome::Inconclusive, format!("{which} no readable rows"));
        }
        let diffs = self.variance + self.currency_mismatch + self.only_old + self.only_new;
        if diffs > 0 {
            return (
                Outcome::Fail,
                format!(
                    "{} variance, {} only_old, {} only_new, {} currency_mismatch",
                    self.variance, self.only_old, self.only_new, self.currency_mismatch
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
            file: format!("{} and {}", old.file, new.file),
            what: OTHER_METRICS,
            limit: MAX_OTHER_METRICS,
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
) -> Result<Partners, ReconError> {
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
            None => match extra.get(canon) {
                Some(&g) => g,
                None => {
                    if names.len() >= MAX_PARTNERS {
                        return Err(ReconError::TooMany {
                            file: format!("{} and {}", old.file, new.file),
                            what: "partner ids",
                            limit: MAX_PARTNERS,
                        });
                    }
                    names.push(canon.into());
                    let g = names.len() as u32 - 1;
                    extra.insert(canon.into(), g);
                    g
                }
            },
        };
        remap.push(g);
    }
    let mut seen = vec![false; names.len()];
    let mut collide = false;
    for &g in &remap {
        collide |= std::mem::replace(&mut seen[g as usize], true);
    }
    Ok(Partners {
        names,
        remap,
        collide,
    })
}

/// A summed value of one key on one side.
#[derive(Clone, Copy)]
enum Val {
    Fixed(i128),
    Dec(Decimal),
}

impl Val {
    /// The value as a decimal (`None`: beyond its range).
    fn dec(self) -> Option<Decimal> {
        match self {
            Val::Fixed(v) => Decimal::try_from_i128_with_scale(v, SCALE).ok(),
            Val::Dec(d) => Some(d),
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
    currency: u64,
    currency_samples: Vec<CurrencyMismatch>,
    duplicates: u64,
    duplicate_samples: Vec<Duplicate>,
    /// The first error of the lowest partition this thread hit.
    error: Option<(usize, ReconError)>,
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

    /// `None`: the values or their difference are beyond the decimal range.
    fn status(&self, old: Val, new: Val) -> Option<KeyStatus> {
        if let (Val::Fixed(o), Val::Fixed(n), Some(abs)) = (old, new, self.abs) {
            // Sums of i32 values: far from the i128 range.
            if o == n {
                return Some(KeyStatus::Match);
            }
            let diff = (n - o).abs();
            if diff <= abs {
                return Some(KeyStatus::WithinTolerance);
            }
            if let (Some(l), Some(r)) = (
                diff.checked_mul(self.rel_pow),
                self.rel_m.checked_mul(o.abs()),
            ) {
                return Some(if l <= r {
                    KeyStatus::WithinTolerance
                } else {
                    KeyStatus::Variance
                });
            }
        }
        status_decimal(old.dec()?, new.dec()?, self.dec)
    }
}

/// The reference rule on decimals: |new − old| ≤ max(abs, rel × |old|). `None` when it
/// cannot be decided in the decimal range (the difference and the allowance both
/// overflow); when only the difference does, it is a variance.
pub fn status_decimal(old: Decimal, new: Decimal, t: Tolerance) -> Option<KeyStatus> {
    if old == new {
        return Some(KeyStatus::Match);
    }
    // An allowance beyond the range is larger than any difference within it.
    let allowed = t.rel.checked_mul(old.abs()).map(|r| t.abs.max(r));
    let status = match (new.checked_sub(old).map(|d| d.abs()), allowed) {
        (Some(diff), Some(allowed)) if diff > allowed => KeyStatus::Variance,
        (Some(_), _) => KeyStatus::WithinTolerance,
        (None, Some(_)) => KeyStatus::Variance,
        (None, None) => return None,
    };
    Some(status)
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
    let partners = global_partners(&old, &new, crosswalk, &mut summary)?;
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
                        if let Err(e) = ctx.partition(oc, nc, &mut a, &mut b, &mut counts, &mut buf)
                            && counts.error.is_none()
                        {
                            counts.error = Some((p, e));
                        }
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
            .map(|h| {
                h.join().unwrap_or_else(|_| Counts {
                    error: Some((
                        0,
                        ReconError::Io {
                            file: "comparison".into(),
                            message: "a worker thread failed".into(),
                        },
                    )),
                    ..Counts::default()
                })
            })
            .collect()
    });
    write_result?;
    // The error of the lowest partition: the same one every run.
    let mut first_error: Option<(usize, ReconError)> = None;
    for c in counts {
        summary.matched += c.matched;
        summary.within_tolerance += c.within;
        summary.variance += c.variance;
        summary.only_old += c.only_old;
        summary.only_new += c.only_new;
        summary.currency_mismatch += c.currency;
        summary.duplicates += c.duplicates;
        for d in c.duplicate_samples {
            if summary.duplicate_samples.len() < SAMPLE {
                summary.duplicate_samples.push(d);
            }
        }
        for m in c.currency_samples {
            if summary.currency_samples.len() < SAMPLE {
                summary.currency_samples.push(m);
            }
        }
        if let Some((p, e)) = c.error
            && first_error.as_ref().is_none_or(|(q, _)| p < *q)
        {
            first_error = Some((p, e));
        }
    }
    if let Some((_, e)) = first_error {
        return Err(e);
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

/// One side's rows of one key (partner, day, metric), summed.
struct Run {
    /// The currency code of the first row (`parse::encode_currency`; 0: none); `mixed`
    /// when another row has another one. Codes, not ids: ids are each side's own.
    cur: u16,
    mixed: bool,
    val: Val,
    /// The most rows of one key in the file (> 1: duplicates).
    rows: u32,
    start: usize,
    end: usize,
    /// The first line whose value went to the exotic side table (for messages).
    line: Option<u64>,
    /// The sum is beyond the decimal range.
    overflow: bool,
}

impl Ctx<'_> {
    /// A new-side key with the global partner and metric ids (its currency id stays the
    /// new side's own: currencies are compared by code, never joined on).
    #[inline]
    fn global(&self, key: u64) -> u64 {
        let (p, _, m) = unpack(key);
        let g = self.partners.remap[p as usize];
        match &self.metrics.remap {
            None => with_partner(key, g),
            Some(r) => with_ids(key, g, r[m as usize], currency(key)),
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
    ) -> Result<(), ReconError> {
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
            // By (global key without currency, local key): one local key's rows stay
            // together (duplicates), whatever their currencies.
            b.sort_unstable_by_key(|e| (ident(self.global(e.key)), e.key));
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
    ) -> Result<(), ReconError> {
        let gident = |e: &Entry| -> u64 {
            if self.merges {
                ident(self.global(e.key))
            } else {
                ident(e.key)
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
        let own = |e: &Entry| ident(e.key);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let ka = a.get(i).map(own);
            let kb = b.get(j).map(gident);
            let id = match (ka, kb) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) => x,
                (None, Some(y)) => y,
                (None, None) => break,
            };
            // The key as packed (partner, day, metric; no currency).
            let key = id << CUR_BITS;
            let o = if ka == Some(id) {
                let r = sum_run(a, i, own, own, |e| e.key, self.old);
                if r.rows > 1 {
                    self.dup(counts, &self.old.file, key, r.rows);
                }
                i = r.end;
                Some(r)
            } else {
                None
            };
            let n = if kb == Some(id) {
                let r = sum_run(b, j, gident, own, new_local, self.new);
                if r.rows > 1 {
                    self.dup(counts, &self.new.file, key, r.rows);
                }
                j = r.end;
                Some(r)
            } else {
                None
            };
            let status = self.status(key, o.as_ref(), n.as_ref())?;
            match status {
                KeyStatus::Match => {
                    counts.matched += 1;
                    continue;
                }
                KeyStatus::WithinTolerance => counts.within += 1,
                KeyStatus::Variance => counts.variance += 1,
                KeyStatus::OnlyOld => counts.only_old += 1,
                KeyStatus::OnlyNew => counts.only_new += 1,
                KeyStatus::CurrencyMismatch => {
                    counts.currency += 1;
                    if counts.currency_samples.len() < SAMPLE {
                        let (p, d, m) = unpack(key);
                        // Each side's entries carry its own currency ids.
                        let curs = |run: Option<&Run>, rows: &[Entry], side: &Side| {
                            let Some(r) = run else { return Vec::new() };
                            let mut c: Vec<u16> = rows[r.start..r.end]
                                .iter()
                                .map(|e| side.currencies[currency(e.key) as usize])
                                .collect();
                            c.sort_unstable();
                            c.dedup();
                            c.into_iter().map(decode_currency).collect()
                        };
                        counts.currency_samples.push(CurrencyMismatch {
                            partner: String::from_utf8_lossy(&self.partners.names[p as usize])
                                .into_owned(),
                            day: String::from_utf8_lossy(&format_day(d)).into_owned(),
                            metric: self.metrics.all[m as usize].clone(),
                            old: curs(o.as_ref(), a, self.old),
                            new: curs(n.as_ref(), b, self.new),
                        });
                    }
                }
            }
            // A side whose rows mix currencies has no one value to show.
            let shown = |r: Option<&Run>| r.filter(|r| !r.mixed).map(|r| r.val);
            self.write_row(buf, key, shown(o.as_ref()), shown(n.as_ref()), status);
        }
        Ok(())
    }

    /// The status of a key from its two sides; an error when a sum (or the difference)
    /// does not fit a decimal.
    fn status(&self, key: u64, o: Option<&Run>, n: Option<&Run>) -> Result<KeyStatus, ReconError> {
        for (side, run) in [(self.old, o), (self.new, n)] {
            if let Some(r) = run
                && r.overflow
                && !r.mixed
            {
                return Err(ReconError::Overflow(format!(
                    "{}{}: the rows of {} sum beyond the decimal range",
                    side.file,
                    r.line.map(|l| format!(":{l}")).unwrap_or_default(),
                    self.key_text(key, r.cur),
                )));
            }
        }
        if o.is_some_and(|r| r.mixed) || n.is_some_and(|r| r.mixed) {
            return Ok(KeyStatus::CurrencyMismatch);
        }
        let (o, n) = match (o, n) {
            (Some(o), Some(n)) => (o, n),
            (Some(_), None) => return Ok(KeyStatus::OnlyOld),
            _ => return Ok(KeyStatus::OnlyNew),
        };
        if o.cur != n.cur {
            return Ok(KeyStatus::CurrencyMismatch);
        }
        self.tol.status(o.val, n.val).ok_or_else(|| {
            let at = |r: &Run| r.line.map(|l| format!(":{l}")).unwrap_or_default();
            ReconError::Overflow(format!(
                "{}: the difference between {}{} and {}{} is beyond the decimal range",
                self.key_text(key, o.cur),
                self.old.file,
                at(o),
                self.new.file,
                at(n)
            ))
        })
    }

    /// `partner,day,metric` (and the currency) of a key, for messages.
    fn key_text(&self, key: u64, cur: u16) -> String {
        let (p, d, m) = unpack(key);
        let mut s = format!(
            "{},{},{}",
            String::from_utf8_lossy(&self.partners.names[p as usize]),
            String::from_utf8_lossy(&format_day(d)),
            self.metrics.all[m as usize]
        );
        if cur != 0 {
            s.push(' ');
            s.push_str(&decode_currency(cur));
        }
        s
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

/// Sums the run of entries with the same global key (without currency) starting at
/// `start`. `local` tells rows of one file key apart from merged ones (duplicates are
/// adjacent: the run is sorted by (global, local)); `exo_key` is the key the side table of
/// exotic values uses; `side` is the file of the rows (its exotic values and currency
/// ids). Notes whether the rows' currencies differ, and whether the sum left the decimal
/// range (exotic values; fixed-point ones are i32s summed in an i128).
fn sum_run(
    run: &[Entry],
    start: usize,
    gident: impl Fn(&Entry) -> u64,
    local: impl Fn(&Entry) -> u64,
    exo_key: impl Fn(&Entry) -> u64,
    side: &Side,
) -> Run {
    let exotic = &side.exotic;
    let id = gident(&run[start]);
    let cur_id = currency(run[start].key);
    let mut mixed = false;
    let mut fixed: i128 = 0;
    let mut dec: Option<Decimal> = None;
    let mut overflow = false;
    let mut line: Option<u64> = None;
    let mut end = start;
    let mut max_same = 1u32;
    let mut same = 0u32;
    let mut prev_local = None;
    let mut seen_exotic_locals: Vec<u64> = Vec::new();
    while end < run.len() && gident(&run[end]) == id {
        let e = &run[end];
        mixed |= currency(e.key) != cur_id;
        let l = local(e);
        if prev_local == Some(l) {
            same = same.saturating_add(1);
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
                if let Some(ex) = exotic.get(&x) {
                    line = Some(line.map_or(ex.line, |l| l.min(ex.line)));
                    match dec.unwrap_or_default().checked_add(ex.sum) {
                        Some(d) => dec = Some(d),
                        None => overflow = true,
                    }
                }
            }
        } else {
            fixed += i128::from(e.val);
        }
        end += 1;
    }
    let val = match dec {
        None => Val::Fixed(fixed),
        Some(d) => match Decimal::try_from_i128_with_scale(fixed, SCALE)
            .ok()
            .and_then(|f| f.checked_add(d))
        {
            Some(v) => Val::Dec(v),
            None => {
                overflow = true;
                Val::Dec(d)
            }
        },
    };
    Run {
        cur: side.currencies[cur_id as usize],
        mixed,
        val,
        rows: max_same,
        start,
        end,
        line,
        overflow,
    }
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
