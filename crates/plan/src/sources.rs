//! The `sources:` section of a plan: where report data is pulled from (an HTTP API, a file
//! on disk, or a SQL query), how it is paged and parsed, and how its fields map onto the
//! canonical rows of `cutover-recon`. Compiled into validated [`Source`] values with
//! located diagnostics, like the rest of the plan.
//!
//! Pure: presets (`workflows/presets/*.yaml`) are compiled into the binary, and secrets
//! are kept as `${ENV_VAR}` references that only `cutover-sources` resolves, at pull time.
//! Nothing here performs IO.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use marked_yaml::Node;
use marked_yaml::types::MarkedMappingNode;

use crate::currency::is_currency;
use crate::diag::{Diags, Pos};
use crate::metrics::MetricVocabulary;
use crate::model::Param;
use crate::suggest::hint;

// Canonical metric and event type names: one list, in check_config (a test in
// cutover-sources keeps them equal to cutover_recon's enums).
pub use crate::check_config::{EVENT_TYPES, METRICS};

/// Canonical event statuses (mirror `cutover_recon::EventStatus`).
pub const EVENT_STATUSES: &[&str] = &["pending", "approved", "rejected", "reversed"];

/// Placeholders a request template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "from",
    "to",
    "to_exclusive",
    "timezone",
    "page",
    "offset",
    "limit",
    "cursor",
];

/// Presets shipped with cutover: (name, YAML text).
pub const PRESETS: &[(&str, &str)] = &[
    (
        "everflow",
        include_str!("../../../workflows/presets/everflow.yaml"),
    ),
    ("tune", include_str!("../../../workflows/presets/tune.yaml")),
    (
        "impact",
        include_str!("../../../workflows/presets/impact.yaml"),
    ),
    ("cake", include_str!("../../../workflows/presets/cake.yaml")),
    ("ecb", include_str!("../../../workflows/presets/ecb.yaml")),
    (
        "cellxpert",
        include_str!("../../../workflows/presets/cellxpert.yaml"),
    ),
    (
        "csv_export",
        include_str!("../../../workflows/presets/csv_export.yaml"),
    ),
];

/// A place report data is pulled from.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: String,
    /// Which system it stands for: `old`, `new`, `crm`, `bi`, or another name.
    pub system: String,
    pub description: String,
    /// The preset it was built from, if any.
    pub preset: Option<String>,
    /// Zone the source reports its days in.
    pub timezone: Tz,
    /// Currency of money metrics when rows do not carry one (defaults to the plan's).
    pub currency: Option<String>,
    pub rows: RowKind,
    pub connector: Connector,
    pub format: Format,
    /// Canonical field -> where it comes from; which fields a kind has is
    /// [`RowKind::fields`] (a `record` source may name any field besides `id`).
    pub fields: Vec<(String, Field)>,
    /// For aggregates: metric (canonical or declared by the plan) -> where its value
    /// comes from. Empty for every other kind.
    pub metrics: Vec<(String, Field)>,
    /// The plan's metrics (canonical and declared), to tell money from counts.
    pub vocabulary: MetricVocabulary,
    /// For rates: which way round the source quotes them (`quote:`).
    pub quote: Quote,
    /// Long-layout aggregates (`fields: {metric, value}`): the export's label -> the
    /// metric it is (`labels: {LABEL: metric}`).
    pub labels: Vec<(String, String)>,
    /// Long-layout aggregates: what a label that is neither in `labels` nor a metric
    /// name does (`unknown_labels:`).
    pub unknown_labels: UnknownLabels,
    /// How numbers are written in text values (`decimal:`, `thousands:`).
    pub numbers: NumberFormat,
    /// What an empty metric value means (`empty:`).
    pub empty: Empty,
}

/// How a source writes numbers as text: `decimal: ","` and `thousands: "."` read
/// `1.133,05` as 1133.05. JSON numbers are not affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberFormat {
    pub decimal: char,
    pub thousands: Option<char>,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat {
            decimal: '.',
            thousands: None,
        }
    }
}

/// What an empty (blank or null) metric value of an aggregate means (`empty:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Empty {
    /// `missing` (default): that metric is absent on this side for that key (it shows
    /// as `only_old` / `only_new`), never a silent 0.
    #[default]
    Missing,
    /// `zero`: the platform writes 0 as an empty cell.
    Zero,
    /// `error`: an empty value fails the pull naming the row and the metric.
    Error,
}

/// What a long-layout row whose label is not a metric does (`unknown_labels:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownLabels {
    /// Fails the pull naming the row and the label (default).
    #[default]
    Error,
    /// Skips the row; the pull counts and reports the skipped rows per label.
    Skip,
}

impl Source {
    /// A long-layout aggregate source (`fields: {metric, value}`, no `metrics:`).
    pub fn is_long(&self) -> bool {
        self.rows == RowKind::Aggregate && self.field("metric").is_some()
    }
}

/// How a `rates` source quotes a rate (`quote:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quote {
    /// `per_unit` (default): units of the plan currency for one unit of `currency`
    /// (EUR plan: USD 0.92), which is what a `RateRow` holds.
    #[default]
    PerUnit,
    /// `per_plan`: units of `currency` for one unit of the plan currency (the ECB's
    /// `1 EUR = 1.0862 USD`); inverted at pull (1 / rate, 16 decimal places).
    PerPlan,
}

impl Quote {
    pub fn name(self) -> &'static str {
        match self {
            Quote::PerUnit => "per_unit",
            Quote::PerPlan => "per_plan",
        }
    }
}

impl Source {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }
}

/// What a source's rows are (`rows:`): report data (daily aggregates or single events)
/// or reference data (a partner crosswalk, FX rates, a partner hierarchy, CRM records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Aggregate,
    Event,
    /// `rows: crosswalk`: old id <-> new id, optionally dated.
    Crosswalk,
    /// `rows: rates`: FX rates by day and currency.
    Rates,
    /// `rows: hierarchy`: partner -> parent (master), optionally dated.
    Hierarchy,
    /// `rows: record`: CRM / back-office records, an `id` plus any named fields.
    Record,
}

impl RowKind {
    pub const ALL: [RowKind; 6] = [
        RowKind::Aggregate,
        RowKind::Event,
        RowKind::Crosswalk,
        RowKind::Rates,
        RowKind::Hierarchy,
        RowKind::Record,
    ];

