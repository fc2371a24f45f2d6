//! Field mapping: one record (a JSON object) -> canonical rows: aggregates, events, or
//! reference data (crosswalk lines, FX rates, hierarchy edges, CRM records). Values are
//! coerced to their canonical types (text, day, UTC time, decimal, event kind and
//! status); a value that does not coerce, or breaks a rule of its row kind (a rate of
//! zero, a partner its own parent), is an error naming the row and the field.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use cutover_plan::Source;
use cutover_plan::sources::{Empty, Field, NumberFormat, Quote, RowKind, UnknownLabels};
use cutover_recon::{
    Aggregate, CrosswalkRow, Event, EventStatus, EventType, HierarchyRow, Metric, RateRow, Record,
    Row,
};
use rust_decimal::Decimal;
use serde_json::Value;

use std::collections::HashMap;
use std::sync::Mutex;

use crate::records::lookup;
use crate::{Dropped, PullError, Window};

/// A compiled mapping for one source (metric names and labels parsed once).
pub(crate) struct Mapper<'s> {
    source: &'s Source,
    metrics: Vec<(Metric, &'s Field)>,
    /// Long layout: the export's label -> metric.
    labels: HashMap<String, Metric>,
    /// Aggregate records on days outside it are dropped and counted.
    window: Option<Window>,
    /// What was left out, and how many records: reason -> count.
    dropped: Mutex<BTreeMap<String, u64>>,
}

impl<'s> Mapper<'s> {
    pub fn new(source: &'s Source, window: Option<Window>) -> Result<Self, PullError> {
        let mut metrics = Vec::new();
        for (name, f) in &source.metrics {
            let m = Metric::from_str(name).map_err(|e| PullError::Config(e.to_string()))?;
            metrics.push((m, f));
        }
        let mut labels = HashMap::new();
        for (label, name) in &source.labels {
            let m = Metric::from_str(name).map_err(|e| PullError::Config(e.to_string()))?;
            labels.insert(label.clone(), m);
        }
        Ok(Mapper {
            source,
            metrics,
            labels,
            window,
            dropped: Mutex::new(BTreeMap::new()),
        })
    }

