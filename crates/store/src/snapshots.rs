//! Source snapshots: storing every pull of a source's window (raw payload hashes, redacted
//! requests, time, counts and the normalised rows) and reading them back, so a check run
//! can be reproduced from exactly the data it saw.
//!
//! A snapshot is written in one transaction, header and rows together, and carries its
//! status from the start: a failed or inconclusive pull can be stored for the record but
//! is never returned by [`Store::latest_complete_snapshot`].
//!
//! Rows are stored in chunks of [`CHUNK`] rows, each the compact JSON below compressed
//! with LZ4 (chunks written before compression are text and still read); the sha256
//! over the stored chunks is checked on every read. [`Store::snapshot_row_chunks`] streams
//! a snapshot back a few chunks at a time instead of loading it whole.

use chrono::{DateTime, NaiveDate, Utc};
use cutover_recon::{Aggregate, CrosswalkRow, Event, HierarchyRow, RateRow, Record, Row};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::entity::{source_snapshot, source_snapshot_rows};
use crate::{Store, StoreError};

/// Rows per stored chunk.
const CHUNK: usize = 10_000;

/// Chunks read per query when a snapshot is streamed back.
const CHUNKS_PER_READ: i32 = 8;

/// Threads to encode / decode chunks on (each chunk is independent; order is kept).
fn workers(chunks: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks)
        .max(1)
}

/// `f` over `items` on up to [`workers`] threads; results in input order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let n = workers(items.len());
    if n <= 1 {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// How a pull ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// Every row of the window: a check may read it.
    Complete,
    /// Rows are known to be missing (truncation); kept for inspection only.
    Inconclusive,
    /// The pull failed; no rows.
    Failed,
}

impl SnapshotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Complete => "complete",
            SnapshotStatus::Inconclusive => "inconclusive",
            SnapshotStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "complete" => Ok(SnapshotStatus::Complete),
            "inconclusive" => Ok(SnapshotStatus::Inconclusive),
            "failed" => Ok(SnapshotStatus::Failed),
            other => Err(StoreError::Corrupt(format!(
                "unknown snapshot status \"{other}\""
            ))),
        }
    }
}

/// One raw payload a pull read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPage {
    /// Method and URL, secrets replaced by `***`.
    pub request: String,
    pub status: u16,
    pub bytes: u64,
    pub sha256: String,
    pub records: u64,
}

/// A pull to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSourceSnapshot {
    pub source_id: String,
    pub system: String,
    pub window_from: NaiveDate,
    pub window_to: NaiveDate,
    pub status: SnapshotStatus,
    /// Why it is inconclusive or failed.
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub pages: Vec<SnapshotPage>,
    pub bytes: u64,
    pub payload_sha256: String,
    pub rows: Vec<Row>,
}

/// A stored snapshot's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSnapshot {
    pub id: i32,
    pub source_id: String,
    pub system: String,
    pub window_from: NaiveDate,
    pub window_to: NaiveDate,
    pub status: SnapshotStatus,
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub pages: Vec<SnapshotPage>,
    pub bytes: u64,
    pub row_count: u64,
    /// sha256 over the raw payloads, in page order.
    pub payload_sha256: String,
    /// sha256 over the stored row chunks, in order (checked on read).
    pub rows_sha256: String,
}

fn header(m: source_snapshot::Model) -> Result<SourceSnapshot, StoreError> {
    Ok(SourceSnapshot {
        id: m.id,
        status: SnapshotStatus::parse(&m.status)?,
        pages: serde_json::from_str(&m.pages)
            .map_err(|e| StoreError::Corrupt(format!("snapshot {}: pages: {e}", m.id)))?,
        source_id: m.source_id,
        system: m.system,
        window_from: m.window_from,
        window_to: m.window_to,
        reason: m.reason,
        started_at: m.started_at,
        finished_at: m.finished_at,
        bytes: m.bytes.max(0) as u64,
        row_count: m.row_count.max(0) as u64,
        payload_sha256: m.payload_sha256,
        rows_sha256: m.rows_sha256,
    })
}

// Stored row encoding. A chunk is a JSON array of rows. An aggregate (nearly every row)
// is a positional array `[partner, day, metric, value, currency, link, coupon]` with
// trailing nulls left out, about a third of its tagged-object size and decoded without
// serde's buffering of internally tagged enums. Any other row (an event, or reference
// data: crosswalk, rate, hierarchy, record) is `Row`'s own tagged object (`{"row":
// "event", ...}`, tag first, read straight into its variant); chunks written before the
// compact form are all tagged objects and still read.

