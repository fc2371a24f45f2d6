//! The validated plan: what the rest of cutover reads once a YAML file has passed every check.
//!
//! Nothing here can be built from YAML except through [`crate::load`], so a `Plan` value is
//! always internally consistent: every reference resolves, ids are unique, zones, currencies,
//! cron expressions and durations are parsed.

use std::fmt;

use chrono::TimeDelta;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::metrics::{DeclaredMetric, MetricVocabulary};
use crate::variance_policy::{VarianceGate, VariancePolicy};

/// A whole migration plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The migration's name (`migration:`).
    pub migration: String,
    /// IANA zone the plan's days, schedules and expiry dates are read in.
    pub timezone: Tz,
    /// ISO 4217 code money is reported in.
    pub currency: String,
    /// Validation layers in file order.
    pub layers: Vec<Layer>,
    /// People in file order.
    pub people: Vec<Person>,
    /// Checks in file order.
    pub checks: Vec<Check>,
    /// Phases in the order the migration walks them.
    pub phases: Vec<Phase>,
    /// Metrics the plan declares beyond the canonical ones (top-level `metrics:`), in
    /// file order. See [`Plan::vocabulary`].
    pub metrics: Vec<DeclaredMetric>,
    /// Metric ownership, materiality and the cumulative cap (`variance_policy:`).
    pub variance_policy: VariancePolicy,
    /// The current setup's critical workflows (`inventory:`), in file order.
    pub inventory: Vec<InventoryItem>,
    /// Calendar windows in which no phase transition is allowed (`freezes:`).
    pub freezes: Vec<Freeze>,
}

/// One workflow of the current setup that discovery must capture (`inventory:` item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryItem {
    pub id: String,
    /// What kind of workflow it is: one of [`WORKFLOW_KINDS`].
    pub workflow: String,
    /// The layer that owns it (a person of this layer confirms it).
    pub owner: String,
    pub priority: Priority,
    /// Where its logic is written down: an `http(s)://` URL or a file path (relative to
    /// the plan file). `None`: not documented yet.
    pub documented: Option<String>,
    /// The parts of the stack it depends on, as written.
    pub depends_on: Vec<String>,
    pub description: String,
}

/// The workflow kinds an inventory item may have.
pub const WORKFLOW_KINDS: [&str; 7] = [
    "tracking_links",
    "postbacks",
    "deal_types",
    "crm_sync",
    "reports",
    "payout_runs",
    "other",
];

/// How much an inventory item matters to the cutover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Essential,
    Secondary,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Essential => "essential",
            Priority::Secondary => "secondary",
        }
    }
}

/// A calendar window (days in the plan's zone, both inclusive) in which the migration may
/// not advance or roll back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    pub id: String,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub reason: String,
}

impl Freeze {
    pub fn covers(&self, day: chrono::NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }
}

/// A validation layer (affiliate, product, crm, finance, bi...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub id: String,
    pub description: String,
}

/// A person who may act on the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Leads advance, roll back, abort, complete and waive.
    pub lead: bool,
    /// Layers this person owns (signs off for, records manual checks of).
    pub layers: Vec<String>,
}

/// A check whose outcomes feed exit conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub id: String,
    /// The layer that owns the check (its failures void that layer's sign-off).
    pub layer: String,
    pub description: String,
    pub kind: CheckKind,
    /// When a scheduled check runs; `None` for manual checks.
    pub schedule: Option<Schedule>,
    /// The sources a scheduled check reads, as (role, source id) sorted by role; roles are
    /// `old`, `new`, `crosswalk`, `rates`, `old_hierarchy`, `new_hierarchy` and `crm`
    /// (which a kind needs or accepts, and the row kind each role's source must have, are
    /// checked at load; see docs/plan-reference.md).
    pub sources: Vec<(String, String)>,
}

/// What a check does. `Manual` is recorded by a person; the other kinds are run by the
/// scheduler against pulled report data. Their settings are kept as given (YAML-shaped
/// `params`), validated at load time; [`Check::config`] returns them typed.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Manual,
    Scheduled {
        kind: ScheduledKind,
        /// Kind-specific settings, kept as given (keys in file order).
        params: Vec<(String, Param)>,
    },
}

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Manual => "manual",
            CheckKind::Scheduled { kind, .. } => kind.name(),
        }
    }
}

/// The scheduled check kinds the plan format reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduledKind {
    Reconcile,
    Rollup,
    Attribution,
    EventFlow,
    Payout,
    RecordSync,
    EventMatch,
}

