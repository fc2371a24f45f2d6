//! Byte-level parsing of one aggregate CSV (`partner_id,day,metric,value,currency`) into
//! compact, radix-partitioned entries: no per-row allocation, partner ids interned, the key
//! (partner, day, metric and the currency of money metrics) packed into a `u64` and the
//! value a fixed-point `i32` in hundredths (12 bytes an entry; anything that does not fit —
//! more decimals, larger than ±21,474,836.47 — goes to a small side table as a
//! [`Decimal`]). Metrics and currencies are small ids: canonical metrics fixed, any other
//! metric name and every currency numbered in order of appearance on this side (the join
//! maps them to ids shared by both sides).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::{Crosswalk, Malformed, ReconError};
use crate::model::{CANONICAL_METRICS, Metric};

/// Fixed-point scale of [`Entry::val`].
pub(crate) const SCALE: u32 = 2;
pub(crate) const SCALE_POW: i64 = 100;
/// `Entry::val` of a value kept in the side table instead.
pub(crate) const EXOTIC: i32 = i32::MIN;
/// Number of radix partitions (by partner and day); ~40k entries each at 10M rows.
pub(crate) const PART_BITS: u32 = 8;
pub(crate) const PARTS: usize = 1 << PART_BITS;
/// Entries per storage chunk (32 KiB).
const CHUNK: usize = 2048;
/// Malformed rows kept with their reason (the rest are only counted).
pub(crate) const SAMPLE: usize = 50;

const DAY_BITS: u32 = 22;
/// The currency id (0: none), in the lowest bits, so a key's rows sort together and the
/// currency is compared, not joined on.
pub(crate) const CUR_BITS: u32 = 8;
const METRIC_BITS: u32 = 10;
const METRIC_SHIFT: u32 = CUR_BITS;
const DAY_SHIFT: u32 = METRIC_SHIFT + METRIC_BITS;
const PARTNER_SHIFT: u32 = DAY_SHIFT + DAY_BITS;
const CUR_MASK: u64 = (1 << CUR_BITS) - 1;
const METRIC_MASK: u64 = (1 << METRIC_BITS) - 1;
const DAY_MASK: u64 = (1 << DAY_BITS) - 1;
/// Distinct partner ids a comparison can hold (both sides together): 16,777,216.
pub(crate) const MAX_PARTNERS: usize = 1 << (64 - PARTNER_SHIFT);
/// Distinct metric ids a comparison can hold, canonical ones included: 1,024.
pub(crate) const MAX_METRICS: usize = 1 << METRIC_BITS;
/// Ids below this are the canonical metrics, in [`CANONICAL_METRICS`] order.
pub(crate) const CANONICAL: usize = CANONICAL_METRICS.len();
/// Distinct metric names outside the canonical list a comparison can hold: 1,010.
pub(crate) const MAX_OTHER_METRICS: usize = MAX_METRICS - CANONICAL;
/// What [`MAX_OTHER_METRICS`] counts, for [`ReconError::TooMany`].
pub(crate) const OTHER_METRICS: &str = "metric names besides the 14 canonical ones";
/// Distinct currencies a comparison can hold (id 0 is "no currency"): 255.
pub(crate) const MAX_CURRENCIES: usize = (1 << CUR_BITS) - 1;
/// Currency codes ([`encode_currency`]): 0 for none, then the 17,576 three-letter codes.
const CURRENCY_CODES: usize = 26 * 26 * 26 + 1;

/// One aggregate row: packed key (partner index, day, metric, currency) and fixed-point
/// value.
/// Packed to 12 bytes (4-byte aligned): memory is what bounds a 10M-row comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(4))]
pub(crate) struct Entry {
    pub key: u64,
    pub val: i32,
}

#[inline]
pub(crate) fn pack(partner: u32, day: u32, metric: u16, currency: u8) -> u64 {
    ((partner as u64) << PARTNER_SHIFT)
        | ((day as u64) << DAY_SHIFT)
        | ((metric as u64 & METRIC_MASK) << METRIC_SHIFT)
        | currency as u64
}

