//! The new platform as a second system of its own: its partner accounts carry new ids
//! (numeric, seeded) with the old id as a reference field, one old partner is split over
//! two accounts (an N:1 merge back onto the old id) and one account is handed from one
//! partner to another on a day (a dated re-assignment). Also the ECB-style daily EUR->USD
//! rates the new platform converts money with, and the CRM's copy of the new platform's
//! partner records, with injected drift.

use chrono::{Datelike, NaiveDate, Weekday};
use rust_decimal::{Decimal, RoundingStrategy};

use serde_json::json;

use crate::program::{Deal, Facts, Platform, Program, mix};

/// The new platform's accounts, derived from the seed.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// Partner index -> its (main) account id on the new platform.
    pub main: Vec<String>,
    /// The partner whose traffic the new platform splits over two accounts.
    pub merged: usize,
    /// The second account of [`Accounts::merged`].
    pub merged_extra: String,
    /// The account handed from partner `from` to partner `to` on `day`.
    pub transfer: Transfer,
}

/// A dated re-assignment: before `day` account `account` reports partner `from`'s
/// traffic (whose main account only opens on `day`); from `day` it reports partner
/// `to`'s (whose main account closes on `day`).
#[derive(Debug, Clone)]
pub struct Transfer {
    pub account: String,
    pub from: usize,
    pub to: usize,
    pub day: NaiveDate,
}

/// One account and owner period of the new platform (one row of its partner history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef {
    pub account: String,
    /// Index of the old partner the account reports for.
    pub owner: usize,
    /// First day (inclusive), if the period has a start.
    pub from: Option<NaiveDate>,
    /// Day it ends (exclusive), if it ends.
    pub to: Option<NaiveDate>,
}

impl Accounts {
    /// Builds the accounts of `n` partners; `taken` are partner indexes other injected
    /// causes use (avoided when there are enough partners), `masters` the first indexes
    /// that are masters (never chosen).
    pub(crate) fn new(
        seed: u64,
        n: usize,
        masters: usize,
        taken: &[usize],
        first_day: NaiveDate,
        today: NaiveDate,
    ) -> Accounts {
        // Old ids are 1001.., new ids 70001.. (or 7000001.. when old ids would reach them).
        let base: u64 = if n + 1000 < 69_000 { 70_000 } else { 7_000_000 };
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|i| mix(seed ^ 0x07E5_71D5 ^ (*i as u64).wrapping_mul(0x9E37)));
        let mut main = vec![String::new(); n];
        for (rank, i) in order.iter().enumerate() {
            main[*i] = (base + 1 + rank as u64).to_string();
        }
        let mut chosen: Vec<usize> = Vec::new();
        let pick = |salt: u64, chosen: &mut Vec<usize>| {
            let span = n - masters;
            let start = (mix(seed ^ salt) as usize) % span;
            let free = |i: usize| !chosen.contains(&i);
            let candidates = (0..span).map(|k| masters + (start + k) % span);
            let i = candidates
                .clone()
                .find(|i| free(*i) && !taken.contains(i))
                .or_else(|| candidates.clone().find(|i| free(*i)))
                .unwrap_or(masters);
            chosen.push(i);
            i
        };
        let merged = pick(0x3E6, &mut chosen);
        let from = pick(0x7A1, &mut chosen);
        let to = pick(0x7A2, &mut chosen);
        let day = today
            .checked_sub_days(chrono::Days::new(7))
            .unwrap_or(today)
            .max(first_day.succ_opt().unwrap_or(first_day))
            .min(today);
        Accounts {
            main,
            merged,
            merged_extra: (base + 1 + n as u64).to_string(),
            transfer: Transfer {
                account: (base + 2 + n as u64).to_string(),
                from,
                to,
                day,
            },
        }
    }

    /// The account partner `i`'s traffic is reported under on `day` (the merged
    /// partner's main account; its second one is [`Accounts::merged_extra`]).
    pub fn account_on(&self, i: usize, day: NaiveDate) -> &str {
        let t = &self.transfer;
        if (i == t.from && day < t.day) || (i == t.to && day >= t.day) {
            return &t.account;
        }
        &self.main[i]
    }

    /// Every account and owner period, in account order of the partners, then the
    /// merged partner's second account, then the transferred account's two periods.
    pub fn history(&self) -> Vec<AccountRef> {
        let t = &self.transfer;
        let mut out = Vec::with_capacity(self.main.len() + 3);
        for (i, id) in self.main.iter().enumerate() {
            let (from, to) = if i == t.from {
                (Some(t.day), None)
            } else if i == t.to {
                (None, Some(t.day))
            } else {
                (None, None)
            };
            out.push(AccountRef {
                account: id.clone(),
                owner: i,
                from,
                to,
            });
        }
        out.push(AccountRef {
            account: self.merged_extra.clone(),
            owner: self.merged,
            from: None,
            to: None,
        });
        out.push(AccountRef {
            account: t.account.clone(),
            owner: t.from,
            from: None,
            to: Some(t.day),
        });
        out.push(AccountRef {
            account: t.account.clone(),
            owner: t.to,
            from: Some(t.day),
            to: None,
        });
        out
    }
}

