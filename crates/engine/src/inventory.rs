//! Where each inventory item stands: documented (the caller's probe found its file or URL)
//! and confirmed (a person of its owner layer confirmed it as currently documented), and
//! the `inventory:` exit condition built on that.

use cutover_plan::{InventoryItem, Plan, Priority};
use serde::{Deserialize, Serialize};

use crate::facts::{Facts, InventoryConfirmation};

/// One inventory item's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    pub id: String,
    pub workflow: String,
    pub owner: String,
    pub priority: Priority,
    pub documented: Option<String>,
    pub depends_on: Vec<String>,
    /// The documentation was found (file exists, URL answered 2xx/3xx).
    pub doc_found: bool,
    /// What the probe saw, or why there was none.
    pub doc_detail: String,
    /// The standing confirmation: who and when.
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ItemState {
    /// Documented and confirmed.
    pub fn ready(&self) -> bool {
        self.doc_found && self.confirmed_by.is_some()
    }

    /// What the item still needs, in words (empty when ready).
    pub fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.documented {
            None => out.push("not documented (no \"documented:\" in the plan)".to_string()),
            Some(d) if !self.doc_found => {
                out.push(format!("documentation {d} not found: {}", self.doc_detail))
            }
            Some(_) => {}
        }
        if self.confirmed_by.is_none() {
            out.push(format!("not confirmed by {}", self.owner))
        }
        out
    }

    /// `ready`, or what is missing.
    pub fn state(&self) -> String {
        if self.ready() {
            "ready".to_string()
        } else {
            self.missing().join("; ")
        }
    }
}

/// Every inventory item of the plan, in plan order, with its state.
pub fn inventory_states(plan: &Plan, facts: &Facts) -> Vec<ItemState> {
    plan.inventory
        .iter()
        .map(|it| item_state(plan, facts, it))
        .collect()
}

fn item_state(plan: &Plan, facts: &Facts, it: &InventoryItem) -> ItemState {
    let probe = it.documented.as_ref().and_then(|d| {
        facts
            .inventory_docs
            .iter()
            .rev()
            .find(|p| p.item == it.id && &p.documented == d)
    });
    let (doc_found, doc_detail) = match (&it.documented, probe) {
        (None, _) => (false, "no \"documented:\"".to_string()),
        (Some(_), None) => (false, "not probed".to_string()),
        (Some(_), Some(p)) => (p.found, p.detail.clone()),
    };
    // The latest confirmation of the item as it is documented now, by someone who is
    // still in its owner layer.
    let confirmed: Option<&InventoryConfirmation> =
        facts.inventory_confirmations.iter().rev().find(|c| {
            c.item == it.id
                && c.documented == it.documented
                && plan
                    .person(&c.by)
                    .is_some_and(|p| p.layers.contains(&it.owner))
        });
    ItemState {
        id: it.id.clone(),
        workflow: it.workflow.clone(),
        owner: it.owner.clone(),
        priority: it.priority,
        documented: it.documented.clone(),
        depends_on: it.depends_on.clone(),
        doc_found,
        doc_detail,
        confirmed_by: confirmed.map(|c| c.by.clone()),
        confirmed_at: confirmed.map(|c| c.at),
    }
}

/// The `inventory:` condition: every essential item documented and confirmed.
pub(crate) fn gate(plan: &Plan, facts: &Facts) -> (bool, String) {
    let states = inventory_states(plan, facts);
    let essential: Vec<&ItemState> = states
        .iter()
        .filter(|s| s.priority == Priority::Essential)
        .collect();
    let missing: Vec<String> = essential
        .iter()
        .filter(|s| !s.ready())
        .map(|s| {
            format!(
                "{} ({}, owner {}): {}",
                s.id,
                s.workflow,
                s.owner,
                s.missing().join(", ")
            )
        })
        .collect();
    if missing.is_empty() {
        (
            true,
            format!(
                "all {} essential inventory item{} documented and confirmed",
                essential.len(),
                if essential.len() == 1 { "" } else { "s" }
            ),
        )
    } else {
        (
            false,
            format!(
                "{} of {} essential inventory items not ready: {}",
                missing.len(),
                essential.len(),
                missing.join("; ")
            ),
        )
    }
}
