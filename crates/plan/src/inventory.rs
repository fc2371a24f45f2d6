//! The plan's discovery inventory (`inventory:`), its calendar freezes (`freezes:`) and the
//! exit conditions that read them (`inventory:` and `clean_days:`), compiled with located
//! diagnostics. Whether a documentation link answers is IO and is not decided here.

use std::collections::HashMap;

use chrono::NaiveDate;
use marked_yaml::Node;
use marked_yaml::types::MarkedMappingNode;

use crate::compile::{Compiler, key_pos, label, node_pos, text_pos};
use crate::diag::{Diags, Pos};
use crate::model::{
    Condition, ConditionKind, Freeze, InventoryItem, Phase, Priority, WORKFLOW_KINDS,
};
use crate::raw::{RawFreeze, RawInventoryItem};

/// Reads an `inventory:` condition's value: `{ documented: all }`.
pub(crate) fn gate(value: &Node, ctx: &str, diags: &mut Diags) -> Option<()> {
    let Some(map) = value.as_mapping() else {
        diags.error(
            node_pos(value),
            format!("inventory of {ctx} must be a mapping such as {{ documented: all }}"),
        );
        return None;
    };
    let mut ok = true;
    for (k, v) in map.iter() {
        if k.as_str() != "documented" {
            let h = diags.hint(k.as_str(), ["documented"]);
            diags.error(
                Pos::of_span(k.span()),
                format!("unknown key \"{}\" in inventory of {ctx}{h}", k.as_str()),
            );
            ok = false;
        } else if v.as_scalar().map(|s| s.as_str()) != Some("all") {
            diags.error(
                node_pos(v),
                format!("documented of {ctx} must be \"all\" (every essential item)"),
            );
            ok = false;
        }
    }
    if map.get_node("documented").is_none() {
        diags.error(
            node_pos(value),
            format!("inventory of {ctx} is missing required key \"documented\""),
        );
        ok = false;
    }
    ok.then_some(())
}

fn date(s: &marked_yaml::Spanned<String>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.as_str(), "%Y-%m-%d").ok()
}

