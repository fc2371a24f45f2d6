//! The settings of each scheduled check kind (`params:` of a check), declared and
//! validated: every key known, every value typed and in range. The loader runs
//! [`CheckConfig::from_params`] on each check and turns its errors into located
//! diagnostics; the runtime calls [`Check::config`] to get the typed settings back.
//!
//! Money and ratios are decimals (`rust_decimal`), never floats.

use std::str::FromStr;

use chrono::TimeDelta;
use rust_decimal::Decimal;

use crate::duration::parse_duration;
use crate::metrics::{MetricVocabulary, check_metric_name};
use crate::model::{Check, CheckKind, Param, ScheduledKind};
use crate::suggest::hint_within;

/// One step into a params tree: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A problem in a check's params, at a path below `params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub path: Vec<Seg>,
    /// The problem is the key itself (unknown key), not its value.
    pub at_key: bool,
    pub message: String,
}

/// The canonical metric names (mirrors `cutover_recon::Metric`).
pub const METRICS: &[&str] = &[
    "clicks_gross",
    "clicks_unique",
    "registrations",
    "ftd_count",
    "ftd_amount",
    "qualified_ftd",
    "deposits_count",
    "deposits_amount",
    "withdrawals_amount",
    "purchases",
    "purchases_amount",
    "trades",
    "net_revenue",
    "commission",
];

/// The canonical event types (mirrors `cutover_recon::EventType`).
pub const EVENT_TYPES: &[&str] = &[
    "click",
    "registration",
    "ftd",
    "qualification",
    "deposit",
    "withdrawal",
    "purchase",
    "refund",
    "trade",
    "chargeback",
    "commission",
    "reversal",
];

/// Absolute / relative / per-row rounding tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ToleranceSpec {
    pub abs: Decimal,
    pub rel: Decimal,
    pub rounding_per_row: Decimal,
}