    /// The name written after `rows:`.
    pub fn name(self) -> &'static str {
        match self {
            RowKind::Aggregate => "aggregate",
            RowKind::Event => "event",
            RowKind::Crosswalk => "crosswalk",
            RowKind::Rates => "rates",
            RowKind::Hierarchy => "hierarchy",
            RowKind::Record => "record",
        }
    }

    pub fn from_name(s: &str) -> Option<RowKind> {
        RowKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The fields `fields:` may map for this kind (a `record` source may also name any
    /// other field).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            RowKind::Aggregate => AGG_FIELDS,
            RowKind::Event => EVENT_FIELDS,
            RowKind::Crosswalk => &["old", "new", "valid_from", "valid_to"],
            RowKind::Rates => &["day", "currency", "rate"],
            RowKind::Hierarchy => &["partner", "parent", "valid_from", "valid_to"],
            RowKind::Record => &["id"],
        }
    }

    /// The fields `fields:` must map for this kind.
    pub fn required_fields(self) -> &'static [&'static str] {
        match self {
            RowKind::Aggregate => &["partner", "day"],
            RowKind::Event => &["id", "kind", "occurred_at"],
            RowKind::Crosswalk => &["old", "new"],
            RowKind::Rates => &["day", "currency", "rate"],
            RowKind::Hierarchy => &["partner"],
            RowKind::Record => &["id"],
        }
    }

    /// Report data (aggregates, events), as opposed to reference data.
    pub fn is_report(self) -> bool {
        matches!(self, RowKind::Aggregate | RowKind::Event)
    }
}

impl fmt::Display for RowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the data is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum Connector {
    Http(Box<Http>),
    /// A CSV or JSON file on disk.
    File {
        path: Template,
    },
    /// A query against a Postgres or SQLite database; `:from` and `:to` are replaced by
    /// the window's days as quoted `YYYY-MM-DD` literals.
    Sql {
        url: Template,
        query: String,
    },
}

/// An HTTP report API.
#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    pub url: Template,
    pub method: HttpMethod,
    pub query: Vec<(String, Template)>,
    pub headers: Vec<(String, Template)>,
    /// JSON body template (POST); string values are templates.
    pub body: Option<Param>,
    pub auth: Auth,
    /// strftime format of `{from}`/`{to}`.
    pub date_format: String,
    pub timeout: Duration,
    pub retries: Retries,
    /// Requests per second at most.
    pub rate_limit: Option<u32>,
    pub paging: Paging,
    /// Hard cap on pages; reaching it with more to read makes the pull inconclusive.
    pub max_pages: u32,
    pub truncation: Truncation,
    /// How a platform that answers 200 with an error in the body says so (`errors:`).
    pub errors: Option<ErrorBody>,
}

/// An error reported in a 200 body (`errors: {status, ok, message}`): the body is an
/// error when the value at `status` is not one of `ok`, or (without `status`) when there
/// is a non-empty value at `message`. `message` is shown as the platform's own words; a
/// segment that meets a list takes every item (`response.errors.publicMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub status: Option<String>,
    pub ok: Vec<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

/// Retry policy for 429, 5xx and connection errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// Attempts per request, including the first.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

/// How credentials are sent. Every secret is an environment variable reference.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    None,
    Header { name: String, value: Secret },
    Query { name: String, value: Secret },
    Basic { user: Secret, password: Secret },
    Bearer { token: Secret },
}

/// A secret, held only as the name of the environment variable that carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    pub env: String,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(${{{}}}, redacted)", self.env)
    }
}

/// A string with `{placeholder}`s and `${ENV}` / `${ENV:-default}` references, checked
/// at load time and rendered at pull time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub String);

impl Template {
    /// Whether it reads the environment (then its rendered value is treated as secret).
    pub fn uses_env(&self) -> bool {
        self.0.contains("${")
    }
}

/// How pages are walked.
#[derive(Debug, Clone, PartialEq)]
pub enum Paging {
    None,
    /// `page` + page size; stops on a short page or when `total_pages` (a body path) says so.
    Page {
        param: String,
        size_param: Option<String>,
        size: u64,
        first: u64,
        total_pages: Option<String>,
    },
    /// Row offset (row-start) + page size; stops on a short page.
    Offset {
        param: String,
        size_param: Option<String>,
        size: u64,
        first: u64,
    },
    /// A cursor read from the body (`path`) is sent back as `param`; stops when absent.
    Cursor {
        param: String,
        path: String,
    },
    /// The next page's URL is in the body at `path`; stops when absent or empty.
    NextUrl {
        path: String,
    },
    /// RFC 8288 `Link: <...>; rel="next"`.
    LinkHeader,
}

impl Paging {
    pub fn style(&self) -> &'static str {
        match self {
            Paging::None => "none",
            Paging::Page { .. } => "page",
            Paging::Offset { .. } => "offset",
            Paging::Cursor { .. } => "cursor",
            Paging::NextUrl { .. } => "next_url",
            Paging::LinkHeader => "link_header",
        }
    }
}

/// How a cut-off report is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Truncation {
    /// A body path whose true value means the result is incomplete.
    pub flag: Option<String>,
    /// The platform's documented row cap per response.
    pub row_cap: Option<u64>,
    /// A body path holding the total number of rows the report has; fewer rows read
    /// than that means pages were cut short.
    pub total: Option<String>,
}

/// Body format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Rows are the array at `rows` (a dot path; empty = the body itself).
    Json {
        rows: String,
    },
    Csv {
        delimiter: u8,
    },
    /// Rows are the elements named `rows`; fields are child elements or `@attributes`.
    Xml {
        rows: String,
    },
}

/// Where one canonical field comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Field {
    /// A dot path (JSON), column (CSV, SQL) or child element / `@attribute` (XML).
    pub path: Option<String>,
    /// A constant instead of a path.
    pub value: Option<String>,
    /// Raw value -> canonical value (event kinds and statuses).
    pub map: Vec<(String, String)>,
    /// strftime format for dates and times; unix seconds with `unix`.
    pub format: Option<String>,
}

const SOURCE_KEYS: &[&str] = &[
    "id",
    "system",
    "description",
    "preset",
    "timezone",
    "currency",
    "rows",
    "http",
    "file",
    "sql",
    "format",
    "fields",
    "metrics",
    "quote",
    "labels",
    "unknown_labels",
    "decimal",
    "thousands",
    "empty",
];
const HTTP_KEYS: &[&str] = &[
    "url",
    "method",
    "query",
    "headers",
    "body",
    "auth",
    "date_format",
    "timeout",
    "retries",
    "rate_limit",
    "paging",
    "truncation",
    "errors",
];
const AGG_FIELDS: &[&str] = &[
    "partner", "day", "link", "coupon", "currency", "metric", "value",
];
const EVENT_FIELDS: &[&str] = &[
    "id",
    "kind",
    "occurred_at",
    "recorded_at",
    "status",
    "partner",
    "link",
    "coupon",
    "customer",
    "click_id",
    "order_id",
    "amount",
    "currency",
];