/// The first half of a day's facts (counts rounded down; money halved at the platform's
/// precision); the rest is `f - half`.
fn half(f: &Facts, dp: u32) -> Facts {
    let m = |v: Decimal| (v / Decimal::TWO).round_dp_with_strategy(dp, RoundingStrategy::ToZero);
    Facts {
        clicks_gross: f.clicks_gross / 2,
        clicks_unique: f.clicks_unique / 2,
        registrations: f.registrations / 2,
        ftd_count: f.ftd_count / 2,
        ftd_amount: m(f.ftd_amount),
        net_revenue: m(f.net_revenue),
        commission: m(f.commission),
    }
}

fn minus(a: &Facts, b: &Facts) -> Facts {
    Facts {
        clicks_gross: a.clicks_gross - b.clicks_gross,
        clicks_unique: a.clicks_unique - b.clicks_unique,
        registrations: a.registrations - b.registrations,
        ftd_count: a.ftd_count - b.ftd_count,
        ftd_amount: a.ftd_amount - b.ftd_amount,
        net_revenue: a.net_revenue - b.net_revenue,
        commission: a.commission - b.commission,
    }
}

/// The ECB publishes no rates on Saturdays and Sundays.
pub fn is_business_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Program {
    /// Whether the new platform reports under its own ids.
    pub fn new_ids(&self) -> bool {
        self.diffs.new_ids
    }

    /// Report rows per day on `platform`: one per partner, plus the merged partner's
    /// second account on a new platform with its own ids.
    pub fn slots(&self, platform: Platform) -> usize {
        let n = self.partners.len();
        if platform == Platform::New && self.new_ids() {
            n + 1
        } else {
            n
        }
    }

    /// Report row `slot` of `day` on `platform`: the partner id the platform reports and
    /// the facts. Slot `i < n` is partner `i`'s traffic.
    pub fn report_row(&self, platform: Platform, slot: usize, day: NaiveDate) -> (&str, Facts) {
        let n = self.partners.len();
        if platform == Platform::Old || !self.new_ids() {
            return (&self.partners[slot].id, self.facts(slot, day, platform));
        }
        let a = &self.accounts;
        let dp = if self.diffs.rounding { 2 } else { 6 };
        if slot == n {
            let f = self.facts(a.merged, day, platform);
            return (&a.merged_extra, minus(&f, &half(&f, dp)));
        }
        let f = self.facts(slot, day, platform);
        let f = if slot == a.merged { half(&f, dp) } else { f };
        (a.account_on(slot, day), f)
    }

    /// The new platform's id for old partner `i` on `day` (its account then).
    pub fn new_id_on(&self, i: usize, day: NaiveDate) -> &str {
        if self.new_ids() {
            self.accounts.account_on(i, day)
        } else {
            &self.partners[i].id
        }
    }

    /// The account an event of partner `i` through `link` on `day` is reported under on
    /// the new platform: the merged partner's second link goes to its second account.
    pub(crate) fn event_account(&self, i: usize, link: &str, day: NaiveDate) -> String {
        let a = &self.accounts;
        if i == a.merged && self.partners[i].links.get(1).is_some_and(|l| l == link) {
            return a.merged_extra.clone();
        }
        a.account_on(i, day).to_owned()
    }

    /// Index of the partner with old id `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        let k: usize = id.parse().ok()?;
        let i = k.checked_sub(1001)?;
        (i < self.partners.len() && self.partners[i].id == id).then_some(i)
    }

    /// The master of partner `i` on `platform`, as that platform names it (the master's
    /// account on `day` on a new platform with its own ids).
    pub fn master_id(&self, i: usize, platform: Platform, day: NaiveDate) -> Option<String> {
        let m = self.master(i, platform)?;
        if platform == Platform::New && self.new_ids() {
            let mi = self.index_of(&m)?;
            return Some(self.new_id_on(mi, day).to_owned());
        }
        Some(m)
    }

    /// The ECB reference rate (USD per 1 EUR, 4 decimals) of `day`; none at weekends.
    pub fn ecb_rate(&self, day: NaiveDate) -> Option<Decimal> {
        if !is_business_day(day) {
            return None;
        }
        let h = mix(self.seed ^ 0x0ECB ^ (day.num_days_from_ce() as u64) << 8);
        Some(Decimal::new(10_800 + (h % 801) as i64 - 400, 4))
    }

    /// The rate in force on `day`: that day's, else the last business day's before it.
    pub fn ecb_rate_on(&self, day: NaiveDate) -> Decimal {
        let mut d = day;
        for _ in 0..7 {
            if let Some(r) = self.ecb_rate(d) {
                return r;
            }
            d = d.pred_opt().unwrap_or(d);
        }
        Decimal::new(10_800, 4)
    }

    /// USD per EUR the new platform converts `day`'s money with (`None`: it reports EUR).
    pub fn new_rate(&self, day: NaiveDate) -> Option<Decimal> {
        if self.diffs.daily_rates {
            Some(self.ecb_rate_on(day))
        } else {
            self.diffs.fx_rate
        }
    }
}