/// (partner, day, metric) of a key; its currency is [`currency`].
#[inline]
pub(crate) fn unpack(key: u64) -> (u32, u32, u16) {
    (
        (key >> PARTNER_SHIFT) as u32,
        ((key >> DAY_SHIFT) & DAY_MASK) as u32,
        ((key >> METRIC_SHIFT) & METRIC_MASK) as u16,
    )
}

/// The key with other partner, metric and currency ids (same day).
#[inline]
pub(crate) fn with_ids(key: u64, partner: u32, metric: u16, currency: u8) -> u64 {
    (key & (DAY_MASK << DAY_SHIFT))
        | ((partner as u64) << PARTNER_SHIFT)
        | ((metric as u64 & METRIC_MASK) << METRIC_SHIFT)
        | currency as u64
}

/// The currency id of a key (0: none).
#[inline]
pub(crate) fn currency(key: u64) -> u8 {
    (key & CUR_MASK) as u8
}

/// The key without its currency: what the two sides are joined on.
#[inline]
pub(crate) fn ident(key: u64) -> u64 {
    key >> CUR_BITS
}

#[inline]
pub(crate) fn with_partner(key: u64, partner: u32) -> u64 {
    (key & ((1u64 << PARTNER_SHIFT) - 1)) | ((partner as u64) << PARTNER_SHIFT)
}

/// The code of a currency field already checked to be empty or three upper-case letters:
/// 0 for none, else 1 + the three letters in base 26 (below [`CURRENCY_CODES`]).
#[inline]
fn encode_currency(c: &[u8]) -> u16 {
    match c {
        [a, b, c] => {
            1 + (u16::from(a - b'A') * 26 + u16::from(b - b'A')) * 26 + u16::from(c - b'A')
        }
        _ => 0,
    }
}

/// The currency of a code (empty for none).
pub(crate) fn decode_currency(code: u16) -> String {
    if code == 0 {
        return String::new();
    }
    let n = code - 1;
    [n / 676, n / 26 % 26, n % 26]
        .iter()
        .map(|&d| char::from(b'A' + (d % 26) as u8))
        .collect()
}

/// FxHash with a finalizer: a fast non-cryptographic hasher for ids and packed keys.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // Multiplication only carries upwards: without a final mix the table index (low
        // bits) of a packed key would ignore its partner bits.
        mix(self.0)
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// A strong 64-bit hash of a partner id (the same on both sides for the same canonical id).
pub(crate) fn name_hash(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The partition of (canonical partner, day): the same on both sides.
#[inline]
pub(crate) fn partition(canon_hash: u64, day: u32) -> usize {
    (mix(canon_hash ^ (day as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> (64 - PART_BITS))
        as usize
}

/// Entries of one partition, in fixed-size chunks (no reallocation copies, little slack).
#[derive(Default)]
pub(crate) struct Part {
    pub chunks: Vec<Vec<Entry>>,
}

impl Part {
    #[inline]
    fn push(&mut self, e: Entry) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(e),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(e);
                self.chunks.push(c);
            }
        }
    }
}

/// One parsed side.
pub(crate) struct Side {
    pub file: String,
    /// Local partner index -> id as written in the file.
    pub names: Vec<Box<[u8]>>,
    pub index: FxMap<Box<[u8]>, u32>,
    /// Local partner index -> hash of its canonical (old-side) id.
    pub canon_hash: Vec<u64>,
    /// Metrics outside the canonical list, by local id − [`CANONICAL`].
    pub metric_names: Vec<Metric>,
    pub metric_index: FxMap<Box<[u8]>, u16>,
    /// Local currency id -> currency code ([`encode_currency`]); id 0 is "no currency".
    pub currencies: Vec<u16>,
    /// Currency code -> local id (0: not seen, or "no currency").
    pub currency_ids: Box<[u8]>,
    pub parts: Vec<Part>,
    /// Values that do not fit the fixed-point form, summed per local key.
    pub exotic: FxMap<u64, Exotic>,
    pub rows: u64,
    pub malformed: u64,
    pub malformed_samples: Vec<Malformed>,
}

