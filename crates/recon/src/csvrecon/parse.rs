//! Byte-level parsing of one aggregate CSV (`partner_id,day,metric,value,currency`) into
//! compact, radix-partitioned entries: no per-row allocation, partner ids interned, the key
//! packed into a `u64` and the value a fixed-point `i32` in hundredths (12 bytes an entry;
//! anything that does not fit — more decimals, larger than ±21,474,836.47 — goes to a small
//! side table as a [`Decimal`]). Metrics are small ids: the canonical ones fixed, any other
//! name numbered in order of appearance on this side (the join maps them to ids shared by
//! both sides).

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
const METRIC_BITS: u32 = 12;
/// Distinct metric ids a comparison can hold (canonical ones included).
pub(crate) const MAX_METRICS: usize = 1 << METRIC_BITS;
/// Distinct partner ids a comparison can hold (both sides together).
pub(crate) const MAX_PARTNERS: usize = 1 << (64 - DAY_BITS - METRIC_BITS);
/// Ids below this are the canonical metrics, in [`CANONICAL_METRICS`] order.
pub(crate) const CANONICAL: usize = CANONICAL_METRICS.len();

/// One aggregate row: packed key (partner index, day, metric) and fixed-point value.
/// Packed to 12 bytes (4-byte aligned): memory is what bounds a 10M-row comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(4))]
pub(crate) struct Entry {
    pub key: u64,
    pub val: i32,
}

#[inline]
pub(crate) fn pack(partner: u32, day: u32, metric: u16) -> u64 {
    ((partner as u64) << (DAY_BITS + METRIC_BITS)) | ((day as u64) << METRIC_BITS) | metric as u64
}

#[inline]
pub(crate) fn unpack(key: u64) -> (u32, u32, u16) {
    (
        (key >> (DAY_BITS + METRIC_BITS)) as u32,
        ((key >> METRIC_BITS) & ((1 << DAY_BITS) - 1)) as u32,
        (key & ((1 << METRIC_BITS) - 1)) as u16,
    )
}

/// The key with another partner and metric id (same day).
#[inline]
pub(crate) fn with_partner_metric(key: u64, partner: u32, metric: u16) -> u64 {
    (key & (((1u64 << DAY_BITS) - 1) << METRIC_BITS))
        | ((partner as u64) << (DAY_BITS + METRIC_BITS))
        | metric as u64
}

#[inline]
pub(crate) fn with_partner(key: u64, partner: u32) -> u64 {
    (key & ((1u64 << (DAY_BITS + METRIC_BITS)) - 1))
        | ((partner as u64) << (DAY_BITS + METRIC_BITS))
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
    pub parts: Vec<Part>,
    /// Values that do not fit the fixed-point form, summed per local key.
    pub exotic: FxMap<u64, Decimal>,
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
            parts: (0..PARTS).map(|_| Part::default()).collect(),
            exotic: FxMap::default(),
            rows: 0,
            malformed: 0,
            malformed_samples: Vec::new(),
        }
    }

    /// The local id of a metric outside the canonical list (numbered on first sight).
    fn other_metric(&mut self, name: &[u8]) -> Result<u16, String> {
        if let Some(&id) = self.metric_index.get(name) {
            return Ok(id);
        }
        let text = std::str::from_utf8(name).map_err(|_| {
            format!(
                "metric \"{}\" is not valid UTF-8",
                String::from_utf8_lossy(name)
            )
        })?;
        let metric = Metric::parse(text).map_err(|e| e.to_string())?;
        let id = CANONICAL + self.metric_names.len();
        if id >= MAX_METRICS {
            return Err(format!(
                "more than {} distinct metric names in one file",
                MAX_METRICS - CANONICAL
            ));
        }
        self.metric_names.push(metric);
        self.metric_index.insert(name.into(), id as u16);
        Ok(id as u16)
    }

    fn bad(&mut self, line: u64, reason: impl Into<String>) {
        self.malformed += 1;
        if self.malformed_samples.len() < SAMPLE {
            self.malformed_samples.push(Malformed {
                file: self.file.clone(),
                line,
                reason: reason.into(),
            });
        }
    }
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
            parse_line(&mut side, line, line_no, xwalk, &mut last);
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

fn parse_line(
    side: &mut Side,
    line: &[u8],
    line_no: u64,
    xwalk: Option<&Crosswalk>,
    last: &mut (Vec<u8>, u32, u64),
) {
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
        None => match side.other_metric(metric) {
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
                    return side.bad(
                        line_no,
                        format!("more than {MAX_PARTNERS} distinct partner ids in one file"),
                    );
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
    let key = pack(idx, day, metric);
    let val = match val {
        Ok(v) => v,
        Err(d) => {
            let sum = side.exotic.entry(key).or_default();
            *sum = sum.saturating_add(d);
            EXOTIC
        }
    };
    side.rows += 1;
    side.parts[partition(canon, day)].push(Entry { key, val });
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
    fn quoted_split() {
        let v = split_quoted(br#""a,b",2026-01-01,"x""y",1,"#).unwrap();
        assert_eq!(v[0], b"a,b");
        assert_eq!(v[2], b"x\"y");
        assert_eq!(v.len(), 5);
        assert!(split_quoted(br#""abc,1"#).is_none());
    }
}
