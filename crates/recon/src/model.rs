//! The canonical data model every source is normalised into (see docs/DOMAIN.md):
//! daily aggregates and events, and the reference data checks read beside them (partner
//! crosswalk, FX rates, partner hierarchy, CRM records). Money is a decimal, never a
//! float; timestamps are UTC.
//!
//! This is the contract between `cutover-sources` (which produces these rows) and the
//! check kinds of this crate (which compare them). Add to it; do not rename.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
pub use cutover_plan::{MetricKind, MetricNameError, MetricVocabulary};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A daily metric a platform reports: one of the canonical metrics, or any other name
/// ([`Metric::Other`]: a metric a plan declares, or whatever an export calls its columns).
///
/// Serialized as its plain name; reading a name gives the canonical variant when there is
/// one, [`Metric::Other`] otherwise (so `Other` never holds a canonical name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Any other metric name (validated, never a canonical one).
    Other(MetricName),
}

/// The canonical metrics, in declaration order (a `static`: `&'static` borrows of it live
/// forever, unlike borrows of the [`Metric::ALL`] constant).
pub static CANONICAL_METRICS: [Metric; 14] = Metric::ALL;

impl Metric {
    /// The canonical metrics, in declaration order.
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

    /// The name: the canonical one, or the name an [`Metric::Other`] holds.
    pub fn as_str(&self) -> &str {
        match self {
            Metric::Other(n) => n.as_str(),
            m => m.canonical_name().unwrap_or_default(),
        }
    }

    /// The canonical name (`None` for [`Metric::Other`]).
    pub fn canonical_name(&self) -> Option<&'static str> {
        Some(match self {
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
            Metric::Other(_) => return None,
        })
    }

    /// The canonical metric called `name`, if there is one (no other name is accepted).
    pub fn canonical(name: &str) -> Option<Metric> {
        let i = CANONICAL_METRICS.iter().position(|m| m.as_str() == name)?;
        Some(CANONICAL_METRICS[i].clone())
    }

    /// The metric called `name`: canonical when it is one, else [`Metric::Other`] after
    /// checking the name's form ([`cutover_plan::check_metric_name`]).
    pub fn parse(name: &str) -> Result<Metric, MetricNameError> {
        match Metric::canonical(name) {
            Some(m) => Ok(m),
            None => {
                cutover_plan::check_metric_name(name)?;
                Ok(Metric::Other(MetricName::interned(name)))
            }
        }
    }

    /// Whether this is one of the canonical metrics.
    pub fn is_canonical(&self) -> bool {
        !matches!(self, Metric::Other(_))
    }

    /// Money metrics carry a currency and are converted by FX; counts are not.
    ///
    /// Only canonical metrics know this on their own: [`Metric::Other`] answers `false`.
    /// Whether another metric is money is the plan's to say (`metrics:` at the top level);
    /// ask the plan's [`MetricVocabulary`] (`vocabulary.is_money(&metric)`).
    pub fn is_money(&self) -> bool {
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

impl AsRef<str> for Metric {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = MetricNameError;
    /// Same as [`Metric::parse`]: any well-formed name is a metric.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::parse(s)
    }
}

impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Metric;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a metric name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Metric, E> {
                Metric::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// The name of a metric outside the canonical list. Cheap to clone (a shared string;
/// names read on one thread are interned, so rows of one export share one allocation);
/// compares, orders and hashes as its text.
#[derive(Clone)]
pub struct MetricName(Arc<str>);

/// Names interned per thread, at most this many (then new names are simply allocated).
const INTERN_LIMIT: usize = 4096;

thread_local! {
    static INTERNED: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::new());
}

impl MetricName {
    /// A name outside the canonical list: checked like every metric name, and a canonical
    /// name is refused (use the canonical variant, or [`Metric::parse`]).
    pub fn new(name: &str) -> Result<MetricName, MetricNameError> {
        cutover_plan::check_metric_name(name)?;
        if Metric::canonical(name).is_some() {
            return Err(MetricNameError::Canonical {
                name: name.to_owned(),
            });
        }
        Ok(MetricName::interned(name))
    }

