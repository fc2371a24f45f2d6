//! The raw serde shape of a plan file: what each mapping may hold and the type of each
//! value, nothing more. Every field is optional here; whether a key is required, whether a
//! name resolves, and what a value means is decided by [`crate::compile`].
//!
//! Items are deserialized one at a time (see [`crate::compile`]), so each struct also
//! lists its keys in a `KEYS` constant used for "unknown key" diagnostics.

use std::collections::HashMap;
use std::fmt;

use marked_yaml::{Span, Spanned};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};

pub(crate) type Text = Option<Spanned<String>>;

/// Top-level keys. Sections are only type-checked here; their items are read separately.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawPlan {
    pub migration: Text,
    pub timezone: Text,
    pub currency: Text,
    pub layers: Option<HashMap<String, IgnoredAny>>,
    pub people: Option<Vec<IgnoredAny>>,
    pub checks: Option<Vec<IgnoredAny>>,
    pub phases: Option<Vec<IgnoredAny>>,
    /// Read by [`crate::sources`].
    pub sources: Option<Vec<IgnoredAny>>,
    /// Declared metrics; read by [`crate::metrics`].
    pub metrics: Option<IgnoredAny>,
    /// Metric ownership and materiality; read by [`crate::variance_policy`].
    pub variance_policy: Option<IgnoredAny>,
    /// Read by [`crate::inventory`].
    pub inventory: Option<Vec<IgnoredAny>>,
    /// Read by [`crate::inventory`].
    pub freezes: Option<Vec<IgnoredAny>>,
}

impl RawPlan {
    pub const KEYS: &[&str] = &[
        "migration",
        "timezone",
        "currency",
        "layers",
        "people",
        "checks",
        "phases",
        "sources",
        "metrics",
        "variance_policy",
        "inventory",
        "freezes",
    ];
}

/// An item of `inventory`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawInventoryItem {
    pub id: Text,
    pub workflow: Text,
    pub owner: Text,
    pub priority: Text,
    pub documented: Text,
    pub depends_on: Option<Vec<Spanned<String>>>,
    pub description: Text,
}

impl RawInventoryItem {
    pub const KEYS: &[&str] = &[
        "id",
        "workflow",
        "owner",
        "priority",
        "documented",
        "depends_on",
        "description",
    ];
}

/// An item of `freezes`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawFreeze {
    pub id: Text,
    pub from: Text,
    pub to: Text,
    pub reason: Text,
}

impl RawFreeze {
    pub const KEYS: &[&str] = &["id", "from", "to", "reason"];
}

/// `layers.<id>`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawLayer {
    pub description: Text,
}

impl RawLayer {
    pub const KEYS: &[&str] = &["description"];
}

/// An item of `people`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawPerson {
    pub id: Text,
    pub name: Text,
    pub email: Text,
    pub lead: Option<bool>,
    pub layers: Option<Vec<Spanned<String>>>,
}

impl RawPerson {
    pub const KEYS: &[&str] = &["id", "name", "email", "lead", "layers"];
}

/// An item of `checks`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub id: Text,
    pub layer: Text,
    pub kind: Text,
    pub description: Text,
    pub schedule: Text,
    /// Free-form; converted to [`crate::Param`] from the YAML node itself.
    pub params: Option<HashMap<String, IgnoredAny>>,
    /// Role (`old`, `new`, `crm`, `bi`) -> source id the check reads.
    pub sources: Option<HashMap<Spanned<String>, Spanned<String>>>,
}

impl RawCheck {
    pub const KEYS: &[&str] = &[
        "id",
        "layer",
        "kind",
        "description",
        "schedule",
        "params",
        "sources",
    ];
}

/// An item of `phases`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawPhase {
    pub id: Text,
    pub goal: Text,
    pub owners: Option<Vec<Spanned<String>>>,
    /// Conditions are read one by one from the YAML node.
    pub exit: Option<Vec<IgnoredAny>>,
}

impl RawPhase {
    pub const KEYS: &[&str] = &["id", "goal", "owners", "exit"];
}

/// An exit condition (at any depth).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawCondition {
    pub id: Text,
    pub description: Text,
    pub owner: Option<Spanned<OneOrMany>>,
    pub check: Text,
    pub outcome: Option<Spanned<OneOrMany>>,
    pub consecutive: Option<Spanned<i64>>,
    pub fresh_within: Text,
    pub signoff: Option<Spanned<OneOrMany>>,
    pub min_duration: Text,
    /// Read by [`crate::variance_policy::gate`] from the YAML node.
    pub variances: Option<IgnoredAny>,
    /// Read from the YAML node (`inventory: { documented: all }`).
    pub inventory: Option<IgnoredAny>,
    pub clean_days: Option<Spanned<i64>>,
    /// Children are read one by one from the YAML node.
    pub any: Option<Vec<IgnoredAny>>,
    pub all: Option<Vec<IgnoredAny>>,
}

impl RawCondition {
    pub const KEYS: &[&str] = &[
        "id",
        "description",
        "owner",
        "check",
        "outcome",
        "consecutive",
        "fresh_within",
        "signoff",
        "min_duration",
        "variances",
        "inventory",
        "clean_days",
        "any",
        "all",
    ];
    /// The keys that say what kind of condition it is; exactly one must be present.
    pub const KINDS: &[&str] = &[
        "check",
        "signoff",
        "min_duration",
        "variances",
        "inventory",
        "clean_days",
        "any",
        "all",
    ];
    /// Keys that only make sense next to `check`.
    pub const CHECK_ONLY: &[&str] = &["outcome", "consecutive", "fresh_within"];
}

/// A name or a list of names (`outcome: pass` or `outcome: [pass, warn]`).
#[derive(Debug, Default)]
pub(crate) struct OneOrMany(pub Vec<Spanned<String>>);

impl OneOrMany {
    /// Gives single values (which serde hands over without a position) the outer span.
    pub fn located(v: &Spanned<OneOrMany>) -> Vec<Spanned<String>> {
        v.0.iter()
            .map(|s| {
                if s.span().start().is_some() {
                    s.clone()
                } else {
                    Spanned::new(*v.span(), s.as_str().to_owned())
                }
            })
            .collect()
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name or a list of names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![Spanned::new(
                    Span::new_blank(),
                    v.to_owned(),
                )]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    out.push(item);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}
