//! A seeded generator of old/new daily-aggregate CSV exports and their partner crosswalk,
//! for the reconcile benchmark and tests. Deterministic for a seed; writes to any
//! `std::io::Write` (the caller opens files).
//!
//! What differs between the two sides (each a known cause from DOMAIN.md):
//! new ids are renamed (crosswalk), small noise (mostly within tolerance), large
//! differences, rows missing from the new side, extra rows only on the new side, one
//! partner shifted by a day (time-zone boundary) and one partner's money scaled by an FX
//! rate.

use std::io::{self, Write};

use crate::csvrecon::INPUT_HEADER;
use crate::model::Metric;

/// Generator settings.
#[derive(Debug, Clone, Copy)]
pub struct GenSpec {
    /// Approximate rows per side.
    pub rows: u64,
    pub partners: u32,
    pub seed: u64,
}

/// SplitMix64: small, fast, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }
    /// True with probability per_million / 1e6.
    fn chance(&mut self, per_million: u64) -> bool {
        self.below(1_000_000) < per_million
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenStats {
    pub old_rows: u64,
    pub new_rows: u64,
    pub days: u32,
}

/// The partner whose new-side rows are one day later.
pub const SHIFTED_PARTNER: u32 = 7;
/// The partner whose new-side money is multiplied by [`FX_RATE_CENTS`] / 100.
pub const FX_PARTNER: u32 = 11;
pub const FX_RATE_CENTS: i64 = 108;

fn old_id(i: u32) -> String {
    format!("aff-{i:06}")
}

fn new_id(i: u32) -> String {
    format!(
        "P{:08X}",
        (i as u64).wrapping_mul(2_654_435_761) & 0xffff_ffff
    )
}

/// Writes OLD, NEW and the crosswalk (`old_partner_id,new_partner_id`).
pub fn generate(
    spec: GenSpec,
    old: &mut impl Write,
    new: &mut impl Write,
    crosswalk: &mut impl Write,
) -> io::Result<GenStats> {
    let partners = spec.partners.max(1);
    let metrics = Metric::ALL.len() as u64;
    // Days are written as YYYY-MM-DD from 2026 on (twice the span: the shifted partner and
    // the extra rows); more than a million would leave that range.
    let days = spec.rows.div_ceil(partners as u64 * metrics).max(1);
    if days > 1_000_000 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} rows over {partners} partners need {days} days; at most 1,000,000 (use more partners)",
                spec.rows
            ),
        ));
    }
    let days = days as u32;
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let day_str: Vec<String> = (0..2 * days + 2)
        .map(|d| (start + chrono::Days::new(d as u64)).to_string())
        .collect();
    let mut rng = Rng(spec.seed);
    let mut stats = GenStats {
        days,
        ..GenStats::default()
    };
    old.write_all(INPUT_HEADER)?;
    old.write_all(b"\n")?;
    new.write_all(INPUT_HEADER)?;
    new.write_all(b"\n")?;
    writeln!(crosswalk, "old_partner_id,new_partner_id")?;
    let mut o = Vec::with_capacity(64);
    let mut n = Vec::with_capacity(64);
    'outer: for p in 0..partners {
        let (oid, nid) = (old_id(p), new_id(p));
        writeln!(crosswalk, "{oid},{nid}")?;
        // Partners are of very different sizes: scale their volumes.
        let size = 1 + rng.below(1000) as i64;
        for day in 0..days {
            for (mi, metric) in Metric::ALL.into_iter().enumerate() {
                if stats.old_rows >= spec.rows {
                    break 'outer;
                }
                let _ = mi;
                let base = size * (1 + rng.below(50) as i64);
                // Value in cents for money, whole units for counts.
                let cents = if metric.is_money() {
                    base * 100 + rng.below(100) as i64
                } else {
                    base * 100
                };
                let cur = if metric.is_money() { "EUR" } else { "" };
                o.clear();
                write!(o, "{oid},{},{metric},", day_str[day as usize])?;
                put_cents(&mut o, cents, metric.is_money());
                writeln!(o, ",{cur}")?;
                old.write_all(&o)?;
                stats.old_rows += 1;

                // The new side of the same key.
                if rng.chance(2_000) {
                    continue; // missing in new
                }
                let mut v = cents;
                if p == FX_PARTNER && metric.is_money() {
                    v = (v * FX_RATE_CENTS + 50).div_euclid(100);
                }
                if rng.chance(50_000) {
                    // small noise: ±1 unit or ±0.5 %
                    let delta = if rng.below(2) == 0 {
                        100
                    } else {
                        (v / 200).max(1)
                    };
                    v += if rng.below(2) == 0 { delta } else { -delta };
                } else if rng.chance(5_000) {
                    v = v * (2 + rng.below(3) as i64) + 100;
                }
                let nday = if p == SHIFTED_PARTNER { day + 1 } else { day };
                n.clear();
                write!(n, "{nid},{},{metric},", day_str[nday as usize])?;
                put_cents(&mut n, v, metric.is_money());
                writeln!(n, ",{cur}")?;
                new.write_all(&n)?;
                stats.new_rows += 1;
                if rng.chance(2_000) {
                    // extra row only in new: a day after the window (one per key)
                    n.clear();
                    write!(n, "{nid},{},{metric},", day_str[(days + 1 + day) as usize])?;
                    put_cents(&mut n, base * 100, metric.is_money());
                    writeln!(n, ",{cur}")?;
                    new.write_all(&n)?;
                    stats.new_rows += 1;
                }
            }
        }
    }
    Ok(stats)
}

fn put_cents(out: &mut Vec<u8>, cents: i64, money: bool) {
    if money {
        let sign = if cents < 0 { "-" } else { "" };
        let a = cents.unsigned_abs();
        let _ = write!(out, "{sign}{}.{:02}", a / 100, a % 100);
    } else {
        let _ = write!(out, "{}", cents / 100);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_reconcilable() {
        let spec = GenSpec {
            rows: 5_000,
            partners: 20,
            seed: 42,
        };
        let (mut o, mut n, mut x) = (Vec::new(), Vec::new(), Vec::new());
        let s = generate(spec, &mut o, &mut n, &mut x).unwrap();
        let (mut o2, mut n2, mut x2) = (Vec::new(), Vec::new(), Vec::new());
        generate(spec, &mut o2, &mut n2, &mut x2).unwrap();
        assert_eq!((o.clone(), n.clone()), (o2, n2));
        assert_eq!(s.old_rows, 5_000);
        let xw = crate::csvrecon::Crosswalk::parse("x", &x).unwrap();
        let mut out = Vec::new();
        let sum = crate::csvrecon::reconcile_csv(
            crate::csvrecon::Input {
                name: "o".into(),
                reader: &o[..],
            },
            crate::csvrecon::Input {
                name: "n".into(),
                reader: &n[..],
            },
            Some(&xw),
            crate::csvrecon::Tolerance {
                abs: 1.into(),
                rel: rust_decimal::Decimal::new(1, 2),
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(sum.malformed, 0);
        assert_eq!(sum.unmapped, 0);
        assert!(sum.matched > 3_000);
        assert!(sum.variance > 0 && sum.only_old > 0 && sum.only_new > 0);
    }
}
