//! `payout`: recompute commission from the deal terms — CPA with a qualification baseline,
//! RevShare tiers (whole-band or marginal), hybrid, negative carryover with a cap, and the
//! sub-partner override — and compare three ways: recomputed vs old vs new. All arithmetic
//! is checked: a recomputation beyond the decimal range makes the result `error`, naming
//! the partner.

use chrono::NaiveDate;
use cutover_plan::Outcome;
use rust_decimal::Decimal;

use crate::check::{CheckResult, Finding, Overflow, fits, worst};
use crate::model::{Cpa, Deal, RevShare, TierMode};

/// One referred player as CPA sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpaPlayer {
    pub id: String,
    pub registered: NaiveDate,
    /// Day of the first deposit (an FTD); `None` if none yet.
    pub ftd_day: Option<NaiveDate>,
    pub deposits: Decimal,
    pub wagering: Decimal,
    /// Day the player was charged back / reversed, if ever.
    pub reversed_on: Option<NaiveDate>,
}

/// Why a player did or did not earn the CPA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpaVerdict {
    NoFtd,
    BelowBaseline,
    /// Qualified but reversed before the hold ended.
    FailedHold,
    /// Qualified; the hold has not ended by `as_of`.
    OnHold,
    Paid,
}

/// Judges one player against the baseline as of a day.
pub fn cpa_verdict(cpa: &Cpa, p: &CpaPlayer, as_of: NaiveDate) -> CpaVerdict {
    let Some(ftd) = p.ftd_day else {
        return CpaVerdict::NoFtd;
    };
    let b = &cpa.baseline;
    let in_window = b
        .window_days
        .is_none_or(|w| (ftd - p.registered).num_days() <= w as i64);
    if !in_window
        || b.min_deposit.is_some_and(|m| p.deposits < m)
        || b.min_wagering.is_some_and(|m| p.wagering < m)
    {
        return CpaVerdict::BelowBaseline;
    }
    let hold = u64::from(b.hold_days.unwrap_or(0));
    // A hold ending beyond the last representable day never ends.
    let hold_end = ftd
        .checked_add_days(chrono::Days::new(hold))
        .unwrap_or(NaiveDate::MAX);
    match p.reversed_on {
        Some(r) if r <= hold_end => CpaVerdict::FailedHold,
        _ if as_of < hold_end => CpaVerdict::OnHold,
        _ => CpaVerdict::Paid,
    }
}

/// CPA commission: `amount` × players whose verdict is `Paid`.
pub fn cpa_commission(
    cpa: &Cpa,
    players: &[CpaPlayer],
    as_of: NaiveDate,
) -> Result<Decimal, Overflow> {
    let paid = players
        .iter()
        .filter(|p| cpa_verdict(cpa, p, as_of) == CpaVerdict::Paid)
        .count();
    fits(cpa.amount.checked_mul(Decimal::from(paid)))
}

/// A jurisdiction's NGR formula: NGR = ggr_factor × GGR − bonus − payment_fee × (deposits +
/// withdrawals) − admin_fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgrFormula {
    pub ggr_factor: Decimal,
    pub payment_fee: Decimal,
    pub admin_fee: Decimal,
}

impl Default for NgrFormula {
    fn default() -> Self {
        NgrFormula {
            ggr_factor: Decimal::ONE,
            payment_fee: Decimal::ZERO,
            admin_fee: Decimal::ZERO,
        }
    }
}

impl NgrFormula {
    pub fn ngr(
        &self,
        ggr: Decimal,
        bonus: Decimal,
        deposits: Decimal,
        withdrawals: Decimal,
    ) -> Result<Decimal, Overflow> {
        let gross = fits(self.ggr_factor.checked_mul(ggr))?;
        let fee = fits(
            deposits
                .checked_add(withdrawals)
                .and_then(|p| self.payment_fee.checked_mul(p)),
        )?;
        fits(
            gross
                .checked_sub(bonus)
                .and_then(|n| n.checked_sub(fee))
                .and_then(|n| n.checked_sub(self.admin_fee)),
        )
    }
}