/// A row as stored (see above).
struct StoreRow<'a>(&'a Row);

impl Serialize for StoreRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let Row::Aggregate(a) = self.0 else {
            return self.0.serialize(s);
        };
        let optional = [&a.currency, &a.link, &a.coupon];
        let present = optional
            .iter()
            .rposition(|o| o.is_some())
            .map_or(0, |i| i + 1);
        let mut seq = s.serialize_seq(Some(4 + present))?;
        seq.serialize_element(&a.partner)?;
        seq.serialize_element(&a.day)?;
        seq.serialize_element(&a.metric)?;
        seq.serialize_element(&a.value)?;
        for o in &optional[..present] {
            seq.serialize_element(o)?;
        }
        seq.end()
    }
}

fn encode_chunk(rows: &[Row]) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(rows.len() * 64);
    let mut ser = serde_json::Serializer::new(&mut out);
    serde::Serializer::collect_seq(&mut ser, rows.iter().map(StoreRow))?;
    // serde_json writes valid UTF-8 only.
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// A row as read back (either form).
struct StoredRow(Row);

impl<'de> Deserialize<'de> for StoredRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StoredRow;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a stored row (array or tagged object)")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StoredRow, A::Error> {
                use serde::de::Error;
                let partner = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let Day(day) = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let metric = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(2, &self))?;
                let value = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(3, &self))?;
                let currency = seq.next_element::<Option<String>>()?.flatten();
                let link = seq.next_element::<Option<String>>()?.flatten();
                let coupon = seq.next_element::<Option<String>>()?.flatten();
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(8, &self));
                }
                Ok(StoredRow(Row::Aggregate(Aggregate {
                    partner,
                    day,
                    metric,
                    value,
                    currency,
                    link,
                    coupon,
                })))
            }
            // `Row`'s tagged object. serde would copy every field into a generic tree
            // to find the tag; the writer always puts the tag first, so the fields after
            // it are decoded straight into the variant. Otherwise the generic path.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StoredRow, A::Error> {
                use serde::de::value::MapAccessDeserializer;
                let Some(first) = map.next_key::<std::borrow::Cow<'de, str>>()? else {
                    return Err(serde::de::Error::missing_field("row"));
                };
                if first == "row" {
                    let tag = map.next_value::<std::borrow::Cow<'de, str>>()?;
                    let rest = MapAccessDeserializer::new(map);
                    return match &*tag {
                        "aggregate" => Aggregate::deserialize(rest).map(Row::Aggregate),
                        "event" => Event::deserialize(rest).map(Row::Event),
                        "crosswalk" => CrosswalkRow::deserialize(rest).map(Row::Crosswalk),
                        "rate" => RateRow::deserialize(rest).map(Row::Rate),
                        "hierarchy" => HierarchyRow::deserialize(rest).map(Row::Hierarchy),
                        "record" => Record::deserialize(rest).map(Row::Record),
                        other => Err(serde::de::Error::unknown_variant(
                            other,
                            &[
                                "aggregate",
                                "event",
                                "crosswalk",
                                "rate",
                                "hierarchy",
                                "record",
                            ],
                        )),
                    }
                    .map(StoredRow);
                }
                let mut all = serde_json::Map::new();
                all.insert(first.into_owned(), map.next_value()?);
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    all.insert(k, v);
                }
                Row::deserialize(serde_json::Value::Object(all))
                    .map(StoredRow)
                    .map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A stored day: `YYYY-MM-DD` read directly (it is how a `NaiveDate` is written);
/// anything else goes through `NaiveDate`'s own parser, as before.
struct Day(NaiveDate);

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        let b = s.as_bytes();
        if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
            let num = |r: std::ops::Range<usize>| -> Option<u32> {
                b[r].iter().try_fold(0u32, |acc, c| {
                    c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
                })
            };
            if let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10))
                && let Some(day) = NaiveDate::from_ymd_opt(y as i32, m, d)
            {
                return Ok(Day(day));
            }
        }
        s.parse().map(Day).map_err(serde::de::Error::custom)
    }
}

/// Decodes one chunk (a JSON array of stored rows), appending to `out`.
fn decode_chunk_into(text: &str, out: &mut Vec<Row>) -> Result<(), serde_json::Error> {
    struct Extend<'a>(&'a mut Vec<Row>);
    impl<'de> serde::de::Visitor<'de> for Extend<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of rows")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(StoredRow(r)) = seq.next_element()? {
                self.0.push(r);
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserializer::deserialize_seq(&mut de, Extend(out))?;
    de.end()
}