impl Side {
    fn new(file: &str) -> Self {
        Side {
            file: file.to_owned(),
            names: Vec::new(),
            index: FxMap::default(),
            canon_hash: Vec::new(),
            metric_names: Vec::new(),
            metric_index: FxMap::default(),
            currencies: vec![0],
            currency_ids: vec![0; CURRENCY_CODES].into(),
            parts: (0..PARTS).map(|_| Part::default()).collect(),
            exotic: FxMap::default(),
            rows: 0,
            malformed: 0,
            malformed_samples: Vec::new(),
        }
    }

    /// The local id of a metric outside the canonical list (numbered on first sight).
    /// `Ok(Err(reason))`: the name is not a metric name (a malformed row).
    fn other_metric(&mut self, name: &[u8], line: u64) -> Result<Result<u16, String>, ReconError> {
        if let Some(&id) = self.metric_index.get(name) {
            return Ok(Ok(id));
        }
        let Ok(text) = std::str::from_utf8(name) else {
            return Ok(Err(format!(
                "metric \"{}\" is not valid UTF-8",
                String::from_utf8_lossy(name)
            )));
        };
        let metric = match Metric::parse(text) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if self.metric_names.len() >= MAX_OTHER_METRICS {
            return Err(ReconError::TooMany {
                file: format!("{}:{line}", self.file),
                what: OTHER_METRICS,
                limit: MAX_OTHER_METRICS,
            });
        }
        let id = (CANONICAL + self.metric_names.len()) as u16;
        self.metric_names.push(metric);
        self.metric_index.insert(name.into(), id);
        Ok(Ok(id))
    }

    /// The name of a local metric id.
    pub fn metric(&self, id: u16) -> &Metric {
        let i = id as usize;
        CANONICAL_METRICS
            .get(i)
            .unwrap_or_else(|| &self.metric_names[i - CANONICAL])
    }

    /// The local id of a currency code (numbered on first sight; 0 stays "no currency").
    #[inline]
    fn currency_id(&mut self, code: u16, line: u64) -> Result<u8, ReconError> {
        if code == 0 {
            return Ok(0);
        }
        match self.currency_ids[code as usize] {
            0 => {
                if self.currencies.len() > MAX_CURRENCIES {
                    return Err(ReconError::TooMany {
                        file: format!("{}:{line}", self.file),
                        what: "currencies",
                        limit: MAX_CURRENCIES,
                    });
                }
                let id = self.currencies.len() as u8;
                self.currencies.push(code);
                self.currency_ids[code as usize] = id;
                Ok(id)
            }
            id => Ok(id),
        }
    }

    /// Counts (and samples) a malformed row; the comparison goes on.
    fn bad(&mut self, line: u64, reason: impl Into<String>) -> Result<(), ReconError> {
        self.malformed += 1;
        if self.malformed_samples.len() < SAMPLE {
            self.malformed_samples.push(Malformed {
                file: self.file.clone(),
                line,
                reason: reason.into(),
            });
        }
        Ok(())
    }
}

/// The sum of a key's values that do not fit the fixed-point form, and the line of the
/// first of them (for messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exotic {
    pub sum: Decimal,
    pub line: u64,
}

pub const HEADER: &[u8] = b"partner_id,day,metric,value,currency";

