//! Each classifier rule on a small hand-made check run: the signature it verifies gives a
//! proposal with its evidence and group title, and the defect next to it gives none.

use chrono::NaiveDate;
use cutover_recon::classify::{
    Category, ClassifyInput, Hierarchies, HourlySeries, Observation, PullInfo, Repull, StatusSplit,
    VarianceKey, classify,
};
use cutover_recon::{HierarchyRow, Metric, MetricKind};
use rust_decimal::Decimal;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn key(check: &str, partner: &str, d: u32, metric: Metric) -> VarianceKey {
    VarianceKey {
        check: check.into(),
        partner: partner.into(),
        day: day(d),
        metric,
        link: None,
        coupon: None,
    }
}

fn count(partner: &str, d: u32, m: Metric, old: i64, new: i64) -> Observation {
    Observation::new(
        key("reconcile", partner, d, m),
        MetricKind::Count,
        Decimal::from(old),
        Decimal::from(new),
    )
}

fn money(partner: &str, d: u32, m: Metric, old: &str, new: &str, cur: (&str, &str)) -> Observation {
    let mut o = Observation::new(
        key("reconcile", partner, d, m),
        MetricKind::Money,
        dec(old),
        dec(new),
    );
    o.old_currency = Some(cur.0.into());
    o.new_currency = Some(cur.1.into());
    o
}

/// Splits observations into variances and matching keys, as a check run would.
fn run(obs: Vec<Observation>) -> ClassifyInput {
    let mut input = ClassifyInput {
        as_of: Some(day(28)),
        ..Default::default()
    };
    for o in obs {
        if o.old != o.new {
            input.variances.push(o);
        } else {
            input.matching.push(o);
        }
    }
    input
}

fn categories(input: &ClassifyInput) -> Vec<Option<Category>> {
    classify(input)
        .proposals
        .iter()
        .map(|p| p.as_ref().map(|p| p.category))
        .collect()
}

#[test]
fn the_ten_category_names() {
    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        [
            "tz_shift",
            "fx",
            "rounding",
            "gross_unique",
            "status_scope",
            "late_data",
            "hierarchy",
            "attribution_swap",
            "coupon_precedence",
            "truncation"
        ]
    );
    for c in Category::ALL {
        assert_eq!(Category::parse(c.as_str()), Some(c));
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        assert_eq!(
            serde_json::from_value::<Category>(c.as_str().into()).unwrap(),
            c
        );
    }
    assert_eq!(Category::parse("typo"), None);
    assert!(serde_json::from_value::<Category>("typo".into()).is_err());
}

/// Clicks of one partner over 10 days, with the hourly series; on the new platform the
/// day starts 2 h earlier.
fn tz_run(shift_by: usize, tamper: Option<u32>) -> ClassifyInput {
    let mut hourly = Vec::new();
    let mut old = Vec::new();
    for d in 1..=10u32 {
        let mut v = [Decimal::ZERO; 24];
        for (h, x) in v.iter_mut().enumerate() {
            *x = Decimal::from(((d as usize * 7 + h * 3) % 11 + h / 4) as i64);
        }
        old.push(v);
        hourly.push(HourlySeries {
            partner: "P-2572".into(),
            metric: Metric::ClicksGross,
            day: day(d),
            values: v,
        });
    }
    let last = |v: &[Decimal; 24]| v[24 - shift_by..].iter().copied().sum::<Decimal>();
    let mut obs = Vec::new();
    for d in 1..=10usize {
        let o: Decimal = old[d - 1].iter().copied().sum();
        let inn = if d > 1 {
            last(&old[d - 2])
        } else {
            Decimal::from(9)
        };
        let mut n = o - last(&old[d - 1]) + inn;
        if tamper == Some(d as u32) {
            n -= Decimal::from(5);
        }
        let mut x = count("P-2572", d as u32, Metric::ClicksGross, 0, 0);
        x.old = o;
        x.new = n;
        obs.push(x);
    }
    let mut input = run(obs);
    input.hourly = hourly;
    input
}

