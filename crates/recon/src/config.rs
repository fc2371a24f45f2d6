//! Building each check kind's runtime settings from the plan's validated, typed params
//! ([`cutover_plan::CheckConfig`]). Names were checked at load time, so conversion only
//! fails for a plan built by hand with bad names.

use std::str::FromStr;

use cutover_plan::check_config::{DealSpec, LimitSpec, ToleranceSpec};
use cutover_plan::{CheckConfig, Outcome};
use rust_decimal::Decimal;

use crate::attribution::{AttributionConfig, Expectation, Tracker};
use crate::check::Thresholds;
use crate::event_flow::EventFlowConfig;
use crate::event_match::{EventMatchConfig, MatchBy};
use crate::mapping::MetricMap;
use crate::model::{
    Cpa, CpaBaseline, Deal, EventType, Metric, MetricVocabulary, RevShare, System, Tier, TierBasis,
    TierMode,
};
use crate::payout::{NgrFormula, PayoutConfig};
use crate::reconcile::{MetricTolerance, ReconcileConfig};
use crate::record_sync::RecordSyncConfig;
use crate::rollup::RollupConfig;

/// A check kind's settings, ready to run.
#[derive(Debug, Clone)]
pub enum Built {
    Reconcile {
        config: ReconcileConfig,
        labels: MetricMap,
        rate_table: Option<String>,
        days: Option<u32>,
    },
    Rollup(RollupConfig),
    Attribution(AttributionConfig),
    EventFlow(EventFlowConfig),
    Payout {
        config: PayoutConfig,
        ngr: NgrFormula,
        deals: Vec<Deal>,
    },
    RecordSync(RecordSyncConfig),
    EventMatch(EventMatchConfig),
}

/// A name the plan loader would have rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} \"{name}\"")]
pub struct BadName {
    pub what: &'static str,
    pub name: String,
}

fn metric(s: &str) -> Result<Metric, BadName> {
    Metric::from_str(s).map_err(|_| BadName {
        what: "metric",
        name: s.to_owned(),
    })
}

fn tolerance(t: &ToleranceSpec) -> MetricTolerance {
    MetricTolerance {
        abs: t.abs,
        rel: t.rel,
        rounding_per_row: t.rounding_per_row,
    }
}

/// Count thresholds. A check given no `warn:` or `fail:` at all is strict: any problem
/// fails it (a check with no way to fail would be no check).
fn thresholds(warn: &LimitSpec, fail: &LimitSpec) -> Thresholds {
    if warn.count.is_none() && fail.count.is_none() && fail.money.is_none() {
        return Thresholds::STRICT;
    }
    Thresholds {
        warn_at: warn.count,
        fail_at: fail.count,
    }
}

/// A deal from the plan (currency defaults to the plan's).
pub fn deal(d: &DealSpec, plan_currency: &str) -> Deal {
    Deal {
        partner: d.partner.clone(),
        currency: d
            .currency
            .clone()
            .unwrap_or_else(|| plan_currency.to_owned()),
        cpa: d.cpa.as_ref().map(|c| Cpa {
            amount: c.amount,
            baseline: CpaBaseline {
                min_deposit: c.min_deposit,
                min_wagering: c.min_wagering,
                window_days: c.window_days,
                hold_days: c.hold_days,
            },
        }),
        revshare: d.revshare.as_ref().map(|r| RevShare {
            basis: if r.basis == "ftd_count" {
                TierBasis::FtdCount
            } else {
                TierBasis::NetRevenue
            },
            mode: if r.mode == "marginal" {
                TierMode::Marginal
            } else {
                TierMode::WholeBand
            },
            tiers: r
                .tiers
                .iter()
                .map(|(up_to, rate)| Tier {
                    up_to: *up_to,
                    rate: *rate,
                })
                .collect(),
        }),
        negative_carryover: d.negative_carryover,
        carryover_cap: d.carryover_cap,
        sub_override: d.sub_override,
    }
}