/// One partner record as a system holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerRecord {
    pub id: String,
    pub name: String,
    pub email: String,
    pub country: String,
    pub status: String,
}

const COUNTRIES: &[&str] = &["MT", "DE", "SE", "FI", "GB", "IE", "NL", "CA"];

/// Where the CRM's copy drifts from the new platform (partner indexes into the new
/// platform's record list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmDrift {
    /// A record the CRM never received.
    pub missing: usize,
    /// A record whose country differs.
    pub country: usize,
    /// A record whose status differs only in case (equal once normalized).
    pub status_case: usize,
}

impl Program {
    /// The new platform's partner records: one per account, owned by its current partner.
    pub fn new_records(&self) -> Vec<PartnerRecord> {
        let n = self.partners.len();
        let t = &self.accounts.transfer;
        let mut ids: Vec<(String, usize)> = (0..n)
            .map(|i| (self.new_id_on(i, self.today).to_owned(), i))
            .collect();
        if self.new_ids() {
            ids.push((self.accounts.merged_extra.clone(), self.accounts.merged));
            // The account the transferred partner left (closed on the transfer day).
            if t.day > self.today {
                ids.push((self.accounts.main[t.from].clone(), t.from));
            } else {
                ids.push((self.accounts.main[t.to].clone(), t.to));
            }
        }
        ids.into_iter()
            .map(|(id, i)| {
                let closed = self.new_ids()
                    && ((t.day <= self.today && id == self.accounts.main[t.to])
                        || (t.day > self.today && id == self.accounts.main[t.from]));
                self.record_of(id, i, closed)
            })
            .collect()
    }

    /// Partner `i`'s record under `id` (its name, email and country are the partner's).
    pub fn record_of(&self, id: String, i: usize, closed: bool) -> PartnerRecord {
        let h = mix(self.seed ^ 0xC12A ^ i as u64);
        PartnerRecord {
            name: format!("Partner {}", self.partners[i].id),
            email: format!("partner{}@example.com", self.partners[i].id),
            country: COUNTRIES[(h % COUNTRIES.len() as u64) as usize].to_owned(),
            status: if closed { "closed" } else { "active" }.to_owned(),
            id,
        }
    }