/// `warn:` / `fail:` limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitSpec {
    pub count: Option<u64>,
    pub money: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconcileSpec {
    pub tolerance: ToleranceSpec,
    /// Per-metric tolerances (from the mapping form of `metrics:`).
    pub metrics: Vec<(String, ToleranceSpec)>,
    /// Metrics compared (every metric when empty).
    pub only: Vec<String>,
    /// How many days back each run compares.
    pub days: Option<u32>,
    pub by_link: bool,
    pub by_coupon: bool,
    pub warn: LimitSpec,
    pub fail: LimitSpec,
    /// The named FX rate table money is converted with.
    pub rate_table: Option<String>,
    /// Platform label -> canonical metric, per system (`old`, `new`).
    pub labels: Vec<(String, String, String)>,
    /// How many days an FX rate of the check's `rates` source is carried forward
    /// (default 3 at run time).
    pub max_rate_gap_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RollupSpec {
    pub metrics: Vec<String>,
    pub tolerance: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributionSpec {
    /// (link token, partner)
    pub links: Vec<(String, String)>,
    /// (coupon code, partner)
    pub coupons: Vec<(String, String)>,
    pub fail_on_no_events: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFlowSpec {
    pub expect: Vec<String>,
    pub min_ratio: Decimal,
    pub max_ratio: Decimal,
    pub max_gap: Option<TimeDelta>,
    pub fresh_within: Option<TimeDelta>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpaSpec {
    pub amount: Decimal,
    pub min_deposit: Option<Decimal>,
    pub min_wagering: Option<Decimal>,
    pub window_days: Option<u32>,
    pub hold_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevShareSpec {
    /// `net_revenue` or `ftd_count`.
    pub basis: String,
    /// `whole_band` or `marginal`.
    pub mode: String,
    /// (up_to, rate); ascending, the last may be open (`None`).
    pub tiers: Vec<(Option<Decimal>, Decimal)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DealSpec {
    pub partner: String,
    pub currency: Option<String>,
    pub cpa: Option<CpaSpec>,
    pub revshare: Option<RevShareSpec>,
    pub negative_carryover: bool,
    pub carryover_cap: Option<Decimal>,
    pub sub_override: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NgrSpec {
    pub ggr_factor: Option<Decimal>,
    pub payment_fee: Option<Decimal>,
    pub admin_fee: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PayoutSpec {
    pub tolerance: Decimal,
    /// `fail` (default) or `warn`.
    pub on_new_mismatch: String,
    /// `warn` (default) or `fail`.
    pub on_old_mismatch: String,
    pub ngr: NgrSpec,
    pub deals: Vec<DealSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordSyncSpec {
    pub fields: Vec<String>,
    pub normalize: bool,
    pub warn: LimitSpec,
    pub fail: LimitSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventMatchSpec {
    /// `click_id` (default), `order_id`, `customer` or `event_id`.
    pub by: String,
    pub amount_tolerance: Decimal,
    pub warn: LimitSpec,
    pub fail: LimitSpec,
    /// How many days an FX rate of the check's `rates` source is carried forward
    /// (default 3 at run time).
    pub max_rate_gap_days: Option<u32>,
}

/// The typed settings of a scheduled check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckConfig {
    Reconcile(ReconcileSpec),
    Rollup(RollupSpec),
    Attribution(AttributionSpec),
    EventFlow(EventFlowSpec),
    Payout(PayoutSpec),
    RecordSync(RecordSyncSpec),
    EventMatch(EventMatchSpec),
}

impl Check {
    /// The typed settings of a scheduled check (`None` for manual checks). A check that
    /// came from [`crate::load`] always converts.
    ///
    /// Metric names are only checked for their form here: the loader already checked them
    /// against the plan's vocabulary (canonical and declared metrics), which a `Check` on
    /// its own does not carry. Use [`CheckConfig::from_params_in`] to check them again.
    pub fn config(&self) -> Option<Result<CheckConfig, Vec<ParamError>>> {
        match &self.kind {
            CheckKind::Manual => None,
            CheckKind::Scheduled { kind, params } => {
                Some(CheckConfig::read(*kind, params, Metrics::AnyName))
            }
        }
    }
}

/// Which metric names params may use.
#[derive(Clone, Copy)]
enum Metrics<'v> {
    /// The canonical and declared metrics of a plan.
    Known(&'v MetricVocabulary),
    /// Any well-formed name (already checked against the plan at load).
    AnyName,
}

/// A cursor over a params tree that records errors with their path.
struct Reader<'e> {
    errors: &'e mut Vec<ParamError>,
    path: Vec<Seg>,
    /// What is left of the budget for "did you mean" suggestions.
    hint_budget: u64,
    metrics: Metrics<'e>,
}

fn describe(p: &Param) -> &'static str {
    match p {
        Param::Null => "nothing",
        Param::Bool(_) => "a boolean",
        Param::Number(_) => "a number",
        Param::String(_) => "a string",
        Param::List(_) => "a list",
        Param::Map(_) => "a mapping",
    }
}

impl Reader<'_> {
    fn err(&mut self, key: Option<&str>, message: String) {
        let mut path = self.path.clone();
        if let Some(k) = key {
            path.push(Seg::Key(k.to_owned()));
        }
        self.errors.push(ParamError {
            path,
            at_key: false,
            message,
        });
    }

    fn here(&self, key: &str) -> String {
        let mut s = String::from("params");
        for seg in self
            .path
            .iter()
            .chain(std::iter::once(&Seg::Key(key.to_owned())))
        {
            match seg {
                Seg::Key(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                Seg::Index(i) => s.push_str(&format!("[{}]", i + 1)),
            }
        }
        s
    }

    /// Checks that `map` only has `keys`; returns it as a lookup.
    fn fields<'m>(&mut self, map: &'m [(String, Param)], keys: &[&str]) -> Fields<'m> {
        for (k, _) in map {
            if !keys.contains(&k.as_str()) {
                let mut path = self.path.clone();
                path.push(Seg::Key(k.clone()));
                let expected: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
                let h = hint_within(k, keys.iter().copied(), &mut self.hint_budget);
                self.errors.push(ParamError {
                    path,
                    at_key: true,
                    message: format!(
                        "unknown key \"{}\" in {} (expected {}){h}",
                        k,
                        self.here("").trim_end_matches('.'),
                        expected.join(", "),
                    ),
                });
            }
        }
        Fields(map)
    }

    fn map<'m>(&mut self, f: &Fields<'m>, key: &str) -> Option<&'m [(String, Param)]> {
        match f.get(key)? {
            Param::Map(m) => Some(m),
            Param::Null => None,
            other => {
                let msg = format!(
                    "{} must be a mapping, found {}",
                    self.here(key),
                    describe(other)
                );
                self.err(Some(key), msg);
                None
            }
        }
    }

    fn list<'m>(&mut self, f: &Fields<'m>, key: &str) -> Option<&'m [Param]> {
        match f.get(key)? {
            Param::List(l) => Some(l),
            Param::Null => None,
            other => {
                let msg = format!(
                    "{} must be a list, found {}",
                    self.here(key),
                    describe(other)
                );
                self.err(Some(key), msg);
                None
            }
        }
    }

    fn text(&mut self, f: &Fields, key: &str) -> Option<String> {
        match f.get(key)? {
            Param::String(s) | Param::Number(s) if !s.is_empty() => Some(s.clone()),
            Param::Null => None,
            other => {
                let msg = format!("{} must be text, found {}", self.here(key), describe(other));
                self.err(Some(key), msg);
                None
            }
        }
    }

    fn boolean(&mut self, f: &Fields, key: &str) -> Option<bool> {
        match f.get(key)? {
            Param::Bool(b) => Some(*b),
            Param::Null => None,
            other => {
                let msg = format!(
                    "{} must be true or false, found {}",
                    self.here(key),
                    describe(other)
                );
                self.err(Some(key), msg);
                None
            }
        }
    }

    /// A decimal ≥ 0 (and ≤ `max` when given).
    fn decimal(&mut self, f: &Fields, key: &str, max: Option<Decimal>) -> Option<Decimal> {
        let p = f.get(key)?;
        let s = match p {
            Param::Number(s) | Param::String(s) => s,
            Param::Null => return None,
            other => {
                let msg = format!(
                    "{} must be a number, found {}",
                    self.here(key),
                    describe(other)
                );
                self.err(Some(key), msg);
                return None;
            }
        };
        match Decimal::from_str(s.trim()).or_else(|_| Decimal::from_scientific(s.trim())) {
            Ok(d) if d.is_sign_negative() && !d.is_zero() => {
                let msg = format!("{} must be zero or more, got {s}", self.here(key));
                self.err(Some(key), msg);
                None
            }
            Ok(d) if max.is_some_and(|m| d > m) => {
                let msg = format!(
                    "{} must be at most {}, got {s}",
                    self.here(key),
                    max.unwrap_or_default()
                );
                self.err(Some(key), msg);
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                let msg = format!("{} must be a decimal number, got \"{s}\"", self.here(key));
                self.err(Some(key), msg);
                None
            }
        }
    }

    fn uint(&mut self, f: &Fields, key: &str) -> Option<u64> {
        let p = f.get(key)?;
        match p {
            Param::Number(s) => match s.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    let msg = format!("{} must be a whole number ≥ 0, got {s}", self.here(key));
                    self.err(Some(key), msg);
                    None
                }
            },
            Param::Null => None,
            other => {
                let msg = format!(
                    "{} must be a whole number, found {}",
                    self.here(key),
                    describe(other)
                );
                self.err(Some(key), msg);
                None
            }
        }
    }

    fn duration(&mut self, f: &Fields, key: &str) -> Option<TimeDelta> {
        let s = self.text(f, key)?;
        match parse_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                let msg = format!("{}: {e}", self.here(key));
                self.err(Some(key), msg);
                None
            }
        }
    }

    /// A name from a closed set.
    fn name(&mut self, f: &Fields, key: &str, allowed: &[&str]) -> Option<String> {
        let s = self.text(f, key)?;
        self.check_name(&s, Some(key), allowed, key).then_some(s)
    }

    fn check_name(&mut self, s: &str, key: Option<&str>, allowed: &[&str], what: &str) -> bool {
        if allowed.contains(&s) {
            return true;
        }
        let listed: Vec<&str> = if allowed.len() > 6 {
            Vec::new()
        } else {
            allowed.to_vec()
        };
        let expected = if listed.is_empty() {
            String::new()
        } else {
            format!(" (expected {})", listed.join(", "))
        };
        let h = hint_within(s, allowed.iter().copied(), &mut self.hint_budget);
        let msg = format!(
            "unknown {what} \"{s}\" in {}{expected}{h}",
            match key {
                Some(k) => self.here(k),
                None => self.here("").trim_end_matches('.').to_owned(),
            },
        );
        self.err(key, msg);
        false
    }

    /// A metric name the plan knows (canonical or declared).
    fn check_metric(&mut self, s: &str, key: Option<&str>) -> bool {
        match self.metrics {
            Metrics::Known(v) if v.is_known(s) => true,
            Metrics::Known(v) => {
                // As `check_name`, without collecting the vocabulary (it may be large):
                // the hint spends from the load's budget.
                let h = hint_within(s, v.names(), &mut self.hint_budget);
                let msg = format!(
                    "unknown metric \"{s}\" in {}{h}",
                    match key {
                        Some(k) => self.here(k),
                        None => self.here("").trim_end_matches('.').to_owned(),
                    },
                );
                self.err(key, msg);
                false
            }
            Metrics::AnyName => match check_metric_name(s) {
                Ok(()) => true,
                Err(e) => {
                    let msg = format!(
                        "{e} in {}",
                        match key {
                            Some(k) => self.here(k),
                            None => self.here("").trim_end_matches('.').to_owned(),
                        }
                    );
                    self.err(key, msg);
                    false
                }
            },
        }
    }

    /// A list of metric names the plan knows.
    fn metric_names(&mut self, f: &Fields, key: &str) -> Vec<String> {
        let Some(items) = self.list(f, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.path.push(Seg::Key(key.to_owned()));
        for (i, item) in items.iter().enumerate() {
            self.path.push(Seg::Index(i));
            match item {
                Param::String(s) if self.check_metric(s, None) => out.push(s.clone()),
                Param::String(_) => {}
                other => {
                    let msg = format!(
                        "{} must be a name, found {}",
                        self.here("").trim_end_matches('.'),
                        describe(other)
                    );
                    self.err(None, msg);
                }
            }
            self.path.pop();
        }
        self.path.pop();
        out
    }

    /// A list of names from a closed set.
    fn names(&mut self, f: &Fields, key: &str, allowed: &[&str], what: &str) -> Vec<String> {
        let Some(items) = self.list(f, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.path.push(Seg::Key(key.to_owned()));
        for (i, item) in items.iter().enumerate() {
            self.path.push(Seg::Index(i));
            match item {
                Param::String(s) if self.check_name(s, None, allowed, what) => out.push(s.clone()),
                Param::String(_) => {}
                other => {
                    let msg = format!(
                        "{} must be a name, found {}",
                        self.here("").trim_end_matches('.'),
                        describe(other)
                    );
                    self.err(None, msg);
                }
            }
            self.path.pop();
        }
        self.path.pop();
        out
    }

    /// Free-form list of strings.
    fn strings(&mut self, f: &Fields, key: &str) -> Vec<String> {
        let Some(items) = self.list(f, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Param::String(s) | Param::Number(s) => out.push(s.clone()),
                other => {
                    self.path.push(Seg::Key(key.to_owned()));
                    self.path.push(Seg::Index(i));
                    let msg = format!(
                        "{} must be text, found {}",
                        self.here("").trim_end_matches('.'),
                        describe(other)
                    );
                    self.err(None, msg);
                    self.path.truncate(self.path.len() - 2);
                }
            }
        }
        out
    }

    fn within<T>(&mut self, seg: Seg, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(seg);
        let out = f(self);
        self.path.pop();
        out
    }

    fn tolerance(&mut self, m: &[(String, Param)]) -> ToleranceSpec {
        let f = self.fields(m, &["abs", "rel", "rounding_per_row"]);
        ToleranceSpec {
            abs: self.decimal(&f, "abs", None).unwrap_or_default(),
            rel: self
                .decimal(&f, "rel", Some(Decimal::ONE))
                .unwrap_or_default(),
            rounding_per_row: self
                .decimal(&f, "rounding_per_row", None)
                .unwrap_or_default(),
        }
    }

    fn limit(&mut self, f: &Fields, key: &str, money: bool) -> LimitSpec {
        let Some(m) = self.map(f, key) else {
            return LimitSpec::default();
        };
        self.within(Seg::Key(key.into()), |r| {
            let keys: &[&str] = if money {
                &["count", "money"]
            } else {
                &["count"]
            };
            let f = r.fields(m, keys);
            LimitSpec {
                count: r.uint(&f, "count"),
                money: if money {
                    r.decimal(&f, "money", None)
                } else {
                    None
                },
            }
        })
    }

    /// `{name: partner}` pairs.
    fn pairs(&mut self, f: &Fields, key: &str) -> Vec<(String, String)> {
        let Some(m) = self.map(f, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m {
            match v {
                Param::String(s) | Param::Number(s) if !s.is_empty() => {
                    out.push((k.clone(), s.clone()))
                }
                other => {
                    let msg = format!(
                        "{} must name a partner, found {}",
                        self.within(Seg::Key(key.into()), |r| r.here(k)),
                        describe(other)
                    );
                    self.path.push(Seg::Key(key.into()));
                    self.err(Some(k), msg);
                    self.path.pop();
                }
            }
        }
        out
    }
}

/// Where a [`ParamError`] points in the file: the deepest node of its path that exists
/// (the key itself for unknown keys), else `fallback`.
pub(crate) fn locate(
    params: &marked_yaml::types::MarkedMappingNode,
    e: &ParamError,
    fallback: crate::diag::Pos,
) -> crate::diag::Pos {
    use crate::diag::Pos;
    use marked_yaml::Node;
    let key_pos = |m: &marked_yaml::types::MarkedMappingNode, k: &str| {
        m.get_key_value(k).map(|(key, _)| Pos::of_span(key.span()))
    };
    let node_pos = |n: &Node| match n {
        Node::Scalar(s) => Pos::of_span(s.span()),
        _ => n
            .as_mapping()
            .and_then(|m| m.iter().next())
            .map(|(k, _)| Pos::of_span(k.span()))
            .unwrap_or(Pos::of_span(n.span())),
    };
    let mut best = key_pos(params, "").unwrap_or(fallback);
    let mut map = Some(params);
    let mut seq: Option<&marked_yaml::types::MarkedSequenceNode> = None;
    for (i, seg) in e.path.iter().enumerate() {
        let last = i + 1 == e.path.len();
        let node = match (seg, map, seq) {
            (Seg::Key(k), Some(m), _) => {
                if last && e.at_key {
                    return key_pos(m, k).unwrap_or(best);
                }
                m.get_node(k)
            }
            (Seg::Index(ix), _, Some(q)) => q.get(*ix),
            _ => None,
        };
        let Some(node) = node else { break };
        best = node_pos(node);
        map = node.as_mapping();
        seq = node.as_sequence();
    }
    best
}

struct Fields<'m>(&'m [(String, Param)]);