impl ScheduledKind {
    pub const ALL: [ScheduledKind; 7] = [
        ScheduledKind::Reconcile,
        ScheduledKind::Rollup,
        ScheduledKind::Attribution,
        ScheduledKind::EventFlow,
        ScheduledKind::Payout,
        ScheduledKind::RecordSync,
        ScheduledKind::EventMatch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScheduledKind::Reconcile => "reconcile",
            ScheduledKind::Rollup => "rollup",
            ScheduledKind::Attribution => "attribution",
            ScheduledKind::EventFlow => "event_flow",
            ScheduledKind::Payout => "payout",
            ScheduledKind::RecordSync => "record_sync",
            ScheduledKind::EventMatch => "event_match",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A plain YAML value kept for kind-specific settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    List(Vec<Param>),
    Map(Vec<(String, Param)>),
}

/// A cron schedule: the plan's 5-field expression (or 6 fields, seconds first), read in
/// the plan's time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression as written (5 fields, or 6 with seconds first).
    pub expression: String,
    /// Parsed form (the `cron` crate's 6-field form; seconds = 0 for a 5-field one).
    pub cron: cron::Schedule,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression
    }
}

/// A phase of the migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub id: String,
    pub goal: String,
    /// Layers that own the phase's work.
    pub owners: Vec<String>,
    /// Exit conditions; all must hold to leave the phase forward.
    pub exit: Vec<Condition>,
}

/// One exit condition. Every condition, nested ones included, has a plan-wide unique id so
/// it can be named by a waiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub id: String,
    /// Layers answerable for the condition: the check's layer, the sign-off layers, or
    /// the `owner:` given in the plan (defaults to the phase's owners for `min_duration`
    /// and combinators).
    pub owners: Vec<String>,
    pub kind: ConditionKind,
}

/// What a condition asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionKind {
    /// The check's latest run (and the `consecutive - 1` runs before it) has one of
    /// `outcomes`, and the latest is no older than `fresh_within`. Only runs recorded since
    /// the phase was entered count. `outcomes` never holds `error` or `inconclusive`.
    CheckOutcome {
        check: String,
        outcomes: Vec<Outcome>,
        consecutive: u32,
        fresh_within: Option<TimeDelta>,
    },
    /// Every listed layer has a standing sign-off made since the phase was entered.
    SignOff { layers: Vec<String> },
    /// The phase has been current for at least this long.
    MinDuration(TimeDelta),
    /// At most `unexplained_material` material variances of the register (in scope) are
    /// not accepted by the layers required.
    Variances(VarianceGate),
    /// Every essential item of the plan's `inventory:` is documented (its file exists, its
    /// URL answers) and confirmed by a person of its owner layer.
    Inventory,
    /// The last `days` report days (plan zone) are clean: each scheduled check of the
    /// phase has a `pass` run covering the day (its latest run covering it, recorded in
    /// the phase), and no material variance of the day was first seen in the phase.
    CleanDays { days: u32, checks: Vec<String> },
    /// At least one child holds.
    Any(Vec<Condition>),
    /// Every child holds.
    All(Vec<Condition>),
}

/// A check outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    /// The check could not run (source down, bad data).
    Error,
    /// Data not final yet, or too little to judge.
    Inconclusive,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Pass,
        Outcome::Warn,
        Outcome::Fail,
        Outcome::Error,
        Outcome::Inconclusive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::Inconclusive => "inconclusive",
        }
    }

    /// `error` and `inconclusive` never satisfy anything.
    pub fn can_satisfy(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::Warn | Outcome::Fail)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown outcome \"{s}\" (expected pass, warn, fail, error or inconclusive)"
                )
            })
    }
}

impl Plan {
    /// The metrics this plan knows: canonical and declared.
    pub fn vocabulary(&self) -> MetricVocabulary {
        MetricVocabulary::new(self.metrics.clone())
    }

    pub fn phase(&self, id: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.id == id)
    }

    pub fn phase_index(&self, id: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.id == id)
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    pub fn inventory_item(&self, id: &str) -> Option<&InventoryItem> {
        self.inventory.iter().find(|i| i.id == id)
    }

    /// The freeze window covering `day`, if any.
    pub fn freeze_on(&self, day: chrono::NaiveDate) -> Option<&Freeze> {
        self.freezes.iter().find(|f| f.covers(day))
    }

    pub fn layer(&self, id: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.id == id)
    }

    /// Finds a condition (at any depth) by id, with the phase it belongs to.
    pub fn condition(&self, id: &str) -> Option<(&Phase, &Condition)> {
        fn find<'a>(conds: &'a [Condition], id: &str) -> Option<&'a Condition> {
            for c in conds {
                if c.id == id {
                    return Some(c);
                }
                if let ConditionKind::Any(kids) | ConditionKind::All(kids) = &c.kind
                    && let Some(found) = find(kids, id)
                {
                    return Some(found);
                }
            }
            None
        }
        self.phases
            .iter()
            .find_map(|p| find(&p.exit, id).map(|c| (p, c)))
    }
}
