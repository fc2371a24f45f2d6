//! The simulated affiliate program: partners (master / sub trees), links, coupons and
//! deals, and the daily facts each platform reports, computed on demand from the seed so
//! any window of any size costs nothing to hold. The new platform's view applies the
//! documented difference causes and the defects listed in [`Truth`].

use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use crate::pair::Accounts;

/// Which platform is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Old,
    New,
}

/// Which documented causes the new platform shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Differences {
    /// The new platform's day boundary is an hour earlier: 1/8 of each day's counts and
    /// money land on the next day.
    pub tz_shift: bool,
    /// The new platform reports money in USD at this EUR->USD rate.
    pub fx_rate: Option<Decimal>,
    /// The new platform rounds money to 2 decimals (the old one reports 4).
    pub rounding: bool,
    /// The new platform's "clicks" are unique clicks.
    pub unique_clicks: bool,
    /// Commission of the last N days is 30% lower on the new platform (pending, not approved).
    pub pending_days: u32,
    /// FTDs of the last N days are 10% lower on the new platform (arrive late).
    pub late_days: u32,
    /// One sub-partner hangs under another master on the new platform.
    pub sub_partner_moved: bool,
    /// One coupon is attributed to its owner on the new platform (to the link owner on
    /// the old): a quarter of one partner's FTDs move to another.
    pub coupon_precedence: bool,
    /// Defect: the new platform loses the FTDs of one partner's second link (half its FTDs).
    pub lost_link: bool,
    /// Defect: the new platform pays one partner at 90% of its deal.
    pub wrong_rate: bool,
    /// The new platform reports partners under its own ids (see [`crate::Accounts`]):
    /// one partner split over two accounts, one account handed over on a day.
    pub new_ids: bool,
    /// The new platform converts money to USD at each day's ECB rate (the last business
    /// day's at weekends) instead of the constant `fx_rate`.
    pub daily_rates: bool,
    /// The CRM's copy of the new platform's partner records misses one record, has one
    /// country that differs and one status that differs only in case.
    pub crm_drift: bool,
}

impl Default for Differences {
    fn default() -> Self {
        Differences {
            tz_shift: true,
            fx_rate: Some(Decimal::new(108, 2)),
            rounding: true,
            unique_clicks: true,
            pending_days: 3,
            late_days: 2,
            sub_partner_moved: true,
            coupon_precedence: true,
            lost_link: true,
            wrong_rate: true,
            new_ids: false,
            daily_rates: false,
            crm_drift: true,
        }
    }
}

impl Differences {
    /// No difference at all: both platforms report the same numbers.
    pub fn none() -> Self {
        Differences {
            tz_shift: false,
            fx_rate: None,
            rounding: false,
            unique_clicks: false,
            pending_days: 0,
            late_days: 0,
            sub_partner_moved: false,
            coupon_precedence: false,
            lost_link: false,
            wrong_rate: false,
            new_ids: false,
            daily_rates: false,
            crm_drift: false,
        }
    }

    /// The default differences on a real pair of platforms: the new one also has its
    /// own partner ids and converts money at the ECB's daily rates.
    pub fn real_pair() -> Self {
        Differences {
            new_ids: true,
            daily_rates: true,
            ..Differences::default()
        }
    }
}

/// A partner's deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Deal {
    /// Per FTD, in EUR.
    Cpa {
        amount: Decimal,
    },
    /// Share of net revenue.
    RevShare {
        share: Decimal,
    },
    Hybrid {
        amount: Decimal,
        share: Decimal,
    },
}

/// A partner of the program.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Partner {
    pub id: String,
    pub master: Option<String>,
    pub links: Vec<String>,
    pub coupon: Option<String>,
    pub deal: Deal,
}

/// One partner's day as a platform reports it. Money has 4 decimals (old) or as the new
/// platform rounds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub clicks_gross: i64,
    pub clicks_unique: i64,
    pub registrations: i64,
    pub ftd_count: i64,
    pub ftd_amount: Decimal,
    pub net_revenue: Decimal,
    pub commission: Decimal,
}

/// What the simulator injected, for tests to check against.
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub seed: u64,
    pub partners: usize,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub old_currency: String,
    pub new_currency: String,
    pub differences: Vec<serde_json::Value>,
    pub defects: Vec<serde_json::Value>,
    /// How the differences and defects show in the event-level data (Impact Actions).
    pub events: Vec<serde_json::Value>,
    /// How the new platform's partner ids map to the old ones (`new_ids` false: ids are
    /// the same on both platforms).
    pub partner_ids: serde_json::Value,
    /// The rates the new platform converts money with, and where they are served.
    pub rates: serde_json::Value,
    /// What a `rollup` check finds: the sub-partner under another master.
    pub rollup: Vec<serde_json::Value>,
    /// What a `record_sync` check of the new platform's partners against the CRM finds.
    pub record_sync: Vec<serde_json::Value>,
    /// What a `payout` check finds, per partner, and the deals to check it with.
    pub payout: serde_json::Value,
    /// Links and coupons an `attribution` check can watch, and what it finds.
    pub attribution: serde_json::Value,
    /// With `?from=&to=`: per partner (old ids), day and metric, the old value and the
    /// new one (mapped to old ids, in its currency and converted to EUR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<serde_json::Value>,
}

