//! A seeded, deterministic generator of check runs for the classifier: units of one or two
//! partners, each carrying one cause (a legitimate difference or a real defect), with
//! realistic volumes (a long tail of small partners, weekly seasonality, idle days, a
//! diurnal hour profile), and a scoreboard of precision and recall per cause.
//!
//! The generator models the platforms, not the classifier's rules: each cause is applied
//! to event-level data (hours, FTD amounts, lags, statuses) and the checks' keys are then
//! summed from it, as the real sources would.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Days, NaiveDate};
use cutover_recon::classify::{
    Category, ClassifyInput, Hierarchies, HourlySeries, Observation, PullInfo, Repull, StatusSplit,
    VarianceKey, classify,
};
use cutover_recon::{HierarchyRow, Metric, MetricKind};
use rust_decimal::{Decimal, RoundingStrategy};

// ---------------------------------------------------------------------------------------
// Randomness (splitmix64): f64 only for probabilities and volumes, never for money.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    pub fn poisson(&mut self, l: f64) -> i64 {
        if l <= 0.0 {
            return 0;
        }
        if l < 30.0 {
            let (lim, mut k, mut p) = ((-l).exp(), 0, 1.0);
            loop {
                p *= self.unit();
                if p <= lim {
                    return k;
                }
                k += 1;
            }
        }
        (l + l.sqrt() * self.gauss()).round().max(0.0) as i64
    }
    pub fn binomial(&mut self, n: i64, p: f64) -> i64 {
        if n <= 0 || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        if n < 40 {
            return (0..n).filter(|_| self.chance(p)).count() as i64;
        }
        let m = n as f64 * p;
        let sd = (m * (1.0 - p)).sqrt();
        (m + sd * self.gauss()).round().clamp(0.0, n as f64) as i64
    }
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------
// The causes.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    Legit(Category),
    LostDays,
    WrongRate,
    Duplicated,
    Noise,
}

impl Cause {
    pub fn name(self) -> String {
        match self {
            Cause::Legit(c) => c.as_str().to_owned(),
            Cause::LostDays => "defect: lost days".to_owned(),
            Cause::WrongRate => "defect: wrong commission rate".to_owned(),
            Cause::Duplicated => "defect: duplicated rows".to_owned(),
            Cause::Noise => "defect: random noise".to_owned(),
        }
    }
    pub fn is_defect(self) -> bool {
        !matches!(self, Cause::Legit(_))
    }
}

pub const ALL_CAUSES: [Cause; 14] = [
    Cause::Legit(Category::TzShift),
    Cause::Legit(Category::Fx),
    Cause::Legit(Category::Rounding),
    Cause::Legit(Category::GrossUnique),
    Cause::Legit(Category::StatusScope),
    Cause::Legit(Category::LateData),
    Cause::Legit(Category::Hierarchy),
    Cause::Legit(Category::AttributionSwap),
    Cause::Legit(Category::CouponPrecedence),
    Cause::Legit(Category::Truncation),
    Cause::LostDays,
    Cause::WrongRate,
    Cause::Duplicated,
    Cause::Noise,
];

/// What a scenario's sources provide besides the daily keys.
#[derive(Debug, Clone, Copy)]
pub struct Sources {
    /// The old platform's hourly series (from its events).
    pub hourly: bool,
    /// Two earlier pulls of every key.
    pub repulls: bool,
}

// ---------------------------------------------------------------------------------------
// One partner's event-level days on the old platform.

const M: [Metric; 7] = [
    Metric::ClicksGross,
    Metric::ClicksUnique,
    Metric::Registrations,
    Metric::FtdCount,
    Metric::FtdAmount,
    Metric::NetRevenue,
    Metric::Commission,
];
const CG: usize = 0;
const CU: usize = 1;
const REG: usize = 2;
const FTD: usize = 3;
const FTDA: usize = 4;
const NGR: usize = 5;
const COM: usize = 6;

fn kind(m: usize) -> MetricKind {
    if m >= FTDA {
        MetricKind::Money
    } else {
        MetricKind::Count
    }
}

/// Share of a day's events per hour of the old platform's day (evening peak).
const PROFILE: [f64; 24] = [
    3.0, 2.0, 1.5, 1.0, 1.0, 1.0, 1.5, 2.5, 3.5, 4.5, 5.0, 5.0, 5.0, 5.0, 5.0, 5.5, 6.0, 6.5, 7.0,
    7.5, 7.5, 7.0, 5.5, 4.0,
];

