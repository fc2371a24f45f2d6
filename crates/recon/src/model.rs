//! The canonical data model every source is normalised into (see docs/DOMAIN.md):
//! daily aggregates and events. Money is a decimal, never a float; timestamps are UTC.
//!
//! This is the contract between `cutover-sources` (which produces these rows) and the
//! check kinds of this crate (which compare them). Add to it; do not rename.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A daily metric a platform reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    ClicksGross,
    ClicksUnique,
    Registrations,
    FtdCount,
    FtdAmount,
    QualifiedFtd,
    DepositsCount,
    DepositsAmount,
    WithdrawalsAmount,
    Purchases,
    PurchasesAmount,
    Trades,
    NetRevenue,
    Commission,
}

impl Metric {
    pub const ALL: [Metric; 14] = [
        Metric::ClicksGross,
        Metric::ClicksUnique,
        Metric::Registrations,
        Metric::FtdCount,
        Metric::FtdAmount,
        Metric::QualifiedFtd,
        Metric::DepositsCount,
        Metric::DepositsAmount,
        Metric::WithdrawalsAmount,
        Metric::Purchases,
        Metric::PurchasesAmount,
        Metric::Trades,
        Metric::NetRevenue,
        Metric::Commission,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::ClicksGross => "clicks_gross",
            Metric::ClicksUnique => "clicks_unique",
            Metric::Registrations => "registrations",
            Metric::FtdCount => "ftd_count",
            Metric::FtdAmount => "ftd_amount",
            Metric::QualifiedFtd => "qualified_ftd",
            Metric::DepositsCount => "deposits_count",
            Metric::DepositsAmount => "deposits_amount",
            Metric::WithdrawalsAmount => "withdrawals_amount",
            Metric::Purchases => "purchases",
            Metric::PurchasesAmount => "purchases_amount",
            Metric::Trades => "trades",
            Metric::NetRevenue => "net_revenue",
            Metric::Commission => "commission",
        }
    }

    /// Money metrics carry a currency and are converted by FX; counts are not.
    pub fn is_money(self) -> bool {
        matches!(
            self,
            Metric::FtdAmount
                | Metric::DepositsAmount
                | Metric::WithdrawalsAmount
                | Metric::PurchasesAmount
                | Metric::NetRevenue
                | Metric::Commission
        )
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown metric \"{s}\""))
    }
}

/// One value of a daily aggregate: (partner, local day, [link], [coupon], metric) -> value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// The partner id as the reporting system knows it (mapped later by a crosswalk).
    pub partner: String,
    /// The day in the source's reporting time zone.
    pub day: NaiveDate,
    pub metric: Metric,
    pub value: Decimal,
    /// ISO 4217 code for money metrics; `None` for counts.
    pub currency: Option<String>,
    pub link: Option<String>,
    pub coupon: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Click,
    Registration,
    Ftd,
    Qualification,
    Deposit,
    Withdrawal,
    Purchase,
    Refund,
    Trade,
    Chargeback,
    Commission,
    Reversal,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::Click,
        EventType::Registration,
        EventType::Ftd,
        EventType::Qualification,
        EventType::Deposit,
        EventType::Withdrawal,
        EventType::Purchase,
        EventType::Refund,
        EventType::Trade,
        EventType::Chargeback,
        EventType::Commission,
        EventType::Reversal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Click => "click",
            EventType::Registration => "registration",
            EventType::Ftd => "ftd",
            EventType::Qualification => "qualification",
            EventType::Deposit => "deposit",
            EventType::Withdrawal => "withdrawal",
            EventType::Purchase => "purchase",
            EventType::Refund => "refund",
            EventType::Trade => "trade",
            EventType::Chargeback => "chargeback",
            EventType::Commission => "commission",
            EventType::Reversal => "reversal",
        }
    }
}

impl FromStr for EventType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown event type \"{s}\""))
    }
}

/// Where an event stands in the platform's approval flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Pending,
    Approved,
    Rejected,
    Reversed,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Approved => "approved",
            EventStatus::Rejected => "rejected",
            EventStatus::Reversed => "reversed",
        }
    }
}