    /// Which records the CRM holds differently (none when the CRM drift is off).
    pub fn crm_drift(&self) -> Option<CrmDrift> {
        if !self.diffs.crm_drift {
            return None;
        }
        let n = self.new_records().len();
        let at = |salt: u64| (mix(self.seed ^ salt) as usize) % n;
        let missing = at(0xC1);
        let mut country = at(0xC2);
        if country == missing {
            country = (country + 1) % n;
        }
        let mut status_case = at(0xC3);
        while status_case == missing || status_case == country {
            status_case = (status_case + 1) % n;
        }
        Some(CrmDrift {
            missing,
            country,
            status_case,
        })
    }

    /// The CRM's copy of the new platform's partner records, with the drift applied.
    pub fn crm_records(&self) -> Vec<PartnerRecord> {
        let mut recs = self.new_records();
        let Some(d) = self.crm_drift() else {
            return recs;
        };
        let c = &mut recs[d.country];
        let k = COUNTRIES.iter().position(|x| *x == c.country).unwrap_or(0);
        c.country = COUNTRIES[(k + 1) % COUNTRIES.len()].to_owned();
        let s = &mut recs[d.status_case];
        s.status = s.status.to_uppercase();
        recs.remove(d.missing);
        recs
    }
}

/// The parts of [`crate::Truth`] about the pair of platforms.
pub(crate) struct PairTruth {
    pub partner_ids: serde_json::Value,
    pub rates: serde_json::Value,
    pub rollup: Vec<serde_json::Value>,
    pub record_sync: Vec<serde_json::Value>,
    pub payout: serde_json::Value,
    pub attribution: serde_json::Value,
}

/// A partner's deal as a plan's `payout` check writes it (money in EUR).
fn plan_deal(id: &str, deal: &Deal) -> serde_json::Value {
    match *deal {
        Deal::Cpa { amount } => {
            json!({"partner": id, "currency": "EUR", "cpa": {"amount": amount.to_string()}})
        }
        Deal::RevShare { share } => {
            json!({"partner": id, "currency": "EUR", "revshare": {"rate": share.to_string()}})
        }
        Deal::Hybrid { amount, share } => json!({
            "partner": id, "currency": "EUR",
            "cpa": {"amount": amount.to_string()}, "revshare": {"rate": share.to_string()},
        }),
    }
}

