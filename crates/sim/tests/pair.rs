//! The simulator as a real pair of platforms, over HTTP on 127.0.0.1: the new platform's
//! own partner ids and its crosswalk to the old ones, both partner trees, the ECB-shaped
//! rates, the CRM table, and `/truth` saying what a correct check finds.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use chrono::NaiveDate;
use cutover_sim::{Differences, Platform, SimConfig, SimHandle};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TODAY: &str = "2026-11-20";

fn day(s: &str) -> NaiveDate {
    s.parse().expect("a day")
}

async fn sim(differences: Differences) -> SimHandle {
    let c = SimConfig {
        seed: 11,
        partners: 40,
        days: 30,
        today: Some(day(TODAY)),
        live: false,
        differences,
        ..SimConfig::default()
    };
    cutover_sim::start(c, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("sim starts")
}

/// `GET path` over a plain HTTP/1.0 connection: (status, body).
async fn get(s: &SimHandle, path: &str) -> (u16, String) {
    let mut c = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let req = format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", s.addr);
    c.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a body");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

async fn json(s: &SimHandle, path: &str) -> Value {
    let (status, body) = get(s, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// TUNE's getStats rows of a window on the new platform: (partner id, day) -> (FTDs, payout).
async fn tune_rows(
    s: &SimHandle,
    from: &str,
    to: &str,
) -> BTreeMap<(String, String), (i64, Decimal)> {
    let path = format!(
        "/new/Apiv3/json?NetworkToken=sim-new-key&filters%5BStat.date%5D%5Bvalues%5D%5B%5D={from}&filters%5BStat.date%5D%5Bvalues%5D%5B%5D={to}&limit=100000"
    );
    let v = json(s, &path).await;
    v["response"]["data"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let st = &r["Stat"];
            (
                (
                    st["affiliate_id"].as_str().unwrap().to_owned(),
                    st["date"].as_str().unwrap().to_owned(),
                ),
                (
                    st["conversions"].as_str().unwrap().parse().unwrap(),
                    st["payout"].as_str().unwrap().parse().unwrap(),
                ),
            )
        })
        .collect()
}

/// An old id and the days it holds (from inclusive, to exclusive).
type Period = (String, Option<String>, Option<String>);

#[tokio::test]
async fn the_new_platform_reports_under_its_own_ids_and_its_crosswalk_maps_them_back() {
    let s = sim(Differences {
        new_ids: true,
        ..Differences::none()
    })
    .await;
    let truth = json(&s, "/truth").await;
    let ids = &truth["partner_ids"];
    assert_eq!(ids["new_ids"], true);
    let history = json(&s, "/new/partners/history").await;
    let history = history.as_array().unwrap();
    assert_eq!(
        history.len(),
        40 + 3,
        "one row per account and owner period"
    );
    // Crosswalk: new id -> [(old id, from, to)].
    let mut xwalk: BTreeMap<String, Vec<Period>> = BTreeMap::new();
    for h in history {
        let id = h["id"].as_str().unwrap();
        assert!(
            id.parse::<u64>().unwrap() > 70_000,
            "new ids are numeric: {id}"
        );
        xwalk.entry(id.to_owned()).or_default().push((
            h["ref_id"].as_str().unwrap().to_owned(),
            h["valid_from"].as_str().map(str::to_owned),
            h["valid_to"].as_str().map(str::to_owned),
        ));
    }
    let map = |id: &str, d: &str| -> Vec<String> {
        xwalk
            .get(id)
            .into_iter()
            .flatten()
            .filter(|(_, f, t)| {
                f.as_deref().is_none_or(|f| f <= d) && t.as_deref().is_none_or(|t| d < t)
            })
            .map(|(o, _, _)| o.clone())
            .collect()
    };
    // The merge: two accounts for one old partner.
    let merged = ids["merged"]["partner"].as_str().unwrap();
    let accounts: Vec<&str> = ids["merged"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(accounts.len(), 2);
    for a in &accounts {
        assert_eq!(map(a, "2026-11-01"), [merged]);
    }
    // The dated re-assignment: one account, two owners, never both on one day.
    let t = &ids["transferred"];
    let (acct, on) = (t["account"].as_str().unwrap(), t["day"].as_str().unwrap());
    let before = day(on).pred_opt().unwrap().to_string();
    assert_eq!(map(acct, &before), [t["before"].as_str().unwrap()]);
    assert_eq!(map(acct, on), [t["after"].as_str().unwrap()]);

    // The new platform's daily rows, mapped through the crosswalk, equal the old
    // platform's per partner and day (no other difference is on).
    let (from, to) = (before.as_str(), on);
    let new = tune_rows(&s, from, to).await;
    for d in [from, to] {
        let ids: BTreeSet<&String> = new.keys().filter(|k| k.1 == d).map(|(p, _)| p).collect();
        assert_eq!(ids.len(), 41, "40 partners, one of them on two accounts");
    }
    let mut mapped: BTreeMap<(String, String), (i64, Decimal)> = BTreeMap::new();
    for ((p, d), (ftd, pay)) in &new {
        let old = map(p, d);
        assert_eq!(
            old.len(),
            1,
            "{p} on {d} maps to exactly one old id: {old:?}"
        );
        let e = mapped.entry((old[0].clone(), d.clone())).or_default();
        e.0 += ftd;
        e.1 += pay;
    }
    let prog = s.program();
    for (i, p) in prog.partners.iter().enumerate() {
        for d in [day(from), day(to)] {
            let f = prog.facts(i, d, Platform::Old);
            assert_eq!(
                mapped[&(p.id.clone(), d.to_string())],
                (f.ftd_count, f.commission),
                "{} on {d}",
                p.id
            );
        }
    }
    // The dated tree: every period's master is the old master of that period's partner.
    let old_list = json(&s, "/old/partners").await;
    let old_master: BTreeMap<&str, Option<&str>> = old_list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["master"].as_str()))
        .collect();
    for h in history {
        let on = h["valid_from"].as_str().unwrap_or("2026-11-01");
        let master = h["master"].as_str().map(|m| map(m, on)[0].clone());
        assert_eq!(
            master.as_deref(),
            old_master[h["ref_id"].as_str().unwrap()],
            "{h}"
        );
    }
    // The partner list: new ids with the old id as a reference field, masters in new ids.
    let list = json(&s, "/new/partners").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 42, "every account, the transferred one once");
    let new_ids: BTreeSet<&str> = list.iter().map(|p| p["id"].as_str().unwrap()).collect();
    for p in list {
        assert!(p["ref_id"].as_str().unwrap().parse::<u64>().unwrap() < 2000);
        if let Some(m) = p["master"].as_str() {
            assert!(new_ids.contains(m), "master {m} is a new id");
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn both_trees_are_served_and_one_sub_partner_hangs_under_another_master() {
    let s = sim(Differences::real_pair()).await;
    let truth = json(&s, "/truth").await;
    let moved = &truth["rollup"][0];
    assert_eq!(moved["code"], "sub_partner_other_master");
    let (old_tree, new_tree) = (
        json(&s, "/old/partners").await,
        json(&s, "/new/partners").await,
    );
    let xwalk = json(&s, "/new/partners/history").await;
    // Current owner (open-ended period) of each new id.
    let to_old: BTreeMap<&str, &str> = xwalk
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["valid_to"].is_null())
        .map(|h| (h["id"].as_str().unwrap(), h["ref_id"].as_str().unwrap()))
        .collect();
    let old_parent: BTreeMap<&str, Option<&str>> = old_tree
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["master"].as_str()))
        .collect();
    let mut differing = Vec::new();
    for p in new_tree.as_array().unwrap() {
        if p["status"] == "closed" {
            continue;
        }
        let child = to_old[p["id"].as_str().unwrap()];
        let parent = p["master"].as_str().map(|m| to_old[m]);
        assert_eq!(p["ref_id"].as_str(), Some(child));
        if old_parent[child] != parent {
            differing.push((child, old_parent[child], parent));
        }
    }
    assert_eq!(
        differing,
        [(
            moved["partner"].as_str().unwrap(),
            moved["old_master"].as_str(),
            moved["new_master"].as_str()
        )]
    );
    s.stop().await;
}

#[tokio::test]
async fn rates_come_in_the_ecb_shape_without_weekends_and_the_new_money_uses_them() {
    let s = sim(Differences {
        daily_rates: true,
        ..Differences::none()
    })
    .await;
    let (status, xml) = get(
        &s,
        "/rates/eurofxref-hist.xml?from=2026-11-09&to=2026-11-16",
    )
    .await;
    assert_eq!(status, 200);
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    assert_eq!(doc.root_element().tag_name().name(), "Envelope");
    let days: Vec<(&str, &str)> = doc
        .descendants()
        .filter(|n| n.has_attribute("time"))
        .map(|n| {
            let c = n.children().find(|c| c.is_element()).unwrap();
            assert_eq!(c.attribute("currency"), Some("USD"));
            (n.attribute("time").unwrap(), c.attribute("rate").unwrap())
        })
        .collect();
    let names: Vec<&str> = days.iter().map(|d| d.0).collect();
    // Newest first, no Saturday 14th or Sunday 15th.
    assert_eq!(
        names,
        [
            "2026-11-16",
            "2026-11-13",
            "2026-11-12",
            "2026-11-11",
            "2026-11-10",
            "2026-11-09"
        ]
    );
    let (_, again) = get(
        &s,
        "/rates/eurofxref-hist.xml?from=2026-11-09&to=2026-11-16",
    )
    .await;
    assert_eq!(xml, again, "deterministic");
    // A window opening on Sunday starts with Friday's rate, the one in force then.
    let (_, csv) = get(&s, "/rates/rates.csv?from=2026-11-15&to=2026-11-16").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "day,currency,usd_per_eur,eur_per_usd");
    assert_eq!(lines.len(), 3, "{csv}");
    let friday: Decimal = days[1].1.parse().unwrap();
    assert!(lines[1].starts_with(&format!("2026-11-13,USD,{friday},")));
    // The new platform's money on Sunday is the old EUR at Friday's rate.
    let new = tune_rows(&s, "2026-11-15", "2026-11-15").await;
    let prog = s.program();
    let p = &prog.partners[3];
    let old = prog.facts(3, day("2026-11-15"), Platform::Old).commission;
    assert_eq!(
        new[&(p.id.clone(), "2026-11-15".into())].1,
        (old * friday).round_dp(6).normalize()
    );
    let truth = json(&s, "/truth").await;
    assert_eq!(truth["new_currency"], "USD");
    assert_eq!(truth["rates"]["daily"], true);
    s.stop().await;
}