impl FromStr for EventStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            EventStatus::Pending,
            EventStatus::Approved,
            EventStatus::Rejected,
            EventStatus::Reversed,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| format!("unknown event status \"{s}\""))
    }
}

/// One event as a system recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The source system's own id for the event.
    pub id: String,
    pub kind: EventType,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub status: EventStatus,
    pub partner: Option<String>,
    pub link: Option<String>,
    pub coupon: Option<String>,
    /// Player / customer reference.
    pub customer: Option<String>,
    pub click_id: Option<String>,
    pub order_id: Option<String>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
}

/// A normalised row, as a source produces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "row", rename_all = "snake_case")]
pub enum Row {
    Aggregate(Aggregate),
    Event(Event),
}

/// Which platform a value or id comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    Old,
    New,
    /// A third system (CRM / back office) for record sync.
    Crm,
}

impl System {
    pub fn as_str(self) -> &'static str {
        match self {
            System::Old => "old",
            System::New => "new",
            System::Crm => "crm",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A master/sub-partner edge, valid from `from` (inclusive) to `to` (exclusive; open-ended
/// when `None`), in the plan's days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentEdge {
    pub parent: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl ParentEdge {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|t| day < t)
    }
}

/// A partner (affiliate) under its canonical id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub id: String,
    /// The partner's id in each system that knows it.
    pub external: Vec<(System, String)>,
    /// Parent edges over time (at most one valid on any day).
    pub parents: Vec<ParentEdge>,
    /// Priority tier (1 = top).
    pub tier: Option<u8>,
}

impl Partner {
    /// The parent on `day`, if any.
    pub fn parent_on(&self, day: NaiveDate) -> Option<&str> {
        self.parents
            .iter()
            .find(|e| e.covers(day))
            .map(|e| e.parent.as_str())
    }

    pub fn external_id(&self, system: System) -> Option<&str> {
        self.external
            .iter()
            .find(|(s, _)| *s == system)
            .map(|(_, id)| id.as_str())
    }
}

/// A tracking link (btag / sub ids / campaign), owned by a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The external token (e.g. a btag).
    pub token: String,
    pub partner: String,
    pub campaign: Option<String>,
    pub sub_ids: Vec<String>,
}

/// A coupon code, owned by a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub code: String,
    pub partner: String,
}

/// What a RevShare tier is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierBasis {
    NetRevenue,
    FtdCount,
}

/// Whole-band: the whole base at the rate of the band it reaches. Marginal: each slice of
/// the base at its own band's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierMode {
    WholeBand,
    Marginal,
}

/// A tier: `rate` applies up to `up_to` of the basis (`None` = no upper bound).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub up_to: Option<Decimal>,
    pub rate: Decimal,
}

/// CPA qualification baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpaBaseline {
    pub min_deposit: Option<Decimal>,
    pub min_wagering: Option<Decimal>,
    /// Days after registration within which the player must qualify.
    pub window_days: Option<u32>,
    /// Days a qualified player must survive (no chargeback/reversal) before payout.
    pub hold_days: Option<u32>,
}

/// CPA terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpa {
    pub amount: Decimal,
    pub baseline: CpaBaseline,
}

/// RevShare terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevShare {
    pub basis: TierBasis,
    pub mode: TierMode,
    /// Ascending by `up_to`; the last one usually open-ended.
    pub tiers: Vec<Tier>,
}

/// A partner's commission deal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deal {
    pub partner: String,
    pub currency: String,
    pub cpa: Option<Cpa>,
    pub revshare: Option<RevShare>,
    /// Negative NGR carries into the next period (on/off), limited to `carryover_cap`
    /// (absolute amount) when set.
    pub negative_carryover: bool,
    pub carryover_cap: Option<Decimal>,
    /// The master's share of each sub-partner's revshare commission (e.g. 0.05).
    pub sub_override: Option<Decimal>,
}
