//! The simulator's event-level data pulled from both platforms with the Impact preset
//! (Basic auth, `@nextpageuri` paging): the old platform's events add up to its daily
//! aggregates, and the new platform's events carry the injected differences (lost link,
//! pending, coupon precedence, late conversions, FX, its +01:00 clock).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chrono::{Days, TimeDelta};
use common::*;
use cutover_recon::{Event, EventStatus, EventType, Row};
use cutover_sim::{Differences, EventKind, Platform, SimConfig, SimHandle};
use cutover_sources::{Pull, PullStatus, Window, pull};
use rust_decimal::{Decimal, RoundingStrategy};

const TODAY: &str = "2026-11-20";

async fn sim() -> SimHandle {
    let c = SimConfig {
        seed: 7,
        partners: 30,
        days: 30,
        today: Some(day(TODAY)),
        live: false,
        differences: Differences::default(),
        ..SimConfig::default()
    };
    cutover_sim::start(c, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("sim starts")
}

async fn pull_impact(s: &SimHandle, pf: Platform, token: &str, w: Window) -> Pull {
    let src = source(
        "  - id: ev\n    system: old\n    preset: impact\n    http: { rate_limit: 1000, retries: { attempts: 2, base_delay: 5ms, max_delay: 20ms } }\n",
    );
    let opts = env(&[
        ("IMPACT_BASE_URL", &s.base_url(pf)),
        ("IMPACT_ACCOUNT_SID", "IRsim"),
        ("IMPACT_AUTH_TOKEN", token),
    ]);
    pull(&src, w, &opts).await.expect("pull")
}

fn events(p: &Pull) -> BTreeMap<String, &Event> {
    p.rows
        .iter()
        .filter_map(|r| match r {
            Row::Event(e) => Some((e.order_id.clone().expect("Oid"), e)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn impact_preset_pulls_events_with_the_injected_differences() {
    let s = sim().await;
    let w = window("2026-11-17", "2026-11-19");
    let old = pull_impact(&s, Platform::Old, "sim-old-key", w).await;
    let new = pull_impact(&s, Platform::New, "sim-new-key", w).await;
    assert_eq!(old.status, PullStatus::Complete);
    assert_eq!(new.status, PullStatus::Complete);
    assert!(
        old.pages.len() > 1,
        "pages of 1000 followed by @nextpageuri"
    );
    let (o, n) = (events(&old), events(&new));
    assert_eq!(o.len(), old.rows.len(), "order ids are unique");
    let prog = s.program();

    // The old platform's events add up to its daily aggregates.
    for d in [day("2026-11-17"), day("2026-11-18"), day("2026-11-19")] {
        for (i, p) in prog.partners.iter().enumerate() {
            let f = prog.facts(i, d, Platform::Old);
            let ftds: Vec<_> = o
                .values()
                .filter(|e| {
                    e.kind == EventType::Ftd
                        && e.partner.as_deref() == Some(p.id.as_str())
                        && e.occurred_at.date_naive() == d
                })
                .collect();
            let regs = o
                .values()
                .filter(|e| {
                    e.kind == EventType::Registration
                        && e.partner.as_deref() == Some(p.id.as_str())
                        && e.occurred_at.date_naive() == d
                })
                .count();
            assert_eq!(regs as i64, f.registrations, "{} {d}", p.id);
            // Coupon precedence moves none on the old platform: all FTDs on their link owner.
            assert_eq!(ftds.len() as i64, f.ftd_count, "{} {d}", p.id);
            if f.ftd_count > 0 {
                let paid: Decimal = ftds.iter().filter_map(|e| e.amount).sum();
                assert_eq!(paid, f.commission, "Payout sums to commission");
            }
        }
    }
    assert!(o.values().all(|e| e.currency.as_deref() == Some("EUR")));
    assert!(n.values().all(|e| e.currency.as_deref() == Some("USD")));
    assert!(o.values().all(|e| e.status == EventStatus::Approved));
    assert!(o.values().any(|e| e.kind == EventType::Deposit));

    // Lost link: every old FTD on the partner's second link is missing on the new platform.
    let lost = prog.lost_link_partner;
    let link = &prog.partners[lost].links[1];
    let mut lost_ids = 0;
    for d in [day("2026-11-17"), day("2026-11-18"), day("2026-11-19")] {
        for e in prog.events(lost, d, Platform::Old) {
            if e.kind == EventKind::Ftd && &e.link == link {
                assert!(o.contains_key(&e.order_id));
                assert!(!n.contains_key(&e.order_id), "{} lost", e.order_id);
                lost_ids += 1;
            }
        }
    }
    assert!(lost_ids > 0);

    // Coupon precedence: the same FTD under another partner, with the owner's coupon.
    let (from, to) = (
        &prog.partners[prog.coupon_from].id,
        &prog.partners[prog.coupon_to].id,
    );
    let moved: Vec<_> = n
        .iter()
        .filter(|(k, e)| {
            e.partner.as_deref() == Some(to.as_str())
                && o[*k].partner.as_deref() == Some(from.as_str())
        })
        .collect();
    assert!(!moved.is_empty());
    assert!(
        moved
            .iter()
            .all(|(_, e)| e.coupon == prog.partners[prog.coupon_to].coupon)
    );

    // Pending (last 3 days) on the new platform only; late FTDs recorded two days on, and
    // yesterday's late ones not served yet.
    assert!(n.values().any(|e| e.status == EventStatus::Pending));
    let late = |e: &&&Event| e.recorded_at.unwrap() - e.occurred_at >= TimeDelta::days(2);
    assert!(n.values().filter(late).count() > 0);
    assert!(
        n.values()
            .filter(late)
            .all(|e| e.occurred_at.date_naive() + Days::new(2) <= day(TODAY))
    );
    let skip = [lost, prog.coupon_from, prog.coupon_to].map(|i| prog.partners[i].id.clone());
    let ftds_on = |m: &BTreeMap<String, &Event>, d| {
        m.values()
            .filter(|e| e.kind == EventType::Ftd && e.occurred_at.date_naive() == d)
            .filter(|e| !skip.contains(e.partner.as_ref().unwrap()))
            .count()
    };
    let y = day("2026-11-19");
    assert!(ftds_on(&n, y) < ftds_on(&o, y), "late FTDs not served yet");
    assert_eq!(
        ftds_on(&n, day("2026-11-17")),
        ftds_on(&o, day("2026-11-17"))
    );

    // Same instants on both platforms (the new one writes +01:00), money at 1.08 and
    // rounded to 2 decimals.
    let wrong = &prog.partners[prog.wrong_rate_partner].id;
    let (k, ne) = n
        .iter()
        .find(|(_, e)| e.kind == EventType::Ftd && e.partner.as_ref() != Some(wrong))
        .expect("an FTD on both");
    assert_eq!(ne.occurred_at, o[k].occurred_at);
    let expect = (o[k].amount.unwrap() * Decimal::new(108, 2))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(ne.amount, Some(expect), "{k}");
    s.stop().await;
}

#[tokio::test]
async fn impact_endpoint_refuses_wrong_tokens() {
    let s = sim().await;
    let src = source("  - id: ev\n    system: new\n    preset: impact\n");
    let opts = env(&[
        ("IMPACT_BASE_URL", &s.base_url(Platform::New)),
        ("IMPACT_ACCOUNT_SID", "IRsim"),
        ("IMPACT_AUTH_TOKEN", "sim-old-key"),
    ]);
    let err = pull(&src, window("2026-11-17", "2026-11-18"), &opts)
        .await
        .expect_err("wrong token");
    assert!(err.to_string().contains("401"), "{err}");
    s.stop().await;
}