    /// What was left out so far, in reason order.
    pub fn dropped(&self) -> Vec<Dropped> {
        self.dropped
            .lock()
            .map(|d| {
                d.iter()
                    .map(|(reason, records)| Dropped {
                        reason: reason.clone(),
                        records: *records,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn drop_record(&self, reason: String) {
        if let Ok(mut d) = self.dropped.lock() {
            *d.entry(reason).or_default() += 1;
        }
    }

    /// Maps a page's `records` (the first is the `before + 1`-th of the pull) into `out`,
    /// in order, and drops them. A big page is split across the available cores (each
    /// part mapped into its own vector, appended in order); the error is the first
    /// failing record's, as when mapping one by one.
    pub fn map_all(
        &self,
        mut records: Vec<Value>,
        before: u64,
        out: &mut Vec<Row>,
    ) -> Result<(), PullError> {
        const MIN_PART: usize = 2_000;
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(records.len() / MIN_PART)
            .max(1);
        if workers == 1 {
            for (i, rec) in records.iter().enumerate() {
                self.map(rec, before + i as u64 + 1, out)?;
            }
            return Ok(());
        }
        let per = records.len().div_ceil(workers);
        let mut parts = Vec::with_capacity(workers);
        while records.len() > per {
            let at = (records.len() - 1) / per * per;
            parts.push(records.split_off(at));
        }
        parts.push(records);
        parts.reverse();
        let width = self.metrics.len().max(1);
        let results: Vec<Result<Vec<Row>, PullError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .enumerate()
                .map(|(k, part)| {
                    let first = before + (k * per) as u64;
                    scope.spawn(move || {
                        let mut rows = Vec::with_capacity(part.len() * width);
                        for (i, rec) in part.iter().enumerate() {
                            self.map(rec, first + i as u64 + 1, &mut rows)?;
                        }
                        Ok(rows)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        for part in results {
            out.append(&mut part?);
        }
        Ok(())
    }

    /// Maps `record` (the `row`-th of the pull, 1-based) into `out`.
    pub fn map(&self, record: &Value, row: u64, out: &mut Vec<Row>) -> Result<(), PullError> {
        match self.source.rows {
            RowKind::Aggregate => self.aggregate(record, row, out),
            RowKind::Event => self.event(record, row, out),
            RowKind::Crosswalk => self.crosswalk(record, row, out),
            RowKind::Rates => self.rate(record, row, out),
            RowKind::Hierarchy => self.hierarchy(record, row, out),
            RowKind::Record => self.record(record, row, out),
        }
    }

    /// Text that must be there and not be empty (surrounding white space removed).
    fn required_id(&self, record: &Value, name: &str, row: u64) -> Result<String, PullError> {
        let v = self.required_text(record, name, row)?;
        let v = v.trim();
        if v.is_empty() {
            return Err(err(row, name, "is empty".to_owned()));
        }
        Ok(v.to_owned())
    }

    /// Text that may be absent, null or empty (all `None`).
    fn optional_text(
        &self,
        record: &Value,
        name: &str,
        row: u64,
    ) -> Result<Option<String>, PullError> {
        Ok(self
            .text(record, name, row)?
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()))
    }

    /// A day that may be absent, null or empty.
    fn optional_day(
        &self,
        record: &Value,
        name: &str,
        row: u64,
    ) -> Result<Option<NaiveDate>, PullError> {
        let f = self.source.field(name);
        match self.raw(record, name) {
            None | Some(RawValue::Json(Value::Null)) => Ok(None),
            Some(RawValue::Json(Value::String(s))) if s.trim().is_empty() => Ok(None),
            Some(v) => as_day(
                &v,
                f.and_then(|f| f.format.as_deref()),
                self.source.timezone,
            )
            .map(Some)
            .map_err(|m| err(row, name, m)),
        }
    }

    /// `valid_from` and `valid_to` of a dated row; `valid_to` (exclusive) must come after
    /// `valid_from`.
    fn validity(
        &self,
        record: &Value,
        row: u64,
    ) -> Result<(Option<NaiveDate>, Option<NaiveDate>), PullError> {
        let from = self.optional_day(record, "valid_from", row)?;
        let to = self.optional_day(record, "valid_to", row)?;
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            return Err(err(
                row,
                "valid_to",
                format!(
                    "{t} is not after valid_from {f} (valid_to is the first day it no longer holds)"
                ),
            ));
        }
        Ok((from, to))
    }

    fn crosswalk(&self, record: &Value, row: u64, out: &mut Vec<Row>) -> Result<(), PullError> {
        let old = self.required_id(record, "old", row)?;
        let new = self.required_id(record, "new", row)?;
        let (valid_from, valid_to) = self.validity(record, row)?;
        out.push(Row::Crosswalk(CrosswalkRow {
            old,
            new,
            valid_from,
            valid_to,
        }));
        Ok(())
    }

    fn rate(&self, record: &Value, row: u64, out: &mut Vec<Row>) -> Result<(), PullError> {
        let day_field = self.source.field("day");
        let day_raw = self
            .raw(record, "day")
            .ok_or_else(|| err(row, "day", missing(day_field)))?;
        let day = as_day(
            &day_raw,
            day_field.and_then(|f| f.format.as_deref()),
            self.source.timezone,
        )
        .map_err(|m| err(row, "day", m))?;
        let currency = self.required_id(record, "currency", row)?;
        if cutover_plan::CURRENCIES
            .binary_search(&currency.as_str())
            .is_err()
        {
            return Err(err(
                row,
                "currency",
                format!("\"{currency}\" is not an ISO 4217 currency code"),
            ));
        }
        let f = self.source.field("rate");
        let raw = self
            .raw(record, "rate")
            .ok_or_else(|| err(row, "rate", missing(f)))?;
        let rate = self.number(&raw).map_err(|m| err(row, "rate", m))?;
        if rate <= Decimal::ZERO {
            return Err(err(
                row,
                "rate",
                match self.source.quote {
                    Quote::PerUnit => format!(
                        "{rate} is not above zero (a rate is units of the plan currency for one {currency})"
                    ),
                    Quote::PerPlan => format!(
                        "{rate} is not above zero (quote: per_plan, a rate is units of {currency} for one unit of the plan currency)"
                    ),
                },
            ));
        }
        let rate = match self.source.quote {
            Quote::PerUnit => rate,
            // 1 EUR = 1.0862 USD -> 1 USD = 0.9206407659731173 EUR.
            Quote::PerPlan => Decimal::ONE
                .checked_div(rate)
                .map(|r| r.round_dp(16).normalize())
                .filter(|r| !r.is_zero())
                .ok_or_else(|| {
                    err(
                        row,
                        "rate",
                        format!(
                            "{rate} cannot be inverted into a rate (1 / {rate} is out of range)"
                        ),
                    )
                })?,
        };
        out.push(Row::Rate(RateRow {
            day,
            currency,
            rate,
        }));
        Ok(())
    }

    fn hierarchy(&self, record: &Value, row: u64, out: &mut Vec<Row>) -> Result<(), PullError> {
        let partner = self.required_id(record, "partner", row)?;
        let parent = self.optional_text(record, "parent", row)?;
        if parent.as_deref() == Some(partner.as_str()) {
            return Err(err(
                row,
                "parent",
                format!("partner \"{partner}\" cannot be its own parent"),
            ));
        }
        let (valid_from, valid_to) = self.validity(record, row)?;
        out.push(Row::Hierarchy(HierarchyRow {
            partner,
            parent,
            valid_from,
            valid_to,
        }));
        Ok(())
    }

    fn record(&self, record: &Value, row: u64, out: &mut Vec<Row>) -> Result<(), PullError> {
        let id = self.required_id(record, "id", row)?;
        let mut fields = BTreeMap::new();
        for (name, _) in self.source.fields.iter().filter(|(n, _)| n != "id") {
            if let Some(v) = self.text(record, name, row)?.filter(|s| !s.is_empty()) {
                fields.insert(name.clone(), v);
            }
        }
        out.push(Row::Record(Record { id, fields }));
        Ok(())
    }

    fn raw<'v>(&self, record: &'v Value, name: &str) -> Option<RawValue<'v>>
    where
        's: 'v,
    {
        let f = self.source.field(name)?;
        raw_of(f, record)
    }

    fn text(&self, record: &Value, name: &str, row: u64) -> Result<Option<String>, PullError> {
        match self.raw(record, name) {
            None => Ok(None),
            Some(v) => as_text(&v).map_err(|m| err(row, name, m)),
        }
    }

    fn required_text(&self, record: &Value, name: &str, row: u64) -> Result<String, PullError> {
        self.text(record, name, row)?
            .ok_or_else(|| err(row, name, missing(self.source.field(name))))
    }

    fn aggregate(&self, record: &Value, row: u64, out: &mut Vec<Row>) -> Result<(), PullError> {
        let partner = self.required_text(record, "partner", row)?;
        let day_field = self.source.field("day");
        let day_raw = self
            .raw(record, "day")
            .ok_or_else(|| err(row, "day", missing(day_field)))?;
        let day = as_day(
            &day_raw,
            day_field.and_then(|f| f.format.as_deref()),
            self.source.timezone,
        )
        .map_err(|m| err(row, "day", m))?;
        if let Some(w) = self.window
            && (day < w.from || day > w.to)
        {
            self.drop_record(format!(
                "records on days outside the window {} .. {}",
                w.from, w.to
            ));
            return Ok(());
        }
        let link = self.text(record, "link", row)?.filter(|s| !s.is_empty());
        let coupon = self.text(record, "coupon", row)?.filter(|s| !s.is_empty());
        let currency = self
            .text(record, "currency", row)?
            .filter(|s| !s.is_empty())
            .or_else(|| self.source.currency.clone());
        let mut push = |metric: &Metric, value: Decimal| {
            let currency = if self.source.vocabulary.is_money(metric) {
                currency.clone()
            } else {
                None
            };
            out.push(Row::Aggregate(Aggregate {
                partner: partner.clone(),
                day,
                metric: metric.clone(),
                value,
                currency,
                link: link.clone(),
                coupon: coupon.clone(),
            }));
        };
        if self.source.is_long() {
            let label = self.required_id(record, "metric", row)?;
            let metric = match self.labels.get(&label) {
                Some(m) => m.clone(),
                None if self.source.vocabulary.is_known(&label) => {
                    Metric::from_str(&label).map_err(|e| err(row, "metric", e.to_string()))?
                }
                None => match self.source.unknown_labels {
                    UnknownLabels::Skip => {
                        self.drop_record(format!(
                            "rows labelled \"{label}\", not a metric (unknown_labels: skip)"
                        ));
                        return Ok(());
                    }
                    UnknownLabels::Error => {
                        return Err(err(
                            row,
                            "metric",
                            format!(
                                "\"{label}\" is not a metric: map it under \"labels\" (e.g. `labels: {{\"{label}\": clicks_gross}}`) or set `unknown_labels: skip`"
                            ),
                        ));
                    }
                },
            };
            let f = self.source.field("value");
            let v = self
                .raw(record, "value")
                .ok_or_else(|| err(row, "value", missing(f)))?;
            if let Some(value) = self.metric_value(&v, row, "value", &metric)? {
                push(&metric, value);
            }
            return Ok(());
        }
        for (metric, f) in &self.metrics {
            let v = raw_of(f, record).ok_or_else(|| err(row, metric.as_str(), missing(Some(f))))?;
            if let Some(value) = self.metric_value(&v, row, metric.as_str(), metric)? {
                push(metric, value);
            }
        }
        Ok(())
    }

    /// A metric's value; `None` when it is empty and `empty: missing` says so.
    fn metric_value(
        &self,
        v: &RawValue<'_>,
        row: u64,
        field: &str,
        metric: &Metric,
    ) -> Result<Option<Decimal>, PullError> {
        let blank = match v {
            RawValue::Json(Value::Null) => true,
            RawValue::Json(Value::String(s)) => s.trim().is_empty(),
            _ => false,
        };
        if blank {
            return match self.source.empty {
                Empty::Missing => Ok(None),
                Empty::Zero => Ok(Some(Decimal::ZERO)),
                Empty::Error => Err(err(
                    row,
                    field,
                    format!("{metric} is empty (the source says empty: error)"),
                )),
            };
        }
        self.number(v).map(Some).map_err(|m| err(row, field, m))
    }

    /// A number, read from text in the source's number format.
    fn number(&self, v: &RawValue<'_>) -> Result<Decimal, String> {
        let f = self.source.numbers;
        if f == NumberFormat::default() {
            return as_decimal(v);
        }
        let text = match v {
            RawValue::Const(c) => *c,
            RawValue::Json(Value::String(s)) => s.as_str(),
            _ => return as_decimal(v),
        };
        let plain = localised(text.trim(), f).ok_or_else(|| {
            let t = f
                .thousands
                .map(|t| format!(", thousands \"{t}\""))
                .unwrap_or_default();
            format!(
                "\"{}\" is not a number in the source's format (decimal \"{}\"{t})",
                text.trim(),
                f.decimal
            )
        })?;
        as_decimal(&RawValue::Const(&plain))
    }

    fn time(
        &self,
        record: &Value,
        name: &str,
        row: u64,
    ) -> Result<Option<DateTime<Utc>>, PullError> {
        let f = self.source.field(name);
        match self.raw(record, name) {
            None => Ok(None),
            Some(RawValue::Json(Value::Null)) => Ok(None),
            Some(RawValue::Json(Value::String(s))) if s.is_empty() => Ok(None),
            Some(v) => as_time(
                &v,
                f.and_then(|f| f.format.as_deref()),
                self.source.timezone,
            )
            .map(Some)
            .map_err(|m| err(row, name, m)),
        }
    }

    fn event(&self, record: &Value, row: u64, out: &mut Vec<Row>) -> Result<(), PullError> {
        let id = self.required_text(record, "id", row)?;
        let kind_raw = self.required_text(record, "kind", row)?;
        let kind = canonical(self.source.field("kind"), &kind_raw)
            .parse::<EventType>()
            .map_err(|m| err(row, "kind", m))?;
        let occurred_at = self.time(record, "occurred_at", row)?.ok_or_else(|| {
            err(
                row,
                "occurred_at",
                missing(self.source.field("occurred_at")),
            )
        })?;
        let recorded_at = self.time(record, "recorded_at", row)?;
        let status = match self.text(record, "status", row)? {
            Some(s) => canonical(self.source.field("status"), &s)
                .parse::<EventStatus>()
                .map_err(|m| err(row, "status", m))?,
            None => EventStatus::Approved,
        };
        let amount = match self.raw(record, "amount") {
            None | Some(RawValue::Json(Value::Null)) => None,
            Some(RawValue::Json(Value::String(s))) if s.is_empty() => None,
            Some(v) => Some(self.number(&v).map_err(|m| err(row, "amount", m))?),
        };
        let opt = |name: &str| -> Result<Option<String>, PullError> {
            Ok(self.text(record, name, row)?.filter(|s| !s.is_empty()))
        };
        let currency = opt("currency")?.or_else(|| {
            amount
                .is_some()
                .then(|| self.source.currency.clone())
                .flatten()
        });
        out.push(Row::Event(Event {
            id,
            kind,
            occurred_at,
            recorded_at,
            status,
            partner: opt("partner")?,
            link: opt("link")?,
            coupon: opt("coupon")?,
            customer: opt("customer")?,
            click_id: opt("click_id")?,
            order_id: opt("order_id")?,
            amount,
            currency,
        }));
        Ok(())
    }
}

/// A value read from a record, or a constant from the plan.
pub(crate) enum RawValue<'v> {
    Json(&'v Value),
    Const(&'v str),
}

fn raw_of<'v>(f: &'v Field, record: &'v Value) -> Option<RawValue<'v>> {
    if let Some(c) = &f.value {
        return Some(RawValue::Const(c));
    }
    lookup(record, f.path.as_deref()?).map(RawValue::Json)
}

fn missing(f: Option<&Field>) -> String {
    match f.and_then(|f| f.path.as_deref()) {
        Some(p) => format!("\"{p}\" is missing"),
        None => "is not mapped".to_owned(),
    }
}

fn err(row: u64, field: &str, message: String) -> PullError {
    PullError::Field {
        row,
        field: field.to_owned(),
        message,
    }
}

/// Applies a field's `map:` (raw -> canonical), case-insensitively, then lower-cases.
fn canonical(f: Option<&Field>, raw: &str) -> String {
    if let Some(f) = f
        && let Some((_, v)) = f.map.iter().find(|(k, _)| k.eq_ignore_ascii_case(raw))
    {
        return v.clone();
    }
    raw.to_ascii_lowercase()
}

fn as_text(v: &RawValue<'_>) -> Result<Option<String>, String> {
    match v {
        RawValue::Const(c) => Ok(Some((*c).to_owned())),
        RawValue::Json(Value::Null) => Ok(None),
        RawValue::Json(Value::String(s)) => Ok(Some(s.clone())),
        RawValue::Json(Value::Number(n)) => Ok(Some(n.to_string())),
        RawValue::Json(Value::Bool(b)) => Ok(Some(b.to_string())),
        RawValue::Json(_) => Err("expected a value, found a list or object".to_owned()),
    }
}

fn as_decimal(v: &RawValue<'_>) -> Result<Decimal, String> {
    let text;
    let s: &str = match v {
        RawValue::Const(c) => c,
        // An integer is exact as is (the same value and scale 0 as parsing its text).
        RawValue::Json(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => return Ok(Decimal::from(i)),
            (None, Some(u)) => return Ok(Decimal::from(u)),
            _ => {
                text = n.to_string();
                &text
            }
        },
        RawValue::Json(Value::String(s)) => s.trim(),
        RawValue::Json(Value::Null) => return Err("is null, expected a number".to_owned()),
        RawValue::Json(_) => return Err("expected a number".to_owned()),
    };
    Decimal::from_str(s)
        .or_else(|_| Decimal::from_scientific(s))
        .map_err(|_| format!("\"{s}\" is not a number"))
}

/// `1.133,05` (decimal `,`, thousands `.`) -> `1133.05`. Thousands separators must
/// group the integer part by three (`1.13,05` is not a number); `None` when the text is
/// not a number in that format.
fn localised(s: &str, f: NumberFormat) -> Option<String> {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => ("-", &s[1..]),
        Some(b'+') => ("", &s[1..]),
        _ => ("", s),
    };
    let (int, frac) = match body.split_once(f.decimal) {
        Some((i, fr)) => (i, Some(fr)),
        None => (body, None),
    };
    let int = match f.thousands {
        Some(t) if int.contains(t) => {
            let groups: Vec<&str> = int.split(t).collect();
            let ok = (1..=3).contains(&groups[0].len())
                && groups[1..].iter().all(|g| g.len() == 3)
                && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return None;
            }
            groups.concat()
        }
        _ => int.to_owned(),
    };
    if let Some(fr) = frac
        && (fr.is_empty() || !fr.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match frac {
        Some(fr) => format!("{sign}{int}.{fr}"),
        None => format!("{sign}{int}"),
    })
}

fn unix(s: &str) -> Option<DateTime<Utc>> {
    let n: i64 = s.trim().parse().ok()?;
    // Milliseconds when it would be beyond year 5000 as seconds.
    if n > 95_617_584_000 {
        Utc.timestamp_millis_opt(n).single()
    } else {
        Utc.timestamp_opt(n, 0).single()
    }
}

fn scalar_string(v: &RawValue<'_>) -> Result<String, String> {
    match as_text(v)? {
        Some(s) => Ok(s.trim().to_owned()),
        None => Err("is null".to_owned()),
    }
}

fn as_day(v: &RawValue<'_>, format: Option<&str>, tz: Tz) -> Result<NaiveDate, String> {
    let s = scalar_string(v)?;
    match format {
        Some("unix") => unix(&s)
            .map(|t| t.with_timezone(&tz).date_naive())
            .ok_or_else(|| format!("\"{s}\" is not a unix time")),
        Some(f) => NaiveDate::parse_from_str(&s, f)
            .or_else(|_| NaiveDateTime::parse_from_str(&s, f).map(|d| d.date()))
            .map_err(|_| format!("\"{s}\" is not a date in the format \"{f}\"")),
        None => {
            if let Some(d) = plain_day(&s) {
                return Ok(d);
            }
            if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
                return Ok(d);
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
                return Ok(t.with_timezone(&tz).date_naive());
            }
            // The day part of a longer timestamp. Checked access: byte 10 may fall inside
            // a multi-byte character (then the first ten bytes cannot be a date anyway).
            if let Some(head) = s.get(..10)
                && let Ok(d) = NaiveDate::parse_from_str(head, "%Y-%m-%d")
            {
                return Ok(d);
            }
            Err(format!("\"{s}\" is not a date (expected YYYY-MM-DD)"))
        }
    }
}

/// `YYYY-MM-DD` exactly (the common case), without parsing a format string per row;
/// anything else is left to `parse_from_str`.
fn plain_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

fn as_time(v: &RawValue<'_>, format: Option<&str>, tz: Tz) -> Result<DateTime<Utc>, String> {
    let s = scalar_string(v)?;
    let local = |n: NaiveDateTime| {
        tz.from_local_datetime(&n)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("\"{s}\" does not exist in {tz}"))
    };
    match format {
        Some("unix") => unix(&s).ok_or_else(|| format!("\"{s}\" is not a unix time")),
        Some(f) => match DateTime::parse_from_str(&s, f) {
            Ok(t) => Ok(t.with_timezone(&Utc)),
            Err(_) => NaiveDateTime::parse_from_str(&s, f)
                .map_err(|_| format!("\"{s}\" is not a time in the format \"{f}\""))
                .and_then(local),
        },
        None => {
            if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
                return Ok(t.with_timezone(&Utc));
            }
            for f in [
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S%.f",
            ] {
                if let Ok(n) = NaiveDateTime::parse_from_str(&s, f) {
                    return local(n);
                }
            }
            Err(format!(
                "\"{s}\" is not a time (expected RFC 3339 or YYYY-MM-DD HH:MM:SS)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const PLAN: &str = "migration: m
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
phases:
  - id: discovery
    goal: g
    owners: [bi]
    exit:
      - { id: wait, min_duration: 1d }
metrics: { bonus_cost: money }
sources:
";

    /// The sources every nasty value is fed through: aggregates (one with a declared
    /// money metric) and events, with the default, `unix` and strftime formats of days and
    /// times, and every kind of reference data.
    fn sources() -> Vec<Source> {
        let yaml = "  - id: agg
    system: old
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields: { partner: p, day: d, link: l, coupon: c, currency: cur }
    metrics: { ftd_amount: v, clicks_gross: n, bonus_cost: v }
  - id: agg_unix
    system: old
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields: { partner: p, day: { path: du, format: unix } }
    metrics: { ftd_amount: v }
  - id: agg_fmt
    system: old
    timezone: Europe/Berlin
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields: { partner: p, day: { path: df, format: \"%d/%m/%Y %H:%M\" } }
    metrics: { ftd_amount: v }
  - id: ev
    system: new
    rows: event
    timezone: America/New_York
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields:
      id: i
      kind: { path: k, map: { Sale: purchase } }
      occurred_at: t
      recorded_at: { path: r, format: unix }
      status: s
      partner: p
      amount: a
      currency: cur
  - id: ev_fmt
    system: new
    rows: event
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields:
      id: i
      kind: { value: ftd }
      occurred_at: { path: tf, format: \"%d.%m.%Y %H:%M:%S\" }
      amount: a
  - id: xw
    system: new
    rows: crosswalk
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields: { old: xo, new: xn, valid_from: vf, valid_to: { path: vt, format: \"%d.%m.%Y\" } }
  - id: fx
    system: ecb
    rows: rates
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields: { day: d, currency: cur, rate: rate }
  - id: tree
    system: old
    rows: hierarchy
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields: { partner: p, parent: par, valid_from: vf }
  - id: crm
    system: crm
    rows: record
    file: { path: x.json }
    format: { type: json, rows: \"\" }
    fields: { id: i, email: em }
";
        let text = format!("{PLAN}{yaml}");
        cutover_plan::load("plan.yaml", &text)
            .unwrap_or_else(|d| panic!("{d:#?}"))
            .sources
    }

    /// A valid record for every source above; one field at a time is replaced.
    fn valid() -> Value {
        json!({
            "p": "P1", "d": "2026-08-23", "du": 1787486400, "df": "23/08/2026 10:00",
            "l": "L1", "c": "C1", "cur": "EUR",
            "v": "12.50", "n": 7,
            "i": "e1", "k": "Sale", "t": "2026-08-23T10:00:00Z",
            "tf": "23.08.2026 10:00:00", "r": "1787486400",
            "s": "approved", "a": "12.50",
            "xo": "AFF-1", "xn": "70001", "vf": "2026-08-01", "vt": "31.12.2026",
            "rate": "0.85", "par": "M1", "em": "a@example.com",
        })
    }

    /// Which canonical field a record key feeds (for the error's `field`).
    fn field_of(key: &str) -> &'static [&'static str] {
        match key {
            "p" => &["partner"],
            "d" | "du" | "df" => &["day"],
            "l" => &["link"],
            "c" => &["coupon"],
            "cur" => &["currency"],
            "v" => &["ftd_amount"],
            "n" => &["clicks_gross"],
            "i" => &["id"],
            "k" => &["kind"],
            "t" | "tf" => &["occurred_at"],
            "r" => &["recorded_at"],
            "s" => &["status"],
            "a" => &["amount"],
            "xo" => &["old"],
            "xn" => &["new"],
            // A valid_from on or after valid_to is valid_to's mistake.
            "vf" => &["valid_from", "valid_to"],
            "vt" => &["valid_to"],
            "rate" => &["rate"],
            "par" => &["parent"],
            "em" => &["email"],
            _ => &[],
        }
    }

    /// Maps `record` through every source; a failure must be a field error naming row 7
    /// and the field the replaced key feeds. Panics are what this guards against.
    fn map_everywhere(sources: &[Source], key: &str, record: &Value) {
        for s in sources {
            let m = Mapper::new(s, None).expect("mapper");
            let mut out = Vec::new();
            match m.map(record, 7, &mut out) {
                Ok(()) => {}
                Err(PullError::Field { row, field, .. }) => {
                    assert_eq!(row, 7);
                    assert!(
                        field_of(key).contains(&field.as_str()),
                        "source {}: {key} = {:?} failed on field {field}",
                        s.id,
                        record.get(key)
                    );
                }
                Err(e) => panic!("source {}: {key}: unexpected error {e}", s.id),
            }
        }
    }

    /// Strings that have broken parsers: multi-byte characters at every byte offset of
    /// typical values, empty and blank text, huge and tiny numbers, NaN and infinities,
    /// unbalanced quotes, control characters, a long value.
    fn nasty_strings() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            " ",
            "\t",
            "\0",
            "\u{1b}[31m",
            "\"",
            "\"\"\"",
            "'",
            "\"2026-08-23",
            "{",
            "[",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "+inf",
            "Infinity",
            "-Infinity",
            "1e400",
            "-1e400",
            "1e-400",
            "1E99999999999",
            "1e-99999999999",
            "1e",
            "1e+",
            "e5",
            "-",
            "+",
            ".",
            "-0",
            "0.0000000000000000000000000000001",
            "79228162514264337593543950335",
            "79228162514264337593543950336",
            "-79228162514264337593543950336",
            "99999999999999999999999999999999999999",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551616",
            "95617584001",
            "-95617584001",
            "2026-02-30",
            "2026-13-01",
            "0000-00-00",
            "+262143-12-31",
            "-262144-01-01",
            "9999999-01-01",
            "2026-08-23T25:61:61Z",
            "2026-08-23T10:00:00+99:99",
            "2026-03-29 02:30:00",
            "23/08/2026 10:00",
            "23.08.2026 10:00:00",
            "２０２６-０８-２３",
            "2026‐08‐23",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        v.push("9".repeat(100_000));
        v.push("é".repeat(50_000));
        for base in [
            "2026-08-23",
            "2026-08-23 10:00:00",
            "2026-08-23T10:00:00Z",
            "1787486400",
            "12.50",
            "23/08/2026 10:00",
        ] {
            for ch in ["é", "€", "😀", "\u{301}"] {
                for i in 0..=base.len() {
                    // Inserted at byte i, and replacing the byte at i.
                    v.push(format!("{}{ch}{}", &base[..i], &base[i..]));
                    if i < base.len() {
                        v.push(format!("{}{ch}{}", &base[..i], &base[i + 1..]));
                    }
                }
            }
        }
        v
    }

    fn nasty_json() -> Vec<Value> {
        vec![
            Value::Null,
            json!(true),
            json!(0),
            json!(-0.0),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(f64::MAX),
            json!(f64::MIN_POSITIVE),
            json!(1.5e300),
            json!([]),
            json!({"a": 1}),
        ]
    }

    /// Regression: a date whose 10th byte fell inside a multi-byte character panicked
    /// `pull` and `check run` (`&s[..10]`).
    #[test]
    fn multibyte_date_slice_is_an_error_not_a_panic() {
        let s = sources();
        let m = Mapper::new(&s[0], None).expect("mapper");
        let mut rec = valid();
        // "2026-08-2" + "é": byte 10 is the middle of "é".
        rec["d"] = json!("2026-08-2é");
        let e = m.map(&rec, 3, &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 3: field \"day\": \"2026-08-2é\" is not a date (expected YYYY-MM-DD)"
        );
        // A timestamp with a multi-byte character after the day still yields the day.
        rec["d"] = json!("2026-08-23é10:00");
        let mut out = Vec::new();
        m.map(&rec, 3, &mut out).expect("day prefix");
        let Row::Aggregate(a) = &out[0] else {
            panic!("aggregate")
        };
        assert_eq!(a.day, NaiveDate::from_ymd_opt(2026, 8, 23).unwrap());
    }

    #[test]
    fn nasty_values_in_every_field_are_errors_or_values_never_panics() {
        let sources = sources();
        let base = valid();
        // The valid record maps everywhere.
        for s in &sources {
            let mut out = Vec::new();
            Mapper::new(s, None)
                .unwrap()
                .map(&base, 1, &mut out)
                .unwrap_or_else(|e| panic!("{}: {e}", s.id));
            assert!(!out.is_empty());
        }
        let keys: Vec<String> = base.as_object().unwrap().keys().cloned().collect();
        let strings = nasty_strings();
        let values = nasty_json();
        for key in &keys {
            for s in &strings {
                let mut rec = base.clone();
                rec[key.as_str()] = Value::String(s.clone());
                map_everywhere(&sources, key, &rec);
            }
            for v in &values {
                let mut rec = base.clone();
                rec[key.as_str()] = v.clone();
                map_everywhere(&sources, key, &rec);
            }
            let mut rec = base.clone();
            rec.as_object_mut().unwrap().remove(key);
            map_everywhere(&sources, key, &rec);
        }
    }

    #[test]
    fn huge_and_non_finite_numbers_are_errors_with_the_value() {
        for (text, want) in [
            ("NaN", "\"NaN\" is not a number"),
            ("inf", "\"inf\" is not a number"),
            ("1e400", "\"1e400\" is not a number"),
            (
                "79228162514264337593543950336",
                "\"79228162514264337593543950336\" is not a number",
            ),
        ] {
            let v = Value::String(text.to_owned());
            assert_eq!(as_decimal(&RawValue::Json(&v)).unwrap_err(), want);
        }
        let v = json!(1.5e300);
        assert_eq!(
            as_decimal(&RawValue::Json(&v)).unwrap_err(),
            "\"1.5e+300\" is not a number"
        );
    }

    proptest! {
        #[test]
        fn any_text_in_any_field_never_panics(key in 0usize..23, text in "\\PC{0,40}") {
            let sources = sources();
            let base = valid();
            let keys: Vec<String> = base.as_object().unwrap().keys().cloned().collect();
            let key = &keys[key % keys.len()];
            let mut rec = base.clone();
            rec[key.as_str()] = Value::String(text);
            map_everywhere(&sources, key, &rec);
        }
    }

    #[test]
    fn plain_day_agrees_with_the_format_parser() {
        for s in [
            "2026-08-23",
            "2024-02-29",
            "2026-02-29",
            "2026-13-01",
            "0000-01-01",
            "2026-8-23",
            "2026-08-2x",
            "2026/08/23",
            " 2026-08-2",
            "+026-08-23",
        ] {
            let fast = plain_day(s);
            let slow = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
            assert!(fast.is_none() || fast == slow, "{s}: {fast:?} vs {slow:?}");
        }
        assert_eq!(
            plain_day("2026-08-23"),
            NaiveDate::from_ymd_opt(2026, 8, 23)
        );
    }

    /// With serde_json's `arbitrary_precision`, a JSON number keeps the payload's text:
    /// amounts never pass through f64.
    #[test]
    fn json_amounts_go_from_text_to_decimal() {
        for text in [
            "0.1",
            "1230.72",
            "12345678901234567.89",
            "0.30000000000000004441",
            "7922816251426433759354395033.5",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                as_decimal(&RawValue::Json(&v)).unwrap(),
                Decimal::from_str(text).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn integers_decode_like_their_text() {
        for text in ["0", "12", "-7", "18446744073709551615", "12.5", "1e3"] {
            let v: Value = serde_json::from_str(text).unwrap();
            let fast = as_decimal(&RawValue::Json(&v)).unwrap();
            let slow = Decimal::from_str(&v.to_string())
                .or_else(|_| Decimal::from_scientific(&v.to_string()))
                .unwrap();
            assert_eq!(fast, slow, "{text}");
            assert_eq!(fast.scale(), slow.scale(), "{text}");
        }
    }
}