impl<'m> Fields<'m> {
    fn get(&self, key: &str) -> Option<&'m Param> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

impl CheckConfig {
    /// Validates and types the params of a `kind` check, with the canonical metrics only.
    /// Returns every problem found.
    pub fn from_params(
        kind: ScheduledKind,
        params: &[(String, Param)],
    ) -> Result<CheckConfig, Vec<ParamError>> {
        CheckConfig::from_params_in(kind, params, &MetricVocabulary::canonical())
    }

    /// Like [`CheckConfig::from_params`], with the metrics of `vocabulary` (a plan's
    /// canonical and declared metrics): what the loader runs.
    pub fn from_params_in(
        kind: ScheduledKind,
        params: &[(String, Param)],
        vocabulary: &MetricVocabulary,
    ) -> Result<CheckConfig, Vec<ParamError>> {
        CheckConfig::read(kind, params, Metrics::Known(vocabulary))
    }

    fn read(
        kind: ScheduledKind,
        params: &[(String, Param)],
        metrics: Metrics<'_>,
    ) -> Result<CheckConfig, Vec<ParamError>> {
        let mut errors = Vec::new();
        let mut r = Reader {
            errors: &mut errors,
            path: Vec::new(),
            hint_budget: crate::suggest::BUDGET,
            metrics,
        };
        let config = match kind {
            ScheduledKind::Reconcile => CheckConfig::Reconcile(reconcile(&mut r, params)),
            ScheduledKind::Rollup => {
                let f = r.fields(params, &["metrics", "tolerance"]);
                CheckConfig::Rollup(RollupSpec {
                    metrics: r.metric_names(&f, "metrics"),
                    tolerance: r.decimal(&f, "tolerance", None).unwrap_or_default(),
                })
            }
            ScheduledKind::Attribution => {
                let f = r.fields(params, &["links", "coupons", "fail_on_no_events"]);
                let spec = AttributionSpec {
                    links: r.pairs(&f, "links"),
                    coupons: r.pairs(&f, "coupons"),
                    fail_on_no_events: r.boolean(&f, "fail_on_no_events").unwrap_or(false),
                };
                if spec.links.is_empty() && spec.coupons.is_empty() {
                    r.err(
                        None,
                        "an attribution check lists at least one of params.links or params.coupons"
                            .into(),
                    );
                }
                CheckConfig::Attribution(spec)
            }
            ScheduledKind::EventFlow => {
                let f = r.fields(params, &["expect", "band", "max_gap", "fresh_within"]);
                let mut expect = r.names(&f, "expect", EVENT_TYPES, "event type");
                if f.get("expect").is_none() {
                    expect = ["click", "registration", "ftd", "deposit"]
                        .map(String::from)
                        .to_vec();
                }
                let (mut min_ratio, mut max_ratio) = (Decimal::new(95, 2), Decimal::new(105, 2));
                if let Some(m) = r.map(&f, "band") {
                    r.within(Seg::Key("band".into()), |r| {
                        let b = r.fields(m, &["min", "max"]);
                        min_ratio = r.decimal(&b, "min", None).unwrap_or(min_ratio);
                        max_ratio = r.decimal(&b, "max", None).unwrap_or(max_ratio);
                        if min_ratio > max_ratio {
                            let msg = format!(
                                "{} ({min_ratio}) is above max ({max_ratio})",
                                r.here("min")
                            );
                            r.err(Some("min"), msg);
                        }
                    });
                }
                CheckConfig::EventFlow(EventFlowSpec {
                    expect,
                    min_ratio,
                    max_ratio,
                    max_gap: r.duration(&f, "max_gap"),
                    fresh_within: r.duration(&f, "fresh_within"),
                })
            }
            ScheduledKind::Payout => CheckConfig::Payout(payout(&mut r, params)),
            ScheduledKind::RecordSync => {
                let f = r.fields(params, &["fields", "normalize", "warn", "fail"]);
                CheckConfig::RecordSync(RecordSyncSpec {
                    fields: r.strings(&f, "fields"),
                    normalize: r.boolean(&f, "normalize").unwrap_or(false),
                    warn: r.limit(&f, "warn", false),
                    fail: r.limit(&f, "fail", false),
                })
            }
            ScheduledKind::EventMatch => {
                let f = r.fields(
                    params,
                    &[
                        "by",
                        "amount_tolerance",
                        "warn",
                        "fail",
                        "max_rate_gap_days",
                    ],
                );
                CheckConfig::EventMatch(EventMatchSpec {
                    by: r
                        .name(&f, "by", &["click_id", "order_id", "customer", "event_id"])
                        .unwrap_or_else(|| "click_id".into()),
                    amount_tolerance: r.decimal(&f, "amount_tolerance", None).unwrap_or_default(),
                    warn: r.limit(&f, "warn", false),
                    fail: r.limit(&f, "fail", false),
                    max_rate_gap_days: r
                        .uint(&f, "max_rate_gap_days")
                        .map(|d| u32::try_from(d).unwrap_or(u32::MAX)),
                })
            }
        };
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }
}

fn reconcile(r: &mut Reader, params: &[(String, Param)]) -> ReconcileSpec {
    let f = r.fields(
        params,
        &[
            "tolerance",
            "metrics",
            "days",
            "by",
            "warn",
            "fail",
            "rate_table",
            "labels",
            "max_rate_gap_days",
        ],
    );
    let mut spec = ReconcileSpec::default();
    if let Some(m) = r.map(&f, "tolerance") {
        spec.tolerance = r.within(Seg::Key("tolerance".into()), |r| r.tolerance(m));
    }
    match f.get("metrics") {
        Some(Param::List(_)) => spec.only = r.metric_names(&f, "metrics"),
        Some(Param::Map(m)) => r.within(Seg::Key("metrics".into()), |r| {
            for (metric, v) in m {
                if !r.check_metric(metric, Some(metric)) {
                    continue;
                }
                spec.only.push(metric.clone());
                match v {
                    Param::Map(t) => {
                        let t = r.within(Seg::Key(metric.clone()), |r| r.tolerance(t));
                        spec.metrics.push((metric.clone(), t));
                    }
                    Param::Null => {}
                    other => {
                        let msg = format!(
                            "{} must be a mapping of abs, rel, rounding_per_row, found {}",
                            r.here(metric),
                            describe(other)
                        );
                        r.err(Some(metric), msg);
                    }
                }
            }
        }),
        Some(Param::Null) | None => {}
        Some(other) => {
            let msg = format!(
                "params.metrics must be a list of metrics or a mapping of metric to tolerance, found {}",
                describe(other)
            );
            r.err(Some("metrics"), msg);
        }
    }
    spec.days = r.uint(&f, "days").map(|d| d as u32);
    for by in r.names(&f, "by", &["link", "coupon"], "key part") {
        match by.as_str() {
            "link" => spec.by_link = true,
            _ => spec.by_coupon = true,
        }
    }
    spec.warn = r.limit(&f, "warn", true);
    spec.fail = r.limit(&f, "fail", true);
    spec.rate_table = r.text(&f, "rate_table");
    spec.max_rate_gap_days = r
        .uint(&f, "max_rate_gap_days")
        .map(|d| u32::try_from(d).unwrap_or(u32::MAX));
    if let Some(m) = r.map(&f, "labels") {
        r.within(Seg::Key("labels".into()), |r| {
            let sides = r.fields(m, &["old", "new"]);
            for side in ["old", "new"] {
                for (label, metric) in r.pairs(&sides, side) {
                    r.path.push(Seg::Key(side.into()));
                    if r.check_metric(&metric, Some(&label)) {
                        spec.labels.push((side.to_owned(), label, metric));
                    }
                    r.path.pop();
                }
            }
        });
    }
    spec
}

fn payout(r: &mut Reader, params: &[(String, Param)]) -> PayoutSpec {
    let f = r.fields(
        params,
        &[
            "tolerance",
            "on_new_mismatch",
            "on_old_mismatch",
            "ngr",
            "deals",
        ],
    );
    let mut spec = PayoutSpec {
        tolerance: r
            .decimal(&f, "tolerance", None)
            .unwrap_or(Decimal::new(1, 2)),
        on_new_mismatch: r
            .name(&f, "on_new_mismatch", &["warn", "fail"])
            .unwrap_or_else(|| "fail".into()),
        on_old_mismatch: r
            .name(&f, "on_old_mismatch", &["warn", "fail"])
            .unwrap_or_else(|| "warn".into()),
        ..PayoutSpec::default()
    };
    if let Some(m) = r.map(&f, "ngr") {
        spec.ngr = r.within(Seg::Key("ngr".into()), |r| {
            let n = r.fields(m, &["ggr_factor", "payment_fee", "admin_fee"]);
            NgrSpec {
                ggr_factor: r.decimal(&n, "ggr_factor", None),
                payment_fee: r.decimal(&n, "payment_fee", Some(Decimal::ONE)),
                admin_fee: r.decimal(&n, "admin_fee", None),
            }
        });
    }
    match r.list(&f, "deals") {
        None | Some([]) => r.err(
            None,
            "a payout check lists its deals under params.deals".into(),
        ),
        Some(deals) => {
            r.path.push(Seg::Key("deals".into()));
            for (i, d) in deals.iter().enumerate() {
                r.path.push(Seg::Index(i));
                match d {
                    Param::Map(m) => spec.deals.push(deal(r, m)),
                    other => {
                        let msg = format!(
                            "{} must be a mapping, found {}",
                            r.here("").trim_end_matches('.'),
                            describe(other)
                        );
                        r.err(None, msg);
                    }
                }
                r.path.pop();
            }
            r.path.pop();
        }
    }
    spec
}

fn deal(r: &mut Reader, m: &[(String, Param)]) -> DealSpec {
    let f = r.fields(
        m,
        &[
            "partner",
            "currency",
            "cpa",
            "revshare",
            "negative_carryover",
            "carryover_cap",
            "sub_override",
        ],
    );
    let partner = r.text(&f, "partner");
    if partner.is_none() {
        let msg = format!("{} needs a partner", r.here("").trim_end_matches('.'));
        r.err(None, msg);
    }
    let mut d = DealSpec {
        partner: partner.unwrap_or_default(),
        currency: r.text(&f, "currency"),
        negative_carryover: r.boolean(&f, "negative_carryover").unwrap_or(false),
        carryover_cap: r.decimal(&f, "carryover_cap", None),
        sub_override: r.decimal(&f, "sub_override", Some(Decimal::ONE)),
        ..DealSpec::default()
    };
    if let Some(c) = &d.currency
        && !crate::currency::is_currency(c)
    {
        let msg = format!(
            "{} \"{c}\" is not an ISO 4217 currency code",
            r.here("currency")
        );
        r.err(Some("currency"), msg);
    }
    if let Some(cm) = r.map(&f, "cpa") {
        d.cpa = Some(r.within(Seg::Key("cpa".into()), |r| {
            let c = r.fields(
                cm,
                &["amount", "min_deposit", "min_wagering", "window", "hold"],
            );
            let amount = r.decimal(&c, "amount", None);
            if amount.is_none() && c.get("amount").is_none() {
                let msg = format!("{} is required", r.here("amount"));
                r.err(None, msg);
            }
            let days =
                |r: &mut Reader, k: &str| r.duration(&c, k).map(|t| t.num_days().max(0) as u32);
            CpaSpec {
                amount: amount.unwrap_or_default(),
                min_deposit: r.decimal(&c, "min_deposit", None),
                min_wagering: r.decimal(&c, "min_wagering", None),
                window_days: days(r, "window"),
                hold_days: days(r, "hold"),
            }
        }));
    }
    if let Some(rm) = r.map(&f, "revshare") {
        d.revshare = Some(r.within(Seg::Key("revshare".into()), |r| {
            let s = r.fields(rm, &["basis", "mode", "rate", "tiers"]);
            let mut spec = RevShareSpec {
                basis: r
                    .name(&s, "basis", &["net_revenue", "ftd_count"])
                    .unwrap_or_else(|| "net_revenue".into()),
                mode: r
                    .name(&s, "mode", &["whole_band", "marginal"])
                    .unwrap_or_else(|| "whole_band".into()),
                tiers: Vec::new(),
            };
            if let Some(rate) = r.decimal(&s, "rate", Some(HUNDRED)) {
                spec.tiers.push((None, rate));
            }
            if let Some(tiers) = r.list(&s, "tiers") {
                r.path.push(Seg::Key("tiers".into()));
                let mut last: Option<Decimal> = None;
                let n = tiers.len();
                for (i, t) in tiers.iter().enumerate() {
                    r.path.push(Seg::Index(i));
                    if let Param::Map(tm) = t {
                        let tf = r.fields(tm, &["up_to", "rate"]);
                        let up_to = r.decimal(&tf, "up_to", None);
                        let rate = r.decimal(&tf, "rate", Some(Decimal::ONE));
                        if rate.is_none() && tf.get("rate").is_none() {
                            let msg = format!("{} is required", r.here("rate"));
                            r.err(None, msg);
                        }
                        if up_to.is_none() && i + 1 < n {
                            let msg = format!(
                                "{} is required on every tier but the last",
                                r.here("up_to")
                            );
                            r.err(None, msg);
                        }
                        if let (Some(u), Some(l)) = (up_to, last)
                            && u <= l
                        {
                            let msg = format!(
                                "{} ({u}) must be above the previous tier's ({l})",
                                r.here("up_to")
                            );
                            r.err(Some("up_to"), msg);
                        }
                        last = up_to.or(last);
                        spec.tiers.push((up_to, rate.unwrap_or_default()));
                    } else {
                        let msg = format!(
                            "{} must be a mapping of up_to and rate",
                            r.here("").trim_end_matches('.')
                        );
                        r.err(None, msg);
                    }
                    r.path.pop();
                }
                r.path.pop();
            }
            if spec.tiers.is_empty() {
                r.err(
                    None,
                    format!("{} needs a rate or tiers", r.here("").trim_end_matches('.')),
                );
            }
            spec
        }));
    }
    if d.cpa.is_none() && d.revshare.is_none() && d.sub_override.is_none() {
        let msg = format!(
            "{} needs cpa, revshare or sub_override",
            r.here("").trim_end_matches('.')
        );
        r.err(None, msg);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Param {
        Param::String(v.into())
    }
    fn n(v: &str) -> Param {
        Param::Number(v.into())
    }
    fn m(items: Vec<(&str, Param)>) -> Param {
        Param::Map(items.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
    fn params(p: Param) -> Vec<(String, Param)> {
        match p {
            Param::Map(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn reconcile_typed() {
        let p = params(m(vec![
            ("tolerance", m(vec![("abs", n("1")), ("rel", n("0.01"))])),
            (
                "metrics",
                m(vec![(
                    "ftd_amount",
                    m(vec![("rounding_per_row", n("0.005"))]),
                )]),
            ),
            ("by", Param::List(vec![s("link")])),
            ("fail", m(vec![("count", n("10")), ("money", n("500"))])),
        ]));
        let CheckConfig::Reconcile(c) =
            CheckConfig::from_params(ScheduledKind::Reconcile, &p).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.tolerance.rel, Decimal::new(1, 2));
        assert_eq!(c.metrics[0].0, "ftd_amount");
        assert!(c.by_link && !c.by_coupon);
        assert_eq!(c.fail.count, Some(10));
    }

    #[test]
    fn errors_carry_paths() {
        let p = params(m(vec![
            ("tolerance", m(vec![("abz", n("1")), ("rel", n("2"))])),
            ("metrics", Param::List(vec![s("signups")])),
        ]));
        let e = CheckConfig::from_params(ScheduledKind::Reconcile, &p).unwrap_err();
        let msgs: Vec<&str> = e.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            vec![
                "unknown key \"abz\" in params.tolerance (expected \"abs\", \"rel\", \"rounding_per_row\"); did you mean \"abs\"?",
                "params.tolerance.rel must be at most 1, got 2",
                "unknown metric \"signups\" in params.metrics[1]",
            ]
        );
        assert_eq!(
            e[0].path,
            vec![Seg::Key("tolerance".into()), Seg::Key("abz".into())]
        );
        assert!(e[0].at_key);
        assert_eq!(e[2].path, vec![Seg::Key("metrics".into()), Seg::Index(0)]);
    }

    #[test]
    fn payout_deals() {
        let p = params(m(vec![(
            "deals",
            Param::List(vec![m(vec![
                ("partner", s("aff-1")),
                ("currency", s("USD")),
                (
                    "revshare",
                    m(vec![
                        ("mode", s("marginal")),
                        (
                            "tiers",
                            Param::List(vec![
                                m(vec![("up_to", n("20000")), ("rate", n("0.25"))]),
                                m(vec![("rate", n("0.35"))]),
                            ]),
                        ),
                    ]),
                ),
                ("negative_carryover", Param::Bool(true)),
            ])]),
        )]));
        let CheckConfig::Payout(c) = CheckConfig::from_params(ScheduledKind::Payout, &p).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.deals[0].revshare.as_ref().unwrap().tiers.len(), 2);
        let bad = params(m(vec![(
            "deals",
            Param::List(vec![m(vec![("partner", s("x"))])]),
        )]));
        let e = CheckConfig::from_params(ScheduledKind::Payout, &bad).unwrap_err();
        assert_eq!(
            e[0].message,
            "params.deals[1] needs cpa, revshare or sub_override"
        );
    }
}