#[test]
fn tz_shift_verified_hour_by_hour_with_a_group_title() {
    let input = tz_run(2, None);
    let out = classify(&input);
    assert!(!input.variances.is_empty());
    assert_eq!(out.proposed(), input.variances.len());
    assert_eq!(out.groups.len(), 1);
    let g = &out.groups[0];
    assert_eq!(g.category, Category::TzShift);
    assert_eq!(
        g.title,
        format!(
            "partner P-2572: count metrics shifted 2 h (earlier day start), {} keys",
            input.variances.len()
        )
    );
    assert_eq!(g.evidence.facts["hours"], "2");
    assert_eq!(g.id, "tz_shift:reconcile:P-2572");
    assert!(g.confidence > Decimal::ZERO && g.confidence <= Decimal::ONE);
}

#[test]
fn tz_shift_with_events_lost_on_one_day_is_not_proposed() {
    let input = tz_run(2, Some(6));
    assert!(categories(&input).iter().all(Option::is_none));
}

fn fx_run(commission_rate: &str) -> ClassifyInput {
    let mut obs = Vec::new();
    let rate = dec("1.0850");
    let cr = dec(commission_rate);
    for d in 1..=5 {
        obs.push(count(
            "P-1",
            d,
            Metric::FtdCount,
            3 + d as i64,
            3 + d as i64,
        ));
        let amount = Decimal::from(100 + 37 * d) + dec("0.1234");
        let commission = Decimal::from(30 * d) + dec("0.5");
        obs.push(money(
            "P-1",
            d,
            Metric::FtdAmount,
            &amount.to_string(),
            &(amount * rate).round_dp(2).to_string(),
            ("EUR", "USD"),
        ));
        obs.push(money(
            "P-1",
            d,
            Metric::Commission,
            &commission.to_string(),
            &(commission * rate * cr).round_dp(2).to_string(),
            ("EUR", "USD"),
        ));
    }
    run(obs)
}

#[test]
fn fx_constant_ratio_with_equal_counts_and_a_wrong_rate_beside_it() {
    let input = fx_run("1");
    let out = classify(&input);
    assert_eq!(out.proposed(), 10);
    assert_eq!(out.groups[0].category, Category::Fx);
    assert!(
        out.groups[0]
            .title
            .contains("money in USD instead of EUR at 1.085")
    );
    // The commission at 90% of the deal on top of the conversion: not a ratio.
    assert!(categories(&fx_run("0.9")).iter().all(Option::is_none));
}

#[test]
fn rounding_within_half_a_cent_per_row_only() {
    let mut a = money(
        "P-1",
        1,
        Metric::Commission,
        "10.1249",
        "10.12",
        ("EUR", "EUR"),
    );
    a.old_rows = 1;
    let mut b = money(
        "P-1",
        2,
        Metric::Commission,
        "7.0051",
        "7.01",
        ("EUR", "EUR"),
    );
    b.old_rows = 1;
    let out = classify(&run(vec![a.clone(), b]));
    assert_eq!(out.proposed(), 2);
    assert_eq!(out.groups[0].category, Category::Rounding);
    // Three cents on one row is no rounding, and it spoils the series.
    let c = money(
        "P-1",
        2,
        Metric::Commission,
        "7.0051",
        "7.04",
        ("EUR", "EUR"),
    );
    assert!(categories(&run(vec![a, c])).iter().all(Option::is_none));
}

#[test]
fn gross_unique_exact_and_duplicated_rows_are_not() {
    let mut obs = Vec::new();
    for d in 1..=4 {
        let gross = 100 + d as i64 * 10;
        let unique = 80 + d as i64 * 7;
        obs.push(count("P-1", d, Metric::ClicksGross, gross, unique));
        obs.push(count("P-1", d, Metric::ClicksUnique, unique, unique));
        obs.push(count("P-1", d, Metric::Registrations, 5, 5));
    }
    let out = classify(&run(obs));
    assert_eq!(out.proposed(), 4);
    assert_eq!(out.groups[0].category, Category::GrossUnique);
    assert_eq!(out.groups[0].evidence.facts["basis"], "exact");
    // Duplicated rows: every metric doubles.
    let mut dup = Vec::new();
    for d in 1..=4 {
        for m in [
            Metric::ClicksGross,
            Metric::ClicksUnique,
            Metric::Registrations,
        ] {
            dup.push(count("P-1", d, m, 50, 100));
        }
    }
    assert!(categories(&run(dup)).iter().all(Option::is_none));
}