#[derive(Clone, Default)]
struct Ftd {
    hour: usize,
    amount: i64,
    commission: i64,
    lag: i64,
    coupon: bool,
}

/// One day: values by metric and hour, in units (counts; money in 1/10000).
#[derive(Clone)]
struct Day {
    h: [[i64; 24]; 7],
    ftds: Vec<Ftd>,
}

impl Day {
    fn total(&self, m: usize) -> i64 {
        self.h[m].iter().sum()
    }
}

struct Profile {
    clicks: f64,
    unique: f64,
    reg: f64,
    ftd: f64,
    ngr_players: f64,
    cpa: Option<i64>,
    share: i64, // percent
    weekend: f64,
    idle: f64,
}

fn profile(rng: &mut Rng) -> Profile {
    // Long tail: clicks per day log-uniform between 3 and 8000.
    let clicks = (3f64.ln() + rng.unit() * (8000f64 / 3.0).ln()).exp();
    Profile {
        clicks,
        unique: rng.uniform(0.6, 0.95),
        reg: rng.uniform(0.02, 0.12),
        ftd: rng.uniform(0.1, 0.45),
        ngr_players: rng.uniform(0.2, 2.0),
        cpa: rng
            .chance(0.5)
            .then(|| rng.pick(&[25i64, 50, 75, 100, 150]) * 10_000),
        share: rng.pick(&[20i64, 25, 30, 35]),
        weekend: rng.uniform(0.55, 1.0),
        idle: if clicks < 30.0 {
            rng.uniform(0.0, 0.3)
        } else {
            0.0
        },
    }
}

fn spread(rng: &mut Rng, n: i64) -> [i64; 24] {
    let mut out = [0i64; 24];
    let mut left = n;
    let mut mass: f64 = PROFILE.iter().sum();
    for (h, w) in PROFILE.iter().enumerate() {
        let k = if h == 23 {
            left
        } else {
            rng.binomial(left, w / mass)
        };
        out[h] = k;
        left -= k;
        mass -= w;
    }
    out
}

fn gen_day(rng: &mut Rng, p: &Profile, day: NaiveDate) -> Day {
    use chrono::Datelike;
    let mut d = Day {
        h: [[0; 24]; 7],
        ftds: Vec::new(),
    };
    if rng.chance(p.idle) {
        return d;
    }
    let wk = if day.weekday().number_from_monday() >= 6 {
        p.weekend
    } else {
        1.0
    };
    let lambda = p.clicks * wk * rng.uniform(0.8, 1.2);
    let n = rng.poisson(lambda);
    d.h[CG] = spread(rng, n);
    for h in 0..24 {
        d.h[CU][h] = rng.binomial(d.h[CG][h], p.unique).max(d.h[CG][h].min(1));
        d.h[REG][h] = rng.binomial(d.h[CU][h], p.reg);
        let n = rng.binomial(d.h[REG][h], p.ftd);
        d.h[FTD][h] = n;
        for _ in 0..n {
            let amount = rng.range(10, 500) * 10_000 + rng.range(0, 9999);
            let commission = p.cpa.unwrap_or(0);
            d.h[FTDA][h] += amount;
            d.h[COM][h] += commission;
            let lag = match rng.unit() {
                x if x < 0.55 => 0,
                x if x < 0.8 => 1,
                x if x < 0.92 => 2,
                x if x < 0.97 => 3,
                _ => 5,
            };
            d.ftds.push(Ftd {
                hour: h,
                amount,
                commission,
                lag,
                coupon: rng.chance(0.35),
            });
        }
        // Net revenue of the players active that hour: -40..120 EUR each.
        let players = rng.poisson(p.ngr_players * d.h[REG][h] as f64 + 0.02 * d.h[CU][h] as f64);
        for _ in 0..players {
            d.h[NGR][h] += rng.range(-400_000, 1_200_000);
        }
        if p.cpa.is_none() {
            // RevShare on the hour's net revenue, rounded to 4 decimals.
            d.h[COM][h] = (d.h[NGR][h] * p.share + 50) / 100;
        }
    }
    d
}

fn dec(units: i64, m: usize) -> Decimal {
    if kind(m) == MetricKind::Money {
        Decimal::new(units, 4)
    } else {
        Decimal::from(units)
    }
}

// ---------------------------------------------------------------------------------------
// Units.