/// Builds the runtime settings of a check, with the canonical metrics only.
pub fn build(config: &CheckConfig, plan_currency: &str) -> Result<Built, BadName> {
    build_in(config, plan_currency, &MetricVocabulary::canonical())
}

/// Builds the runtime settings of a check of a plan whose metrics are `vocabulary`
/// ([`cutover_plan::Plan::vocabulary`]): declared money metrics count as money.
pub fn build_in(
    config: &CheckConfig,
    plan_currency: &str,
    vocabulary: &MetricVocabulary,
) -> Result<Built, BadName> {
    Ok(match config {
        CheckConfig::Reconcile(r) => {
            let mut labels = MetricMap::new().with_vocabulary(vocabulary.clone());
            for (side, label, m) in &r.labels {
                let system = if side == "old" {
                    System::Old
                } else {
                    System::New
                };
                labels = labels.label(system, label, metric(m)?);
            }
            Built::Reconcile {
                config: ReconcileConfig {
                    default: tolerance(&r.tolerance),
                    metrics: r
                        .metrics
                        .iter()
                        .map(|(m, t)| Ok((metric(m)?, tolerance(t))))
                        .collect::<Result<_, BadName>>()?,
                    only: r.only.iter().map(|m| metric(m)).collect::<Result<_, _>>()?,
                    by_link: r.by_link,
                    by_coupon: r.by_coupon,
                    count: thresholds(&r.warn, &r.fail),
                    money_warn: r.warn.money,
                    money_fail: r.fail.money,
                    vocabulary: vocabulary.clone(),
                },
                labels,
                rate_table: r.rate_table.clone(),
                days: r.days,
            }
        }
        CheckConfig::Rollup(r) => Built::Rollup(RollupConfig {
            metrics: r
                .metrics
                .iter()
                .map(|m| metric(m))
                .collect::<Result<_, _>>()?,
            tolerance: r.tolerance,
        }),
        CheckConfig::Attribution(a) => Built::Attribution(AttributionConfig {
            expect: a
                .links
                .iter()
                .map(|(t, p)| Expectation {
                    tracker: Tracker::Link(t.clone()),
                    partner: p.clone(),
                })
                .chain(a.coupons.iter().map(|(c, p)| Expectation {
                    tracker: Tracker::Coupon(c.clone()),
                    partner: p.clone(),
                }))
                .collect(),
            fail_on_no_events: a.fail_on_no_events,
        }),
        CheckConfig::EventFlow(e) => Built::EventFlow(EventFlowConfig {
            expect: e
                .expect
                .iter()
                .map(|t| {
                    EventType::from_str(t).map_err(|_| BadName {
                        what: "event type",
                        name: t.clone(),
                    })
                })
                .collect::<Result<_, _>>()?,
            min_ratio: e.min_ratio,
            max_ratio: e.max_ratio,
            max_gap: e.max_gap,
            fresh_within: e.fresh_within,
        }),
        CheckConfig::Payout(p) => {
            let outcome = |s: &str| {
                if s == "warn" {
                    Outcome::Warn
                } else {
                    Outcome::Fail
                }
            };
            Built::Payout {
                config: PayoutConfig {
                    tolerance: p.tolerance,
                    on_new_mismatch: outcome(&p.on_new_mismatch),
                    on_old_mismatch: outcome(&p.on_old_mismatch),
                },
                ngr: NgrFormula {
                    ggr_factor: p.ngr.ggr_factor.unwrap_or(Decimal::ONE),
                    payment_fee: p.ngr.payment_fee.unwrap_or_default(),
                    admin_fee: p.ngr.admin_fee.unwrap_or_default(),
                },
                deals: p.deals.iter().map(|d| deal(d, plan_currency)).collect(),
            }
        }
        CheckConfig::RecordSync(r) => Built::RecordSync(RecordSyncConfig {
            fields: r.fields.clone(),
            normalize: r.normalize,
            thresholds: thresholds(&r.warn, &r.fail),
        }),
        CheckConfig::EventMatch(m) => Built::EventMatch(EventMatchConfig {
            by: match m.by.as_str() {
                "order_id" => MatchBy::OrderId,
                "customer" => MatchBy::Customer,
                "event_id" => MatchBy::EventId,
                _ => MatchBy::ClickId,
            },
            amount_tolerance: m.amount_tolerance,
            thresholds: thresholds(&m.warn, &m.fail),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scheduled check in the shipped workflows builds.
    #[test]
    fn shipped_workflows_build() {
        for (name, text) in [
            (
                "affiliate-parallel-run.yaml",
                include_str!("../../../workflows/affiliate-parallel-run.yaml"),
            ),
            (
                "hard-cutover.yaml",
                include_str!("../../../workflows/hard-cutover.yaml"),
            ),
        ] {
            let l = cutover_plan::load(name, text).unwrap_or_else(|d| panic!("{d:?}"));
            for c in &l.plan.checks {
                if let Some(cfg) = c.config() {
                    let cfg = cfg.unwrap_or_else(|e| panic!("{}: {e:?}", c.id));
                    build(&cfg, &l.plan.currency).unwrap_or_else(|e| panic!("{}: {e}", c.id));
                }
            }
        }
    }

    #[test]
    fn payout_deal_from_plan_matches_domain_example() {
        // The example plan's payout deals are the simulator's; the domain example's
        // tiered deal lives here.
        let text = include_str!("../../../workflows/affiliate-parallel-run.yaml");
        let start = text.find("  - id: payout_shadow").unwrap();
        let end = start + text[start..].find("  - id: ftd_event_drilldown").unwrap();
        let text = text.replace(
            &text[start..end],
            "  - id: payout_shadow
    layer: finance
    kind: payout
    schedule: \"0 9 * * 1\"
    params:
      tolerance: \"50.00\"
      ngr: { ggr_factor: 0.835, payment_fee: 0.10 }
      deals:
        - partner: aff-001
          currency: EUR
          revshare:
            mode: marginal
            tiers:
              - { up_to: 20000, rate: 0.25 }
              - { up_to: 50000, rate: 0.30 }
              - { rate: 0.35 }
          negative_carryover: true
          carryover_cap: \"10000\"
          sub_override: 0.05
",
        );
        let l = cutover_plan::load("w.yaml", &text).unwrap();
        let cfg = l
            .plan
            .check("payout_shadow")
            .unwrap()
            .config()
            .unwrap()
            .unwrap();
        let Built::Payout { deals, ngr, .. } = build(&cfg, "EUR").unwrap() else {
            panic!()
        };
        // Tiers 25% to 20k, 30% to 50k, 35% above, marginal, NGR 60k -> 17,500.
        let rs = deals[0].revshare.as_ref().unwrap();
        let v = Decimal::from(60_000);
        assert_eq!(crate::payout::revshare(rs, v, v), Ok(Decimal::from(17_500)));
        assert_eq!(
            ngr.ngr(10_000.into(), 1_500.into(), 12_000.into(), 8_000.into()),
            Ok(Decimal::from(4_850))
        );
    }
}

#[cfg(test)]
mod strict_default {
    use super::*;
    use cutover_plan::ScheduledKind;

    /// A reconcile check with no `warn:`/`fail:` must still be able to fail.
    #[test]
    fn no_thresholds_means_any_problem_fails() {
        let cfg = CheckConfig::from_params(ScheduledKind::Reconcile, &[]).expect("empty params");
        let Ok(Built::Reconcile { config, .. }) = build(&cfg, "EUR") else {
            panic!("not a reconcile config")
        };
        assert_eq!(config.count, Thresholds::STRICT);
        assert_eq!(config.count.judge(1), Outcome::Fail);
        assert_eq!(config.count.judge(0), Outcome::Pass);
    }
}
