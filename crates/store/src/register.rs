//! The variance register as stored: a check run's sightings upserted in the run's own
//! transaction (one row per migration and key, so re-running a window never duplicates),
//! keys of the run's window that now match marked `converged`, and people's changes
//! (explain, accept, reject, reopen) applied with the status machine of
//! `cutover_recon::register`, each change kept in `variance_events` with who, when, why.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use cutover_engine::{Command, Decision, Refusal, VarianceFact};
use cutover_recon::register::{Action, RegisterKey, Sighting, Status, next};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::entity::{variance, variance_event};
use crate::{Store, StoreError};

/// The actor of the changes a check run makes.
pub const RUN_ACTOR: &str = "check run";

/// A proposed cause, as the register keeps it (from the classifier; never an acceptance).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Proposed {
    pub category: String,
    /// 0..1 as decimal text.
    pub confidence: String,
    pub evidence: serde_json::Value,
}

/// One sighting with its proposal and group, if the classifier gave one.
#[derive(Debug, Clone)]
pub struct RegisterItem {
    pub sighting: Sighting,
    pub proposed: Option<Proposed>,
    pub group: Option<String>,
}

/// What a check run brings to the register, stored with the run.
#[derive(Debug, Clone)]
pub struct RegisterRun {
    pub check: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<RegisterItem>,
    /// The source snapshots the run compared.
    pub snapshots: Vec<i32>,
    /// The run compared both sides (pass, warn or fail): keys of its window it did not
    /// report are matching now. `false` for a run that could not compare.
    pub compared: bool,
}

/// A person's explanation of a variance.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Explanation {
    pub category: String,
    pub note: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub expires: Option<NaiveDate>,
}

/// One acceptance of a variance: by whom, for which of the layers it needs, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Acceptance {
    pub by: String,
    pub layers: Vec<String>,
    pub at: DateTime<Utc>,
}

/// A variance as read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variance {
    pub id: i32,
    pub key: RegisterKey,
    pub code: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub delta: String,
    pub money_impact: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub runs: Vec<i32>,
    pub snapshots: Vec<i32>,
    pub status: Status,
    pub proposed: Option<Proposed>,
    pub group: Option<String>,
    pub explanation: Option<Explanation>,
    pub accepted_by: Option<String>,
    /// The acceptances since the last explanation (a variance the plan asks several
    /// layers to accept is `accepted` once every one of them did).
    pub acceptances: Vec<Acceptance>,
}

/// One change of a variance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VarianceEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub from: Option<String>,
    pub to: String,
    pub why: String,
    pub check_run: Option<i32>,
}

/// A person's change to one variance.
#[derive(Debug, Clone)]
pub struct Change {
    pub action: Action,
    pub actor: String,
    pub why: String,
    pub at: DateTime<Utc>,
    /// For `explain`: the explanation it sets.
    pub explanation: Option<Explanation>,
    /// For `accept`: the layers the person accepts for, and per variance id the layers
    /// that must each accept it. The variance becomes `accepted` once they all did and
    /// stays `explained` until then.
    pub accept: Option<Accept>,
}

/// What an acceptance covers (see [`Change::accept`]).
#[derive(Debug, Clone, Default)]
pub struct Accept {
    pub layers: Vec<String>,
    pub required: Vec<(i32, Vec<String>)>,
}

fn corrupt(id: i32, what: &str) -> StoreError {
    StoreError::Corrupt(format!("variance #{id}: unreadable {what}"))
}