/// Reads and parses a whole side. `xwalk` maps this side's ids to canonical ones (new side).
pub(crate) fn parse_side<R: Read>(
    file: &str,
    mut reader: R,
    xwalk: Option<&Crosswalk>,
) -> Result<Side, ReconError> {
    let mut side = Side::new(file);
    let mut buf: Vec<u8> = vec![0; 4 << 20];
    let mut filled = 0usize;
    let mut line_no: u64 = 0;
    let mut eof = false;
    let mut header_seen = false;
    let mut last: (Vec<u8>, u32, u64) = (Vec::new(), u32::MAX, 0);
    loop {
        if !eof {
            if filled == buf.len() {
                let n = buf.len() * 2;
                buf.resize(n, 0);
            }
            let n = loop {
                match reader.read(&mut buf[filled..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(ReconError::Io {
                            file: file.to_owned(),
                            message: e.to_string(),
                        });
                    }
                }
            };
            if n == 0 {
                eof = true;
            }
            filled += n;
        }
        // Process complete lines (all of them at EOF).
        let upto = if eof {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let mut start = 0;
        while start < upto {
            let end = memchr::memchr(b'\n', &buf[start..upto]).map_or(upto, |i| start + i);
            let mut line = &buf[start..end];
            start = end + 1;
            line_no += 1;
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if !header_seen {
                let h = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
                if h != HEADER {
                    return Err(ReconError::Header {
                        file: file.to_owned(),
                        found: String::from_utf8_lossy(h).into_owned(),
                    });
                }
                header_seen = true;
                continue;
            }
            if line.is_empty() {
                continue;
            }
            parse_line(&mut side, line, line_no, xwalk, &mut last)?;
        }
        if eof {
            break;
        }
        buf.copy_within(upto..filled, 0);
        filled -= upto;
    }
    if !header_seen {
        return Err(ReconError::Header {
            file: file.to_owned(),
            found: String::new(),
        });
    }
    Ok(side)
}

/// Parses one data line into `side`: a bad row is counted and sampled; only what makes
/// the whole comparison impossible (too many partners, a sum beyond the decimal range)
/// is an error.
fn parse_line(
    side: &mut Side,
    line: &[u8],
    line_no: u64,
    xwalk: Option<&Crosswalk>,
    last: &mut (Vec<u8>, u32, u64),
) -> Result<(), ReconError> {
    let owned;
    let mut f: [&[u8]; 5] = [&[]; 5];
    if memchr::memchr(b'"', line).is_some() {
        match split_quoted(line) {
            Some(v) if v.len() == 5 => {
                owned = v;
                for (i, x) in owned.iter().enumerate() {
                    f[i] = x;
                }
            }
            Some(v) => return side.bad(line_no, format!("expected 5 fields, found {}", v.len())),
            None => return side.bad(line_no, "unbalanced quotes"),
        }
    } else {
        let mut n = 0;
        for field in line.split(|&b| b == b',') {
            if n == 5 {
                n += 1;
                break;
            }
            f[n] = field;
            n += 1;
        }
        if n != 5 {
            let found = line.split(|&b| b == b',').count();
            return side.bad(line_no, format!("expected 5 fields, found {found}"));
        }
    }
    let [partner, day, metric, value, currency] = f;
    if partner.is_empty() {
        return side.bad(line_no, "empty partner_id");
    }
    let Some(day) = parse_day(day) else {
        return side.bad(
            line_no,
            format!(
                "bad day \"{}\" (expected YYYY-MM-DD)",
                String::from_utf8_lossy(day)
            ),
        );
    };
    let metric = match parse_metric(metric) {
        Some(m) => m,
        None => match side.other_metric(metric, line_no)? {
            Ok(m) => m,
            Err(reason) => return side.bad(line_no, reason),
        },
    };
    let val = match parse_fixed(value) {
        Some(v) => Ok(v),
        None => match parse_decimal(value) {
            Some(d) => Err(d),
            None => {
                return side.bad(
                    line_no,
                    format!("bad value \"{}\"", String::from_utf8_lossy(value)),
                );
            }
        },
    };
    if !(currency.is_empty()
        || (currency.len() == 3 && currency.iter().all(u8::is_ascii_uppercase)))
    {
        return side.bad(
            line_no,
            format!(
                "bad currency \"{}\" (expected an ISO 4217 code or nothing)",
                String::from_utf8_lossy(currency)
            ),
        );
    }
    // Intern the partner (with a one-entry cache: files are usually grouped by partner).
    let (idx, canon) = if last.1 != u32::MAX && last.0 == partner {
        (last.1, last.2)
    } else {
        let (idx, canon) = match side.index.get(partner) {
            Some(&i) => (i, side.canon_hash[i as usize]),
            None => {
                if side.names.len() >= MAX_PARTNERS {
                    return Err(ReconError::TooMany {
                        file: format!("{}:{line_no}", side.file),
                        what: "partner ids",
                        limit: MAX_PARTNERS,
                    });
                }
                let i = side.names.len() as u32;
                let canon_name = xwalk.and_then(|x| x.get(partner)).unwrap_or(partner);
                let h = name_hash(canon_name);
                side.names.push(partner.into());
                side.index.insert(partner.into(), i);
                side.canon_hash.push(h);
                (i, h)
            }
        };
        last.0.clear();
        last.0.extend_from_slice(partner);
        last.1 = idx;
        last.2 = canon;
        (idx, canon)
    };
    // Counts carry no currency: only money is in one. A metric outside the canonical list
    // may be either (recon has no vocabulary): its currency is compared, as money's.
    let cur = match CANONICAL_METRICS.get(metric as usize) {
        Some(m) if !m.is_money() => 0,
        _ => side.currency_id(encode_currency(currency), line_no)?,
    };
    let key = pack(idx, day, metric, cur);
    let val = match val {
        Ok(v) => v,
        Err(d) => {
            let e = side.exotic.entry(key).or_insert(Exotic {
                sum: Decimal::ZERO,
                line: line_no,
            });
            match e.sum.checked_add(d) {
                Some(sum) => e.sum = sum,
                None => {
                    let first = e.line;
                    return Err(ReconError::Overflow(format!(
                        "{}:{line_no}: value {d} of {},{},{}{} takes the sum of the key (rows from line {}) beyond the decimal range",
                        side.file,
                        String::from_utf8_lossy(partner),
                        String::from_utf8_lossy(&format_day(day)),
                        side.metric(metric),
                        if cur == 0 {
                            String::new()
                        } else {
                            format!(" {}", decode_currency(side.currencies[cur as usize]))
                        },
                        first
                    )));
                }
            }
            EXOTIC
        }
    };
    side.rows += 1;
    side.parts[partition(canon, day)].push(Entry { key, val });
    Ok(())
}

/// Splits a line with quoted fields (RFC 4180 quoting, `""` inside quotes).
fn split_quoted(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    let mut at_start = true;
    while i < line.len() {
        let b = line[i];
        if quoted {
            if b == b'"' {
                if line.get(i + 1) == Some(&b'"') {
                    cur.push(b'"');
                    i += 1;
                } else {
                    quoted = false;
                }
            } else {
                cur.push(b);
            }
        } else if b == b'"' && at_start {
            quoted = true;
            at_start = false;
        } else if b == b',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else if b == b'"' {
            return None;
        } else {
            cur.push(b);
            at_start = false;
        }
        i += 1;
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

/// `YYYY-MM-DD` -> days since 0001-01-01 (proleptic Gregorian), validated.
#[inline]
pub(crate) fn parse_day(s: &[u8]) -> Option<u32> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let d = |i: usize| -> Option<u32> {
        let c = s[i].wrapping_sub(b'0');
        (c < 10).then_some(c as u32)
    };
    let y = d(0)? * 1000 + d(1)? * 100 + d(2)? * 10 + d(3)?;
    let m = d(5)? * 10 + d(6)?;
    let dd = d(8)? * 10 + d(9)?;
    if y == 0 || !(1..=12).contains(&m) || dd == 0 || dd > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, dd))
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's days_from_civil, shifted so 0001-01-01 is 0.
fn days_from_civil(y: u32, m: u32, d: u32) -> u32 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 306) as u32
}

