//! Source snapshots in the store, on SQLite always and on Postgres whenever
//! `CUTOVER_TEST_DATABASE_URL` is set (required when `CI=true`): a fresh database per test.

use chrono::{NaiveDate, TimeZone, Utc};
use cutover_recon::{
    Aggregate, CrosswalkRow, Event, EventStatus, EventType, HierarchyRow, Metric, RateRow, Record,
    Row,
};
use cutover_store::{NewSourceSnapshot, SnapshotPage, SnapshotStatus, Store, StoreError};
use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;

mod common;
use common::backends;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn agg(partner: &str, d: u32, metric: Metric, value: Decimal) -> Row {
    Row::Aggregate(Aggregate {
        partner: partner.into(),
        day: day(d),
        currency: metric.is_money().then(|| "EUR".to_owned()),
        metric,
        value,
        link: None,
        coupon: None,
    })
}

fn snapshot(status: SnapshotStatus, rows: Vec<Row>) -> NewSourceSnapshot {
    NewSourceSnapshot {
        source_id: "old".into(),
        system: "old".into(),
        window_from: day(1),
        window_to: day(7),
        status,
        reason: (status != SnapshotStatus::Complete).then(|| "cut off".to_owned()),
        started_at: Utc.with_ymd_and_hms(2026, 11, 8, 6, 0, 0).unwrap(),
        finished_at: Utc.with_ymd_and_hms(2026, 11, 8, 6, 0, 3).unwrap(),
        pages: vec![SnapshotPage {
            request: "GET http://x/r?api_key=***".into(),
            status: 200,
            bytes: 1234,
            sha256: "ab".repeat(32),
            records: rows.len() as u64,
        }],
        bytes: 1234,
        payload_sha256: "cd".repeat(32),
        rows,
    }
}

#[tokio::test]
async fn a_snapshot_round_trips_exactly() {
    for b in backends().await {
        let store = Store::connect(&b.url).await.expect("connect");
        let mut rows: Vec<Row> = (0..25_000)
            .map(|i| {
                agg(
                    &format!("P{i}"),
                    1 + (i % 7) as u32,
                    Metric::FtdAmount,
                    Decimal::new(i as i64 * 1001, 4),
                )
            })
            .collect();
        rows.push(Row::Event(Event {
            id: "e1".into(),
            kind: EventType::Ftd,
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 2, 23, 59, 59).unwrap(),
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
        }));
        let id = store
            .save_source_snapshot(&snapshot(SnapshotStatus::Complete, rows.clone()))
            .await
            .expect("save");
        let (snap, back) = store
            .latest_complete_snapshot("old", day(1), day(7))
            .await
            .expect("read")
            .expect("found");
        assert_eq!(snap.id, id, "{}", b.name);
        assert_eq!(snap.row_count, rows.len() as u64);
        assert_eq!(snap.pages[0].request, "GET http://x/r?api_key=***");
        assert_eq!(back, rows, "{}", b.name);
        assert!(
            store
                .latest_complete_snapshot("old", day(1), day(8))
                .await
                .unwrap()
                .is_none(),
            "{}: another window is another snapshot",
            b.name
        );
    }
}

#[tokio::test]
async fn re_pulls_are_new_snapshots_and_failed_or_inconclusive_ones_are_never_read() {
    for b in backends().await {
        let store = Store::connect(&b.url).await.expect("connect");
        let v1 = vec![agg("P1", 1, Metric::FtdCount, Decimal::from(3))];
        let v2 = vec![agg("P1", 1, Metric::FtdCount, Decimal::from(4))];
        let first = store
            .save_source_snapshot(&snapshot(SnapshotStatus::Complete, v1.clone()))
            .await
            .unwrap();
        let second = store
            .save_source_snapshot(&snapshot(SnapshotStatus::Complete, v2.clone()))
            .await
            .unwrap();
        store
            .save_source_snapshot(&snapshot(SnapshotStatus::Inconclusive, v1.clone()))
            .await
            .unwrap();
        let failed = store
            .save_source_snapshot(&snapshot(SnapshotStatus::Failed, v1.clone()))
            .await
            .unwrap();
        let (latest, rows) = store
            .latest_complete_snapshot("old", day(1), day(7))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.id, second, "{}", b.name);
        assert_eq!(rows, v2);
        let all = store.source_snapshots("old", day(1), day(7)).await.unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].id, failed);
        assert_eq!(all[0].status, SnapshotStatus::Failed);
        assert_eq!(all[0].row_count, 0, "a failed pull stores no rows");
        assert_eq!(all[3].id, first);
        // The two complete snapshots can be compared (restatement of P1's day 1).
        let earlier = store.snapshot_rows(&all[3]).await.unwrap();
        assert_ne!(earlier, rows);
    }
}