fn from_row(r: variance::Model) -> Result<Variance, StoreError> {
    let id = r.id;
    Ok(Variance {
        id,
        key: RegisterKey {
            check: r.check_id,
            partner: r.partner,
            day: r.day,
            metric: r.metric,
            link: r.link,
            coupon: r.coupon,
        },
        code: r.code,
        old: r.old_value,
        new: r.new_value,
        delta: r.delta,
        money_impact: r.money_impact,
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        runs: serde_json::from_str(&r.runs).map_err(|_| corrupt(id, "runs"))?,
        snapshots: serde_json::from_str(&r.snapshots).map_err(|_| corrupt(id, "snapshots"))?,
        status: Status::parse(&r.status).ok_or_else(|| corrupt(id, "status"))?,
        proposed: r
            .proposed
            .map(|p| serde_json::from_str(&p).map_err(|_| corrupt(id, "proposal")))
            .transpose()?,
        group: r.group_key,
        explanation: r
            .explanation
            .map(|p| serde_json::from_str(&p).map_err(|_| corrupt(id, "explanation")))
            .transpose()?,
        accepted_by: r.accepted_by,
        acceptances: r
            .acceptances
            .map(|a| serde_json::from_str(&a).map_err(|_| corrupt(id, "acceptances")))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// The statuses a gate reads (converged and resolved variances are gone).
const LIVE: [&str; 4] = ["open", "explained", "accepted", "rejected"];

fn dec(id: i32, what: &str, text: &str) -> Result<Decimal, StoreError> {
    text.parse().map_err(|_| corrupt(id, what))
}

/// The live variances of a migration as the engine's facts, read in `conn` (the same
/// transaction as the rest of a snapshot).
pub(crate) async fn live_facts<C: sea_orm::ConnectionTrait>(
    conn: &C,
    migration_id: i32,
) -> Result<Vec<VarianceFact>, StoreError> {
    let rows = variance::Entity::find()
        .filter(variance::Column::MigrationId.eq(migration_id))
        .filter(variance::Column::Status.is_in(LIVE))
        .order_by_asc(variance::Column::Id)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let v = from_row(r)?;
        let id = v.id;
        let mut accepted_layers: Vec<String> = Vec::new();
        for a in &v.acceptances {
            for l in &a.layers {
                if !accepted_layers.contains(l) {
                    accepted_layers.push(l.clone());
                }
            }
        }
        out.push(VarianceFact {
            id,
            check: v.key.check,
            partner: v.key.partner,
            day: v.key.day,
            metric: v.key.metric,
            status: v.status.as_str().to_string(),
            old: v
                .old
                .as_deref()
                .map(|t| dec(id, "old value", t))
                .transpose()?,
            delta: dec(id, "delta", &v.delta)?,
            money_impact: v
                .money_impact
                .as_deref()
                .map(|t| dec(id, "money impact", t))
                .transpose()?,
            accepted_layers,
            expires: v.explanation.and_then(|e| e.expires),
            first_seen: Some(v.first_seen),
        });
    }
    Ok(out)
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn event(
    txn: &DatabaseTransaction,
    variance_id: i32,
    at: DateTime<Utc>,
    actor: &str,
    action: Action,
    from: Option<Status>,
    to: Status,
    why: &str,
    run: Option<i32>,
) -> Result<(), StoreError> {
    variance_event::Entity::insert(variance_event::ActiveModel {
        id: NotSet,
        variance_id: Set(variance_id),
        at: Set(at),
        actor: Set(actor.to_string()),
        action: Set(action.as_str().to_string()),
        from_status: Set(from.map(|s| s.as_str().to_string())),
        to_status: Set(to.as_str().to_string()),
        why: Set(why.to_string()),
        check_run_id: Set(run),
    })
    .exec(txn)
    .await?;
    Ok(())
}

/// Rows per multi-row insert of the register (22 bound values a variance, 8 an event:
/// under SQLite's 32,766 and Postgres's 65,535 parameters).
const BATCH: usize = 1_000;

/// Upserts a run's sightings and converges the keys of its window it no longer reports,
/// inside the run's transaction. Keys seen for the first time (every key of a first run)
/// are inserted in multi-row statements, their `seen` events likewise; keys already in
/// the register are updated one by one.
pub(crate) async fn upsert(
    txn: &DatabaseTransaction,
    migration_id: i32,
    run_id: i32,
    at: DateTime<Utc>,
    reg: &RegisterRun,
) -> Result<(), StoreError> {
    let existing = variance::Entity::find()
        .filter(variance::Column::MigrationId.eq(migration_id))
        .filter(variance::Column::CheckId.eq(reg.check.as_str()))
        .all(txn)
        .await?;
    let by_key: HashMap<&str, &variance::Model> =
        existing.iter().map(|r| (r.key_text.as_str(), r)).collect();
    let mut seen: HashSet<String> = HashSet::with_capacity(reg.items.len());
    let mut fresh: Vec<(variance::ActiveModel, String)> = Vec::new();
    for item in &reg.items {
        let s = &item.sighting;
        let key = s.key.text();
        if !seen.insert(key.clone()) {
            continue;
        }
        let proposed = item.proposed.as_ref().map(json);
        match by_key.get(key.as_str()) {
            Some(&row) => {
                let from = Status::parse(&row.status).ok_or_else(|| corrupt(row.id, "status"))?;
                let to = next(from, Action::Seen).unwrap_or(from);
                let mut runs: Vec<i32> =
                    serde_json::from_str(&row.runs).map_err(|_| corrupt(row.id, "runs"))?;
                runs.push(run_id);
                let mut snaps: Vec<i32> = serde_json::from_str(&row.snapshots)
                    .map_err(|_| corrupt(row.id, "snapshots"))?;
                for id in &reg.snapshots {
                    if !snaps.contains(id) {
                        snaps.push(*id);
                    }
                }
                let mut am: variance::ActiveModel = row.clone().into();
                am.code = Set(s.code.clone());
                am.old_value = Set(s.old.map(|d| d.to_string()));
                am.new_value = Set(s.new.map(|d| d.to_string()));
                am.delta = Set(s.delta.to_string());
                am.money_impact = Set(s.money_impact.map(|d| d.to_string()));
                am.last_seen = Set(at);
                am.runs = Set(json(&runs));
                am.snapshots = Set(json(&snaps));
                am.status = Set(to.as_str().to_string());
                am.proposed = Set(proposed);
                am.group_key = Set(item.group.clone());
                am.update(txn).await?;
                if to != from {
                    event(
                        txn,
                        row.id,
                        at,
                        crate::register::RUN_ACTOR,
                        Action::Seen,
                        Some(from),
                        to,
                        &format!("run #{run_id} found the key not matching again"),
                        Some(run_id),
                    )
                    .await?;
                }
            }
            None => fresh.push((
                variance::ActiveModel {
                    id: NotSet,
                    migration_id: Set(migration_id),
                    key_text: Set(key.clone()),
                    check_id: Set(s.key.check.clone()),
                    partner: Set(s.key.partner.clone()),
                    day: Set(s.key.day),
                    metric: Set(s.key.metric.clone()),
                    link: Set(s.key.link.clone()),
                    coupon: Set(s.key.coupon.clone()),
                    code: Set(s.code.clone()),
                    old_value: Set(s.old.map(|d| d.to_string())),
                    new_value: Set(s.new.map(|d| d.to_string())),
                    delta: Set(s.delta.to_string()),
                    money_impact: Set(s.money_impact.map(|d| d.to_string())),
                    first_seen: Set(at),
                    last_seen: Set(at),
                    runs: Set(json(&vec![run_id])),
                    snapshots: Set(json(&reg.snapshots)),
                    status: Set(Status::Open.as_str().to_string()),
                    proposed: Set(proposed),
                    group_key: Set(item.group.clone()),
                    explanation: Set(None),
                    accepted_by: Set(None),
                    acceptances: Set(None),
                },
                format!("run #{run_id} found the key not matching ({})", s.code),
            )),
        }
    }
    if !fresh.is_empty() {
        let after = existing.iter().map(|r| r.id).max().unwrap_or(0);
        let mut whys: HashMap<String, String> = HashMap::with_capacity(fresh.len());
        let mut rows = Vec::with_capacity(fresh.len());
        for (am, why) in fresh {
            if let Set(k) = &am.key_text {
                whys.insert(k.clone(), why);
            }
            rows.push(am);
        }
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<_> = rows.by_ref().take(BATCH).collect();
            variance::Entity::insert_many(batch)
                .exec_without_returning(txn)
                .await?;
        }
        // The ids of the keys just inserted (above every id the register held: the run
        // writes under the migration's write lock), for their events.
        let inserted: Vec<(i32, String)> = variance::Entity::find()
            .select_only()
            .column(variance::Column::Id)
            .column(variance::Column::KeyText)
            .filter(variance::Column::MigrationId.eq(migration_id))
            .filter(variance::Column::CheckId.eq(reg.check.as_str()))
            .filter(variance::Column::Id.gt(after))
            .order_by_asc(variance::Column::Id)
            .into_tuple()
            .all(txn)
            .await?;
        let events: Vec<variance_event::ActiveModel> = inserted
            .into_iter()
            .filter_map(|(id, key)| {
                let why = whys.remove(&key)?;
                Some(variance_event::ActiveModel {
                    id: NotSet,
                    variance_id: Set(id),
                    at: Set(at),
                    actor: Set(RUN_ACTOR.to_string()),
                    action: Set(Action::Seen.as_str().to_string()),
                    from_status: Set(None),
                    to_status: Set(Status::Open.as_str().to_string()),
                    why: Set(why),
                    check_run_id: Set(Some(run_id)),
                })
            })
            .collect();
        if !whys.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "{} variances of run #{run_id} could not be read back after inserting them",
                whys.len()
            )));
        }
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let batch: Vec<_> = events.by_ref().take(BATCH * 2).collect();
            variance_event::Entity::insert_many(batch)
                .exec_without_returning(txn)
                .await?;
        }
    }
    if !reg.compared {
        return Ok(());
    }
    for row in existing {
        if seen.contains(&row.key_text) || row.day < reg.from || row.day > reg.to {
            continue;
        }
        let from = Status::parse(&row.status).ok_or_else(|| corrupt(row.id, "status"))?;
        if from == Status::Converged {
            continue;
        }
        let Ok(to) = next(from, Action::Converge) else {
            continue;
        };
        let id = row.id;
        let mut am: variance::ActiveModel = row.into();
        am.status = Set(to.as_str().to_string());
        am.last_seen = Set(at);
        am.update(txn).await?;
        event(
            txn,
            id,
            at,
            RUN_ACTOR,
            Action::Converge,
            Some(from),
            to,
            &format!("run #{run_id} found the key matching"),
            Some(run_id),
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// Every variance of the migration, oldest first.
    pub async fn variances(&self, migration_id: i32) -> Result<Vec<Variance>, StoreError> {
        variance::Entity::find()
            .filter(variance::Column::MigrationId.eq(migration_id))
            .order_by_asc(variance::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// One variance of the migration by id.
    pub async fn variance(
        &self,
        migration_id: i32,
        id: i32,
    ) -> Result<Option<Variance>, StoreError> {
        variance::Entity::find_by_id(id)
            .filter(variance::Column::MigrationId.eq(migration_id))
            .one(self.connection())
            .await?
            .map(from_row)
            .transpose()
    }

    /// A variance's changes, oldest first.
    pub async fn variance_events(&self, id: i32) -> Result<Vec<VarianceEvent>, StoreError> {
        Ok(variance_event::Entity::find()
            .filter(variance_event::Column::VarianceId.eq(id))
            .order_by_asc(variance_event::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(|e| VarianceEvent {
                at: e.at,
                actor: e.actor,
                action: e.action,
                from: e.from_status,
                to: e.to_status,
                why: e.why,
                check_run: e.check_run_id,
            })
            .collect())
    }

    /// Applies one person's change to each of `ids` in one transaction: every one must be
    /// in the status it had when read (`expected`) and allow the action, else nothing is
    /// changed ([`StoreError::Conflict`] for a variance changed meanwhile).
    pub async fn change_variances(
        &self,
        migration_id: i32,
        ids: &[(i32, Status)],
        change: &Change,
    ) -> Result<Vec<Status>, StoreError> {
        let txn = self.begin_write().await?;
        let out = apply_changes(&txn, migration_id, ids, change).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Like [`Store::change_variances`], and logs the command in the hash-chained
    /// transition log in the same transaction, decided by `decide` on the snapshot read
    /// under the migration's write lock: accepted (the changes land with their entry) or
    /// refused (logged, nothing changed). Returns the entry and, when accepted, the new
    /// statuses.
    pub async fn variance_command(
        &self,
        command: &Command,
        at: DateTime<Utc>,
        ids: &[(i32, Status)],
        change: &Change,
        decide: impl FnOnce(&crate::Snapshot) -> Result<Decision, Refusal>,
    ) -> Result<(crate::LogEntry, Result<Vec<Status>, Refusal>), StoreError> {
        let txn = self.begin_write().await?;
        if self.db.get_database_backend() == sea_orm::DbBackend::Postgres {
            crate::entity::migration::Entity::find()
                .order_by_asc(crate::entity::migration::Column::Id)
                .lock_exclusive()
                .one(&txn)
                .await?;
        }
        let snap = self.load_in(&txn).await?;
        let decided = decide(&snap);
        let statuses = match &decided {
            Ok(_) => Some(apply_changes(&txn, snap.migration_id, ids, change).await?),
            Err(_) => None,
        };
        let facts = crate::facts_json(&snap.facts);
        let entry = self
            .append(
                &txn,
                crate::Base {
                    migration_id: snap.migration_id,
                    version: snap.version,
                    old: &snap.state,
                    plan_version: snap.plan.version,
                    state_sha256: &snap.state_sha256,
                    facts,
                },
                at,
                command,
                decided.as_ref(),
                &[],
                None,
                None,
            )
            .await?;
        txn.commit().await?;
        Ok((
            entry,
            match decided {
                Ok(_) => Ok(statuses.unwrap_or_default()),
                Err(r) => Err(r),
            },
        ))
    }
}

/// Applies `change` to every variance of `ids` inside `txn` (see
/// [`Store::change_variances`]).
async fn apply_changes(
    txn: &DatabaseTransaction,
    migration_id: i32,
    ids: &[(i32, Status)],
    change: &Change,
) -> Result<Vec<Status>, StoreError> {
    let mut out = Vec::new();
    for &(id, expected) in ids {
        let row = variance::Entity::find_by_id(id)
            .filter(variance::Column::MigrationId.eq(migration_id))
            .one(txn)
            .await?
            .ok_or(StoreError::Conflict)?;
        let from = Status::parse(&row.status).ok_or_else(|| corrupt(id, "status"))?;
        if from != expected {
            return Err(StoreError::Conflict);
        }
        let mut to = next(from, change.action).map_err(|e| StoreError::Db(e.to_string()))?;
        let mut acceptances: Vec<Acceptance> = row
            .acceptances
            .as_deref()
            .map(|a| serde_json::from_str(a).map_err(|_| corrupt(id, "acceptances")))
            .transpose()?
            .unwrap_or_default();
        let mut am: variance::ActiveModel = row.into();
        match change.action {
            Action::Explain | Action::Reopen => {
                if change.action == Action::Explain {
                    am.explanation = Set(change.explanation.as_ref().map(json));
                }
                am.accepted_by = Set(None);
                am.acceptances = Set(None);
            }
            Action::Accept => {
                let accept = change.accept.clone().unwrap_or_default();
                let required: Vec<String> = accept
                    .required
                    .iter()
                    .find(|(v, _)| *v == id)
                    .map(|(_, r)| r.clone())
                    .unwrap_or_default();
                let have: BTreeSet<&str> = acceptances
                    .iter()
                    .flat_map(|a| a.layers.iter().map(String::as_str))
                    .collect();
                let layers: Vec<String> = accept
                    .layers
                    .iter()
                    .filter(|l| required.contains(l) && !have.contains(l.as_str()))
                    .cloned()
                    .collect();
                if layers.is_empty() && !required.is_empty() {
                    return Err(StoreError::Conflict);
                }
                acceptances.push(Acceptance {
                    by: change.actor.clone(),
                    layers,
                    at: change.at,
                });
                let done = required
                    .iter()
                    .all(|l| acceptances.iter().any(|a| a.layers.contains(l)));
                if !done {
                    to = Status::Explained;
                }
                am.accepted_by = Set(Some(change.actor.clone()));
                am.acceptances = Set(Some(json(&acceptances)));
            }
            _ => {}
        }
        am.status = Set(to.as_str().to_string());
        am.update(txn).await?;
        event(
            txn,
            id,
            change.at,
            &change.actor,
            change.action,
            Some(from),
            to,
            &change.why,
            None,
        )
        .await?;
        out.push(to);
    }
    Ok(out)
}