/// The seeded program.
#[derive(Debug, Clone)]
pub struct Program {
    pub seed: u64,
    pub partners: Vec<Partner>,
    pub diffs: Differences,
    /// History starts here (90 days before `today` by default).
    pub first_day: NaiveDate,
    /// The current day; its numbers grow through the day when `live` is on.
    pub today: NaiveDate,
    pub live: bool,
    /// Partner indexes used by the injected causes.
    pub coupon_from: usize,
    pub coupon_to: usize,
    pub lost_link_partner: usize,
    pub wrong_rate_partner: usize,
    pub moved_sub: usize,
    /// The new platform's accounts (used when `diffs.new_ids` is on).
    pub accounts: Accounts,
}

pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Program {
    /// Builds a program of `partners` partners with `days` days of history up to `today`.
    pub fn new(
        seed: u64,
        partners: usize,
        days: u32,
        today: NaiveDate,
        diffs: Differences,
    ) -> Program {
        let n = partners.max(8);
        let masters = (n / 10).max(2);
        let mut list = Vec::with_capacity(n);
        for i in 0..n {
            let h = mix(seed ^ (i as u64).wrapping_mul(0x1000_0000_01B3));
            let id = format!("{}", 1001 + i);
            let master = (i >= masters && !h.is_multiple_of(3))
                .then(|| format!("{}", 1001 + (h as usize >> 8) % masters));
            let links = (1..=2).map(|k| format!("L{id}-{k}")).collect();
            let coupon = h.is_multiple_of(5).then(|| format!("C{id}"));
            let deal = match (h >> 16) % 3 {
                0 => Deal::Cpa {
                    amount: Decimal::new(50 + ((h >> 20) % 4) as i64 * 25, 0),
                },
                1 => Deal::RevShare {
                    share: Decimal::new(25 + ((h >> 20) % 3) as i64 * 5, 2),
                },
                _ => Deal::Hybrid {
                    amount: Decimal::new(50, 0),
                    share: Decimal::new(15, 2),
                },
            };
            list.push(Partner {
                id,
                master,
                links,
                coupon,
                deal,
            });
        }
        let pick = |salt: u64, lo: usize| lo + (mix(seed ^ salt) as usize) % (n - lo);
        let moved_sub = list
            .iter()
            .position(|p| p.master.is_some())
            .unwrap_or(masters);
        let mut coupon_to = pick(1, masters);
        let mut coupon_from = pick(2, masters);
        if coupon_from == coupon_to {
            coupon_from = (coupon_to + 1) % n;
        }
        if list[coupon_to].coupon.is_none() {
            list[coupon_to].coupon = Some(format!("C{}", list[coupon_to].id));
        }
        let mut lost_link_partner = pick(3, 0);
        while lost_link_partner == coupon_to || lost_link_partner == coupon_from {
            lost_link_partner = (lost_link_partner + 1) % n;
        }
        let mut wrong_rate_partner = pick(4, 0);
        while [coupon_to, coupon_from, lost_link_partner].contains(&wrong_rate_partner) {
            wrong_rate_partner = (wrong_rate_partner + 1) % n;
        }
        if coupon_to == moved_sub {
            coupon_to = (coupon_to + 1) % n;
        }
        let first_day = today - chrono::Days::new(u64::from(days));
        let accounts = Accounts::new(
            seed,
            n,
            masters,
            &[
                moved_sub,
                coupon_to,
                coupon_from,
                lost_link_partner,
                wrong_rate_partner,
            ],
            first_day,
            today,
        );
        Program {
            seed,
            partners: list,
            diffs,
            first_day,
            today,
            live: false,
            coupon_from,
            coupon_to,
            lost_link_partner,
            wrong_rate_partner,
            moved_sub,
            accounts,
        }
    }

    /// The master of partner `i` on `platform`.
    pub fn master(&self, i: usize, platform: Platform) -> Option<String> {
        if platform == Platform::New && self.diffs.sub_partner_moved && i == self.moved_sub {
            let masters = (self.partners.len() / 10).max(2);
            let old = self.partners[i].master.clone();
            return (0..masters)
                .map(|m| self.partners[m].id.clone())
                .find(|m| Some(m) != old.as_ref());
        }
        self.partners[i].master.clone()
    }

    /// The facts both platforms agree on, for partner `i` on `day`.
    pub fn truth(&self, i: usize, day: NaiveDate) -> Facts {
        self.truth_at(i, day, self.live)
    }

    /// [`Program::truth`], with today's numbers growing with the clock only if `live`.
    pub(crate) fn truth_at(&self, i: usize, day: NaiveDate, live: bool) -> Facts {
        if day < self.first_day || day > self.today {
            return Facts::default();
        }
        let weight = 1 + (mix(self.seed ^ 0xABCD ^ i as u64) % 8) as i64;
        let h = mix(self.seed ^ (i as u64) << 20 ^ day.num_days_from_ce() as u64);
        let h2 = mix(h);
        let h3 = mix(h2);
        let mut unique = weight * (40 + (h % 160) as i64);
        if live && day == self.today {
            let secs = Utc::now().time().num_seconds_from_midnight_i64();
            unique = unique * secs / 86_400;
        }
        let gross = unique + unique * ((h >> 8) % 30) as i64 / 100;
        let registrations = unique * (5 + ((h >> 16) % 10) as i64) / 100;
        let ftd = registrations * (20 + ((h >> 24) % 20) as i64) / 100;
        let minor4 = ftd * (500_000 + (h2 % 2_500_000) as i64) + (h3 % 10_000) as i64;
        let ftd_amount = Decimal::new(minor4, 4);
        let net_revenue = Decimal::new(minor4 * (30 + (h3 >> 16) as i64 % 40) / 100, 4);
        let commission = match self.partners[i].deal {
            Deal::Cpa { amount } => amount * Decimal::from(ftd),
            Deal::RevShare { share } => (net_revenue * share).round_dp(4),
            Deal::Hybrid { amount, share } => {
                amount * Decimal::from(ftd) + (net_revenue * share).round_dp(4)
            }
        };
        Facts {
            clicks_gross: gross,
            clicks_unique: unique,
            registrations,
            ftd_count: ftd,
            ftd_amount,
            net_revenue,
            commission,
        }
    }

    /// The new platform's facts before its day boundary shift.
    fn new_unshifted(&self, i: usize, day: NaiveDate) -> Facts {
        let d = &self.diffs;
        let mut f = self.truth(i, day);
        let move_ftds = |f: &mut Facts, n: i64| {
            if f.ftd_count > 0 {
                let amount =
                    (f.ftd_amount * Decimal::from(n) / Decimal::from(f.ftd_count)).round_dp(4);
                f.ftd_count -= n;
                f.ftd_amount -= amount;
                amount
            } else {
                Decimal::ZERO
            }
        };
        if d.coupon_precedence {
            if i == self.coupon_from {
                let n = (f.ftd_count + 3) / 4;
                move_ftds(&mut f, n);
            } else if i == self.coupon_to {
                let mut from = self.truth(self.coupon_from, day);
                let n = (from.ftd_count + 3) / 4;
                let amount = move_ftds(&mut from, n);
                f.ftd_count += n;
                f.ftd_amount += amount;
            }
        }
        if d.lost_link && i == self.lost_link_partner {
            let n = f.ftd_count / 2;
            move_ftds(&mut f, n);
        }
        if d.wrong_rate && i == self.wrong_rate_partner {
            f.commission = (f.commission * Decimal::new(9, 1)).round_dp(4);
        }
        let age = (self.today - day).num_days();
        if age >= 0 && age < i64::from(d.pending_days) {
            f.commission = (f.commission * Decimal::new(7, 1)).round_dp(4);
        }
        if age >= 0 && age < i64::from(d.late_days) {
            let n = f.ftd_count / 10;
            move_ftds(&mut f, n);
        }
        f
    }

    /// Partner `i`'s day as `platform` reports it (money in the platform's currency).
    pub fn facts(&self, i: usize, day: NaiveDate, platform: Platform) -> Facts {
        if platform == Platform::Old {
            return self.truth(i, day);
        }
        let d = &self.diffs;
        let mut f = self.new_unshifted(i, day);
        if d.tz_shift {
            let prev = day
                .pred_opt()
                .map(|p| self.new_unshifted(i, p))
                .unwrap_or_default();
            let out = eighth(&f);
            let inn = eighth(&prev);
            f = Facts {
                clicks_gross: f.clicks_gross - out.clicks_gross + inn.clicks_gross,
                clicks_unique: f.clicks_unique - out.clicks_unique + inn.clicks_unique,
                registrations: f.registrations - out.registrations + inn.registrations,
                ftd_count: f.ftd_count - out.ftd_count + inn.ftd_count,
                ftd_amount: f.ftd_amount - out.ftd_amount + inn.ftd_amount,
                net_revenue: f.net_revenue - out.net_revenue + inn.net_revenue,
                commission: f.commission - out.commission + inn.commission,
            };
        }
        if d.unique_clicks {
            f.clicks_gross = f.clicks_unique;
        }
        let rate = self.new_rate(day);
        let money = |v: Decimal| {
            let v = match rate {
                Some(r) => v * r,
                None => v,
            };
            if d.rounding {
                v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            } else {
                v.round_dp(6)
            }
        };
        f.ftd_amount = money(f.ftd_amount);
        f.net_revenue = money(f.net_revenue);
        f.commission = money(f.commission);
        f
    }

    pub fn currency(&self, platform: Platform) -> &'static str {
        match platform {
            Platform::New if self.diffs.fx_rate.is_some() || self.diffs.daily_rates => "USD",
            _ => "EUR",
        }
    }

    /// Which differences and defects were injected.
    pub fn ground_truth(&self) -> Truth {
        use serde_json::json;
        let d = &self.diffs;
        let p = |i: usize| self.partners[i].id.clone();
        let mut differences = Vec::new();
        if d.tz_shift {
            differences.push(json!({"cause": "timezone_day_shift", "share_moved_to_next_day": "1/8", "detail": "the new platform's day starts an hour earlier"}));
        }
        if d.daily_rates {
            differences.push(
                json!({"cause": "fx_rate", "from": "EUR", "to": "USD", "rate": "ecb_daily", "detail": "each day's ECB rate (the last business day's at weekends), served at /rates/eurofxref-hist.xml"}),
            );
        } else if let Some(r) = d.fx_rate {
            differences.push(
                json!({"cause": "fx_rate", "from": "EUR", "to": "USD", "rate": r.to_string()}),
            );
        }
        if d.rounding {
            differences.push(json!({"cause": "rounding", "decimals": 2}));
        }
        if d.unique_clicks {
            differences.push(json!({"cause": "gross_vs_unique_clicks", "detail": "the new platform's clicks are unique clicks"}));
        }
        if d.pending_days > 0 {
            differences.push(json!({"cause": "pending_not_approved", "days": d.pending_days, "metric": "commission", "share_pending": "0.3"}));
        }
        if d.late_days > 0 {
            differences.push(json!({"cause": "late_conversions", "days": d.late_days, "metric": "ftd_count", "share_late": "0.1"}));
        }
        if d.sub_partner_moved {
            differences.push(json!({"cause": "sub_partner_other_master", "partner": p(self.moved_sub), "old_master": self.master(self.moved_sub, Platform::Old), "new_master": self.master(self.moved_sub, Platform::New)}));
        }
        if d.coupon_precedence {
            differences.push(json!({"cause": "coupon_precedence", "coupon": self.partners[self.coupon_to].coupon, "from_partner": p(self.coupon_from), "to_partner": p(self.coupon_to), "share": "1/4 of from_partner's FTDs"}));
        }
        let mut defects = Vec::new();
        if d.lost_link {
            let pt = &self.partners[self.lost_link_partner];
            defects.push(json!({"defect": "lost_events", "partner": pt.id, "link": pt.links[1], "metric": "ftd_count"}));
        }
        if d.wrong_rate {
            defects.push(json!({"defect": "wrong_deal_rate", "partner": p(self.wrong_rate_partner), "deal": self.partners[self.wrong_rate_partner].deal, "applied": "90% of the deal"}));
        }
        let events = self.event_truth();
        let pair = self.pair_truth();
        Truth {
            seed: self.seed,
            partners: self.partners.len(),
            first_day: self.first_day,
            last_day: self.today,
            old_currency: self.currency(Platform::Old).to_owned(),
            new_currency: self.currency(Platform::New).to_owned(),
            differences,
            defects,
            events,
            partner_ids: pair.partner_ids,
            rates: pair.rates,
            rollup: pair.rollup,
            record_sync: pair.record_sync,
            payout: pair.payout,
            attribution: pair.attribution,
            window: None,
        }
    }
}

fn eighth(f: &Facts) -> Facts {
    let m = |v: Decimal| (v / Decimal::from(8)).round_dp(4);
    Facts {
        clicks_gross: f.clicks_gross / 8,
        clicks_unique: f.clicks_unique / 8,
        registrations: f.registrations / 8,
        ftd_count: f.ftd_count / 8,
        ftd_amount: m(f.ftd_amount),
        net_revenue: m(f.net_revenue),
        commission: m(f.commission),
    }
}

trait SecondsFromMidnight {
    fn num_seconds_from_midnight_i64(&self) -> i64;
}

impl SecondsFromMidnight for chrono::NaiveTime {
    fn num_seconds_from_midnight_i64(&self) -> i64 {
        use chrono::Timelike;
        i64::from(self.num_seconds_from_midnight())
    }
}