/// One generated partner (or pair) with its cause, and what the check run shows of it.
pub struct Unit {
    pub cause: Cause,
    pub partners: Vec<String>,
    pub obs: Vec<Observation>,
    pub hourly: Vec<HourlySeries>,
    pub pulls: Vec<PullInfo>,
    pub old_tree: Vec<HierarchyRow>,
    pub new_tree: Vec<HierarchyRow>,
    pub coupons: Vec<(String, String)>,
}

pub struct Window {
    first: NaiveDate,
    days: usize,
}

impl Window {
    fn day(&self, i: i64) -> NaiveDate {
        if i >= 0 {
            self.first + Days::new(i as u64)
        } else {
            self.first - Days::new((-i) as u64)
        }
    }
    fn as_of(&self) -> NaiveDate {
        self.day(self.days as i64 - 1)
    }
}

/// A partner's old days over the window plus one hidden day each side.
fn gen_partner(rng: &mut Rng, w: &Window) -> (Profile, Vec<Day>) {
    let p = profile(rng);
    let days = (-1..=w.days as i64)
        .map(|i| gen_day(rng, &p, w.day(i)))
        .collect();
    (p, days)
}

fn key(check: &str, partner: &str, day: NaiveDate, m: usize, coupon: Option<&str>) -> VarianceKey {
    VarianceKey {
        check: check.to_owned(),
        partner: partner.to_owned(),
        day,
        metric: M[m].clone(),
        link: None,
        coupon: coupon.map(str::to_owned),
    }
}

fn obs(k: VarianceKey, m: usize, old: Decimal, new: Decimal) -> Observation {
    let mut o = Observation::new(k, kind(m), old, new);
    if kind(m) == MetricKind::Money {
        o.old_currency = Some("EUR".into());
        o.new_currency = Some("EUR".into());
    }
    o
}