/// Reference data (crosswalk, rates, hierarchy, records) and free metric names are
/// stored and read back exactly, on every backend, in snapshots of more than one chunk.
#[tokio::test]
async fn reference_rows_and_free_metrics_round_trip() {
    for b in backends().await {
        let store = Store::connect(&b.url).await.expect("connect");
        let mut rows: Vec<Row> = Vec::new();
        for i in 0..6_000u32 {
            rows.push(Row::Crosswalk(CrosswalkRow {
                old: format!("AFF-{:03}", i / 2),
                new: format!("{}", 70_000 + i),
                valid_from: (i % 2 == 1).then(|| day(3)),
                valid_to: (i % 3 == 0).then(|| day(5)),
            }));
            rows.push(Row::Rate(RateRow {
                day: day(1 + i % 7),
                currency: ["USD", "GBP", "CHF"][(i % 3) as usize].into(),
                rate: Decimal::new(1_000_000 + i as i64, 6),
            }));
        }
        rows.push(Row::Hierarchy(HierarchyRow {
            partner: "sub-1".into(),
            parent: Some("master-1".into()),
            valid_from: Some(day(2)),
            valid_to: None,
        }));
        rows.push(Row::Hierarchy(HierarchyRow {
            partner: "master-1".into(),
            parent: None,
            valid_from: None,
            valid_to: None,
        }));
        rows.push(Row::Record(Record {
            id: "crm-7".into(),
            fields: [
                ("email".to_owned(), "ana@example.com".to_owned()),
                ("name".to_owned(), "Ana \"Zoë\" Ñ".to_owned()),
            ]
            .into(),
        }));
        rows.push(agg(
            "P1",
            2,
            Metric::parse("bonus_cost").unwrap(),
            Decimal::new(-125, 2),
        ));
        store
            .save_source_snapshot(&snapshot(SnapshotStatus::Complete, rows.clone()))
            .await
            .expect("save");
        let (snap, back) = store
            .latest_complete_snapshot("old", day(1), day(7))
            .await
            .expect("read")
            .expect("found");
        assert_eq!(snap.row_count, 12_004, "{}", b.name);
        assert_eq!(back, rows, "{}", b.name);
    }
}

#[tokio::test]
async fn tampered_rows_are_detected() {
    use sea_orm::{DbBackend, Statement};
    for b in backends().await {
        let store = Store::connect(&b.url).await.expect("connect");
        let one = |d| agg("P1", d, Metric::FtdCount, Decimal::ONE);
        let rows: Vec<Row> = (1..=7).map(one).collect();
        let id = store
            .save_source_snapshot(&snapshot(SnapshotStatus::Complete, rows.clone()))
            .await
            .unwrap();
        let snap = store.source_snapshot(id).await.unwrap().unwrap();
        assert_eq!(
            store.snapshot_rows(&snap).await.unwrap(),
            rows,
            "{}",
            b.name
        );
        // The chunk is stored compressed: no row text to read in the table.
        let db = store.connection();
        let backend = db.get_database_backend();
        let got = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT rows, packed FROM source_snapshot_rows",
            ))
            .await
            .unwrap()
            .unwrap();
        let text: String = got.try_get("", "rows").unwrap();
        let packed: Vec<u8> = got.try_get("", "packed").unwrap();
        assert_eq!(text, "", "{}", b.name);
        let plain = String::from_utf8(cutover_store::unpack_chunk(&packed).unwrap()).unwrap();
        assert!(
            plain.contains(r#"["P1","2026-11-03","ftd_count","1"]"#),
            "{plain}"
        );
        let param = |n: usize| match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        };
        // A valid chunk with other values, compressed or as text (the form before
        // compression), does not match the stored hash.
        let forged = plain.replace(r#""1"]"#, r#""2"]"#);
        for (rows_text, packed) in [
            (
                String::new(),
                Some(cutover_store::pack_chunk(forged.as_bytes())),
            ),
            (forged.clone(), None),
        ] {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE source_snapshot_rows SET rows = {}, packed = {}",
                    param(1),
                    param(2)
                ),
                [rows_text.into(), packed.into()],
            ))
            .await
            .unwrap();
            assert!(
                matches!(
                    store.snapshot_rows(&snap).await,
                    Err(StoreError::Corrupt(_))
                ),
                "{}",
                b.name
            );
        }
    }
}