/// RevShare on a base (NGR or FTD count picks the band; the rate applies to `ngr`).
/// Whole-band: all of `ngr` at the rate of the band `basis_value` falls in. Marginal: each
/// slice of `ngr` at its own band's rate (bands measured on NGR). Negative NGR earns 0.
pub fn revshare(rs: &RevShare, ngr: Decimal, basis_value: Decimal) -> Result<Decimal, Overflow> {
    if ngr <= Decimal::ZERO || rs.tiers.is_empty() {
        return Ok(Decimal::ZERO);
    }
    match rs.mode {
        TierMode::WholeBand => {
            let tier = rs
                .tiers
                .iter()
                .find(|t| t.up_to.is_none_or(|u| basis_value <= u))
                .or(rs.tiers.last());
            match tier {
                Some(t) => fits(ngr.checked_mul(t.rate)),
                None => Ok(Decimal::ZERO),
            }
        }
        TierMode::Marginal => {
            let mut total = Decimal::ZERO;
            let mut lower = Decimal::ZERO;
            for t in &rs.tiers {
                let upper = t.up_to.map_or(ngr, |u| u.min(ngr));
                if upper > lower {
                    let slice = fits(upper.checked_sub(lower).and_then(|s| s.checked_mul(t.rate)))?;
                    total = fits(total.checked_add(slice))?;
                }
                match t.up_to {
                    Some(u) if u < ngr => lower = u,
                    _ => break,
                }
            }
            Ok(total)
        }
    }
}

/// One period's figures for a partner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodStats {
    pub ngr: Decimal,
    pub ftd_count: u32,
    /// Players paid CPA this period (already judged by [`cpa_commission`] or reported).
    pub qualified_ftd: u32,
    /// Each sub-partner's revshare commission this period (for the override).
    pub sub_revshare: Vec<Decimal>,
}

/// What carries into the next period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carry {
    /// Negative NGR still to offset (≤ 0).
    pub negative: Decimal,
}

/// Commission for one period under a deal: CPA part + RevShare part (after negative
/// carryover) + override on subs. Returns the commission and the carry for next period.
pub fn commission(
    deal: &Deal,
    period: &PeriodStats,
    carry: Carry,
) -> Result<(Decimal, Carry), Overflow> {
    let mut total = Decimal::ZERO;
    if let Some(cpa) = &deal.cpa {
        total = fits(cpa.amount.checked_mul(Decimal::from(period.qualified_ftd)))?;
    }
    let mut next = Carry::default();
    if let Some(rs) = &deal.revshare {
        let base = if deal.negative_carryover {
            fits(period.ngr.checked_add(carry.negative))?
        } else {
            period.ngr
        };
        if deal.negative_carryover && base < Decimal::ZERO {
            let mut neg = base;
            if let Some(cap) = deal.carryover_cap {
                neg = neg.max(-cap.abs());
            }
            next.negative = neg;
        }
        let basis = match rs.basis {
            crate::model::TierBasis::NetRevenue => base,
            crate::model::TierBasis::FtdCount => Decimal::from(period.ftd_count),
        };
        total = fits(total.checked_add(revshare(rs, base, basis)?))?;
    }
    if let Some(share) = deal.sub_override {
        for c in &period.sub_revshare {
            total = fits(c.checked_mul(share).and_then(|o| total.checked_add(o)))?;
        }
    }
    Ok((total, next))
}

/// Commission over consecutive periods, carrying negative NGR forward.
pub fn commission_series(deal: &Deal, periods: &[PeriodStats]) -> Result<Vec<Decimal>, Overflow> {
    let mut carry = Carry::default();
    periods
        .iter()
        .map(|p| {
            let (c, next) = commission(deal, p, carry)?;
            carry = next;
            Ok(c)
        })
        .collect()
}

/// One partner's payout to check.
#[derive(Debug, Clone)]
pub struct PayoutCase {
    pub deal: Deal,
    /// Periods in order; the last one is the one being paid.
    pub periods: Vec<PeriodStats>,
    pub old: Option<Decimal>,
    pub new: Option<Decimal>,
}