fn round2(v: Decimal) -> Decimal {
    v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Re-pull history for an observation whose values do not change.
fn stable_history(o: &mut Observation, w: &Window) {
    o.history = (1..=2)
        .map(|k| Repull {
            pulled_on: w.as_of() + Days::new(k),
            old: o.old,
            new: o.new,
        })
        .collect();
}

fn hourly_of(partner: &str, day: NaiveDate, d: &Day) -> Vec<HourlySeries> {
    (0..7)
        .map(|m| HourlySeries {
            partner: partner.to_owned(),
            metric: M[m].clone(),
            day,
            values: d.h[m].map(|v| dec(v, m)),
        })
        .collect()
}

/// The pending part of the old commission per day, by age (a hold of a few days).
fn pending(rng: &mut Rng, w: &Window, i: usize, com: i64, hold: i64) -> i64 {
    let age = (w.days - 1 - i) as i64;
    if age >= hold || com == 0 {
        return 0;
    }
    let phi = rng.uniform(0.3, 1.0) * (1.0 - age as f64 / hold as f64);
    (com as f64 * phi).round() as i64
}

pub fn gen_unit(rng: &mut Rng, id: usize, cause: Cause, src: Sources, w: &Window) -> Unit {
    let p0 = format!("P-{id}");
    let mut u = Unit {
        cause,
        partners: vec![p0.clone()],
        obs: Vec::new(),
        hourly: Vec::new(),
        pulls: Vec::new(),
        old_tree: Vec::new(),
        new_tree: Vec::new(),
        coupons: Vec::new(),
    };
    let n = w.days;
    let hold = rng.range(3, 10);
    match cause {
        Cause::Legit(Category::Hierarchy) => return gen_hierarchy(rng, u, src, w),
        Cause::Legit(Category::AttributionSwap) | Cause::Legit(Category::CouponPrecedence) => {
            return gen_swap(rng, u, src, w);
        }
        _ => {}
    }
    let (prof, days) = gen_partner(rng, w);
    // Defects may sit on top of a currency conversion (the program pays in USD).
    let fx_base = match cause {
        Cause::Legit(Category::Fx) => Some(rng.uniform(1.03, 1.25)),
        c if c.is_defect() && rng.chance(0.3) => Some(rng.uniform(1.03, 1.25)),
        _ => None,
    };
    let mut rate = fx_base.unwrap_or(1.0);
    let tz = (rng.pick(&[1usize, 1, 2, 2, 3, 5]), rng.chance(0.8));
    let links = rng.range(1, 3);
    // Defect parameters.
    let lost: Vec<usize> = (0..rng.range(1, 4))
        .map(|_| rng.range(0, n as i64 - 1) as usize)
        .collect();
    let lost_whole = rng.chance(0.5);
    let lost_share = rng.uniform(0.3, 1.0);
    let wrong = rng.pick(&[0.8, 0.9, 0.95, 1.1, 1.25]);
    let dup_all = rng.chance(0.4);
    let dup_days: Vec<bool> = (0..n).map(|_| rng.chance(0.4)).collect();
    let noise_q = rng.uniform(0.3, 1.0);
    // Truncation: the new side's pull for this partner stops at a round cap.
    let cap_rows: u64 = rng.pick(&[50u64, 100, 200, 500]);
    let mut rows_new_total = 0u64;
    let mut defect_shows = false;
    let mut lost_mask: Vec<Vec<bool>> = vec![Vec::new(); n];
    let mut hourly = Vec::new();
    for i in 0..n {
        let day = w.day(i as i64);
        let d = &days[i + 1];
        let prev = &days[i];
        let nextd = &days[i + 2];
        if src.hourly {
            hourly.extend(hourly_of(&p0, day, d));
        }
        rate *= 1.0 + rng.uniform(-0.003, 0.003);
        let pend = pending(rng, w, i, d.total(COM), hold);
        lost_mask[i] = d.ftds.iter().map(|_| rng.chance(lost_share)).collect();
        for m in 0..7 {
            let old_u = d.total(m);
            let old = dec(old_u, m);
            let mut o = obs(key("reconcile", &p0, day, m, None), m, old, old);
            o.old_rows = links as u32;
            o.new_rows = links as u32;
            if m == COM {
                o.status = Some(StatusSplit {
                    old_pending: dec(pend, m),
                    ..Default::default()
                });
            }
            let mut new = old;
            let mut history: Option<Vec<Decimal>> = None;
            match cause {
                Cause::Legit(Category::TzShift) => {
                    let (h, earlier) = tz;
                    let part = |x: &Day, first: bool| -> i64 {
                        if first {
                            x.h[m][..h].iter().sum()
                        } else {
                            x.h[m][24 - h..].iter().sum()
                        }
                    };
                    let v = if earlier {
                        old_u - part(d, false) + part(prev, false)
                    } else {
                        old_u - part(d, true) + part(nextd, true)
                    };
                    new = dec(v, m);
                }
                Cause::Legit(Category::Fx) => {}
                Cause::Legit(Category::Rounding) => {
                    if kind(m) == MetricKind::Money {
                        // Each link's row is rounded to cents on its own.
                        let mut left = old_u;
                        let mut sum = Decimal::ZERO;
                        for l in 0..links {
                            let part = if l == links - 1 {
                                left
                            } else {
                                rng.range(0, left.max(0))
                            };
                            left -= part;
                            sum += round2(dec(part, m));
                        }
                        new = sum;
                    }
                }
                Cause::Legit(Category::GrossUnique) => {
                    if m == CG {
                        new = dec(d.total(CU), m);
                    }
                }
                Cause::Legit(Category::StatusScope) => {
                    if m == COM {
                        new = dec(old_u - pend, m);
                    }
                }
                Cause::Legit(Category::LateData) => {
                    if matches!(m, FTD | FTDA) || (m == COM && prof.cpa.is_some()) {
                        let age = (n - 1 - i) as i64;
                        // Visible at pull k (1, 2, 3 days after the window's end).
                        let at = |k: i64| -> i64 {
                            d.ftds
                                .iter()
                                .filter(|f| f.lag < age + k)
                                .map(|f| match m {
                                    FTD => 1,
                                    FTDA => f.amount,
                                    _ => f.commission,
                                })
                                .sum()
                        };
                        new = dec(at(3), m);
                        history = Some(vec![dec(at(1), m), dec(at(2), m)]);
                    }
                }
                Cause::Legit(Category::Truncation) => {}
                Cause::LostDays => {
                    if lost.contains(&i) {
                        if lost_whole {
                            new = Decimal::ZERO;
                            o.new_rows = 0;
                        } else if matches!(m, FTD | FTDA) || (m == COM && prof.cpa.is_some()) {
                            let kept: Vec<&Ftd> = d
                                .ftds
                                .iter()
                                .zip(&lost_mask[i])
                                .filter(|(_, lost)| !**lost)
                                .map(|(f, _)| f)
                                .collect();
                            new = dec(
                                kept.iter()
                                    .map(|f| match m {
                                        FTD => 1,
                                        FTDA => f.amount,
                                        _ => f.commission,
                                    })
                                    .sum(),
                                m,
                            );
                        }
                    }
                }
                Cause::WrongRate => {
                    if m == COM {
                        new = (old * Decimal::try_from(wrong).unwrap()).round_dp(4);
                    }
                }
                Cause::Duplicated => {
                    if dup_all || dup_days[i] {
                        // One link's rows arrive twice (all of them with one link).
                        let share = if links == 1 || dup_all {
                            1.0
                        } else {
                            1.0 / links as f64
                        };
                        new = if share == 1.0 {
                            old * Decimal::TWO
                        } else {
                            old + dec((old_u as f64 * share).round() as i64, m)
                        };
                        o.new_rows = o.old_rows * 2;
                    }
                }
                Cause::Noise => {
                    let noisy = |rng: &mut Rng| -> Decimal {
                        if !rng.chance(noise_q) || old_u == 0 {
                            return old;
                        }
                        let eps =
                            rng.uniform(0.01, 0.15) * if rng.chance(0.5) { 1.0 } else { -1.0 };
                        let mut dd = (old_u as f64 * eps).round() as i64;
                        if dd == 0 {
                            dd = if eps > 0.0 { 1 } else { -1 };
                        }
                        dec((old_u + dd).max(0), m)
                    };
                    new = noisy(rng);
                    if src.repulls {
                        history = Some(vec![noisy(rng), noisy(rng)]);
                    }
                }
                Cause::Legit(_) => {}
            }
            if cause.is_defect() && (new != old || (o.new_rows != o.old_rows && !old.is_zero())) {
                defect_shows = true;
            }
            if let Some(base) = fx_base
                && kind(m) == MetricKind::Money
            {
                let r = Decimal::try_from(rate).unwrap().round_dp(6);
                new = round2(new * r);
                if let Some(h) = &mut history {
                    for v in h {
                        *v = round2(*v * r);
                    }
                }
                o.new_currency = Some("USD".into());
                let _ = base;
                if let Some(s) = &mut o.status {
                    s.old_pending = Decimal::ZERO; // status split not comparable across currencies
                    o.status = None;
                }
            }
            o.new = new;
            if src.repulls {
                match history {
                    Some(h) => {
                        o.history = h
                            .into_iter()
                            .enumerate()
                            .map(|(k, v)| Repull {
                                pulled_on: w.as_of() + Days::new(k as u64 + 1),
                                old,
                                new: v,
                            })
                            .collect();
                    }
                    None => stable_history(&mut o, w),
                }
            }
            if old.is_zero() && o.new.is_zero() && o.new_rows == o.old_rows {
                o.old_rows = 0;
                o.new_rows = 0;
                continue; // neither side has the key
            }
            if o.old.is_zero() {
                o.old_rows = 0;
            }
            if o.new.is_zero() && !matches!(cause, Cause::Duplicated) {
                o.new_rows = 0;
            }
            rows_new_total += u64::from(o.new_rows.min(1));
            u.obs.push(o);
        }
    }
    if cause == Cause::Legit(Category::Truncation) {
        // Rows in the report's order (day, metric): the pull stops after `cap` rows.
        let cap = cap_rows.min((rows_new_total * 2 / 3).max(1));
        let mut seen = 0u64;
        for o in &mut u.obs {
            if o.new_rows > 0 {
                seen += 1;
                if seen > cap {
                    o.new = Decimal::ZERO;
                    o.new_rows = 0;
                    for h in &mut o.history {
                        h.new = Decimal::ZERO;
                    }
                }
            }
        }
        u.pulls.push(PullInfo {
            check: "reconcile".into(),
            new_side: true,
            partner: Some(p0.clone()),
            rows: cap,
            cap: Some(cap),
            incomplete: false,
        });
    } else {
        // Every other partner's pull stays below its cap.
        u.pulls.push(PullInfo {
            check: "reconcile".into(),
            new_side: true,
            partner: Some(p0.clone()),
            rows: rows_new_total,
            cap: Some(rows_new_total + 1 + cap_rows),
            incomplete: false,
        });
    }
    u.hourly = hourly;
    if cause.is_defect() && !defect_shows {
        // The defect touched nothing this partner had (no FTDs on the lost days...): what
        // the run shows is the currency conversion alone, or nothing.
        u.cause = Cause::Legit(Category::Fx);
    }
    u
}

/// A master M with sub-partners; one sub hangs under master N on the new platform. The
/// roll-up check compares masters' totals; the reconcile check every partner's own.
fn gen_hierarchy(rng: &mut Rng, mut u: Unit, src: Sources, w: &Window) -> Unit {
    let m_id = u.partners[0].clone();
    let n_id = format!("{m_id}-N");
    let subs: Vec<String> = (0..rng.range(1, 4))
        .map(|k| format!("{m_id}-S{k}"))
        .collect();
    let moved = rng.range(0, subs.len() as i64 - 1) as usize;
    let mut own: BTreeMap<String, Vec<Day>> = BTreeMap::new();
    for p in [&m_id, &n_id].into_iter().chain(&subs) {
        own.insert(p.clone(), gen_partner(rng, w).1);
    }
    for (k, s) in subs.iter().enumerate() {
        u.old_tree.push(HierarchyRow {
            partner: s.clone(),
            parent: Some(m_id.clone()),
            valid_from: None,
            valid_to: None,
        });
        u.new_tree.push(HierarchyRow {
            partner: s.clone(),
            parent: Some(if k == moved {
                n_id.clone()
            } else {
                m_id.clone()
            }),
            valid_from: None,
            valid_to: None,
        });
    }
    for i in 0..w.days {
        let day = w.day(i as i64);
        for m in 0..7 {
            let v = |p: &str| own[p][i + 1].total(m);
            for p in own.keys() {
                let x = dec(v(p), m);
                if x.is_zero() {
                    continue;
                }
                let mut o = obs(key("reconcile", p, day, m, None), m, x, x);
                if src.repulls {
                    stable_history(&mut o, w);
                }
                u.obs.push(o);
            }
            let subs_total = |moved_out: bool| -> i64 {
                subs.iter()
                    .enumerate()
                    .filter(|(k, _)| !(moved_out && *k == moved))
                    .map(|(_, s)| v(s))
                    .sum()
            };
            let mv = v(&subs[moved]);
            for (p, old, new) in [
                (
                    &m_id,
                    v(&m_id) + subs_total(false),
                    v(&m_id) + subs_total(true),
                ),
                (&n_id, v(&n_id), v(&n_id) + mv),
            ] {
                if old == 0 && new == 0 {
                    continue;
                }
                let mut o = obs(key("rollup", p, day, m, None), m, dec(old, m), dec(new, m));
                if src.repulls {
                    stable_history(&mut o, w);
                }
                u.obs.push(o);
            }
        }
    }
    u.partners = vec![m_id, n_id];
    u
}

/// Two partners A and B: some of A's conversions are B's on the new platform (another
/// attribution model), or, for coupon precedence, A's link conversions that carry B's
/// coupon (keys by coupon).
fn gen_swap(rng: &mut Rng, mut u: Unit, src: Sources, w: &Window) -> Unit {
    let coupon_case = u.cause == Cause::Legit(Category::CouponPrecedence);
    let a = u.partners[0].clone();
    let b = format!("{a}-B");
    let (pa, da) = gen_partner(rng, w);
    let (pb, db) = gen_partner(rng, w);
    let q = rng.uniform(0.1, 0.5);
    let coupon = format!("C-{a}");
    let check = if coupon_case { "coupon" } else { "reconcile" };
    if coupon_case {
        u.coupons.push((coupon.clone(), b.clone()));
    }
    for i in 0..w.days {
        let day = w.day(i as i64);
        let (x, y) = (&da[i + 1], &db[i + 1]);
        // Moved FTDs of A (and for the attribution case their registrations).
        let movers: Vec<&Ftd> = x
            .ftds
            .iter()
            .filter(|f| if coupon_case { f.coupon } else { rng.chance(q) })
            .collect();
        let mv_ftd = movers.len() as i64;
        let mv_amount: i64 = movers.iter().map(|f| f.amount).sum();
        let b_com = pb.cpa.map_or(0, |c| c * mv_ftd);
        let a_com = pa.cpa.map_or(0, |c| c * mv_ftd);
        for (p, dd, sign, com) in [(&a, x, -1i64, a_com), (&b, y, 1i64, b_com)] {
            for m in 0..7 {
                let (old_u, shift) = if coupon_case {
                    // Keys of the coupon: on the old platform A's link has them.
                    let old_u = if sign < 0 {
                        match m {
                            FTD => mv_ftd,
                            FTDA => mv_amount,
                            COM => a_com,
                            _ => continue,
                        }
                    } else {
                        match m {
                            FTD | FTDA | COM => 0,
                            _ => continue,
                        }
                    };
                    let shift = match m {
                        FTD => mv_ftd,
                        FTDA => mv_amount,
                        _ => com,
                    };
                    (old_u, shift)
                } else {
                    let shift = match m {
                        REG | FTD => mv_ftd,
                        FTDA => mv_amount,
                        COM => com,
                        _ => 0,
                    };
                    (dd.total(m), shift)
                };
                let new_u = old_u + sign * shift;
                if old_u == 0 && new_u == 0 {
                    continue;
                }
                let cp = coupon_case.then_some(coupon.as_str());
                let mut o = obs(key(check, p, day, m, cp), m, dec(old_u, m), dec(new_u, m));
                if src.repulls {
                    stable_history(&mut o, w);
                }
                u.obs.push(o);
            }
            if coupon_case {
                // The partner-level check sees the same move in the partners' totals.
                for m in 0..7 {
                    let shift = match m {
                        FTD => mv_ftd,
                        FTDA => mv_amount,
                        COM => com,
                        _ => 0,
                    };
                    let (old_u, new_u) = (dd.total(m), dd.total(m) + sign * shift);
                    if old_u == 0 && new_u == 0 {
                        continue;
                    }
                    let mut o = obs(
                        key("reconcile", p, day, m, None),
                        m,
                        dec(old_u, m),
                        dec(new_u, m),
                    );
                    if src.repulls {
                        stable_history(&mut o, w);
                    }
                    u.obs.push(o);
                }
            }
        }
    }
    u.partners = vec![a, b];
    u
}

// ---------------------------------------------------------------------------------------
// A run: units in batches (one check run per batch), and the scoreboard.

#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Units of this cause that showed at least one variance.
    pub units: usize,
    /// Legitimate: every variance proposed with the true category.
    pub correct: usize,
    /// Some variances proposed with the true category, the rest none.
    pub partial: usize,
    /// At least one variance proposed with another category.
    pub wrong: usize,
    /// No proposal at all.
    pub none: usize,
    pub keys: usize,
    pub keys_proposed: usize,
    /// Keys proposed as this category (over every unit) and how many truly were.
    pub proposed_as: usize,
    pub proposed_as_right: usize,
}