impl Store {
    /// Stores a pull as a new snapshot (header and rows in one transaction); returns its id.
    pub async fn save_source_snapshot(&self, s: &NewSourceSnapshot) -> Result<i32, StoreError> {
        let rows: &[Row] = if s.status == SnapshotStatus::Failed {
            &[]
        } else {
            &s.rows
        };
        let parts: Vec<&[Row]> = rows.chunks(CHUNK).collect();
        let chunks = par_map(&parts, |chunk| {
            let text = encode_chunk(chunk).map_err(|e| format!("cannot encode rows: {e}"))?;
            Ok::<_, String>(pack_chunk(text.as_bytes()))
        })
        .into_iter()
        .collect::<Result<Vec<Vec<u8>>, _>>()
        .map_err(StoreError::Db)?;
        let mut hasher = Sha256::new();
        for packed in &chunks {
            hasher.update(packed);
        }
        let rows_sha256 = hex::encode(hasher.finalize());
        let pages = serde_json::to_string(&s.pages)
            .map_err(|e| StoreError::Db(format!("cannot encode pages: {e}")))?;
        let txn = self.begin_write().await?;
        let inserted = source_snapshot::Entity::insert(source_snapshot::ActiveModel {
            id: NotSet,
            source_id: Set(s.source_id.clone()),
            system: Set(s.system.clone()),
            window_from: Set(s.window_from),
            window_to: Set(s.window_to),
            status: Set(s.status.as_str().to_owned()),
            reason: Set(s.reason.clone()),
            started_at: Set(s.started_at),
            finished_at: Set(s.finished_at),
            page_count: Set(s.pages.len() as i32),
            bytes: Set(s.bytes as i64),
            row_count: Set(rows.len() as i64),
            payload_sha256: Set(s.payload_sha256.clone()),
            rows_sha256: Set(rows_sha256),
            pages: Set(pages),
        })
        .exec(&txn)
        .await?;
        let id = inserted.last_insert_id;
        // A few chunks per statement keeps each under the backends' parameter limits.
        let models: Vec<source_snapshot_rows::ActiveModel> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, packed)| source_snapshot_rows::ActiveModel {
                id: NotSet,
                snapshot_id: Set(id),
                chunk: Set(i as i32),
                rows: Set(String::new()),
                packed: Set(Some(packed)),
            })
            .collect();
        let mut models = models.into_iter().peekable();
        while models.peek().is_some() {
            let batch: Vec<_> = models.by_ref().take(16).collect();
            source_snapshot_rows::Entity::insert_many(batch)
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        tracing::info!(snapshot = id, source = %s.source_id, status = s.status.as_str(), rows = rows.len(), "Snapshot stored.");
        Ok(id)
    }

    /// One snapshot's header.
    pub async fn source_snapshot(&self, id: i32) -> Result<Option<SourceSnapshot>, StoreError> {
        source_snapshot::Entity::find_by_id(id)
            .one(self.connection())
            .await?
            .map(header)
            .transpose()
    }

    /// Every snapshot of `source_id` for exactly this window, newest first.
    pub async fn source_snapshots(
        &self,
        source_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SourceSnapshot>, StoreError> {
        source_snapshot::Entity::find()
            .filter(source_snapshot::Column::SourceId.eq(source_id))
            .filter(source_snapshot::Column::WindowFrom.eq(from))
            .filter(source_snapshot::Column::WindowTo.eq(to))
            .order_by_desc(source_snapshot::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(header)
            .collect()
    }

    /// The newest complete snapshot of `source_id` for exactly this window, with its rows.
    /// This is what a check reads; inconclusive and failed pulls are never returned.
    pub async fn latest_complete_snapshot(
        &self,
        source_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<(SourceSnapshot, Vec<Row>)>, StoreError> {
        let found = source_snapshot::Entity::find()
            .filter(source_snapshot::Column::SourceId.eq(source_id))
            .filter(source_snapshot::Column::WindowFrom.eq(from))
            .filter(source_snapshot::Column::WindowTo.eq(to))
            .filter(source_snapshot::Column::Status.eq(SnapshotStatus::Complete.as_str()))
            .order_by_desc(source_snapshot::Column::Id)
            .one(self.connection())
            .await?;
        let Some(m) = found else {
            return Ok(None);
        };
        let snap = header(m)?;
        let rows = self.snapshot_rows(&snap).await?;
        Ok(Some((snap, rows)))
    }

    /// The rows of a snapshot, checked against the hash stored with it.
    pub async fn snapshot_rows(&self, snap: &SourceSnapshot) -> Result<Vec<Row>, StoreError> {
        let mut rows: Vec<Row> = Vec::new();
        self.snapshot_row_chunks(snap, |mut part| {
            if rows.is_empty() {
                rows = part;
                rows.reserve((snap.row_count as usize).saturating_sub(rows.len()));
            } else {
                rows.append(&mut part);
            }
            Ok::<_, StoreError>(())
        })
        .await?;
        Ok(rows)
    }

    /// Streams a snapshot's rows to `each`, a few stored chunks at a time (in order, each
    /// call with the rows of up to [`CHUNKS_PER_READ`] chunks), so the snapshot is never
    /// held whole. The hash and row count are checked as the chunks go by and compared
    /// at the end: when that fails (`StoreError::Corrupt`) the rows already handed over
    /// were not what was stored, and the caller must discard what it built from them.
    pub async fn snapshot_row_chunks<E: From<StoreError>>(
        &self,
        snap: &SourceSnapshot,
        mut each: impl FnMut(Vec<Row>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut hasher = Sha256::new();
        let mut count = 0u64;
        let mut next = 0i32;
        loop {
            let chunks = source_snapshot_rows::Entity::find()
                .filter(source_snapshot_rows::Column::SnapshotId.eq(snap.id))
                .filter(source_snapshot_rows::Column::Chunk.gte(next))
                .filter(source_snapshot_rows::Column::Chunk.lt(next + CHUNKS_PER_READ))
                .order_by_asc(source_snapshot_rows::Column::Chunk)
                .all(self.connection())
                .await
                .map_err(StoreError::from)?;
            if chunks.is_empty() {
                break;
            }
            for c in &chunks {
                if c.chunk != next {
                    return Err(StoreError::Corrupt(format!(
                        "snapshot {}: chunk {next} is missing",
                        snap.id
                    ))
                    .into());
                }
                next += 1;
                match &c.packed {
                    Some(p) => hasher.update(p),
                    None => hasher.update(c.rows.as_bytes()),
                }
            }
            let decoded = par_map(&chunks, |c| {
                let mut rows = Vec::with_capacity(CHUNK);
                let corrupt = |e: String| {
                    StoreError::Corrupt(format!("snapshot {} chunk {}: {e}", snap.id, c.chunk))
                };
                match &c.packed {
                    Some(p) => {
                        let text = unpack_chunk(p).map_err(corrupt)?;
                        let text = std::str::from_utf8(&text)
                            .map_err(|e| corrupt(format!("not UTF-8: {e}")))?;
                        decode_chunk_into(text, &mut rows)
                    }
                    None => decode_chunk_into(&c.rows, &mut rows),
                }
                .map_err(|e| corrupt(e.to_string()))?;
                Ok::<_, StoreError>(rows)
            });
            drop(chunks);
            let mut part: Vec<Row> = Vec::new();
            for d in decoded {
                let mut d = d?;
                if part.is_empty() {
                    part = d;
                } else {
                    part.append(&mut d);
                }
            }
            count += part.len() as u64;
            each(part)?;
        }
        if hex::encode(hasher.finalize()) != snap.rows_sha256 || count != snap.row_count {
            return Err(StoreError::Corrupt(format!(
                "snapshot {}: stored rows do not match their hash",
                snap.id
            ))
            .into());
        }
        Ok(())
    }
}

/// The most a stored chunk may decompress to (10,000 rows of a few hundred bytes each
/// is far below it); a larger one is corrupt, never a reason to allocate without bound.
const MAX_CHUNK_BYTES: usize = 256 << 20;

/// A stored chunk: its length as 4 bytes little-endian, then the LZ4 block of it.
pub fn pack_chunk(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + plain.len() / 3);
    out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    out.extend_from_slice(&lz4_flex::block::compress(plain));
    out
}

/// The plain bytes of a stored chunk; `Err` says why it cannot be read.
pub fn unpack_chunk(packed: &[u8]) -> Result<Vec<u8>, String> {
    let (len, block) = packed
        .split_first_chunk::<4>()
        .ok_or_else(|| "compressed chunk shorter than its length".to_owned())?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_CHUNK_BYTES {
        return Err(format!(
            "compressed chunk claims {len} bytes, more than {MAX_CHUNK_BYTES}"
        ));
    }
    let plain =
        lz4_flex::block::decompress(block, len).map_err(|e| format!("cannot decompress: {e}"))?;
    if plain.len() != len {
        return Err(format!(
            "compressed chunk holds {} bytes, not the {len} it claims",
            plain.len()
        ));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_recon::{EventStatus, EventType, Metric};
    use rust_decimal::Decimal;

    fn rows() -> Vec<Row> {
        let day = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        let with = |link: Option<&str>, coupon: Option<&str>, currency: Option<&str>| {
            Row::Aggregate(Aggregate {
                partner: "P \"7\"".into(),
                day,
                metric: Metric::Commission,
                value: Decimal::new(-12_3456, 4),
                currency: currency.map(str::to_owned),
                link: link.map(str::to_owned),
                coupon: coupon.map(str::to_owned),
            })
        };
        vec![
            with(None, None, None),
            with(Some("L1"), None, None),
            with(None, Some("C1"), None),
            with(Some("L1"), Some("C1"), Some("EUR")),
            with(None, None, Some("USD")),
            Row::Event(Event {
                id: "e1".into(),
                kind: EventType::Ftd,
                occurred_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
                recorded_at: None,
                status: EventStatus::Pending,
                partner: Some("P1".into()),
                link: None,
                coupon: Some("C1".into()),
                customer: None,
                click_id: None,
                order_id: None,
                amount: Some(Decimal::new(123_456_789, 6)),
                currency: Some("EUR".into()),
            }),
            Row::Aggregate(Aggregate {
                partner: "P1".into(),
                day,
                metric: Metric::parse("Net Gaming Revenue").unwrap(),
                value: Decimal::new(5, 1),
                currency: Some("EUR".into()),
                link: None,
                coupon: None,
            }),
            Row::Crosswalk(CrosswalkRow {
                old: "AFF-005".into(),
                new: "70009".into(),
                valid_from: Some(day),
                valid_to: None,
            }),
            Row::Rate(RateRow {
                day,
                currency: "USD".into(),
                rate: Decimal::new(8_547_009, 7),
            }),
            Row::Hierarchy(HierarchyRow {
                partner: "S1".into(),
                parent: None,
                valid_from: None,
                valid_to: Some(day),
            }),
            Row::Record(Record {
                id: "c\"1".into(),
                fields: [
                    ("email".to_owned(), "a@example.com".to_owned()),
                    ("name".to_owned(), "Ann, \"A\"".to_owned()),
                ]
                .into(),
            }),
        ]
    }

    fn decode(text: &str) -> Vec<Row> {
        let mut out = Vec::new();
        decode_chunk_into(text, &mut out).unwrap();
        out
    }

    #[test]
    fn compact_chunks_round_trip() {
        let rows = rows();
        let text = encode_chunk(&rows).unwrap();
        assert!(text.starts_with(r#"[["P \"7\"","2026-11-03","commission","-12.3456"],"#));
        assert!(text.contains(r#"["P \"7\"","2026-11-03","commission","-12.3456",null,"L1"]"#));
        assert!(text.contains(r#"{"row":"event","id":"e1""#));
        assert!(text.contains(r#"["P1","2026-11-03","Net Gaming Revenue","0.5","EUR"]"#));
        assert!(
            text.contains(
                r#"{"row":"rate","day":"2026-11-03","currency":"USD","rate":"0.8547009"}"#
            )
        );
        assert!(text.contains(r#"{"row":"crosswalk","old":"AFF-005","new":"70009","#));
        assert_eq!(decode(&text), rows);
    }

    #[test]
    fn legacy_chunks_still_read() {
        let rows = rows();
        // Chunks written before the compact form: `Row`'s own tagged objects.
        assert_eq!(decode(&serde_json::to_string(&rows).unwrap()), rows);
        // The tag need not come first.
        let text = r#"[{"partner":"P1","day":"2026-11-03","metric":"ftd_count","value":"2","currency":null,"link":null,"coupon":null,"row":"aggregate"}]"#;
        assert_eq!(
            decode(text),
            vec![Row::Aggregate(Aggregate {
                partner: "P1".into(),
                day: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
                metric: Metric::FtdCount,
                value: Decimal::from(2),
                currency: None,
                link: None,
                coupon: None,
            })]
        );
    }

    #[test]
    fn bad_rows_are_errors() {
        for text in [
            r#"[["P1","2026-11-03","ftd_count"]]"#,
            r#"[["P1","2026-02-30","ftd_count","1"]]"#,
            r#"[["P1","2026-11-03","ftd_count","1",null,null,null,null]]"#,
            r#"[{"row":"other"}]"#,
            r#"[{"row":"rate","day":"2026-11-03","currency":"USD"}]"#,
            r#"[{"row":"crosswalk","old":"a"}]"#,
            r#"[["P1","2026-11-03","","1"]]"#,
            r#"[1]"#,
        ] {
            assert!(decode_chunk_into(text, &mut Vec::new()).is_err(), "{text}");
        }
    }
}