    /// Shares the allocation of an equal name seen before on this thread.
    fn interned(name: &str) -> MetricName {
        INTERNED.with(|cell| {
            let Ok(mut set) = cell.try_borrow_mut() else {
                return MetricName(Arc::from(name));
            };
            if let Some(a) = set.get(name) {
                return MetricName(a.clone());
            }
            let a: Arc<str> = Arc::from(name);
            if set.len() < INTERN_LIMIT {
                set.insert(a.clone());
            }
            MetricName(a)
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for MetricName {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for MetricName {}

impl std::hash::Hash for MetricName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for MetricName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MetricName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for MetricName {
    fn as_ref(&self) -> &str {
        self.as_str()
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

/// One line of a partner crosswalk (`rows: crosswalk`): the new platform's id `new` is
/// the old platform's partner `old` on the days `valid_from ≤ day < valid_to`.
///
/// Several new ids may name one old id (a merge); one new id may name different old ids
/// over non-overlapping periods (a re-assignment). Dates are the plan's days; `valid_from`
/// is inclusive, `valid_to` exclusive (the first day it no longer holds), as in
/// [`ParentEdge`] and `mapping::CrosswalkEntry`; `None` is open-ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrosswalkRow {
    /// The partner id as the old platform knows it (the id findings are reported under).
    pub old: String,
    /// The partner id as the new platform knows it.
    pub new: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

impl CrosswalkRow {
    /// Whether the line holds on `day`.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= day) && self.valid_to.is_none_or(|t| day < t)
    }
}

/// One FX rate (`rows: rates`): on `day`, one unit of `currency` is worth `rate` units of
/// the plan's currency (with a EUR plan, USD on a day with 1 EUR = 1.1 USD has rate
/// 1/1.1 ≈ 0.909). Always above zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateRow {
    pub day: NaiveDate,
    /// ISO 4217 code.
    pub currency: String,
    pub rate: Decimal,
}

/// One partner's place in a system's partner tree (`rows: hierarchy`): `partner`'s
/// master is `parent` (`None`: a top-level partner) on the days `valid_from ≤ day <
/// valid_to` (inclusive / exclusive, as [`ParentEdge`]; `None` is open-ended). Ids are
/// the system's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HierarchyRow {
    pub partner: String,
    pub parent: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

impl HierarchyRow {
    /// Whether the line holds on `day`.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= day) && self.valid_to.is_none_or(|t| day < t)
    }
}

/// One record of a CRM / back office or platform (`rows: record`, for `record_sync`): its
/// `id` and every other field the source maps, as text (a field the record leaves empty
/// or null is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub fields: BTreeMap<String, String>,
}

/// A normalised row, as a source produces it: report data (aggregates, events) or
/// reference data (crosswalk, rates, hierarchy, records); one source gives one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "row", rename_all = "snake_case")]
pub enum Row {
    Aggregate(Aggregate),
    Event(Event),
    Crosswalk(CrosswalkRow),
    Rate(RateRow),
    Hierarchy(HierarchyRow),
    Record(Record),
}

impl Row {
    /// The row's kind as written in `rows:` of a source (`rate` rows come from `rates`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Row::Aggregate(_) => "aggregate",
            Row::Event(_) => "event",
            Row::Crosswalk(_) => "crosswalk",
            Row::Rate(_) => "rates",
            Row::Hierarchy(_) => "hierarchy",
            Row::Record(_) => "record",
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_round_trip_as_plain_names() {
        for m in &CANONICAL_METRICS {
            assert_eq!(Metric::parse(m.as_str()), Ok(m.clone()));
            assert!(m.is_canonical());
        }
        let other = Metric::parse("impressions").unwrap();
        assert_eq!(
            other,
            Metric::Other(MetricName::new("impressions").unwrap())
        );
        assert_eq!(other.as_str(), "impressions");
        assert_eq!(other.canonical_name(), None);
        assert!(!other.is_money() && !other.is_canonical());
        assert_eq!(Metric::canonical("impressions"), None);
        // Serde: the plain name both ways; canonical names never become `Other`.
        let list = vec![Metric::FtdCount, other.clone()];
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, r#"["ftd_count","impressions"]"#);
        assert_eq!(serde_json::from_str::<Vec<Metric>>(&json).unwrap(), list);
        let bad = serde_json::from_str::<Metric>(r#""a""#).unwrap_err();
        assert!(bad.to_string().contains("control character"), "{bad}");
        assert_eq!(
            MetricName::new("ftd_count"),
            Err(MetricNameError::Canonical {
                name: "ftd_count".into()
            })
        );
        assert_eq!(Metric::parse(""), Err(MetricNameError::Empty));
        assert!("a\nb".parse::<Metric>().is_err());
    }

    #[test]
    fn other_metrics_share_their_name_and_order_by_it() {
        let a = Metric::parse("bonus_cost").unwrap();
        let b = Metric::parse("bonus_cost").unwrap();
        let (Metric::Other(x), Metric::Other(y)) = (&a, &b) else {
            panic!("not Other")
        };
        assert!(Arc::ptr_eq(&x.0, &y.0), "interned on one thread");
        let c = Metric::Other(MetricName(Arc::from("bonus_cost")));
        assert_eq!(a, c);
        let mut v = [
            Metric::parse("zeta").unwrap(),
            Metric::Commission,
            Metric::parse("alpha").unwrap(),
            Metric::ClicksGross,
        ];
        v.sort();
        let names: Vec<&str> = v.iter().map(Metric::as_str).collect();
        assert_eq!(names, ["clicks_gross", "commission", "alpha", "zeta"]);
    }

    /// Canonical money-ness agrees with the plan's vocabulary.
    #[test]
    fn money_agrees_with_the_plan() {
        let v = MetricVocabulary::canonical();
        for m in &CANONICAL_METRICS {
            assert_eq!(m.is_money(), v.is_money(m), "{m}");
        }
        let names: Vec<&str> = CANONICAL_METRICS.iter().map(Metric::as_str).collect();
        assert_eq!(names, cutover_plan::sources::METRICS);
    }

    #[test]
    fn reference_rows_cover_their_validity() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let x = CrosswalkRow {
            old: "AFF-5".into(),
            new: "70009".into(),
            valid_from: Some(d("2026-10-03")),
            valid_to: Some(d("2026-10-05")),
        };
        assert!(!x.covers(d("2026-10-02")));
        assert!(x.covers(d("2026-10-03")) && x.covers(d("2026-10-04")));
        assert!(!x.covers(d("2026-10-05")), "valid_to is exclusive");
        let h = HierarchyRow {
            partner: "s".into(),
            parent: Some("m".into()),
            valid_from: None,
            valid_to: Some(d("2026-10-05")),
        };
        assert!(h.covers(d("2000-01-01")) && !h.covers(d("2026-10-05")));
        let rows = [
            Row::Crosswalk(x),
            Row::Rate(RateRow {
                day: d("2026-10-01"),
                currency: "USD".into(),
                rate: Decimal::new(85_470, 5),
            }),
            Row::Hierarchy(h),
            Row::Record(Record {
                id: "c1".into(),
                fields: [("email".to_owned(), "a@b.c".to_owned())].into(),
            }),
        ];
        let kinds: Vec<&str> = rows.iter().map(Row::kind_name).collect();
        assert_eq!(kinds, ["crosswalk", "rates", "hierarchy", "record"]);
    }
}