fn pos(node: &Node) -> Pos {
    let start = Pos::of_span(node.span());
    match node
        .as_mapping()
        .and_then(|m| m.iter().next())
        .and_then(|(k, _)| k.span().start())
    {
        Some(m) => start.min(Pos::of_marker(m)),
        None => start,
    }
}

fn key_pos(map: &MarkedMappingNode, key: &str) -> Pos {
    map.get_key_value(key)
        .map(|(k, _)| Pos::of_span(k.span()))
        .unwrap_or(Pos::START)
}

/// Whether a node is YAML null (`~`, `null` or nothing): in a source over a preset it
/// removes the preset's key.
fn is_null(node: &Node) -> bool {
    // A quoted "null" is text, not null.
    matches!(node, Node::Scalar(s)
        if s.may_coerce() && matches!(s.as_str(), "~" | "null" | "Null" | "NULL" | ""))
}

/// `node` with every span (keys included) replaced by `to`.
fn respan(node: &Node, to: marked_yaml::Span) -> Node {
    match node {
        Node::Scalar(x) => {
            let mut x = x.clone();
            *x.span_mut() = to;
            Node::Scalar(x)
        }
        Node::Sequence(q) => Node::Sequence(marked_yaml::types::MarkedSequenceNode::new(
            to,
            q.iter().map(|n| respan(n, to)).collect(),
        )),
        Node::Mapping(m) => {
            let mut out = MarkedMappingNode::new_empty(to);
            for (k, v) in m.iter() {
                let mut k = k.clone();
                *k.span_mut() = to;
                out.insert(k, respan(v, to));
            }
            Node::Mapping(out)
        }
    }
}

/// Deep-merges `over` onto `base`: mappings merge key by key, a null value removes the
/// key (and everything under it), anything else replaces.
fn merge(base: &Node, over: &Node) -> Node {
    match (base, over) {
        (Node::Mapping(b), Node::Mapping(o)) => {
            let mut out = b.clone();
            for (k, v) in o.iter() {
                if is_null(v) {
                    out.remove(k.as_str());
                    continue;
                }
                let merged = match out.get_node(k.as_str()) {
                    Some(bv) => merge(bv, v),
                    None => v.clone(),
                };
                out.remove(k.as_str());
                out.insert(k.clone(), merged);
            }
            *out.span_mut() = *o.span();
            Node::Mapping(out)
        }
        _ => over.clone(),
    }
}

/// Compiles the `sources:` list of `root` (if any). `default_tz` is the plan's zone.
pub(crate) fn compile(root: &Node, default_tz: Tz, diags: &mut Diags) -> Vec<Source> {
    let Some(node) = root.as_mapping().and_then(|m| m.get_node("sources")) else {
        return Vec::new();
    };
    let Some(items) = node.as_sequence() else {
        // The top-level shape check reports this.
        return Vec::new();
    };
    // Money without a currency of its own is in the plan's currency.
    let plan_currency = root
        .as_mapping()
        .and_then(|m| m.get_scalar("currency"))
        .map(|s| s.as_str().to_owned())
        .filter(|c| is_currency(c));
    // Declared metrics (their problems are reported by the plan compiler).
    let vocabulary = MetricVocabulary::new(crate::metrics::declared(root, None));
    let mut out: Vec<Source> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for (i, item) in items.iter().enumerate() {
        let peeked = item
            .as_mapping()
            .and_then(|m| m.get_scalar("id"))
            .map(|s| s.as_str().to_owned())
            .filter(|s| !s.is_empty());
        if let Some(id) = &peeked {
            if let Some(line) = seen.get(id) {
                let at = item
                    .as_mapping()
                    .map(|m| key_pos(m, "id"))
                    .unwrap_or(pos(item));
                diags.error(
                    at,
                    format!("duplicate source \"{id}\"; first defined on line {line}"),
                );
                continue;
            }
            seen.insert(id.clone(), pos(item).line);
        }
        let mut c = SourceCompiler {
            diags,
            vocabulary: &vocabulary,
            ctx: match &peeked {
                Some(id) => format!("source \"{}\"", crate::diag::short(id)),
                None => format!("source #{}", i + 1),
            },
        };
        if let Some(mut s) = c.source(item, default_tz) {
            // Rates quoted per unit of a base currency are only inverted into the plan
            // currency when the base is the plan currency (no cross rates).
            if s.quote == Quote::PerPlan
                && let (Some(base), Some(plan)) = (&s.currency, &plan_currency)
                && base != plan
            {
                let at = pos(item);
                diags.error(
                    at,
                    format!(
                        "source \"{}\": its rates are quoted per {base} (quote: per_plan) but the plan currency is {plan}; rates must be quoted against the plan currency",
                        crate::diag::short(&s.id)
                    ),
                );
            }
            if s.currency.is_none() {
                s.currency.clone_from(&plan_currency);
            }
            out.push(s);
        }
    }
    out
}

struct SourceCompiler<'d> {
    diags: &'d mut Diags,
    vocabulary: &'d MetricVocabulary,
    ctx: String,
}

/// The names a mapping of fields may use.
#[derive(Clone, Copy)]
enum Allowed<'a> {
    /// A closed list (a row kind's fields).
    Names(&'a [&'a str]),
    /// The plan's metrics (canonical and declared; looked up, not scanned).
    Metrics(&'a MetricVocabulary),
    /// Any name but an empty one (a record source names its own fields).
    Any,
}

impl Allowed<'_> {
    fn contains(self, name: &str) -> bool {
        match self {
            Allowed::Names(names) => names.contains(&name),
            Allowed::Metrics(v) => v.is_known(name),
            Allowed::Any => true,
        }
    }
}