/// Inverse of [`parse_day`]: the `YYYY-MM-DD` bytes.
pub(crate) fn format_day(days: u32) -> [u8; 10] {
    let z = days as i64 + 306;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y } as u32;
    let (m, d) = (m as u32, d as u32);
    let mut out = *b"0000-00-00";
    out[0] = b'0' + (y / 1000 % 10) as u8;
    out[1] = b'0' + (y / 100 % 10) as u8;
    out[2] = b'0' + (y / 10 % 10) as u8;
    out[3] = b'0' + (y % 10) as u8;
    out[5] = b'0' + (m / 10) as u8;
    out[6] = b'0' + (m % 10) as u8;
    out[8] = b'0' + (d / 10) as u8;
    out[9] = b'0' + (d % 10) as u8;
    out
}

/// The id of a canonical metric name (its index in [`CANONICAL_METRICS`]; a test keeps
/// the two in step). A `match` on the bytes: a jump on the length, then one comparison.
#[inline]
pub(crate) fn parse_metric(s: &[u8]) -> Option<u16> {
    Some(match s {
        b"clicks_gross" => 0,
        b"clicks_unique" => 1,
        b"registrations" => 2,
        b"ftd_count" => 3,
        b"ftd_amount" => 4,
        b"qualified_ftd" => 5,
        b"deposits_count" => 6,
        b"deposits_amount" => 7,
        b"withdrawals_amount" => 8,
        b"purchases" => 9,
        b"purchases_amount" => 10,
        b"trades" => 11,
        b"net_revenue" => 12,
        b"commission" => 13,
        _ => return None,
    })
}