#[test]
fn status_scope_is_the_pending_part_on_every_key() {
    let mk = |d: u32, old: &str, new: &str, pending: &str| {
        let mut o = money("P-1", d, Metric::Commission, old, new, ("EUR", "EUR"));
        o.status = Some(StatusSplit {
            old_pending: dec(pending),
            ..Default::default()
        });
        o
    };
    let good = vec![
        mk(20, "100", "100", "0"),
        mk(26, "100", "70", "30"),
        mk(27, "80", "20", "60"),
    ];
    let out = classify(&run(good));
    assert_eq!(out.proposed(), 2);
    assert_eq!(out.groups[0].category, Category::StatusScope);
    assert!(out.groups[0].title.contains("leaves out pending"));
    // A day with a pending part that nevertheless matches: the new platform does count
    // pending there, so the gap on the other day is something else.
    let bad = vec![mk(26, "100", "100", "30"), mk(27, "80", "20", "60")];
    assert!(categories(&run(bad)).iter().all(Option::is_none));
}

#[test]
fn late_data_shrinks_across_repulls_and_lost_data_does_not() {
    let mk = |pulls: [(i64, i64); 3]| {
        let mut o = count("P-1", 27, Metric::FtdCount, pulls[2].0, pulls[2].1);
        o.history = pulls[..2]
            .iter()
            .enumerate()
            .map(|(k, (a, b))| Repull {
                pulled_on: day(26 + k as u32),
                old: Decimal::from(*a),
                new: Decimal::from(*b),
            })
            .collect();
        o
    };
    let out = classify(&run(vec![mk([(10, 4), (10, 7), (10, 9)])]));
    assert_eq!(out.proposed(), 1);
    assert_eq!(out.groups[0].category, Category::LateData);
    assert!(categories(&run(vec![mk([(10, 7), (10, 7), (10, 7)])]))[0].is_none());
    // Values going down again: noise, not late data.
    assert!(categories(&run(vec![mk([(10, 4), (10, 8), (10, 6)])]))[0].is_none());
}

fn tree(sub_parent: &str) -> Vec<HierarchyRow> {
    vec![HierarchyRow {
        partner: "S".into(),
        parent: Some(sub_parent.into()),
        valid_from: None,
        valid_to: None,
    }]
}

#[test]
fn hierarchy_moves_the_rollup_by_the_subs_own_numbers() {
    let rollup = |p: &str, old: i64, new: i64| {
        let mut o = count(p, 3, Metric::FtdCount, old, new);
        o.key.check = "rollup".into();
        o
    };
    let obs = vec![
        rollup("M", 12, 8),
        rollup("N", 5, 9),
        count("S", 3, Metric::FtdCount, 4, 4),
    ];
    let mut input = run(obs.clone());
    input.hierarchies = Some(Hierarchies {
        old: tree("M"),
        new: tree("N"),
    });
    let out = classify(&input);
    assert_eq!(out.proposed(), 2);
    assert!(out.groups.iter().all(|g| g.category == Category::Hierarchy));
    // The sub's own numbers differ too: not a hierarchy difference alone.
    let mut obs2 = obs;
    obs2[2] = count("S", 3, Metric::FtdCount, 4, 3);
    let mut input = run(obs2);
    input.hierarchies = Some(Hierarchies {
        old: tree("M"),
        new: tree("N"),
    });
    let c = categories(&input);
    assert!(c.iter().all(Option::is_none), "{c:?}");
}

fn swap_run(coupon: Option<&str>, owner: Option<&str>) -> ClassifyInput {
    let mut obs = Vec::new();
    for d in [4, 9] {
        for (p, sign) in [("A", -1i64), ("B", 1)] {
            let mut c = count(p, d, Metric::FtdCount, 6, 6 + sign * 2);
            let mut m = money(
                p,
                d,
                Metric::FtdAmount,
                "500.5",
                &(dec("500.5") + Decimal::from(sign) * dec("123.45")).to_string(),
                ("EUR", "EUR"),
            );
            for o in [&mut c, &mut m] {
                o.key.coupon = coupon.map(Into::into);
            }
            obs.push(c);
            obs.push(m);
        }
    }
    let mut input = run(obs);
    if let (Some(c), Some(o)) = (coupon, owner) {
        input.coupon_owners.push((c.into(), o.into()));
    }
    input
}