impl Program {
    pub(crate) fn pair_truth(&self) -> PairTruth {
        let d = &self.diffs;
        let id = |i: usize| self.partners[i].id.clone();
        let a = &self.accounts;
        let t = &a.transfer;
        let partner_ids = if d.new_ids {
            json!({
                "new_ids": true,
                "old_ids": format!("{}..{}", id(0), id(self.partners.len() - 1)),
                "crosswalk": "/new/partners/history",
                "merged": {
                    "partner": id(a.merged),
                    "accounts": [a.main[a.merged], a.merged_extra],
                    "detail": "the new platform splits the partner's traffic over two accounts (the second link's events go to the second one); both map to the one old id",
                },
                "transferred": {
                    "account": t.account, "day": t.day,
                    "before": id(t.from), "after": id(t.to),
                    "before_partner_account_from_day": a.main[t.from],
                    "after_partner_account_until_day": a.main[t.to],
                    "detail": "the account reports the first partner's traffic before the day and the second's from it; a crosswalk without its dates maps one new id to two old ids",
                },
            })
        } else {
            json!({"new_ids": false})
        };
        let rates = json!({
            "base": "EUR",
            "quote": "USD per 1 EUR",
            "daily": d.daily_rates,
            "constant": if d.daily_rates { None } else { d.fx_rate.map(|r| r.to_string()) },
            "xml": "/rates/eurofxref-hist.xml",
            "csv": "/rates/rates.csv",
            "weekends": "no rate; the new platform converts with the last business day's",
        });
        let mut rollup = Vec::new();
        if d.sub_partner_moved {
            let i = self.moved_sub;
            let today = self.today;
            rollup.push(json!({
                "code": "sub_partner_other_master",
                "partner": id(i),
                "old_master": self.master(i, Platform::Old),
                "new_master": self.master(i, Platform::New),
                "new_platform": {
                    "partner": self.new_id_on(i, today),
                    "master": self.master_id(i, Platform::New, today),
                },
                "detail": "both masters' totals differ between the platforms by the sub-partner's rows; the sub-partner itself agrees (up to the other causes)",
            }));
        }
        let mut record_sync = Vec::new();
        if let Some(dr) = self.crm_drift() {
            let new = self.new_records();
            let crm = self.crm_records();
            let crm_of = |rid: &str| crm.iter().find(|c| c.id == rid).cloned();
            let m = &new[dr.missing];
            record_sync.push(json!({"code": "missing_in_crm", "partner": m.id, "name": m.name}));
            let c = &new[dr.country];
            record_sync.push(json!({
                "code": "field_mismatch", "partner": c.id, "field": "country",
                "new": c.country, "crm": crm_of(&c.id).map(|r| r.country),
            }));
            let st = &new[dr.status_case];
            record_sync.push(json!({
                "code": null, "partner": st.id, "field": "status",
                "new": st.status, "crm": crm_of(&st.id).map(|r| r.status),
                "detail": "differs only in case: a field_mismatch only without normalize",
            }));
        }
        // Deals to check: the wrongly paid partner and two revshare partners no other
        // cause touches.
        let busy = [
            self.moved_sub,
            self.coupon_to,
            self.coupon_from,
            self.lost_link_partner,
            a.merged,
            t.from,
            t.to,
        ];
        let mut checked: Vec<usize> = Vec::new();
        if d.wrong_rate {
            checked.push(self.wrong_rate_partner);
        }
        checked.extend(
            (0..self.partners.len())
                .filter(|i| !busy.contains(i) && *i != self.wrong_rate_partner)
                .filter(|i| matches!(self.partners[*i].deal, Deal::RevShare { .. }))
                .filter(|i| {
                    self.partners
                        .iter()
                        .all(|p| p.master.as_ref() != Some(&self.partners[*i].id))
                })
                .take(2),
        );
        let expected: Vec<serde_json::Value> = checked
            .iter()
            .map(|i| {
                if d.wrong_rate && *i == self.wrong_rate_partner {
                    json!({"partner": id(*i), "code": "new_differs", "cause": "wrong_deal_rate", "detail": "the new platform pays 90% of the deal"})
                } else {
                    json!({"partner": id(*i), "code": null, "detail": "recomputed, old and new agree up to rounding and the day shift at the window's edges (1/8 of a day's commission in, 1/8 out: tens of EUR a week; ?from=&to= gives the sums)"})
                }
            })
            .collect();
        let payout = json!({
            "deals": checked.iter().map(|i| plan_deal(&id(*i), &self.partners[*i].deal)).collect::<Vec<_>>(),
            "expected": expected,
            "pending_days": d.pending_days,
            "detail": "every FTD qualifies (qualified_ftd = ftd_count); the new platform's commission of the last pending_days days is 70% (pending), so a period ending then differs for every partner",
        });
        // Trackers: the split partner's second link (its events land on the second
        // account), a quiet partner's first link, and the coupon the platforms attribute
        // differently.
        let mut links = serde_json::Map::new();
        let mut expected = Vec::new();
        let m = a.merged;
        links.insert(self.partners[m].links[1].clone(), json!(id(m)));
        if let Some(q) = checked
            .iter()
            .find(|i| Some(**i) != d.wrong_rate.then_some(self.wrong_rate_partner))
        {
            links.insert(self.partners[*q].links[0].clone(), json!(id(*q)));
        }
        let mut coupons = serde_json::Map::new();
        if let Some(c) = &self.partners[self.coupon_to].coupon {
            coupons.insert(c.clone(), json!(id(self.coupon_to)));
            if d.coupon_precedence {
                expected.push(json!({
                    "code": "disagrees_with_old", "tracker": c,
                    "old_partner": id(self.coupon_from), "new_partner": id(self.coupon_to),
                    "detail": "the old platform credits the link owner with a quarter of its FTDs that carry the coupon",
                }));
            }
        }
        let attribution = json!({"links": links, "coupons": coupons, "expected": expected});
        PairTruth {
            partner_ids,
            rates,
            rollup,
            record_sync,
            payout,
            attribution,
        }
    }
}