/// `[+-]digits[.digits]` with at most 2 decimals -> value × 100, if it fits an `i32`.
#[inline]
pub(crate) fn parse_fixed(s: &[u8]) -> Option<i32> {
    let (neg, s) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &s[s.len()..]),
    };
    if (int.is_empty() && frac.is_empty()) || int.len() > 14 || frac.len() > SCALE as usize {
        return None;
    }
    if memchr::memchr(b'.', s).is_some() && int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &b in int {
        let c = b.wrapping_sub(b'0');
        if c >= 10 {
            return None;
        }
        v = v * 10 + c as i64;
    }
    let mut fv: i64 = 0;
    for &b in frac {
        let c = b.wrapping_sub(b'0');
        if c >= 10 {
            return None;
        }
        fv = fv * 10 + c as i64;
    }
    for _ in frac.len()..SCALE as usize {
        fv *= 10;
    }
    let v = v * SCALE_POW + fv;
    i32::try_from(if neg { -v } else { v })
        .ok()
        .filter(|&v| v != EXOTIC)
}

/// Slow path for numbers the fixed-point form cannot hold (more decimals, huge values).
fn parse_decimal(s: &[u8]) -> Option<Decimal> {
    if !s
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() || s.contains(['e', 'E']) {
        return Decimal::from_scientific(s).ok();
    }
    Decimal::from_str(s).ok()
}