#[tokio::test]
async fn the_crm_table_misses_a_record_and_differs_in_a_field_as_truth_says() {
    let s = sim(Differences::real_pair()).await;
    let new = json(&s, "/new/partners").await;
    let crm = json(&s, "/crm/partners.json").await;
    let (_, csv) = get(&s, "/crm/partners.csv").await;
    let crm = crm.as_array().unwrap();
    assert_eq!(csv.lines().count(), crm.len() + 1);
    assert_eq!(
        csv.lines().next(),
        Some("partner_id,name,email,country,status")
    );
    let by_id: BTreeMap<&str, &Value> = crm
        .iter()
        .map(|r| (r["partner_id"].as_str().unwrap(), r))
        .collect();
    let mut found = Vec::new();
    for r in new.as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        match by_id.get(id) {
            None => found.push(("missing_in_crm".to_owned(), id.to_owned())),
            Some(c) => {
                for f in ["email", "country", "status"] {
                    let (a, b) = (r[f].as_str().unwrap(), c[f].as_str().unwrap());
                    if a.to_lowercase() != b.to_lowercase() {
                        found.push((format!("field_mismatch:{f}"), id.to_owned()));
                    }
                }
            }
        }
    }
    let truth = json(&s, "/truth").await;
    let expected: Vec<(String, String)> = truth["record_sync"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["code"].is_null())
        .map(|e| {
            let code = e["code"].as_str().unwrap();
            let code = match e["field"].as_str() {
                Some(f) => format!("{code}:{f}"),
                None => code.to_owned(),
            };
            (code, e["partner"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(expected.len(), 2);
    let (mut found, mut expected) = (found, expected);
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
    s.stop().await;
}

#[tokio::test]
async fn truth_of_a_window_lists_what_differs_and_the_payout_sums() {
    let s = sim(Differences::real_pair()).await;
    let (status, _) = get(&s, "/truth?from=2026-11-10").await;
    assert_eq!(status, 400, "a window needs both ends");
    let t = json(&s, "/truth?from=2026-11-02&to=2026-11-08").await;
    let w = &t["window"];
    let rows = w["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    // The lost link's partner: its FTDs differ every day, with the defect named.
    let lost = t["defects"][0]["partner"].as_str().unwrap();
    let lost_rows: Vec<&Value> = rows
        .iter()
        .filter(|r| r["partner"] == lost && r["metric"] == "ftd_count")
        .collect();
    assert!(lost_rows.len() >= 5, "{lost_rows:?}");
    for r in &lost_rows {
        assert!(
            r["causes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "lost_events")
        );
        let (o, n): (i64, i64) = (
            r["old"].as_str().unwrap().parse().unwrap(),
            r["new"].as_str().unwrap().parse().unwrap(),
        );
        assert!(n < o, "{r}");
    }
    // Rollup: exactly the moved sub-partner's two masters carry a structural change,
    // and the one that gains it gains about its traffic.
    let moved = &t["rollup"][0];
    let roll = w["rollup"].as_array().unwrap();
    let mut changed: Vec<(String, String)> = roll
        .iter()
        .filter(|r| !r["structural"].is_null())
        .map(|r| {
            let s = r["structural"].as_object().unwrap();
            let (k, v) = s.iter().next().unwrap();
            (
                r["master"].as_str().unwrap().to_owned(),
                format!("{k} {}", v.as_str().unwrap()),
            )
        })
        .collect();
    changed.dedup();
    let sub = moved["partner"].as_str().unwrap();
    assert_eq!(changed, {
        let mut v = vec![
            (
                moved["old_master"].as_str().unwrap().to_owned(),
                format!("loses {sub}"),
            ),
            (
                moved["new_master"].as_str().unwrap().to_owned(),
                format!("gains {sub}"),
            ),
        ];
        v.sort();
        v
    });
    // Payout sums: the wrongly paid partner's new commission is about 90% of the old.
    let wrong = t["defects"][1]["partner"].as_str().unwrap();
    let deals = t["payout"]["deals"].as_array().unwrap();
    assert_eq!(deals[0]["partner"], wrong);
    assert!(deals.len() >= 2);
    let p = w["payout"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partner"] == wrong)
        .unwrap();
    let old: Decimal = p["old_commission"].as_str().unwrap().parse().unwrap();
    let new: Decimal = p["new_commission_eur"].as_str().unwrap().parse().unwrap();
    if old > Decimal::ZERO {
        let r = new / old;
        assert!(r > Decimal::new(85, 2) && r < Decimal::new(95, 2), "{r}");
    }
    s.stop().await;
}

/// Impact's Actions of the new platform from `from` for two days, `size` per page: the ids
/// of every page in order, and the number of pages.
async fn action_ids(s: &SimHandle, from: NaiveDate, size: usize) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let to = from + chrono::Days::new(2);
    let mut path = format!(
        "/new/Advertisers/IRsim/Actions?StartDate={from}T00:00:00Z&EndDate={to}T00:00:00Z&PageSize={size}"
    );
    let mut pages = 0;
    loop {
        let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        // Basic auth: "IRsim:sim-new-key".
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {}\r\nAuthorization: Basic SVJzaW06c2ltLW5ldy1rZXk=\r\n\r\n",
            s.addr
        );
        c.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        c.read_to_string(&mut raw).await.unwrap();
        let body = raw.split_once("\r\n\r\n").expect("a body").1;
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        pages += 1;
        for a in v["Actions"].as_array().unwrap() {
            ids.push(a["Id"].as_str().unwrap().to_owned());
        }
        match v["@nextpageuri"].as_str() {
            Some(next) if !next.is_empty() => path = next.to_owned(),
            _ => break,
        }
    }
    (ids, pages)
}

/// The pages of one query are cut from one list of events generated once (not once per
/// page, which made a 3-day pull of 300 partners cost minutes): small pages still serve
/// exactly the events of one big page, in the same order, none twice, on a live program
/// whose clock moves between the pages.
#[tokio::test]
async fn actions_pages_of_a_live_program_add_up_to_one_big_page() {
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(10);
    let c = SimConfig {
        seed: 11,
        partners: 40,
        days: 30,
        today: Some(today),
        live: true,
        differences: Differences::real_pair(),
        ..SimConfig::default()
    };
    let s = cutover_sim::start(c, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("sim starts");
    let (all, one) = action_ids(&s, from, 20_000).await;
    assert_eq!(one, 1);
    assert!(all.len() > 500, "{}", all.len());
    let (paged, pages) = action_ids(&s, from, 100).await;
    assert_eq!(pages, all.len().div_ceil(100));
    assert_eq!(paged, all);
    let distinct: BTreeSet<&String> = paged.iter().collect();
    assert_eq!(distinct.len(), paged.len());
}