/// Units of EUR for one USD on `day`, as the rates endpoints serve it (10 decimals).
pub fn eur_per_usd(usd_per_eur: Decimal) -> Decimal {
    (Decimal::ONE / usd_per_eur).round_dp(10)
}

const WINDOW_METRICS: [&str; 7] = [
    "clicks_gross",
    "clicks_unique",
    "registrations",
    "ftd_count",
    "ftd_amount",
    "net_revenue",
    "commission",
];

fn metric(f: &Facts, m: &str) -> Decimal {
    match m {
        "clicks_gross" => Decimal::from(f.clicks_gross),
        "clicks_unique" => Decimal::from(f.clicks_unique),
        "registrations" => Decimal::from(f.registrations),
        "ftd_count" => Decimal::from(f.ftd_count),
        "ftd_amount" => f.ftd_amount,
        "net_revenue" => f.net_revenue,
        _ => f.commission,
    }
}

impl Program {
    /// The causes that touch partner `i`'s `metric` on `day` on the new platform.
    fn causes(&self, i: usize, day: NaiveDate, m: &str) -> Vec<&'static str> {
        let d = &self.diffs;
        let money = matches!(m, "ftd_amount" | "net_revenue" | "commission");
        let ftd = matches!(m, "ftd_count" | "ftd_amount");
        let age = (self.today - day).num_days();
        let mut c = Vec::new();
        if d.tz_shift {
            c.push("timezone_day_shift");
        }
        if money && (d.fx_rate.is_some() || d.daily_rates) {
            c.push("fx_rate");
        }
        if money && d.rounding {
            c.push("rounding");
        }
        if m == "clicks_gross" && d.unique_clicks {
            c.push("gross_vs_unique_clicks");
        }
        if m == "commission" && age >= 0 && age < i64::from(d.pending_days) {
            c.push("pending_not_approved");
        }
        if ftd && age >= 0 && age < i64::from(d.late_days) {
            c.push("late_conversions");
        }
        if ftd && d.coupon_precedence && (i == self.coupon_from || i == self.coupon_to) {
            c.push("coupon_precedence");
        }
        if ftd && d.lost_link && i == self.lost_link_partner {
            c.push("lost_events");
        }
        if m == "commission" && d.wrong_rate && i == self.wrong_rate_partner {
            c.push("wrong_deal_rate");
        }
        c
    }

    /// What `/truth?from=&to=` adds: for every partner (old ids), day and metric where
    /// the platforms differ, the old value, the new one (all its accounts that day, in
    /// its currency), the rate and the new value in EUR, and the causes; and per payout
    /// partner of [`Truth::payout`](crate::Truth) the window's sums.
    pub fn window_truth(&self, from: NaiveDate, to: NaiveDate) -> serde_json::Value {
        let mut rows = Vec::new();
        let mut same = 0u64;
        let mut d = from;
        while d <= to {
            let rate = self.new_rate(d).map(eur_per_usd);
            for i in 0..self.partners.len() {
                let (o, n) = (
                    self.facts(i, d, Platform::Old),
                    self.facts(i, d, Platform::New),
                );
                for m in WINDOW_METRICS {
                    let (ov, nv) = (metric(&o, m), metric(&n, m));
                    let money = matches!(m, "ftd_amount" | "net_revenue" | "commission");
                    let conv = match rate {
                        Some(r) if money => (nv * r).round_dp(4),
                        _ => nv,
                    };
                    if conv == ov {
                        same += 1;
                        continue;
                    }
                    rows.push(json!({
                        "partner": self.partners[i].id, "day": d, "metric": m,
                        "old": ov.to_string(), "new": nv.to_string(),
                        "new_currency": if money { self.currency(Platform::New) } else { "" },
                        "rate": if money { rate.map(|r| r.to_string()) } else { None },
                        "new_eur": conv.to_string(),
                        "causes": self.causes(i, d, m),
                    }));
                }
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        let payout = self.pair_truth().payout;
        let sums: Vec<serde_json::Value> = payout["deals"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|deal| {
                let i = self.index_of(deal["partner"].as_str()?)?;
                let (mut old, mut new, mut new_eur, mut ngr, mut ftd) = (
                    Decimal::ZERO,
                    Decimal::ZERO,
                    Decimal::ZERO,
                    Decimal::ZERO,
                    0i64,
                );
                let mut d = from;
                while d <= to {
                    let o = self.facts(i, d, Platform::Old);
                    let n = self.facts(i, d, Platform::New);
                    old += o.commission;
                    ngr += o.net_revenue;
                    ftd += o.ftd_count;
                    new += n.commission;
                    new_eur += match self.new_rate(d) {
                        Some(r) => (n.commission * eur_per_usd(r)).round_dp(4),
                        None => n.commission,
                    };
                    d = d.succ_opt()?;
                }
                let recomputed = match self.partners[i].deal {
                    Deal::Cpa { amount } => amount * Decimal::from(ftd),
                    Deal::RevShare { share } => share * ngr,
                    Deal::Hybrid { amount, share } => amount * Decimal::from(ftd) + share * ngr,
                };
                Some(json!({
                    "partner": self.partners[i].id, "ftd_count": ftd, "qualified_ftd": ftd,
                    "recomputed": recomputed.to_string(),
                    "net_revenue": ngr.to_string(), "old_commission": old.to_string(),
                    "new_commission": new.to_string(), "new_commission_eur": new_eur.to_string(),
                }))
            })
            .collect();
        json!({
            "from": from, "to": to,
            "differing": rows.len(), "equal": same,
            "rows": rows,
            "rollup": self.window_rollup(from, to),
            "payout": sums,
        })
    }

    /// Per master (old ids) and metric, the window's total on each platform's own tree:
    /// the master's rows and its subs' (new values in EUR, mapped to old ids), and which
    /// sub-partner the new tree moved in or out.
    fn window_rollup(&self, from: NaiveDate, to: NaiveDate) -> Vec<serde_json::Value> {
        const METRICS: [&str; 4] = ["clicks_unique", "ftd_count", "net_revenue", "commission"];
        let n = self.partners.len();
        let masters: Vec<usize> = (0..n)
            .filter(|m| {
                let id = Some(&self.partners[*m].id);
                (0..n).any(|i| {
                    self.master(i, Platform::Old).as_ref() == id
                        || self.master(i, Platform::New).as_ref() == id
                })
            })
            .collect();
        let top = |i: usize, pf: Platform| -> usize {
            self.master(i, pf)
                .and_then(|m| self.index_of(&m))
                .unwrap_or(i)
        };
        let mut out = Vec::new();
        for m in masters {
            let mut old = [Decimal::ZERO; 4];
            let mut new = [Decimal::ZERO; 4];
            let mut d = from;
            while d <= to {
                let rate = self.new_rate(d).map(eur_per_usd);
                for i in 0..n {
                    let (in_old, in_new) = (top(i, Platform::Old) == m, top(i, Platform::New) == m);
                    if !in_old && !in_new {
                        continue;
                    }
                    let (o, f) = (
                        self.facts(i, d, Platform::Old),
                        self.facts(i, d, Platform::New),
                    );
                    for (k, name) in METRICS.iter().enumerate() {
                        if in_old {
                            old[k] += metric(&o, name);
                        }
                        if in_new {
                            let v = metric(&f, name);
                            new[k] += match rate {
                                Some(r) if matches!(*name, "net_revenue" | "commission") => {
                                    (v * r).round_dp(4)
                                }
                                _ => v,
                            };
                        }
                    }
                }
                match d.succ_opt() {
                    Some(x) => d = x,
                    None => break,
                }
            }
            let moved = self.diffs.sub_partner_moved.then_some(self.moved_sub);
            let structural = moved.and_then(|s| {
                let (o, nw) = (top(s, Platform::Old) == m, top(s, Platform::New) == m);
                match (o, nw) {
                    (true, false) => Some(json!({"loses": self.partners[s].id})),
                    (false, true) => Some(json!({"gains": self.partners[s].id})),
                    _ => None,
                }
            });
            for (k, name) in METRICS.iter().enumerate() {
                out.push(json!({
                    "master": self.partners[m].id, "metric": name,
                    "old": old[k].to_string(), "new_eur": new[k].to_string(),
                    "structural": structural,
                }));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Differences;

    fn program() -> Program {
        let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        Program::new(5, 30, 30, today, Differences::real_pair())
    }

    #[test]
    fn new_ids_are_unique_numeric_and_never_old_ids() {
        let p = program();
        let mut ids: Vec<&str> = p.accounts.main.iter().map(String::as_str).collect();
        ids.push(&p.accounts.merged_extra);
        ids.push(&p.accounts.transfer.account);
        let set: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(set.len(), 32);
        for id in ids {
            assert!(id.parse::<u64>().unwrap() > 70_000, "{id}");
            assert!(p.index_of(id).is_none());
        }
        assert_eq!(p.accounts.main, program().accounts.main, "seeded");
    }

    #[test]
    fn each_day_the_accounts_add_up_to_each_partners_traffic() {
        let p = program();
        let t = p.accounts.transfer.clone();
        for day in [t.day.pred_opt().unwrap(), t.day] {
            let rows: Vec<(String, Facts)> = (0..p.slots(Platform::New))
                .map(|s| {
                    let (id, f) = p.report_row(Platform::New, s, day);
                    (id.to_owned(), f)
                })
                .collect();
            let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| &r.0).collect();
            assert_eq!(ids.len(), rows.len(), "one row per account and day");
            for (i, _) in p.partners.iter().enumerate() {
                let want = p.facts(i, day, Platform::New);
                let mut got: Vec<&Facts> = Vec::new();
                for r in &p.accounts.history() {
                    let live = r.from.is_none_or(|f| f <= day) && r.to.is_none_or(|e| day < e);
                    if r.owner == i && live {
                        got.extend(rows.iter().filter(|x| x.0 == r.account).map(|x| &x.1));
                    }
                }
                let sum = got.iter().fold(Facts::default(), |a, f| Facts {
                    ftd_count: a.ftd_count + f.ftd_count,
                    commission: a.commission + f.commission,
                    clicks_unique: a.clicks_unique + f.clicks_unique,
                    ..a
                });
                assert_eq!(sum.ftd_count, want.ftd_count, "partner {i} on {day}");
                assert_eq!(sum.commission, want.commission, "partner {i} on {day}");
                assert_eq!(sum.clicks_unique, want.clicks_unique);
                let expect = if i == p.accounts.merged { 2 } else { 1 };
                assert_eq!(got.len(), expect, "partner {i} on {day}");
            }
        }
    }

    #[test]
    fn rates_skip_weekends_and_carry_forward() {
        let p = program();
        let sat = NaiveDate::from_ymd_opt(2026, 11, 14).unwrap();
        let fri = sat.pred_opt().unwrap();
        assert!(p.ecb_rate(sat).is_none());
        assert!(p.ecb_rate(sat.succ_opt().unwrap()).is_none());
        let r = p.ecb_rate(fri).unwrap();
        assert_eq!(r.scale(), 4);
        assert_eq!(p.ecb_rate_on(sat.succ_opt().unwrap()), r);
        assert_eq!(p.new_rate(sat), Some(r));
    }

    #[test]
    fn the_crm_misses_one_record_and_differs_in_one_field() {
        let p = program();
        let (new, crm) = (p.new_records(), p.crm_records());
        assert_eq!(new.len(), 32);
        assert_eq!(crm.len(), 31);
        let d = p.crm_drift().unwrap();
        assert!(!crm.iter().any(|r| r.id == new[d.missing].id));
        let differing: Vec<&str> = crm
            .iter()
            .filter(|c| new.iter().any(|n| n.id == c.id && n.country != c.country))
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(differing, [new[d.country].id.as_str()]);
    }
}