pub struct Scoreboard {
    pub by_cause: BTreeMap<Cause, Tally>,
    pub seeds: Vec<u64>,
    pub units: usize,
    /// (cause, category proposed, unit id) for defects proposed as legitimate.
    pub false_legit: Vec<(Cause, Category, String)>,
    /// Legit units not fully correct: (cause, unit, what was proposed).
    pub misses: Vec<(Cause, String, String)>,
}

pub fn window(rng: &mut Rng) -> Window {
    Window {
        first: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + Days::new(rng.range(0, 60) as u64),
        days: rng.range(14, 42) as usize,
    }
}

/// Runs `units` generated units per seed through the classifier, `batch` units per check run.
pub fn run(seeds: &[u64], units: usize, batch: usize, src: Sources) -> Scoreboard {
    let mut sb = Scoreboard {
        by_cause: BTreeMap::new(),
        seeds: seeds.to_vec(),
        units: 0,
        false_legit: Vec::new(),
        misses: Vec::new(),
    };
    for &seed in seeds {
        let mut rng = Rng::new(seed);
        let mut id = 0usize;
        while id < units {
            let w = window(&mut rng);
            let mut batch_units = Vec::new();
            for _ in 0..batch.min(units - id) {
                let cause = rng.pick(&ALL_CAUSES);
                batch_units.push(gen_unit(
                    &mut rng,
                    seed as usize * 1_000_000 + id,
                    cause,
                    src,
                    &w,
                ));
                id += 1;
            }
            score_batch(&mut sb, &batch_units, &w);
        }
        sb.units += units;
    }
    sb
}