/// Formats a fixed-point value without trailing zeros.
pub(crate) fn format_fixed(v: i128, out: &mut Vec<u8>) {
    if v < 0 {
        out.push(b'-');
    }
    let a = v.unsigned_abs();
    let int = a / SCALE_POW as u128;
    let mut frac = (a % SCALE_POW as u128) as u32;
    let mut ibuf = itoa_u128(int);
    out.append(&mut ibuf);
    if frac != 0 {
        out.push(b'.');
        let mut digits = [b'0'; SCALE as usize];
        for i in (0..SCALE as usize).rev() {
            digits[i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        let mut n = SCALE as usize;
        while digits[n - 1] == b'0' {
            n -= 1;
        }
        out.extend_from_slice(&digits[..n]);
    }
}

fn itoa_u128(mut v: u128) -> Vec<u8> {
    let mut tmp = [0u8; 40];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    tmp[i..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for s in [
            "0001-01-01",
            "1970-01-01",
            "2024-02-29",
            "2026-12-31",
            "9999-12-31",
        ] {
            let d = parse_day(s.as_bytes()).unwrap();
            assert_eq!(&format_day(d), s.as_bytes());
        }
        let a = parse_day(b"2026-03-01").unwrap();
        let b = parse_day(b"2026-02-28").unwrap();
        assert_eq!(a - b, 1);
        assert!(parse_day(b"2026-02-29").is_none());
        assert!(parse_day(b"2026-13-01").is_none());
        assert!(parse_day(b"2026-1-01").is_none());
    }

    #[test]
    fn canonical_metric_ids_follow_the_model() {
        for (i, m) in CANONICAL_METRICS.iter().enumerate() {
            assert_eq!(parse_metric(m.as_str().as_bytes()), Some(i as u16), "{m}");
        }
        assert_eq!(CANONICAL, 14);
        assert_eq!(parse_metric(b"clicks"), None);
        assert_eq!(parse_metric(b"ftd_count "), None);
    }

    #[test]
    fn fixed_numbers() {
        assert_eq!(parse_fixed(b"12.5"), Some(1_250));
        assert_eq!(parse_fixed(b"-0.01"), Some(-1));
        assert_eq!(parse_fixed(b"7"), Some(700));
        assert_eq!(parse_fixed(b".5"), Some(50));
        assert_eq!(parse_fixed(b"1.234"), None);
        assert_eq!(parse_fixed(b"21474836.47"), Some(i32::MAX));
        assert_eq!(parse_fixed(b"21474836.48"), None);
        assert_eq!(parse_fixed(b"-21474836.48"), None);
        assert_eq!(parse_fixed(b"abc"), None);
        assert_eq!(parse_fixed(b"-"), None);
        assert_eq!(parse_fixed(b"."), None);
        assert_eq!(parse_fixed(b""), None);
        let mut out = Vec::new();
        format_fixed(-1_250, &mut out);
        assert_eq!(out, b"-12.5");
    }

    #[test]
    fn currency_codes_round_trip() {
        assert_eq!(encode_currency(b""), 0);
        for c in ["AAA", "EUR", "USD", "ZZZ"] {
            let code = encode_currency(c.as_bytes());
            assert!(code > 0 && usize::from(code) < CURRENCY_CODES, "{c}");
            assert_eq!(decode_currency(code), c);
        }
    }

    /// Every field at its largest survives packing: the four fields share the 64 bits.
    #[test]
    fn key_fields_hold_their_limits() {
        assert_eq!(
            (MAX_PARTNERS, MAX_METRICS, MAX_OTHER_METRICS, MAX_CURRENCIES),
            (16_777_216, 1_024, 1_010, 255)
        );
        let last_day = parse_day(b"9999-12-31").unwrap();
        assert_eq!(last_day, 3_652_058);
        assert!(u64::from(last_day) <= DAY_MASK);
        let (p, m, c) = (MAX_PARTNERS as u32 - 1, MAX_METRICS as u16 - 1, u8::MAX);
        let key = pack(p, last_day, m, c);
        assert_eq!(unpack(key), (p, last_day, m));
        assert_eq!(currency(key), c);
        assert_eq!(format_day(unpack(key).1), *b"9999-12-31");
        let first = pack(0, parse_day(b"0001-01-01").unwrap(), 0, 0);
        assert_eq!(first, 0);
        // Rewriting the ids keeps the day; the currency is below the joined part.
        let k2 = with_ids(key, 7, 3, 1);
        assert_eq!(unpack(k2), (7, last_day, 3));
        assert_eq!(currency(k2), 1);
        assert_eq!(ident(k2), k2 >> CUR_BITS);
        assert_eq!(ident(with_partner(k2, 9)) >> (PARTNER_SHIFT - CUR_BITS), 9);
        // Keys order by partner, then day, then metric, then currency.
        assert!(pack(0, 1, 0, 0) > pack(0, 0, MAX_METRICS as u16 - 1, u8::MAX));
        assert!(pack(1, 0, 0, 0) > pack(0, last_day, MAX_METRICS as u16 - 1, u8::MAX));
        assert!(pack(0, 0, 1, 0) > pack(0, 0, 0, u8::MAX));
    }

    #[test]
    fn quoted_split() {
        let v = split_quoted(br#""a,b",2026-01-01,"x""y",1,"#).unwrap();
        assert_eq!(v[0], b"a,b");
        assert_eq!(v[2], b"x\"y");
        assert_eq!(v.len(), 5);
        assert!(split_quoted(br#""abc,1"#).is_none());
    }
}