#[test]
fn equal_and_opposite_deltas_between_two_partners() {
    let out = classify(&swap_run(None, None));
    assert_eq!(out.proposed(), 8);
    assert_eq!(out.groups[0].category, Category::AttributionSwap);
    assert_eq!(
        out.groups[0].title,
        "partners A and B: conversions moved from A to B, 8 keys"
    );
    let out = classify(&swap_run(Some("SPRING"), Some("B")));
    assert_eq!(out.groups[0].category, Category::CouponPrecedence);
    // A partner-level check sees the move without coupons; the coupon check of the same
    // run shows it is the coupon's.
    let mut both = swap_run(None, None);
    let by_coupon = swap_run(Some("SPRING"), Some("B"));
    both.coupon_owners = by_coupon.coupon_owners.clone();
    both.variances
        .extend(by_coupon.variances.iter().cloned().map(|mut o| {
            o.key.check = "coupon".into();
            o
        }));
    let out = classify(&both);
    assert_eq!(out.proposed(), 16);
    assert!(
        out.groups
            .iter()
            .all(|g| g.category == Category::CouponPrecedence),
        "{:?}",
        out.groups
    );
    // One side only: conversions lost, nobody gained them.
    let mut one = swap_run(None, None);
    one.variances.retain(|o| o.key.partner == "A");
    assert!(categories(&one).iter().all(Option::is_none));
}

#[test]
fn truncation_needs_a_pull_at_its_cap() {
    let mut a = count("P-1", 5, Metric::Registrations, 3, 0);
    a.new_rows = 0;
    let mut input = run(vec![a]);
    let pull = |rows| PullInfo {
        check: "reconcile".into(),
        new_side: true,
        partner: None,
        rows,
        cap: Some(10_000),
        incomplete: false,
    };
    input.pulls = vec![pull(9_000)];
    assert!(categories(&input)[0].is_none());
    input.pulls = vec![pull(10_000)];
    let out = classify(&input);
    assert_eq!(out.groups[0].category, Category::Truncation);
    assert_eq!(
        out.groups[0].evidence.facts["pull"],
        "10000 rows of a 10000-row cap"
    );
    // Cut off on both sides: two groups of one partner, with distinct ids.
    let mut b = count("P-1", 6, Metric::Registrations, 0, 2);
    b.old_rows = 0;
    input.variances.push(b);
    input.pulls.push(PullInfo {
        new_side: false,
        incomplete: true,
        cap: None,
        ..pull(7)
    });
    let ids: Vec<String> = classify(&input).groups.into_iter().map(|g| g.id).collect();
    assert_eq!(
        ids,
        ["truncation:reconcile:P-1", "truncation:reconcile:P-1#2"]
    );
}

#[test]
fn the_same_run_gives_the_same_answer() {
    let input = swap_run(None, None);
    assert_eq!(classify(&input), classify(&input));
    assert_eq!(classify(&ClassifyInput::default()).groups, vec![]);
}

#[test]
fn values_at_the_ends_of_the_decimal_range_give_no_proposal_and_no_panic() {
    let mut obs = Vec::new();
    for (d, old, new) in [
        (1, Decimal::MAX, Decimal::MIN),
        (2, Decimal::MIN, Decimal::MAX),
        (3, Decimal::MAX, dec("0.0001")),
        (4, dec("-0.0001"), Decimal::MAX),
    ] {
        for m in [Metric::Commission, Metric::FtdAmount] {
            let mut o = money("P-1", d, m, "0", "0", ("EUR", "USD"));
            o.old = old;
            o.new = new;
            o.old_rows = u32::MAX;
            o.status = Some(StatusSplit {
                old_pending: Decimal::MAX,
                old_rejected: Decimal::MAX,
                new_pending: Decimal::MIN,
                new_rejected: Decimal::MIN,
            });
            o.history = vec![Repull {
                pulled_on: day(d),
                old: Decimal::MIN,
                new: Decimal::MAX,
            }];
            obs.push(o);
        }
        let mut c = count("P-1", d, Metric::FtdCount, 0, 0);
        c.old = old;
        c.new = new;
        obs.push(c);
    }
    let mut input = run(obs);
    input.hierarchies = Some(Hierarchies {
        old: tree("P-1"),
        new: tree("P-2"),
    });
    input.hourly.push(HourlySeries {
        partner: "P-1".into(),
        metric: Metric::FtdCount,
        day: day(1),
        values: [Decimal::MAX; 24],
    });
    let out = classify(&input);
    assert_eq!(out.proposals.len(), input.variances.len());
    assert_eq!(out.proposed(), 0);
}