fn score_batch(sb: &mut Scoreboard, units: &[Unit], w: &Window) {
    let mut input = ClassifyInput {
        as_of: Some(w.as_of()),
        ..Default::default()
    };
    let mut hier = Hierarchies::default();
    let mut owner = Vec::new(); // variance index -> unit
    for (k, u) in units.iter().enumerate() {
        for o in &u.obs {
            if o.old != o.new || o.old_rows.min(1) != o.new_rows.min(1) {
                input.variances.push(o.clone());
                owner.push(k);
            } else {
                input.matching.push(o.clone());
            }
        }
        input.hourly.extend(u.hourly.iter().cloned());
        input.pulls.extend(u.pulls.iter().cloned());
        input.coupon_owners.extend(u.coupons.iter().cloned());
        hier.old.extend(u.old_tree.iter().cloned());
        hier.new.extend(u.new_tree.iter().cloned());
    }
    input.hierarchies = Some(hier);
    let out = classify(&input);
    let mut per_unit: Vec<Vec<Option<Category>>> = vec![Vec::new(); units.len()];
    for (i, p) in out.proposals.iter().enumerate() {
        per_unit[owner[i]].push(p.as_ref().map(|p| p.category));
        if let Some(p) = p {
            let truth = units[owner[i]].cause;
            let t = sb.by_cause.entry(Cause::Legit(p.category)).or_default();
            t.proposed_as += 1;
            if truth == Cause::Legit(p.category) {
                t.proposed_as_right += 1;
            }
        }
    }
    if let Ok(dbg) = std::env::var("SCENARIO_DEBUG") {
        for (i, o) in input.variances.iter().enumerate() {
            if units[owner[i]].partners.contains(&dbg) {
                println!(
                    "{} {} {} old={} {:?} new={} {:?} rows={}/{} -> {:?}",
                    o.key.partner,
                    o.key.day,
                    o.key.metric,
                    o.old,
                    o.old_currency,
                    o.new,
                    o.new_currency,
                    o.old_rows,
                    o.new_rows,
                    out.proposals[i]
                        .as_ref()
                        .map(|p| (p.category, &p.evidence.sentence))
                );
            }
        }
    }
    for (k, u) in units.iter().enumerate() {
        let props = &per_unit[k];
        if props.is_empty() {
            continue;
        }
        let t = sb.by_cause.entry(u.cause).or_default();
        t.units += 1;
        t.keys += props.len();
        t.keys_proposed += props.iter().filter(|p| p.is_some()).count();
        let truth = match u.cause {
            Cause::Legit(c) => Some(c),
            _ => None,
        };
        let other = props.iter().flatten().find(|c| Some(**c) != truth);
        let right = props
            .iter()
            .filter(|p| **p == truth && truth.is_some())
            .count();
        if let Some(c) = other {
            t.wrong += 1;
            if u.cause.is_defect() {
                sb.false_legit.push((u.cause, *c, u.partners.join("+")));
            }
        } else if right == props.len() {
            t.correct += 1;
        } else if right > 0 {
            t.partial += 1;
        } else {
            t.none += 1;
        }
        if truth.is_some() && right != props.len() {
            let mut what: BTreeMap<String, usize> = BTreeMap::new();
            for p in props {
                *what
                    .entry(p.map_or("none".to_owned(), |c| c.as_str().to_owned()))
                    .or_default() += 1;
            }
            sb.misses
                .push((u.cause, u.partners.join("+"), format!("{what:?}")));
        }
    }
}