impl SourceCompiler<'_> {
    fn err(&mut self, at: Pos, msg: impl Into<String>) {
        let msg = msg.into();
        self.diags.error(at, format!("{}: {msg}", self.ctx));
    }

    /// The node as a mapping, reporting unknown keys; `None` (reported) otherwise.
    fn mapping<'n>(
        &mut self,
        node: &'n Node,
        keys: &[&str],
        what: &str,
    ) -> Option<&'n MarkedMappingNode> {
        let Some(map) = node.as_mapping() else {
            self.err(pos(node), format!("{what} must be a mapping"));
            return None;
        };
        for (k, _) in map.iter() {
            if !keys.contains(&k.as_str()) {
                let h = self.diags.hint(k.as_str(), keys.iter().copied());
                self.err(
                    Pos::of_span(k.span()),
                    format!("unknown key \"{}\" in {what}{h}", k.as_str()),
                );
            }
        }
        Some(map)
    }

    fn scalar(&mut self, map: &MarkedMappingNode, key: &str, what: &str) -> Option<String> {
        let node = map.get_node(key)?;
        match node.as_scalar() {
            Some(s) => Some(s.as_str().to_owned()),
            None => {
                self.err(
                    pos(node),
                    format!("\"{key}\" of {what} must be a single value"),
                );
                None
            }
        }
    }

    fn required(&mut self, map: &MarkedMappingNode, key: &str, what: &str, at: Pos) -> String {
        match self.scalar(map, key, what) {
            Some(v) if !v.is_empty() => v,
            Some(_) => {
                self.err(
                    key_pos(map, key),
                    format!("\"{key}\" of {what} must not be empty"),
                );
                String::new()
            }
            None => {
                if map.get_node(key).is_none() {
                    self.err(at, format!("{what} is missing required key \"{key}\""));
                }
                String::new()
            }
        }
    }

    fn number(&mut self, map: &MarkedMappingNode, key: &str, what: &str) -> Option<u64> {
        let v = self.scalar(map, key, what)?;
        match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.err(
                    key_pos(map, key),
                    format!("\"{key}\" of {what} must be a whole number, found \"{v}\""),
                );
                None
            }
        }
    }

    fn duration(&mut self, map: &MarkedMappingNode, key: &str, what: &str) -> Option<Duration> {
        let v = self.scalar(map, key, what)?;
        match parse_short_duration(&v) {
            Some(d) => Some(d),
            None => {
                self.err(
                    key_pos(map, key),
                    format!(
                        "\"{key}\" of {what}: invalid duration \"{v}\" (expected e.g. \"250ms\", \"30s\" or \"2m\")"
                    ),
                );
                None
            }
        }
    }

    /// Checks `{placeholder}`s and `${ENV}` references in a template.
    fn template(&mut self, text: &str, at: Pos, what: &str) -> Template {
        if let Err(msg) = check_template(text) {
            self.err(at, format!("{what}: {msg}"));
        }
        Template(text.to_owned())
    }

    fn secret(&mut self, map: &MarkedMappingNode, key: &str, what: &str, at: Pos) -> Secret {
        let v = self.required(map, key, what, at);
        if v.is_empty() {
            return Secret { env: String::new() };
        }
        match env_ref(&v) {
            Some(name) => Secret { env: name },
            None => {
                // Never echo the value: it may be a real secret pasted into the file.
                self.err(
                    key_pos(map, key),
                    format!(
                        "\"{key}\" of {what} must be an environment variable reference such as \"${{API_KEY}}\"; secrets are never written in the plan"
                    ),
                );
                Secret { env: String::new() }
            }
        }
    }

    fn source(&mut self, item: &Node, default_tz: Tz) -> Option<Source> {
        let at = pos(item);
        let user = self.mapping(item, SOURCE_KEYS, "the source")?.clone();
        // Presets first: the user's keys are merged over the preset's.
        let mut preset_name = None;
        let merged = match user.get_scalar("preset").map(|s| s.as_str().to_owned()) {
            Some(name) => match PRESETS.iter().find(|(n, _)| *n == name) {
                Some((_, text)) => match marked_yaml::parse_yaml(1, *text) {
                    Ok(base) => {
                        // Every place in the preset's own text is reported at the plan's
                        // `preset:` value: a line and column of the preset file would
                        // point at some unrelated spot of the plan.
                        let here = user
                            .get_key_value("preset")
                            .map(|(_, v)| *v.span())
                            .unwrap_or(*user.span());
                        let base = respan(&base, here);
                        self.mapping(&base, SOURCE_KEYS, &format!("preset \"{name}\""));
                        preset_name = Some(name);
                        merge(&base, &Node::Mapping(user.clone()))
                    }
                    Err(e) => {
                        self.err(at, format!("preset \"{name}\" is broken: {e}"));
                        return None;
                    }
                },
                None => {
                    self.err(
                        key_pos(&user, "preset"),
                        format!(
                            "unknown preset \"{name}\"{}",
                            hint(&name, PRESETS.iter().map(|(n, _)| *n))
                        ),
                    );
                    return None;
                }
            },
            None => Node::Mapping(user.clone()),
        };
        let map = merged.as_mapping()?;
        let id = self.required(map, "id", "the source", at);
        let system = self.required(map, "system", "the source", at);
        let description = self
            .scalar(map, "description", "the source")
            .unwrap_or_default();
        let timezone = match self.scalar(map, "timezone", "the source") {
            Some(z) => match Tz::from_str(&z) {
                Ok(t) => t,
                Err(_) => {
                    let h = self
                        .diags
                        .hint(&z, chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()));
                    self.err(
                        key_pos(map, "timezone"),
                        format!("unknown time zone \"{z}\"{h}"),
                    );
                    default_tz
                }
            },
            None => default_tz,
        };
        let currency = self.scalar(map, "currency", "the source");
        if let Some(c) = &currency
            && !is_currency(c)
        {
            self.err(
                key_pos(map, "currency"),
                format!("unknown currency \"{c}\""),
            );
        }
        let rows = match self.scalar(map, "rows", "the source").as_deref() {
            None => RowKind::Aggregate,
            Some(name) => match RowKind::from_name(name) {
                Some(k) => k,
                None => {
                    self.err(
                        key_pos(map, "rows"),
                        format!(
                            "unknown row kind \"{name}\" (expected aggregate, event, crosswalk, rates, hierarchy or record){}",
                            hint(name, RowKind::ALL.map(RowKind::name))
                        ),
                    );
                    RowKind::Aggregate
                }
            },
        };
        let kinds: Vec<&str> = ["http", "file", "sql"]
            .into_iter()
            .filter(|k| map.get_node(k).is_some())
            .collect();
        let connector = match kinds.as_slice() {
            [] => {
                self.err(
                    at,
                    "needs a connector: one of \"http\", \"file\" or \"sql\" (or a \"preset\")",
                );
                None
            }
            [one] => self.connector(one, map.get_node(one)?),
            _ => {
                self.err(
                    key_pos(map, kinds[1]),
                    format!(
                        "has more than one connector ({}); keep one",
                        kinds.join(", ")
                    ),
                );
                None
            }
        };
        let format = match map.get_node("format") {
            Some(n) => self.format(n),
            // A query's rows are records already.
            None if kinds == ["sql"] => Some(Format::Json {
                rows: String::new(),
            }),
            None => {
                self.err(at, "the source is missing required key \"format\"");
                None
            }
        };
        let fields = match map.get_node("fields") {
            Some(n) => {
                let allowed = if rows == RowKind::Record {
                    Allowed::Any
                } else {
                    Allowed::Names(rows.fields())
                };
                self.field_map(n, allowed, "fields")
            }
            None => {
                self.err(at, "the source is missing required key \"fields\"");
                Vec::new()
            }
        };
        if map.get_node("fields").is_some() {
            for r in rows.required_fields() {
                if !fields.iter().any(|(n, _)| n == r) {
                    self.err(
                        key_pos(map, "fields"),
                        format!("\"fields\" must map \"{r}\""),
                    );
                }
            }
        }
        for (name, f) in fields.iter().filter(|_| rows == RowKind::Event) {
            let allowed: &[&str] = match name.as_str() {
                "kind" => EVENT_TYPES,
                "status" => EVENT_STATUSES,
                _ => continue,
            };
            let values = f.value.iter().chain(f.map.iter().map(|(_, v)| v));
            for v in values {
                if !allowed.contains(&v.as_str()) {
                    let h = self.diags.hint(v, allowed.iter().copied());
                    self.err(
                        key_pos(map, "fields"),
                        format!("\"{v}\" is not a valid {name}{h}"),
                    );
                }
            }
        }
        let long =
            rows == RowKind::Aggregate && fields.iter().any(|(n, _)| n == "metric" || n == "value");
        if long {
            for (need, other) in [("metric", "value"), ("value", "metric")] {
                if fields.iter().any(|(n, _)| n == other) && !fields.iter().any(|(n, _)| n == need)
                {
                    self.err(
                        key_pos(map, "fields"),
                        format!("a long-layout source maps both \"metric\" and \"value\" (\"{other}\" is mapped, \"{need}\" is not)"),
                    );
                }
            }
        }
        let metrics = match (rows, map.get_node("metrics")) {
            (RowKind::Aggregate, Some(_)) if long => {
                self.err(
                    key_pos(map, "metrics"),
                    "a long-layout source (\"fields\" maps \"metric\" and \"value\") names its metrics in the rows, not in \"metrics\"; map export labels with \"labels\"",
                );
                Vec::new()
            }
            (RowKind::Aggregate, None) if long => Vec::new(),
            (RowKind::Aggregate, Some(n)) => {
                let vocabulary = self.vocabulary;
                let m = self.field_map(n, Allowed::Metrics(vocabulary), "metrics");
                if m.is_empty() {
                    self.err(pos(n), "\"metrics\" must map at least one metric");
                }
                m
            }
            (RowKind::Aggregate, None) => {
                self.err(
                    at,
                    "an aggregate source needs \"metrics\" (wide layout) or \"fields\" mapping \"metric\" and \"value\" (long layout)",
                );
                Vec::new()
            }
            (other, Some(_)) => {
                self.err(
                    key_pos(map, "metrics"),
                    format!(
                        "\"metrics\" only applies to aggregate sources (this source's rows are {other})"
                    ),
                );
                Vec::new()
            }
            (_, None) => Vec::new(),
        };
        let labels = match map.get_node("labels") {
            Some(n) if !long => {
                self.err(
                    pos(n),
                    "\"labels\" only applies to long-layout aggregate sources (\"fields\" mapping \"metric\" and \"value\")",
                );
                Vec::new()
            }
            Some(n) => self.labels(n),
            None => Vec::new(),
        };
        let unknown_labels = match self.scalar(map, "unknown_labels", "the source").as_deref() {
            None => UnknownLabels::Error,
            Some(_) if !long => {
                self.err(
                    key_pos(map, "unknown_labels"),
                    "\"unknown_labels\" only applies to long-layout aggregate sources",
                );
                UnknownLabels::Error
            }
            Some("error") => UnknownLabels::Error,
            Some("skip") => UnknownLabels::Skip,
            Some(other) => {
                self.err(
                    key_pos(map, "unknown_labels"),
                    format!(
                        "unknown value \"{other}\" for \"unknown_labels\" (expected error or skip)"
                    ),
                );
                UnknownLabels::Error
            }
        };
        let numbers = self.numbers(map);
        let empty = match self.scalar(map, "empty", "the source").as_deref() {
            None | Some("missing") => Empty::Missing,
            Some("zero") => Empty::Zero,
            Some("error") => Empty::Error,
            Some(other) => {
                self.err(
                    key_pos(map, "empty"),
                    format!(
                        "unknown value \"{other}\" for \"empty\" (expected missing, zero or error){}",
                        hint(other, ["missing", "zero", "error"])
                    ),
                );
                Empty::Missing
            }
        };
        let quote = match self.scalar(map, "quote", "the source").as_deref() {
            None => Quote::PerUnit,
            Some(_) if rows != RowKind::Rates => {
                self.err(
                    key_pos(map, "quote"),
                    format!(
                        "\"quote\" only applies to rates sources (this source's rows are {rows})"
                    ),
                );
                Quote::PerUnit
            }
            Some("per_unit") => Quote::PerUnit,
            Some("per_plan") => Quote::PerPlan,
            Some(other) => {
                self.err(
                    key_pos(map, "quote"),
                    format!(
                        "unknown quote \"{other}\" (expected per_unit: plan currency for one unit of the currency, or per_plan: units of the currency for one unit of the plan currency){}",
                        hint(other, ["per_unit", "per_plan"])
                    ),
                );
                Quote::PerUnit
            }
        };
        Some(Source {
            numbers,
            empty,
            quote,
            labels,
            unknown_labels,
            id,
            system,
            description,
            preset: preset_name,
            timezone,
            currency,
            rows,
            connector: connector?,
            format: format?,
            fields,
            metrics,
            vocabulary: self.vocabulary.clone(),
        })
    }

    fn connector(&mut self, kind: &str, node: &Node) -> Option<Connector> {
        match kind {
            "file" => {
                let m = self.mapping(node, &["path"], "\"file\"")?;
                let p = self.required(m, "path", "\"file\"", pos(node));
                let t = self.template(&p, key_pos(m, "path"), "\"path\"");
                Some(Connector::File { path: t })
            }
            "sql" => {
                let m = self.mapping(node, &["url", "query"], "\"sql\"")?;
                let url = self.required(m, "url", "\"sql\"", pos(node));
                let query = self.required(m, "query", "\"sql\"", pos(node));
                let url = self.template(&url, key_pos(m, "url"), "\"url\"");
                Some(Connector::Sql { url, query })
            }
            _ => self.http(node).map(|h| Connector::Http(Box::new(h))),
        }
    }

    fn string_pairs(&mut self, node: &Node, what: &str) -> Vec<(String, Template)> {
        let Some(m) = node.as_mapping() else {
            self.err(
                pos(node),
                format!("{what} must be a mapping of names to values"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m.iter() {
            // A list repeats the parameter (`fields[]: [a, b]`).
            let values: Vec<&Node> = match v {
                Node::Sequence(items) => items.iter().collect(),
                other => vec![other],
            };
            for v in values {
                match v.as_scalar() {
                    Some(s) => {
                        let t = self.template(
                            s.as_str(),
                            Pos::of_span(k.span()),
                            &format!("{what} \"{}\"", k.as_str()),
                        );
                        out.push((k.as_str().to_owned(), t));
                    }
                    None => self.err(
                        pos(v),
                        format!(
                            "{what} \"{}\" must be a value or a list of values",
                            k.as_str()
                        ),
                    ),
                }
            }
        }
        out
    }

    fn http(&mut self, node: &Node) -> Option<Http> {
        let at = pos(node);
        let m = self.mapping(node, HTTP_KEYS, "\"http\"")?;
        let url = self.required(m, "url", "\"http\"", at);
        let url = self.template(&url, key_pos(m, "url"), "\"url\"");
        let method = match self.scalar(m, "method", "\"http\"").as_deref() {
            None | Some("GET") | Some("get") => HttpMethod::Get,
            Some("POST") | Some("post") => HttpMethod::Post,
            Some(other) => {
                self.err(
                    key_pos(m, "method"),
                    format!("unsupported method \"{other}\" (expected GET or POST)"),
                );
                HttpMethod::Get
            }
        };
        let query = m
            .get_node("query")
            .map(|n| self.string_pairs(n, "query parameter"))
            .unwrap_or_default();
        let headers = m
            .get_node("headers")
            .map(|n| self.string_pairs(n, "header"))
            .unwrap_or_default();
        let body = m.get_node("body").map(|n| {
            self.body_templates(n);
            crate::compile::param(n)
        });
        if body.is_some() && method == HttpMethod::Get {
            self.err(key_pos(m, "body"), "a \"body\" needs method POST");
        }
        let auth = match m.get_node("auth") {
            Some(n) => self.auth(n),
            None => Auth::None,
        };
        let date_format = self
            .scalar(m, "date_format", "\"http\"")
            .unwrap_or_else(|| "%Y-%m-%d".to_owned());
        if date_format.is_empty() || !strftime_ok(&date_format) {
            self.err(
                key_pos(m, "date_format"),
                format!("invalid date format \"{date_format}\" (strftime, e.g. \"%Y-%m-%d\")"),
            );
        }
        let timeout = self
            .duration(m, "timeout", "\"http\"")
            .unwrap_or(Duration::from_secs(30));
        let retries = match m.get_node("retries") {
            Some(n) => self.retries(n),
            None => Retries {
                attempts: 4,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(30),
            },
        };
        let rate_limit = self.number(m, "rate_limit", "\"http\"").map(|n| n as u32);
        if rate_limit == Some(0) {
            self.err(
                key_pos(m, "rate_limit"),
                "\"rate_limit\" is requests per second and must be at least 1",
            );
        }
        let (paging, max_pages) = match m.get_node("paging") {
            Some(n) => self.paging(n),
            None => (Paging::None, 1),
        };
        let truncation = match m.get_node("truncation") {
            Some(n) => self.truncation(n),
            None => Truncation::default(),
        };
        let errors = m.get_node("errors").and_then(|n| self.errors(n));
        Some(Http {
            errors,
            url,
            method,
            query,
            headers,
            body,
            auth,
            date_format,
            timeout,
            retries,
            rate_limit,
            paging,
            max_pages,
            truncation,
        })
    }

    fn body_templates(&mut self, node: &Node) {
        match node {
            Node::Scalar(s) => {
                if let Err(msg) = check_template(s.as_str()) {
                    self.err(Pos::of_span(s.span()), format!("\"body\": {msg}"));
                }
            }
            Node::Sequence(items) => items.iter().for_each(|n| self.body_templates(n)),
            Node::Mapping(m) => m.iter().for_each(|(_, v)| self.body_templates(v)),
        }
    }

    fn auth(&mut self, node: &Node) -> Auth {
        const KINDS: &[&str] = &["header", "query", "basic", "bearer"];
        let at = pos(node);
        let Some(m) = self.mapping(
            node,
            &["header", "query", "basic", "bearer", "key"],
            "\"auth\"",
        ) else {
            return Auth::None;
        };
        let kinds: Vec<&str> = KINDS
            .iter()
            .copied()
            .filter(|k| m.get_node(k).is_some())
            .collect();
        match kinds.as_slice() {
            ["header"] | ["query"] => {
                let name = self.required(m, kinds[0], "\"auth\"", at);
                let value = self.secret(m, "key", "\"auth\"", at);
                if kinds[0] == "header" {
                    Auth::Header { name, value }
                } else {
                    Auth::Query { name, value }
                }
            }
            ["basic"] => {
                let Some(b) = m
                    .get_node("basic")
                    .and_then(|n| self.mapping(n, &["user", "password"], "\"basic\""))
                else {
                    return Auth::None;
                };
                let user = self.secret(b, "user", "\"basic\"", at);
                let password = self.secret(b, "password", "\"basic\"", at);
                Auth::Basic { user, password }
            }
            ["bearer"] => Auth::Bearer {
                token: self.secret(m, "bearer", "\"auth\"", at),
            },
            [] => {
                self.err(
                    at,
                    "\"auth\" needs one of \"header\", \"query\", \"basic\" or \"bearer\"",
                );
                Auth::None
            }
            _ => {
                self.err(at, "\"auth\" must use exactly one kind");
                Auth::None
            }
        }
    }

    fn retries(&mut self, node: &Node) -> Retries {
        let mut r = Retries {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        };
        let Some(m) = self.mapping(
            node,
            &["attempts", "base_delay", "max_delay"],
            "\"retries\"",
        ) else {
            return r;
        };
        if let Some(n) = self.number(m, "attempts", "\"retries\"") {
            if n == 0 || n > 20 {
                self.err(
                    key_pos(m, "attempts"),
                    "\"attempts\" must be between 1 and 20",
                );
            }
            r.attempts = n.clamp(1, 20) as u32;
        }
        if let Some(d) = self.duration(m, "base_delay", "\"retries\"") {
            r.base_delay = d;
        }
        if let Some(d) = self.duration(m, "max_delay", "\"retries\"") {
            r.max_delay = d;
        }
        r
    }

    fn paging(&mut self, node: &Node) -> (Paging, u32) {
        const KEYS: &[&str] = &[
            "style",
            "param",
            "size_param",
            "size",
            "first",
            "total_pages",
            "path",
            "max_pages",
        ];
        const STYLES: &[&str] = &[
            "none",
            "page",
            "offset",
            "cursor",
            "next_url",
            "link_header",
        ];
        let at = pos(node);
        let Some(m) = self.mapping(node, KEYS, "\"paging\"") else {
            return (Paging::None, 1);
        };
        let max_pages = self.number(m, "max_pages", "\"paging\"").unwrap_or(1000);
        if max_pages == 0 {
            self.err(key_pos(m, "max_pages"), "\"max_pages\" must be at least 1");
        }
        let style = self.required(m, "style", "\"paging\"", at);
        let allowed: &[&str] = match style.as_str() {
            "none" | "link_header" => &["style", "max_pages"],
            "page" => &[
                "style",
                "param",
                "size_param",
                "size",
                "first",
                "total_pages",
                "max_pages",
            ],
            "offset" => &["style", "param", "size_param", "size", "first", "max_pages"],
            "cursor" => &["style", "param", "path", "max_pages"],
            "next_url" => &["style", "path", "max_pages"],
            "" => return (Paging::None, 1),
            other => {
                self.err(
                    key_pos(m, "style"),
                    format!(
                        "unknown paging style \"{other}\" (expected one of none, page, offset, cursor, next_url, link_header){}",
                        hint(other, STYLES.iter().copied())
                    ),
                );
                return (Paging::None, 1);
            }
        };
        for (k, _) in m.iter() {
            if KEYS.contains(&k.as_str()) && !allowed.contains(&k.as_str()) {
                self.err(
                    Pos::of_span(k.span()),
                    format!(
                        "\"{}\" does not apply to paging style \"{style}\"",
                        k.as_str()
                    ),
                );
            }
        }
        let paging = match style.as_str() {
            "page" | "offset" => {
                let param = self.required(m, "param", "\"paging\"", at);
                let size_param = self.scalar(m, "size_param", "\"paging\"");
                let size = self.number(m, "size", "\"paging\"").unwrap_or(0);
                if size == 0 {
                    self.err(
                        if m.get_node("size").is_some() {
                            key_pos(m, "size")
                        } else {
                            at
                        },
                        format!("paging style \"{style}\" needs a page \"size\" of at least 1"),
                    );
                }
                if style == "page" {
                    Paging::Page {
                        param,
                        size_param,
                        size,
                        first: self.number(m, "first", "\"paging\"").unwrap_or(1),
                        total_pages: self.scalar(m, "total_pages", "\"paging\""),
                    }
                } else {
                    Paging::Offset {
                        param,
                        size_param,
                        size,
                        first: self.number(m, "first", "\"paging\"").unwrap_or(0),
                    }
                }
            }
            "cursor" => Paging::Cursor {
                param: self.required(m, "param", "\"paging\"", at),
                path: self.required(m, "path", "\"paging\"", at),
            },
            "next_url" => Paging::NextUrl {
                path: self.required(m, "path", "\"paging\"", at),
            },
            "link_header" => Paging::LinkHeader,
            _ => Paging::None,
        };
        let cap = if paging == Paging::None {
            1
        } else {
            max_pages.clamp(1, u32::MAX as u64) as u32
        };
        (paging, cap)
    }

    fn truncation(&mut self, node: &Node) -> Truncation {
        let Some(m) = self.mapping(node, &["flag", "row_cap", "total"], "\"truncation\"") else {
            return Truncation::default();
        };
        Truncation {
            flag: self.scalar(m, "flag", "\"truncation\""),
            row_cap: self.number(m, "row_cap", "\"truncation\""),
            total: self.scalar(m, "total", "\"truncation\""),
        }
    }

    fn errors(&mut self, node: &Node) -> Option<ErrorBody> {
        let at = pos(node);
        let m = self.mapping(node, &["status", "ok", "message"], "\"errors\"")?;
        let status = self.scalar(m, "status", "\"errors\"");
        let message = self.scalar(m, "message", "\"errors\"");
        let mut ok = Vec::new();
        if let Some(n) = m.get_node("ok") {
            let items: Vec<&Node> = match n {
                Node::Sequence(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                match item.as_scalar() {
                    Some(v) => ok.push(v.as_str().to_owned()),
                    None => self.err(
                        pos(item),
                        "\"ok\" of \"errors\" must be a value or a list of values",
                    ),
                }
            }
        }
        match (&status, &message) {
            (None, None) => {
                self.err(
                    at,
                    "\"errors\" needs \"status\" (with \"ok\") or \"message\"",
                );
                return None;
            }
            (Some(_), _) if ok.is_empty() => {
                self.err(
                    key_pos(m, "status"),
                    "\"errors\" with \"status\" needs \"ok\": the value(s) that mean success",
                );
                return None;
            }
            (None, _) if !ok.is_empty() => {
                self.err(key_pos(m, "ok"), "\"ok\" of \"errors\" needs \"status\"");
            }
            _ => {}
        }
        Some(ErrorBody {
            status,
            ok,
            message,
        })
    }

    fn format(&mut self, node: &Node) -> Option<Format> {
        let at = pos(node);
        let m = self.mapping(node, &["type", "rows", "delimiter"], "\"format\"")?;
        let ty = self.required(m, "type", "\"format\"", at);
        match ty.as_str() {
            "json" => Some(Format::Json {
                rows: self.scalar(m, "rows", "\"format\"").unwrap_or_default(),
            }),
            "csv" => {
                let d = self
                    .scalar(m, "delimiter", "\"format\"")
                    .unwrap_or_else(|| ",".to_owned());
                let delimiter = match d.as_bytes() {
                    [b] => *b,
                    _ if d == "\\t" => b'\t',
                    _ => {
                        self.err(
                            key_pos(m, "delimiter"),
                            format!("\"delimiter\" must be one character, found \"{d}\""),
                        );
                        b','
                    }
                };
                Some(Format::Csv { delimiter })
            }
            "xml" => {
                let rows = self.required(m, "rows", "\"format\"", at);
                Some(Format::Xml { rows })
            }
            "" => None,
            other => {
                self.err(
                    key_pos(m, "type"),
                    format!(
                        "unknown format \"{other}\" (expected json, csv or xml){}",
                        hint(other, ["json", "csv", "xml"])
                    ),
                );
                None
            }
        }
    }

    /// `decimal:` and `thousands:`: one character each, different, neither a digit nor
    /// a sign.
    fn numbers(&mut self, map: &MarkedMappingNode) -> NumberFormat {
        let mut out = NumberFormat::default();
        let one = |c: &mut Self, key: &str| -> Option<Option<char>> {
            let v = c.scalar(map, key, "the source")?;
            let mut chars = v.chars();
            match (chars.next(), chars.next()) {
                (None, _) if key == "thousands" => Some(None),
                (Some(ch), None)
                    if !ch.is_ascii_digit() && !matches!(ch, '-' | '+' | 'e' | 'E') =>
                {
                    Some(Some(ch))
                }
                _ => {
                    c.err(
                        key_pos(map, key),
                        format!(
                            "\"{key}\" must be one character that is not a digit or a sign (e.g. \",\" or \".\"), found \"{v}\""
                        ),
                    );
                    None
                }
            }
        };
        if let Some(Some(d)) = one(self, "decimal") {
            out.decimal = d;
        }
        if let Some(t) = one(self, "thousands") {
            out.thousands = t;
        }
        if out.thousands == Some(out.decimal) {
            self.err(
                key_pos(map, "thousands"),
                format!(
                    "\"thousands\" and \"decimal\" are both \"{}\"; they must differ",
                    out.decimal
                ),
            );
            out.thousands = None;
        }
        out
    }

    /// `labels: {LABEL: metric}` -> (label, metric) pairs, the same way round as a
    /// reconcile check's `labels:`. The metric must be known to the plan.
    fn labels(&mut self, node: &Node) -> Vec<(String, String)> {
        let Some(m) = node.as_mapping() else {
            self.err(
                pos(node),
                "\"labels\" must be a mapping of the export's label -> metric",
            );
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in m.iter() {
            let label = k.as_str();
            if label.is_empty() {
                self.err(Pos::of_span(k.span()), "a label in \"labels\" is empty");
                continue;
            }
            let Some(metric) = v.as_scalar().map(|s| s.as_str().to_owned()) else {
                self.err(
                    pos(v),
                    format!("label \"{label}\" must map to one metric name"),
                );
                continue;
            };
            if !self.vocabulary.is_known(&metric) {
                let h = self.diags.hint(&metric, self.vocabulary.names());
                // Written the other way round (metric: label)?
                let flipped = if self.vocabulary.is_known(label) {
                    format!(
                        "; labels map the export's label to a metric: write `\"{metric}\": {label}`"
                    )
                } else {
                    String::new()
                };
                self.err(
                    pos(v),
                    format!(
                        "unknown metric \"{metric}\" for label \"{label}\" in \"labels\"{h}{flipped}"
                    ),
                );
                continue;
            }
            out.push((label.to_owned(), metric));
        }
        out
    }

    /// A mapping of names to [`Field`]s. Names outside `allowed` are errors (with
    /// [`Allowed::Any`], a record source's own field names, only empty ones are).
    fn field_map(&mut self, node: &Node, allowed: Allowed<'_>, what: &str) -> Vec<(String, Field)> {
        let Some(m) = node.as_mapping() else {
            self.err(pos(node), format!("\"{what}\" must be a mapping"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m.iter() {
            let name = k.as_str();
            if matches!(allowed, Allowed::Any) && name.is_empty() {
                self.err(
                    Pos::of_span(k.span()),
                    format!("a name in \"{what}\" is empty"),
                );
                continue;
            }
            if !allowed.contains(name) {
                let h = match allowed {
                    Allowed::Names(names) => self.diags.hint(name, names.iter().copied()),
                    Allowed::Metrics(v) => self.diags.hint(name, v.names()),
                    Allowed::Any => String::new(),
                };
                self.err(
                    Pos::of_span(k.span()),
                    format!(
                        "unknown {} \"{name}\" in \"{what}\"{h}",
                        if what == "metrics" { "metric" } else { "field" },
                    ),
                );
                continue;
            }
            let field = match v {
                Node::Scalar(s) if !s.as_str().is_empty() => Field {
                    path: Some(s.as_str().to_owned()),
                    ..Field::default()
                },
                Node::Mapping(_) => {
                    let Some(fm) = self.mapping(
                        v,
                        &["path", "value", "map", "format"],
                        &format!("field \"{name}\""),
                    ) else {
                        continue;
                    };
                    let mut f = Field {
                        path: self.scalar(fm, "path", "the field"),
                        value: self.scalar(fm, "value", "the field"),
                        format: self.scalar(fm, "format", "the field"),
                        map: Vec::new(),
                    };
                    if let Some(mm) = fm.get_node("map") {
                        match mm.as_mapping() {
                            Some(mm) => {
                                for (rk, rv) in mm.iter() {
                                    match rv.as_scalar() {
                                        Some(s) => f
                                            .map
                                            .push((rk.as_str().to_owned(), s.as_str().to_owned())),
                                        None => self
                                            .err(pos(rv), "a \"map\" value must be a single value"),
                                    }
                                }
                            }
                            None => self.err(
                                pos(mm),
                                "\"map\" must be a mapping of raw to canonical values",
                            ),
                        }
                    }
                    if f.path.is_some() == f.value.is_some() {
                        self.err(
                            Pos::of_span(k.span()),
                            format!("field \"{name}\" needs exactly one of \"path\" or \"value\""),
                        );
                        continue;
                    }
                    f
                }
                _ => {
                    self.err(
                        pos(v),
                        format!("field \"{name}\" must be a path or a mapping with \"path\" or \"value\""),
                    );
                    continue;
                }
            };
            out.push((name.to_owned(), field));
        }
        out
    }
}

/// `250ms`, `30s`, `2m`.
fn parse_short_duration(s: &str) -> Option<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        _ => None,
    }
}

fn strftime_ok(fmt: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    !StrftimeItems::new(fmt).any(|i| matches!(i, Item::Error))
}

/// `Some(NAME)` when `text` is exactly one `${NAME}` reference.
fn env_ref(text: &str) -> Option<String> {
    let inner = text.strip_prefix("${")?.strip_suffix('}')?;
    valid_env_name(inner).then(|| inner.to_owned())
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The pieces of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
    Env {
        name: &'a str,
        default: Option<&'a str>,
    },
}

/// Splits a template into pieces, or says what is wrong with it.
pub fn template_pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = rest.find(['{', '$']);
        let Some(i) = next else {
            out.push(Piece::Text(rest));
            break;
        };
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(format!("unclosed \"${{\" in \"{text}\""));
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if !valid_env_name(name) {
                return Err(format!(
                    "bad environment reference \"${{{inner}}}\" (expected ${{NAME}} with A-Z, 0-9 and _)"
                ));
            }
            out.push(Piece::Env { name, default });
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}');
            match end {
                Some(end)
                    if after[..end]
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_')
                        && end > 0 =>
                {
                    let name = &after[..end];
                    if !PLACEHOLDERS.contains(&name) {
                        return Err(format!(
                            "unknown placeholder \"{{{name}}}\"{}",
                            hint(name, PLACEHOLDERS.iter().copied())
                        ));
                    }
                    out.push(Piece::Placeholder(name));
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push(Piece::Text("{"));
                    rest = after;
                }
            }
        } else {
            out.push(Piece::Text("$"));
            rest = &rest[1..];
        }
    }
    Ok(out)
}

fn check_template(text: &str) -> Result<(), String> {
    template_pieces(text).map(|_| ())
}

/// Compiles one preset on its own (for tests and `cutover` docs).
pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The plan's own zone as written (UTC when absent or invalid; the plan reports that).
pub(crate) fn plan_timezone(root: &Node) -> Tz {
    root.as_mapping()
        .and_then(|m| m.get_scalar("timezone"))
        .and_then(|s| Tz::from_str(s.as_str()).ok())
        .unwrap_or(Tz::UTC)
}