impl Compiler<'_> {
    pub(crate) fn inventory(&mut self, items: &[Node]) -> Vec<InventoryItem> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, node) in items.iter().enumerate() {
            let ctx = label("inventory item", node, i);
            let at = node_pos(node);
            let Some(raw) = self.item::<RawInventoryItem>(
                node,
                RawInventoryItem::KEYS,
                &["id", "workflow", "owner", "priority"],
                &ctx,
            ) else {
                continue;
            };
            if let Some(id) = &raw.id {
                self.unique(&mut seen, "inventory item", id, at);
            }
            let workflow = raw.workflow.as_ref().and_then(|w| {
                if WORKFLOW_KINDS.contains(&w.as_str()) {
                    return Some(w.as_str().to_owned());
                }
                let h = self.diags.hint(w.as_str(), WORKFLOW_KINDS);
                self.diags.error(
                    text_pos(w, at),
                    format!(
                        "{ctx} has unknown workflow \"{}\" (expected {}){h}",
                        w.as_str(),
                        WORKFLOW_KINDS.join(", ")
                    ),
                );
                None
            });
            let owner = raw.owner.as_ref().and_then(|o| {
                self.layer_ref(o, at, format!("{ctx} is owned by"))
                    .then(|| o.as_str().to_owned())
            });
            let priority = raw.priority.as_ref().and_then(|p| match p.as_str() {
                "essential" => Some(Priority::Essential),
                "secondary" => Some(Priority::Secondary),
                other => {
                    let h = self.diags.hint(other, ["essential", "secondary"]);
                    self.diags.error(
                        text_pos(p, at),
                        format!(
                            "{ctx} has unknown priority \"{other}\" (expected essential or secondary){h}"
                        ),
                    );
                    None
                }
            });
            let documented = raw
                .documented
                .as_ref()
                .map(|d| d.as_str().trim().to_owned());
            if let Some(d) = &raw.documented
                && d.as_str().trim().is_empty()
            {
                self.diags.error(
                    text_pos(d, at),
                    format!("documented of {ctx} must not be empty; leave the key out until it is written down"),
                );
            }
            if documented.is_none() && priority == Some(Priority::Essential) {
                self.diags.warn(
                    at,
                    format!("{ctx} is essential and not documented yet (no \"documented:\"); an inventory condition cannot hold"),
                );
            }
            if let (Some(id), Some(workflow), Some(owner), Some(priority)) =
                (raw.id, workflow, owner, priority)
            {
                out.push(InventoryItem {
                    id: id.as_str().to_owned(),
                    workflow,
                    owner,
                    priority,
                    documented,
                    depends_on: raw
                        .depends_on
                        .unwrap_or_default()
                        .iter()
                        .map(|d| d.as_str().to_owned())
                        .collect(),
                    description: raw
                        .description
                        .map(|d| d.as_str().to_owned())
                        .unwrap_or_default(),
                });
            }
        }
        out
    }

    pub(crate) fn freezes(&mut self, items: &[Node]) -> Vec<Freeze> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, node) in items.iter().enumerate() {
            let ctx = label("freeze", node, i);
            let at = node_pos(node);
            let Some(raw) = self.item::<RawFreeze>(
                node,
                RawFreeze::KEYS,
                &["id", "from", "to", "reason"],
                &ctx,
            ) else {
                continue;
            };
            if let Some(id) = &raw.id {
                self.unique(&mut seen, "freeze", id, at);
            }
            let mut day = |key: &str, v: &Option<marked_yaml::Spanned<String>>| {
                let v = v.as_ref()?;
                let d = date(v);
                if d.is_none() {
                    self.diags.error(
                        text_pos(v, at),
                        format!(
                            "{key} of {ctx} must be a day YYYY-MM-DD (in the plan's time zone), found \"{}\"",
                            v.as_str()
                        ),
                    );
                }
                d
            };
            let from = day("from", &raw.from);
            let to = day("to", &raw.to);
            if let (Some(f), Some(t), Some(to_text)) = (from, to, &raw.to)
                && t < f
            {
                self.diags.error(
                    text_pos(to_text, at),
                    format!("{ctx} ends ({t}) before it starts ({f})"),
                );
                continue;
            }
            if let (Some(id), Some(from), Some(to), Some(reason)) = (raw.id, from, to, raw.reason) {
                out.push(Freeze {
                    id: id.as_str().to_owned(),
                    from,
                    to,
                    reason: reason.as_str().to_owned(),
                });
            }
        }
        out
    }

    /// An `inventory:` condition needs at least one essential item to judge.
    pub(crate) fn inventory_conditions(
        &mut self,
        phases: &[Phase],
        inventory: &[InventoryItem],
        root: &MarkedMappingNode,
    ) {
        fn find<'a>(conds: &'a [Condition], out: &mut Vec<&'a str>) {
            for c in conds {
                match &c.kind {
                    ConditionKind::Inventory => out.push(&c.id),
                    ConditionKind::Any(k) | ConditionKind::All(k) => find(k, out),
                    _ => {}
                }
            }
        }
        let mut ids = Vec::new();
        for p in phases {
            find(&p.exit, &mut ids);
        }
        if ids.is_empty() || inventory.iter().any(|i| i.priority == Priority::Essential) {
            return;
        }
        let at = key_pos(root, "inventory")
            .or_else(|| key_pos(root, "phases"))
            .unwrap_or(Pos::START);
        for id in ids {
            self.diags.error(
                at,
                format!(
                    "condition \"{id}\" asks for the inventory, but the plan lists no essential item under \"inventory\""
                ),
            );
        }
    }

    /// Gives each `clean_days:` condition of a phase the phase's scheduled checks (those
    /// its exit conditions name); a phase with none cannot count clean days.
    pub(crate) fn clean_days_checks(&mut self, exit: &mut [Condition], at: Pos, ctx: &str) {
        fn named(c: &Condition, out: &mut Vec<String>) {
            match &c.kind {
                ConditionKind::CheckOutcome { check, .. } if !out.contains(check) => {
                    out.push(check.clone())
                }
                ConditionKind::Any(k) | ConditionKind::All(k) => {
                    k.iter().for_each(|c| named(c, out))
                }
                _ => {}
            }
        }
        fn fill(c: &mut Condition, checks: &[String], missing: &mut Vec<String>) {
            match &mut c.kind {
                ConditionKind::CleanDays { checks: list, .. } => {
                    if checks.is_empty() {
                        missing.push(c.id.clone());
                    }
                    *list = checks.to_vec();
                }
                ConditionKind::Any(k) | ConditionKind::All(k) => {
                    k.iter_mut().for_each(|c| fill(c, checks, missing))
                }
                _ => {}
            }
        }
        let mut checks = Vec::new();
        exit.iter().for_each(|c| named(c, &mut checks));
        checks.retain(|c| self.scheduled.contains(c));
        let mut missing = Vec::new();
        exit.iter_mut().for_each(|c| fill(c, &checks, &mut missing));
        for id in missing {
            self.diags.error(
                at,
                format!(
                    "condition \"{id}\" of {ctx} counts clean days of the phase's scheduled checks, but no exit condition of {ctx} names a scheduled check"
                ),
            );
        }
    }
}