impl Scoreboard {
    /// Legitimate units proposed correctly / legitimate units with variances.
    pub fn legit_recall(&self) -> (usize, usize) {
        self.by_cause
            .iter()
            .filter(|(c, _)| !c.is_defect())
            .fold((0, 0), |(a, b), (_, t)| (a + t.correct, b + t.units))
    }

    /// Defect units with any proposal.
    pub fn defects_proposed(&self) -> usize {
        self.false_legit.len()
    }

    /// The table published in docs/explainability.md.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| cause | units with variances | correct | partial | wrong category | none | recall (units) | keys proposed as this cause | precision (keys) |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for c in ALL_CAUSES {
            let t = self.by_cause.get(&c).cloned().unwrap_or_default();
            let recall = if c.is_defect() || t.units == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}%", 100.0 * t.correct as f64 / t.units as f64)
            };
            let precision = if c.is_defect() {
                "-".to_owned()
            } else if t.proposed_as == 0 {
                "n/a".to_owned()
            } else {
                format!(
                    "{:.2}%",
                    100.0 * t.proposed_as_right as f64 / t.proposed_as as f64
                )
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.name(),
                t.units,
                t.correct,
                t.partial,
                t.wrong,
                t.none,
                recall,
                if c.is_defect() {
                    "-".to_owned()
                } else {
                    t.proposed_as.to_string()
                },
                precision
            );
        }
        let (ok, all) = self.legit_recall();
        let _ = writeln!(
            s,
            "\nLegitimate units proposed correctly: {ok} of {all} ({:.1}%); defect units with any proposal: {}. Seeds {:?}, {} units each.",
            100.0 * ok as f64 / all.max(1) as f64,
            self.defects_proposed(),
            self.seeds,
            self.units / self.seeds.len().max(1)
        );
        s
    }
}
