//! What a new plan version changes about who may do what: people added, removed, promoted
//! to or demoted from lead, layers gained or lost, layers added to or dropped from the plan.
//!
//! [`plan_change`] is computed by the caller from the current and the new [`Plan`] and
//! travels in [`crate::Command::ApplyPlan`], so the decision (and the log entry) carries
//! the diff, and `history verify` can recompute it from the two stored versions.

use std::fmt;

use cutover_plan::Plan;
use serde::{Deserialize, Serialize};

/// The difference between the current plan and a new one, as far as authority and the
/// phase machine are concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChange {
    /// The new plan's `migration:` name.
    pub migration: String,
    /// The new plan's phase ids, in order.
    pub phases: Vec<String>,
    /// Layers the new plan declares that the current one does not.
    pub layers_added: Vec<String>,
    /// Layers the current plan declares that the new one drops.
    pub layers_dropped: Vec<String>,
    /// Every person whose rights change, in id order.
    pub people: Vec<PersonChange>,
}

/// How one person's rights change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonChange {
    pub person: String,
    /// Not in the current plan.
    pub added: bool,
    /// Not in the new plan.
    pub removed: bool,
    pub gained_lead: bool,
    pub lost_lead: bool,
    pub gained_layers: Vec<String>,
    pub lost_layers: Vec<String>,
}

impl PersonChange {
    /// Whether the person ends up with a right they do not hold now.
    pub fn gains(&self) -> bool {
        self.gained_lead || !self.gained_layers.is_empty()
    }
}

impl PlanChange {
    /// Whether nobody's rights change and no layer is added or dropped.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.layers_added.is_empty() && self.layers_dropped.is_empty()
    }

    /// The change to one person, if any.
    pub fn person(&self, id: &str) -> Option<&PersonChange> {
        self.people.iter().find(|p| p.person == id)
    }
}

/// Computes what `new` changes about people and layers relative to `current`.
pub fn plan_change(current: &Plan, new: &Plan) -> PlanChange {
    let ids = |p: &Plan| p.layers.iter().map(|l| l.id.clone()).collect::<Vec<_>>();
    let (old_layers, new_layers) = (ids(current), ids(new));
    let mut people: Vec<String> = current
        .people
        .iter()
        .chain(&new.people)
        .map(|p| p.id.clone())
        .collect();
    people.sort();
    people.dedup();
    let changes = people
        .into_iter()
        .filter_map(|id| {
            let before = current.person(&id);
            let after = new.person(&id);
            let lead = |p: Option<&cutover_plan::Person>| p.is_some_and(|p| p.lead);
            let layers = |p: Option<&cutover_plan::Person>| -> Vec<String> {
                let mut l = p.map(|p| p.layers.clone()).unwrap_or_default();
                l.sort();
                l.dedup();
                l
            };
            let (lb, la) = (layers(before), layers(after));
            let change = PersonChange {
                added: before.is_none(),
                removed: after.is_none(),
                gained_lead: !lead(before) && lead(after),
                lost_lead: lead(before) && !lead(after),
                gained_layers: la.iter().filter(|l| !lb.contains(l)).cloned().collect(),
                lost_layers: lb.iter().filter(|l| !la.contains(l)).cloned().collect(),
                person: id,
            };
            let changed = change.added
                || change.removed
                || change.gained_lead
                || change.lost_lead
                || !change.gained_layers.is_empty()
                || !change.lost_layers.is_empty();
            changed.then_some(change)
        })
        .collect();
    PlanChange {
        migration: new.migration.clone(),
        phases: new.phases.iter().map(|p| p.id.clone()).collect(),
        layers_added: new_layers
            .iter()
            .filter(|l| !old_layers.contains(l))
            .cloned()
            .collect(),
        layers_dropped: old_layers
            .iter()
            .filter(|l| !new_layers.contains(l))
            .cloned()
            .collect(),
        people: changes,
    }
}

impl fmt::Display for PersonChange {
    /// `mallory added: gains lead; gains layers bi, finance` and the like.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.person)?;
        if self.added {
            write!(f, " added")?;
        }
        if self.removed {
            write!(f, " removed")?;
        }
        let mut parts = Vec::new();
        if self.gained_lead {
            parts.push("gains lead".to_string());
        }
        if !self.gained_layers.is_empty() {
            parts.push(format!("gains layers {}", self.gained_layers.join(", ")));
        }
        if self.lost_lead {
            parts.push("loses lead".to_string());
        }
        if !self.lost_layers.is_empty() {
            parts.push(format!("loses layers {}", self.lost_layers.join(", ")));
        }
        if !parts.is_empty() {
            write!(f, ": {}", parts.join("; "))?;
        }
        Ok(())
    }
}

impl fmt::Display for PlanChange {
    /// One line: who gains and loses what, and the layers added or dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "no change to people or layers");
        }
        let mut parts: Vec<String> = self.people.iter().map(ToString::to_string).collect();
        if !self.layers_added.is_empty() {
            parts.push(format!("layers added: {}", self.layers_added.join(", ")));
        }
        if !self.layers_dropped.is_empty() {
            parts.push(format!(
                "layers dropped: {}",
                self.layers_dropped.join(", ")
            ));
        }
        write!(f, "{}", parts.join("; "))
    }
}