/// Settings of the `payout` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutConfig {
    /// Allowed |difference| in money (e.g. 0.01).
    pub tolerance: Decimal,
    /// Outcome when the new platform disagrees with the recomputation.
    pub on_new_mismatch: Outcome,
    /// Outcome when only the old platform disagrees (a known legacy bug, often).
    pub on_old_mismatch: Outcome,
}

impl Default for PayoutConfig {
    fn default() -> Self {
        PayoutConfig {
            tolerance: Decimal::new(1, 2),
            on_new_mismatch: Outcome::Fail,
            on_old_mismatch: Outcome::Warn,
        }
    }
}

/// Recomputes each case and compares recomputed vs old vs new.
pub fn check(cases: &[PayoutCase], cfg: &PayoutConfig) -> CheckResult {
    if cases.is_empty() {
        return CheckResult::inconclusive("no partners to pay");
    }
    let mut outcome = Outcome::Pass;
    let mut findings = Vec::new();
    for c in cases {
        let series = match commission_series(&c.deal, &c.periods) {
            Ok(s) => s,
            Err(e) => {
                return CheckResult::new(
                    Outcome::Error,
                    format!(
                        "partner {}: the recomputed commission is {e}; nothing was compared",
                        c.deal.partner
                    ),
                    Vec::new(),
                );
            }
        };
        let Some(expected) = series.last().copied() else {
            findings.push(Finding::new(
                "no_period",
                &c.deal.partner,
                "no period figures to recompute from",
            ));
            outcome = worst(outcome, Outcome::Warn);
            continue;
        };
        // A difference beyond the decimal range exceeds any tolerance.
        let off = |v: Option<Decimal>| {
            v.is_none_or(|v| {
                v.checked_sub(expected)
                    .is_none_or(|d| d.abs() > cfg.tolerance)
            })
        };
        let (old_off, new_off) = (off(c.old), off(c.new));
        let code = match (old_off, new_off) {
            (false, false) => continue,
            (true, false) => "old_differs",
            (false, true) => "new_differs",
            (true, true) => "both_differ",
        };
        outcome = worst(
            outcome,
            if new_off {
                cfg.on_new_mismatch
            } else {
                cfg.on_old_mismatch
            },
        );
        findings.push(
            Finding::new(
                code,
                &c.deal.partner,
                format!(
                    "recomputed {expected} {}, old {}, new {}",
                    c.deal.currency,
                    c.old.map_or("missing".into(), |v| v.to_string()),
                    c.new.map_or("missing".into(), |v| v.to_string())
                ),
            )
            .values(c.old, c.new)
            .expected(expected),
        );
    }
    let reason = if findings.is_empty() {
        format!("{} partners: recomputed, old and new agree", cases.len())
    } else {
        format!("{} of {} partners disagree", findings.len(), cases.len())
    };
    CheckResult::new(outcome, reason, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CpaBaseline, Tier, TierBasis};

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + chrono::Days::new(n as u64)
    }

    fn deal() -> Deal {
        Deal {
            partner: "p".into(),
            currency: "USD".into(),
            cpa: None,
            revshare: None,
            negative_carryover: false,
            carryover_cap: None,
            sub_override: None,
        }
    }

    fn tiers(mode: TierMode) -> RevShare {
        RevShare {
            basis: TierBasis::NetRevenue,
            mode,
            tiers: vec![
                Tier {
                    up_to: Some(dec("20000")),
                    rate: dec("0.25"),
                },
                Tier {
                    up_to: Some(dec("50000")),
                    rate: dec("0.30"),
                },
                Tier {
                    up_to: None,
                    rate: dec("0.35"),
                },
            ],
        }
    }

    fn flat(rate: &str) -> RevShare {
        RevShare {
            basis: TierBasis::NetRevenue,
            mode: TierMode::WholeBand,
            tiers: vec![Tier {
                up_to: None,
                rate: dec(rate),
            }],
        }
    }

    /// DOMAIN.md: $100 CPA, 40 FTDs, 38 meet the baseline, 36 survive the hold -> $3,600.
    #[test]
    fn cpa_with_baseline_and_hold() {
        let cpa = Cpa {
            amount: dec("100"),
            baseline: CpaBaseline {
                min_deposit: Some(dec("20")),
                min_wagering: None,
                window_days: Some(30),
                hold_days: Some(14),
            },
        };
        let players: Vec<CpaPlayer> = (0..40)
            .map(|i| CpaPlayer {
                id: format!("c{i}"),
                registered: day(0),
                ftd_day: Some(day(1)),
                deposits: if i < 2 { dec("10") } else { dec("50") },
                wagering: dec("0"),
                reversed_on: if (2..4).contains(&i) {
                    Some(day(5))
                } else {
                    None
                },
            })
            .collect();
        assert_eq!(cpa_commission(&cpa, &players, day(30)), Ok(dec("3600")));
        assert_eq!(
            cpa_verdict(&cpa, &players[0], day(30)),
            CpaVerdict::BelowBaseline
        );
        assert_eq!(
            cpa_verdict(&cpa, &players[2], day(30)),
            CpaVerdict::FailedHold
        );
        assert_eq!(cpa_verdict(&cpa, &players[5], day(10)), CpaVerdict::OnHold);
    }

    /// DOMAIN.md: GGR 10,000, bonus 1,500, payments 20,000 -> NGR 4,850; 30% -> 1,455.
    #[test]
    fn ngr_formula_and_flat_revshare() {
        let f = NgrFormula {
            ggr_factor: dec("0.835"),
            payment_fee: dec("0.10"),
            admin_fee: Decimal::ZERO,
        };
        let ngr = f
            .ngr(dec("10000"), dec("1500"), dec("12000"), dec("8000"))
            .unwrap();
        assert_eq!(ngr, dec("4850"));
        assert_eq!(revshare(&flat("0.30"), ngr, ngr), Ok(dec("1455")));
    }

    /// DOMAIN.md: March NGR -10,000, April +15,000 at 30% -> 1,500 (4,500 without carryover).
    #[test]
    fn negative_carryover() {
        let mut d = deal();
        d.revshare = Some(flat("0.30"));
        let periods = [
            PeriodStats {
                ngr: dec("-10000"),
                ..PeriodStats::default()
            },
            PeriodStats {
                ngr: dec("15000"),
                ..PeriodStats::default()
            },
        ];
        assert_eq!(
            commission_series(&d, &periods),
            Ok(vec![dec("0"), dec("4500")])
        );
        d.negative_carryover = true;
        assert_eq!(
            commission_series(&d, &periods),
            Ok(vec![dec("0"), dec("1500")])
        );
        // A cap of 4,000 limits what carries: (15,000 - 4,000) x 30% = 3,300.
        d.carryover_cap = Some(dec("4000"));
        assert_eq!(commission_series(&d, &periods).unwrap()[1], dec("3300"));
    }

    /// DOMAIN.md: tiers 25% to 20k, 30% to 50k, 35% above, NGR 60k: whole-band 21,000;
    /// marginal 17,500.
    #[test]
    fn tiers_whole_band_and_marginal() {
        let ngr = dec("60000");
        assert_eq!(
            revshare(&tiers(TierMode::WholeBand), ngr, ngr),
            Ok(dec("21000"))
        );
        assert_eq!(
            revshare(&tiers(TierMode::Marginal), ngr, ngr),
            Ok(dec("17500"))
        );
        // Inside the first band both modes agree.
        let small = dec("10000");
        assert_eq!(
            revshare(&tiers(TierMode::Marginal), small, small),
            Ok(dec("2500"))
        );
        assert_eq!(
            revshare(&tiers(TierMode::WholeBand), small, small),
            Ok(dec("2500"))
        );
    }

    /// DOMAIN.md: 20 QFTD x $50 + 15% x NGR 8,000 = $2,200.
    #[test]
    fn hybrid() {
        let mut d = deal();
        d.cpa = Some(Cpa {
            amount: dec("50"),
            baseline: CpaBaseline::default(),
        });
        d.revshare = Some(flat("0.15"));
        let p = PeriodStats {
            ngr: dec("8000"),
            qualified_ftd: 20,
            ..PeriodStats::default()
        };
        assert_eq!(commission(&d, &p, Carry::default()).unwrap().0, dec("2200"));
    }

    /// DOMAIN.md: sub-partner override 5% of the sub's revshare commission ($2,000) -> $100.
    #[test]
    fn sub_partner_override() {
        let mut d = deal();
        d.sub_override = Some(dec("0.05"));
        let p = PeriodStats {
            sub_revshare: vec![dec("2000")],
            ..PeriodStats::default()
        };
        assert_eq!(commission(&d, &p, Carry::default()).unwrap().0, dec("100"));
    }

    #[test]
    fn three_way_comparison() {
        let mut d = deal();
        d.revshare = Some(flat("0.30"));
        let case = |old: &str, new: &str| PayoutCase {
            deal: d.clone(),
            periods: vec![PeriodStats {
                ngr: dec("4850"),
                ..PeriodStats::default()
            }],
            old: Some(dec(old)),
            new: Some(dec(new)),
        };
        let cfg = PayoutConfig::default();
        let r = check(&[case("1455", "1455.00")], &cfg);
        assert_eq!(r.outcome, Outcome::Pass);
        let r = check(&[case("1400", "1455")], &cfg);
        assert_eq!(
            (r.outcome, r.findings[0].code),
            (Outcome::Warn, "old_differs")
        );
        assert_eq!(r.findings[0].expected, Some(dec("1455")));
        let r = check(&[case("1455", "1500")], &cfg);
        assert_eq!(
            (r.outcome, r.findings[0].code),
            (Outcome::Fail, "new_differs")
        );
        let r = check(&[case("1", "2")], &cfg);
        assert_eq!(r.findings[0].code, "both_differ");
        assert_eq!(check(&[], &cfg).outcome, Outcome::Inconclusive);
    }

    /// Regression: payout sums overflowed `Decimal` (a panic in `+` and `*`); now the
    /// result is `error` naming the partner.
    #[test]
    fn overflow_in_sums_is_an_error_naming_the_partner() {
        let max = Decimal::MAX;
        let mut d = deal();
        d.revshare = Some(flat("2"));
        d.sub_override = Some(dec("1"));
        let p = PeriodStats {
            ngr: max,
            ..PeriodStats::default()
        };
        assert_eq!(commission(&d, &p, Carry::default()), Err(Overflow));
        let p = PeriodStats {
            sub_revshare: vec![max, max],
            ..PeriodStats::default()
        };
        d.revshare = None;
        assert_eq!(commission(&d, &p, Carry::default()), Err(Overflow));
        let f = NgrFormula::default();
        assert_eq!(f.ngr(max, -max, dec("0"), dec("0")), Err(Overflow));
        let r = check(
            &[PayoutCase {
                deal: d.clone(),
                periods: vec![p],
                old: Some(dec("1")),
                new: Some(dec("1")),
            }],
            &PayoutConfig::default(),
        );
        assert_eq!(r.outcome, Outcome::Error);
        assert_eq!(
            r.reason,
            "partner p: the recomputed commission is beyond the decimal range (±79228162514264337593543950335); nothing was compared"
        );
        // Reported values far from the recomputation: a difference beyond the range
        // still differs.
        let mut d = deal();
        d.revshare = Some(flat("1"));
        let r = check(
            &[PayoutCase {
                deal: d,
                periods: vec![PeriodStats {
                    ngr: max,
                    ..PeriodStats::default()
                }],
                old: Some(-max),
                new: Some(max),
            }],
            &PayoutConfig::default(),
        );
        assert_eq!(r.findings[0].code, "old_differs");
        // A hold that would end after the last representable day never ends.
        let cpa = Cpa {
            amount: dec("1"),
            baseline: CpaBaseline {
                hold_days: Some(u32::MAX),
                ..CpaBaseline::default()
            },
        };
        let late = NaiveDate::MAX.pred_opt().unwrap();
        let player = CpaPlayer {
            id: "x".into(),
            registered: late,
            ftd_day: Some(late),
            deposits: dec("1"),
            wagering: dec("0"),
            reversed_on: None,
        };
        assert_eq!(cpa_verdict(&cpa, &player, late), CpaVerdict::OnHold);
    }
}
