//! Compiling a parsed YAML tree into a validated [`Plan`]: reads every section and item on
//! its own (through the raw serde shapes in [`crate::raw`]), runs every check, and records
//! every problem instead of stopping at the first.
//!
//! It stops at the plan's own consistency; nothing here looks at stored state or time.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::TimeDelta;
use chrono_tz::Tz;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{Node, Spanned};
use serde::de::DeserializeOwned;

use crate::currency::{CURRENCIES, is_currency};
use crate::diag::{Diags, Pos, short};
use crate::duration::parse_duration;
use crate::metrics::MetricVocabulary;
use crate::model::*;
use crate::raw::*;
use crate::suggest::hint;
use crate::yaml::DuplicateKey;

/// Compiles `root` (a mapping). Returns the plan only when no error was recorded.
pub(crate) fn compile(root: &Node, dups: &[DuplicateKey], diags: &mut Diags) -> Option<Plan> {
    let mut c = Compiler {
        diags,
        layer_ids: Names::default(),
        scheduled: HashSet::new(),
        check_layers: HashMap::new(),
        check_ids: Names::default(),
        condition_ids: HashMap::new(),
        used_checks: HashSet::new(),
        source_ids: source_ids(root),
        source_rows: source_rows(root),
        vocabulary: MetricVocabulary::canonical(),
    };
    c.plan(root, dups)
}

/// Names written in the file, in file order (for suggestions), with a set for lookups.
#[derive(Default)]
pub(crate) struct Names {
    list: Vec<String>,
    set: HashSet<String>,
}

impl Names {
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.set.contains(name)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(String::as_str)
    }
}

impl FromIterator<String> for Names {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let list: Vec<String> = iter.into_iter().collect();
        let set = list.iter().cloned().collect();
        Names { list, set }
    }
}

pub(crate) struct Compiler<'d> {
    pub(crate) diags: &'d mut Diags,
    /// Every layer id written in the file (even if its body is broken).
    pub(crate) layer_ids: Names,
    /// Check ids of scheduled checks.
    pub(crate) scheduled: HashSet<String>,
    /// Check id -> its layer, for checks whose layer was readable.
    check_layers: HashMap<String, String>,
    /// Every check id written in the file.
    check_ids: Names,
    /// Condition id -> line of its first definition.
    condition_ids: HashMap<String, usize>,
    used_checks: HashSet<String>,
    /// Every source id written under `sources:` (even if the source is broken).
    source_ids: Names,
    /// Source id -> its `rows:` kind as written (or as its preset sets it).
    source_rows: HashMap<String, String>,
    /// Canonical and declared metrics (read before the checks).
    vocabulary: MetricVocabulary,
}

/// The ids of the plan's `sources:` items, as written.
fn source_ids(root: &Node) -> Names {
    let Some(Node::Sequence(items)) = root.as_mapping().and_then(|m| m.get_node("sources")) else {
        return Names::default();
    };
    items.iter().filter_map(peek_id).collect()
}

/// The `rows:` kind of each source item with an id: its own, else its preset's, else
/// `aggregate` (the source compiler reports anything wrong with it).
fn source_rows(root: &Node) -> HashMap<String, String> {
    let Some(Node::Sequence(items)) = root.as_mapping().and_then(|m| m.get_node("sources")) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for item in items.iter() {
        let (Some(id), Some(map)) = (peek_id(item), item.as_mapping()) else {
            continue;
        };
        let own = map.get_scalar("rows").map(|s| s.as_str().to_owned());
        let preset = || {
            let name = map.get_scalar("preset")?;
            let text = crate::sources::preset_text(name.as_str())?;
            let base = marked_yaml::parse_yaml(1, text).ok()?;
            Some(base.as_mapping()?.get_scalar("rows")?.as_str().to_owned())
        };
        let rows = own
            .or_else(preset)
            .unwrap_or_else(|| "aggregate".to_owned());
        out.entry(id).or_insert(rows);
    }
    out
}

/// The roles a check's `sources:` may name.
const SOURCE_ROLES: [&str; 7] = [
    "old",
    "new",
    "crosswalk",
    "rates",
    "old_hierarchy",
    "new_hierarchy",
    "crm",
];

/// A source role a check kind reads: the `rows:` kind its source must have, and whether
/// the kind cannot run without it.
struct Role {
    name: &'static str,
    rows: &'static str,
    required: bool,
}

const fn need(name: &'static str, rows: &'static str) -> Role {
    Role {
        name,
        rows,
        required: true,
    }
}

const fn may(name: &'static str, rows: &'static str) -> Role {
    Role {
        name,
        rows,
        required: false,
    }
}

/// What a scheduled kind does with its sources, and the roles it reads (checked when the
/// check declares `sources:`): any other role is an error, a required one missing is one,
/// and each role's source must have the role's `rows:` kind.
fn kind_roles(kind: ScheduledKind) -> (&'static str, &'static [Role]) {
    const RECONCILE: &[Role] = &[
        need("old", "aggregate"),
        need("new", "aggregate"),
        may("crosswalk", "crosswalk"),
        may("rates", "rates"),
    ];
    const EVENTS: &[Role] = &[
        need("old", "event"),
        need("new", "event"),
        may("crosswalk", "crosswalk"),
        may("rates", "rates"),
    ];
    const ATTRIBUTION: &[Role] = &[
        need("new", "event"),
        may("old", "event"),
        may("crosswalk", "crosswalk"),
        may("rates", "rates"),
    ];
    const RECORD_SYNC: &[Role] = &[need("new", "record"), need("crm", "record")];
    const ROLLUP: &[Role] = &[
        need("old", "aggregate"),
        need("new", "aggregate"),
        need("old_hierarchy", "hierarchy"),
        need("new_hierarchy", "hierarchy"),
        may("crosswalk", "crosswalk"),
        may("rates", "rates"),
    ];
    const PAYOUT: &[Role] = &[
        need("old", "aggregate"),
        need("new", "aggregate"),
        may("old_hierarchy", "hierarchy"),
        may("new_hierarchy", "hierarchy"),
        may("crosswalk", "crosswalk"),
        may("rates", "rates"),
    ];
    match kind {
        ScheduledKind::Reconcile => ("compares two sides", RECONCILE),
        ScheduledKind::EventFlow => ("compares new event volumes with old", EVENTS),
        ScheduledKind::EventMatch => ("matches old events with new ones", EVENTS),
        ScheduledKind::Attribution => ("reads the new platform's events", ATTRIBUTION),
        ScheduledKind::RecordSync => ("compares new records with the CRM's", RECORD_SYNC),
        ScheduledKind::Rollup => ("rolls each system's partners up its own hierarchy", ROLLUP),
        ScheduledKind::Payout => ("recomputes commission from each side's period sums", PAYOUT),
    }
}

/// Where an item sits, for messages: `phase "setup"`, `person #2`.
pub(crate) fn label(kind: &str, node: &Node, index: usize) -> String {
    match peek_id(node) {
        Some(id) => format!("{kind} \"{}\"", short(&id)),
        None => format!("{kind} #{}", index + 1),
    }
}

fn peek_id(node: &Node) -> Option<String> {
    let id = node.as_mapping()?.get_scalar("id")?.as_str();
    (!id.is_empty()).then(|| id.to_owned())
}

/// Where a node starts. marked-yaml marks a block mapping at its first `:`, so a mapping
/// is placed at its first key when that comes earlier.
pub(crate) fn node_pos(node: &Node) -> Pos {
    let start = Pos::of_span(node.span());
    match node
        .as_mapping()
        .and_then(|m| m.iter().next())
        .and_then(|(k, _)| k.span().start())
    {
        Some(m) => start.min(Pos::of_marker(m)),
        None => start,
    }
}

fn key_node<'a>(map: &'a MarkedMappingNode, key: &str) -> Option<&'a MarkedScalarNode> {
    map.get_key_value(key).map(|(k, _)| k)
}

pub(crate) fn key_pos(map: &MarkedMappingNode, key: &str) -> Option<Pos> {
    key_node(map, key).map(|k| Pos::of_span(k.span()))
}

pub(crate) fn text_pos(s: &Spanned<String>, fallback: Pos) -> Pos {
    Pos::of_span_or(s.span(), fallback)
}

fn is_empty_scalar(node: &Node) -> bool {
    node.as_scalar().is_some_and(|s| s.as_str().is_empty())
}

fn describe_node(node: &Node) -> String {
    match node {
        Node::Scalar(s) => format!("\"{}\"", s.as_str()),
        Node::Sequence(_) => "a list".to_owned(),
        Node::Mapping(_) => "a mapping".to_owned(),
    }
}

/// A serde error from marked-yaml as a sentence, plus its position if it has one.
fn describe_serde_error(e: &marked_yaml::FromNodeError, value: &Node) -> (Option<Pos>, String) {
    use marked_yaml::Error as E;
    let at = e.start_mark().map(|m| Pos::of_marker(&m));
    let msg = match &**e {
        E::NotBoolean(_) => format!("expected true or false, found {}", describe_node(value)),
        E::IntegerParseFailure(..) => {
            format!("expected a whole number, found {}", describe_node(value))
        }
        E::FloatParseFailure(..) => format!("expected a number, found {}", describe_node(value)),
        E::UnknownFieldError(field, _, _) => format!("unknown key \"{field}\""),
        E::Other(m, _) => m
            .replace("sequence", "a list")
            .replace("invalid type: map", "invalid type: a mapping"),
    };
    (at, msg)
}

/// Joins names as `"a", "b" and "c"`.
fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

pub(crate) fn param(node: &Node) -> Param {
    match node {
        Node::Scalar(s) => {
            let v = s.as_str();
            if !s.may_coerce() {
                Param::String(v.to_owned())
            } else if v.is_empty() || matches!(v, "~" | "null" | "Null" | "NULL") {
                Param::Null
            } else if let Some(b) = s.as_bool() {
                Param::Bool(b)
            } else if v.parse::<i64>().is_ok()
                || (v.bytes().any(|b| b.is_ascii_digit())
                    && v.parse::<f64>().is_ok_and(f64::is_finite))
            {
                Param::Number(v.to_owned())
            } else {
                Param::String(v.to_owned())
            }
        }
        Node::Sequence(items) => Param::List(items.iter().map(param).collect()),
        Node::Mapping(map) => Param::Map(
            map.iter()
                .map(|(k, v)| (k.as_str().to_owned(), param(v)))
                .collect(),
        ),
    }
}

impl Compiler<'_> {
    /// Reads one mapping item into its raw shape: reports unknown keys (all of them),
    /// missing or empty required keys, and every ill-typed value at its own position.
    /// Returns the item with ill-typed fields left out, or `None` if it is not a mapping.
    pub(crate) fn item<T: DeserializeOwned + Default>(
        &mut self,
        node: &Node,
        keys: &[&str],
        required: &[&str],
        ctx: &str,
    ) -> Option<T> {
        let at = node_pos(node);
        let empty;
        let map: &MarkedMappingNode = match node {
            Node::Mapping(m) => m,
            n if is_empty_scalar(n) => {
                empty = MarkedMappingNode::new_empty(*n.span());
                &empty
            }
            other => {
                self.diags.error(
                    at,
                    format!(
                        "{ctx} must be a mapping of keys, found {}",
                        describe_node(other)
                    ),
                );
                return None;
            }
        };
        // Keys left out of the typed read: unknown ones, empty required ones, and (below)
        // ill-typed ones. The item is only copied when something is left out, and then
        // without those keys: the top level holds the whole plan.
        let mut left_out: HashSet<&str> = HashSet::new();
        for (k, _) in map.iter() {
            if !keys.contains(&k.as_str()) {
                let h = self.diags.hint(k.as_str(), keys.iter().copied());
                self.diags.error(
                    Pos::of_span(k.span()),
                    format!("unknown key \"{}\" in {ctx}{h}", k.as_str()),
                );
                left_out.insert(k.as_str());
            }
        }
        for r in required {
            match map.get_node(r) {
                None => self
                    .diags
                    .error(at, format!("{ctx} is missing required key \"{r}\"")),
                Some(v) if is_empty_scalar(v) => {
                    self.diags.error(
                        key_pos(map, r).unwrap_or(at),
                        format!("key \"{r}\" of {ctx} must not be empty"),
                    );
                    left_out.insert(r);
                }
                Some(_) => {}
            }
        }
        let without = |left_out: &HashSet<&str>| {
            let mut kept = MarkedMappingNode::new_empty(*map.span());
            for (k, v) in map.iter() {
                if !left_out.contains(k.as_str()) {
                    kept.insert(k.clone(), v.clone());
                }
            }
            Node::Mapping(kept)
        };
        let first_try = match node {
            Node::Mapping(_) if left_out.is_empty() => marked_yaml::from_node::<T>(node),
            _ => marked_yaml::from_node::<T>(&without(&left_out)),
        };
        let first_err = match first_try {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        // Find every ill-typed key by reading each key on its own.
        let mut reported = false;
        let mut ill_typed = Vec::new();
        for (k, v) in map.iter() {
            if left_out.contains(k.as_str()) {
                continue;
            }
            let mut single = MarkedMappingNode::new_empty(*map.span());
            single.insert(k.clone(), v.clone());
            if let Err(e) = marked_yaml::from_node::<T>(&Node::Mapping(single)) {
                let (pos, msg) = describe_serde_error(&e, v);
                self.diags.error(
                    pos.unwrap_or_else(|| node_pos(v)),
                    format!("key \"{}\" of {ctx}: {msg}", k.as_str()),
                );
                ill_typed.push(k.as_str());
                reported = true;
            }
        }
        left_out.extend(ill_typed);
        match marked_yaml::from_node::<T>(&without(&left_out)) {
            Ok(v) if reported => Some(v),
            _ => {
                let (pos, msg) = describe_serde_error(&first_err, node);
                self.diags.error(pos.unwrap_or(at), format!("{ctx}: {msg}"));
                None
            }
        }
    }

    fn plan(&mut self, root: &Node, dups: &[DuplicateKey]) -> Option<Plan> {
        let Some(root_map) = root.as_mapping() else {
            self.diags.error(
                node_pos(root),
                "the top level of a plan must be a mapping of keys",
            );
            return None;
        };
        let layers_node = root_map.get_node("layers");
        let layers_map_pos = layers_node
            .filter(|n| n.as_mapping().is_some())
            .map(|n| Pos::of_span(n.span()));
        for d in dups {
            if Some(d.mapping) == layers_map_pos {
                self.diags.error(
                    d.second,
                    format!(
                        "duplicate layer \"{}\"; first defined on line {}",
                        d.key, d.first.line
                    ),
                );
            } else {
                self.diags.error(
                    d.second,
                    format!(
                        "duplicate key \"{}\"; first given on line {}",
                        d.key, d.first.line
                    ),
                );
            }
        }

        let top: RawPlan = self
            .item(
                root,
                RawPlan::KEYS,
                &[
                    "migration",
                    "timezone",
                    "currency",
                    "layers",
                    "people",
                    "phases",
                ],
                "the plan",
            )
            .unwrap_or_default();

        let metrics = crate::metrics::declared(root, Some(self.diags));
        self.vocabulary = MetricVocabulary::new(metrics.clone());
        let migration = top.migration.as_ref().map(|m| m.as_str().to_owned());
        let timezone = top.timezone.as_ref().and_then(|tz| self.timezone(tz));
        let currency = top.currency.as_ref().and_then(|c| self.currency(c));

        // Ids first, so references can be resolved regardless of item order or breakage.
        if let Some(Node::Mapping(m)) = layers_node {
            self.layer_ids = m.iter().map(|(k, _)| k.as_str().to_owned()).collect();
        }
        let checks_node = root_map.get_node("checks");
        if let Some(Node::Sequence(items)) = checks_node {
            self.check_ids = items.iter().filter_map(peek_id).collect();
        }

        let layers = match (layers_node, &top.layers) {
            (Some(Node::Mapping(m)), Some(_)) => self.layers(m),
            _ => Vec::new(),
        };
        let people = match (root_map.get_node("people"), &top.people) {
            (Some(node @ Node::Sequence(items)), Some(_)) => {
                let people = self.people(items);
                self.lead_and_ownership(root_map, node, &people, &layers);
                people
            }
            _ => Vec::new(),
        };
        let checks = match (checks_node, &top.checks) {
            (Some(Node::Sequence(items)), Some(_)) => self.checks(items),
            _ => Vec::new(),
        };
        let phases = match (root_map.get_node("phases"), &top.phases) {
            (Some(node @ Node::Sequence(items)), Some(_)) => {
                if items.is_empty() {
                    self.diags.error(
                        key_pos(root_map, "phases").unwrap_or(node_pos(node)),
                        "the plan has no phases; add at least one under \"phases\"",
                    );
                }
                let phases = self.phases(items);
                self.unused_checks(checks_node);
                phases
            }
            _ => Vec::new(),
        };

        let layer_set: HashSet<String> = self.layer_ids.iter().map(str::to_owned).collect();
        let variance_policy =
            crate::variance_policy::policy(root, &layer_set, &self.vocabulary, self.diags);
        let inventory = match (root_map.get_node("inventory"), &top.inventory) {
            (Some(Node::Sequence(items)), Some(_)) => self.inventory(items),
            _ => Vec::new(),
        };
        let freezes = match (root_map.get_node("freezes"), &top.freezes) {
            (Some(Node::Sequence(items)), Some(_)) => self.freezes(items),
            _ => Vec::new(),
        };
        self.inventory_conditions(&phases, &inventory, root_map);

        if self.diags.has_errors() {
            return None;
        }
        Some(Plan {
            migration: migration?,
            timezone: timezone?,
            currency: currency?,
            layers,
            people,
            checks,
            phases,
            metrics,
            variance_policy,
            inventory,
            freezes,
        })
    }

    fn timezone(&mut self, tz: &Spanned<String>) -> Option<Tz> {
        match Tz::from_str(tz.as_str()) {
            Ok(z) => Some(z),
            Err(_) => {
                let h = self
                    .diags
                    .hint(tz.as_str(), chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()));
                self.diags.error(
                    text_pos(tz, Pos::START),
                    format!(
                        "unknown time zone \"{}\" (expected an IANA name such as \"Europe/Malta\"){h}",
                        tz.as_str(),
                    ),
                );
                None
            }
        }
    }

    fn currency(&mut self, c: &Spanned<String>) -> Option<String> {
        if is_currency(c.as_str()) {
            return Some(c.as_str().to_owned());
        }
        self.diags.error(
            text_pos(c, Pos::START),
            format!(
                "unknown currency \"{}\" (expected an ISO 4217 code such as \"EUR\"){}",
                c.as_str(),
                hint(c.as_str(), CURRENCIES.iter().copied())
            ),
        );
        None
    }

    /// Reports `name` if it is not a known layer.
    pub(crate) fn layer_ref(
        &mut self,
        name: &Spanned<String>,
        fallback: Pos,
        what: String,
    ) -> bool {
        if self.layer_ids.contains(name.as_str()) {
            return true;
        }
        let h = self.diags.hint(name.as_str(), self.layer_ids.iter());
        self.diags.error(
            text_pos(name, fallback),
            format!("{what} unknown layer \"{}\"{h}", name.as_str()),
        );
        false
    }

    fn layers(&mut self, map: &MarkedMappingNode) -> Vec<Layer> {
        let mut out = Vec::new();
        for (k, v) in map.iter() {
            let ctx = format!("layer \"{}\"", short(k.as_str()));
            if k.as_str().is_empty() {
                self.diags
                    .error(Pos::of_span(k.span()), "a layer id must not be empty");
                continue;
            }
            if let Some(raw) = self.item::<RawLayer>(v, RawLayer::KEYS, &[], &ctx) {
                out.push(Layer {
                    id: k.as_str().to_owned(),
                    description: raw
                        .description
                        .map(|d| d.as_str().to_owned())
                        .unwrap_or_default(),
                });
            }
        }
        out
    }

    /// Reports `id` when an earlier item of the same kind already used it.
    pub(crate) fn unique(
        &mut self,
        seen: &mut HashMap<String, usize>,
        kind: &str,
        id: &Spanned<String>,
        at: Pos,
    ) {
        let pos = text_pos(id, at);
        match seen.get(id.as_str()) {
            Some(first) => self.diags.error(
                pos,
                format!(
                    "duplicate {kind} \"{}\"; first defined on line {first}",
                    id.as_str()
                ),
            ),
            None => {
                seen.insert(id.as_str().to_owned(), pos.line);
            }
        }
    }

    fn people(&mut self, items: &[Node]) -> Vec<Person> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, node) in items.iter().enumerate() {
            let ctx = label("person", node, i);
            let at = node_pos(node);
            let Some(raw) =
                self.item::<RawPerson>(node, RawPerson::KEYS, &["id", "name", "email"], &ctx)
            else {
                continue;
            };
            if let Some(id) = &raw.id {
                self.unique(&mut seen, "person", id, at);
            }
            if let Some(email) = &raw.email
                && !email.contains('@')
            {
                self.diags.error(
                    text_pos(email, at),
                    format!("{ctx} has email \"{}\" without \"@\"", email.as_str()),
                );
            }
            let mut layers = Vec::new();
            for l in raw.layers.iter().flatten() {
                if self.layer_ref(l, at, format!("{ctx} owns")) {
                    layers.push(l.as_str().to_owned());
                }
            }
            if let (Some(id), Some(name), Some(email)) = (raw.id, raw.name, raw.email) {
                out.push(Person {
                    id: id.as_str().to_owned(),
                    name: name.as_str().to_owned(),
                    email: email.as_str().to_owned(),
                    lead: raw.lead.unwrap_or(false),
                    layers,
                });
            }
        }
        out
    }

    /// At least one lead; every layer owned by someone.
    fn lead_and_ownership(
        &mut self,
        root: &MarkedMappingNode,
        people_node: &Node,
        people: &[Person],
        layers: &[Layer],
    ) {
        let at = key_pos(root, "people").unwrap_or(node_pos(people_node));
        // A `lead:` that failed to read has been reported already; don't pile on.
        let unreadable_lead = people_node.as_sequence().is_some_and(|items| {
            items.iter().any(|n| {
                n.as_mapping()
                    .and_then(|m| m.get_scalar("lead"))
                    .is_some_and(|l| l.as_bool().is_none())
            })
        });
        if !unreadable_lead && !people.iter().any(|p| p.lead) {
            self.diags.error(
                at,
                "no person has \"lead: true\"; a lead is needed to advance, roll back and waive",
            );
        }
        let Some(Node::Mapping(layer_map)) = root.get_node("layers") else {
            return;
        };
        let owned: HashSet<&str> = people
            .iter()
            .flat_map(|p| p.layers.iter().map(String::as_str))
            .collect();
        for layer in layers {
            if !owned.contains(layer.id.as_str()) {
                let pos = key_pos(layer_map, &layer.id).unwrap_or(at);
                self.diags.error(
                    pos,
                    format!(
                        "layer \"{}\" is owned by no person; add it to someone's \"layers\"",
                        layer.id
                    ),
                );
            }
        }
    }

    fn checks(&mut self, items: &[Node]) -> Vec<Check> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, node) in items.iter().enumerate() {
            let ctx = label("check", node, i);
            let at = node_pos(node);
            let Some(raw) =
                self.item::<RawCheck>(node, RawCheck::KEYS, &["id", "layer", "kind"], &ctx)
            else {
                continue;
            };
            if let Some(id) = &raw.id {
                self.unique(&mut seen, "check", id, at);
            }
            let layer_ok = match &raw.layer {
                Some(l) => self.layer_ref(l, at, format!("{ctx} belongs to")),
                None => false,
            };
            if let (Some(id), Some(l)) = (&raw.id, &raw.layer) {
                self.check_layers
                    .entry(id.as_str().to_owned())
                    .or_insert_with(|| l.as_str().to_owned());
            }
            let map = node.as_mapping();
            let kind = raw.kind.as_ref().and_then(|k| {
                if k.as_str() == "manual" {
                    return Some(None);
                }
                if let Some(s) = ScheduledKind::from_name(k.as_str()) {
                    return Some(Some(s));
                }
                let names = std::iter::once("manual").chain(ScheduledKind::ALL.map(|s| s.name()));
                let h = self.diags.hint(k.as_str(), names);
                self.diags.error(
                    text_pos(k, at),
                    format!(
                        "{ctx} has unknown kind \"{}\" (expected manual, reconcile, rollup, attribution, event_flow, payout, record_sync or event_match){h}",
                        k.as_str(),
                    ),
                );
                None
            });
            if let (Some(Some(_)), Some(id)) = (kind, &raw.id) {
                self.scheduled.insert(id.as_str().to_owned());
            }
            let mut schedule = None;
            match kind {
                Some(None) => {
                    if let Some(s) = &raw.schedule {
                        let pos = map
                            .and_then(|m| key_pos(m, "schedule"))
                            .unwrap_or(text_pos(s, at));
                        self.diags
                            .error(pos, format!("{ctx} is manual and cannot have a schedule"));
                    }
                    if let Some(pos) = map
                        .filter(|_| raw.params.is_some())
                        .and_then(|m| key_pos(m, "params"))
                    {
                        self.diags
                            .error(pos, format!("{ctx} is manual and cannot have params"));
                    }
                }
                Some(Some(k)) => match &raw.schedule {
                    Some(s) => schedule = self.schedule(s, at, &ctx),
                    None => {
                        let has_key = map.is_some_and(|m| m.get_node("schedule").is_some());
                        if !has_key {
                            self.diags.error(
                                at,
                                format!(
                                    "{ctx} of kind \"{}\" needs a schedule (5-field cron, e.g. \"0 7 * * *\")",
                                    k.name()
                                ),
                            );
                        }
                    }
                },
                None => {}
            }
            let params = match map.and_then(|m| m.get_node("params")) {
                Some(Node::Mapping(pm)) if raw.params.is_some() => pm
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), param(v)))
                    .collect(),
                _ => Vec::new(),
            };
            if let (Some(Some(k)), Some(Node::Mapping(pm))) =
                (kind, map.and_then(|m| m.get_node("params")))
                && let Err(errors) =
                    crate::check_config::CheckConfig::from_params_in(k, &params, &self.vocabulary)
            {
                for e in errors {
                    let pos = crate::check_config::locate(pm, &e, at);
                    self.diags.error(pos, format!("{ctx}: {}", e.message));
                }
            } else if let Some(Some(k)) = kind
                && raw.params.is_none()
                && let Err(errors) =
                    crate::check_config::CheckConfig::from_params_in(k, &[], &self.vocabulary)
            {
                for e in errors {
                    self.diags.error(at, format!("{ctx}: {}", e.message));
                }
            }
            let sources = self.check_sources(raw.sources.as_ref(), kind, at, &ctx);
            if let (Some(id), Some(layer), Some(kind), true) = (raw.id, raw.layer, kind, layer_ok) {
                let kind = match kind {
                    None => CheckKind::Manual,
                    Some(kind) => CheckKind::Scheduled { kind, params },
                };
                if kind == CheckKind::Manual || schedule.is_some() {
                    out.push(Check {
                        id: id.as_str().to_owned(),
                        layer: layer.as_str().to_owned(),
                        description: raw
                            .description
                            .map(|d| d.as_str().to_owned())
                            .unwrap_or_default(),
                        kind,
                        schedule,
                        sources,
                    });
                }
            }
        }
        out
    }

    /// A check's `sources:` (role -> source id): known roles, known sources, none on a
    /// manual check, and the roles its kind reads ([`kind_roles`]).
    fn check_sources(
        &mut self,
        raw: Option<&HashMap<Spanned<String>, Spanned<String>>>,
        kind: Option<Option<ScheduledKind>>,
        at: Pos,
        ctx: &str,
    ) -> Vec<(String, String)> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        if kind == Some(None) {
            self.diags
                .error(at, format!("{ctx} is manual and cannot read sources"));
            return Vec::new();
        }
        let mut out = Vec::new();
        let roles = match kind {
            Some(Some(k)) => Some(kind_roles(k)),
            _ => None,
        };
        for (role, id) in raw {
            if !SOURCE_ROLES.contains(&role.as_str()) {
                self.diags.error(
                    text_pos(role, at),
                    format!(
                        "{ctx} names unknown source role \"{}\" (expected {}){}",
                        role.as_str(),
                        SOURCE_ROLES.join(", "),
                        hint(role.as_str(), SOURCE_ROLES)
                    ),
                );
                continue;
            }
            if !self.source_ids.contains(id.as_str()) {
                let h = self.diags.hint(id.as_str(), self.source_ids.iter());
                self.diags.error(
                    text_pos(id, at),
                    format!("{ctx} reads unknown source \"{}\"{h}", id.as_str()),
                );
                continue;
            }
            if let (Some((_, spec)), Some(Some(k))) = (roles, kind) {
                let Some(r) = spec.iter().find(|r| r.name == role.as_str()) else {
                    let names: Vec<&str> = spec.iter().map(|r| r.name).collect();
                    self.diags.error(
                        text_pos(role, at),
                        format!(
                            "{ctx} (kind {}) reads no \"{}\" source; its roles are {}",
                            k.name(),
                            role.as_str(),
                            quoted_list(&names)
                        ),
                    );
                    continue;
                };
                let rows = self
                    .source_rows
                    .get(id.as_str())
                    .map_or("aggregate", String::as_str);
                if rows != r.rows {
                    self.diags.error(
                        text_pos(id, at),
                        format!(
                            "{ctx} reads source \"{}\" as \"{}\", which must be a \"rows: {}\" source; \"{}\" has rows: {rows}",
                            id.as_str(),
                            r.name,
                            r.rows,
                            id.as_str()
                        ),
                    );
                    continue;
                }
            }
            out.push((role.as_str().to_owned(), id.as_str().to_owned()));
        }
        out.sort();
        if let Some((why, spec)) = roles {
            for r in spec.iter().filter(|r| r.required) {
                if !raw.keys().any(|k| k.as_str() == r.name) {
                    self.diags
                        .error(at, format!("{ctx} {why}; its sources need \"{}\"", r.name));
                }
            }
        }
        out
    }

    fn schedule(&mut self, s: &Spanned<String>, at: Pos, ctx: &str) -> Option<Schedule> {
        let pos = text_pos(s, at);
        let expr = s.as_str().trim();
        let fields = expr.split_whitespace().count();
        if fields != 5 && fields != 6 {
            self.diags.error(
                pos,
                format!(
                    "{ctx} has invalid schedule \"{}\": expected 5 cron fields (minute hour day-of-month month day-of-week), or 6 with seconds first, found {fields}",
                    s.as_str()
                ),
            );
            return None;
        }
        // Five fields run at second 0; a sixth, leading field gives the seconds.
        let six = if fields == 5 {
            format!("0 {expr}")
        } else {
            expr.to_owned()
        };
        match cron::Schedule::from_str(&six) {
            Ok(cron) => Some(Schedule {
                expression: expr.to_owned(),
                cron,
            }),
            Err(e) => {
                // The cron crate renders the expression and a caret first; keep the reason.
                let text = e.to_string();
                let reason = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty() && l.trim() != "^")
                    .unwrap_or("not a valid cron expression")
                    .trim()
                    .to_owned();
                self.diags.error(
                    pos,
                    format!(
                        "{ctx} has invalid schedule \"{}\": {reason} (expected 5 cron fields: minute hour day-of-month month day-of-week)",
                        s.as_str()
                    ),
                );
                None
            }
        }
    }

    fn phases(&mut self, items: &[Node]) -> Vec<Phase> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, node) in items.iter().enumerate() {
            let ctx = label("phase", node, i);
            let at = node_pos(node);
            let Some(raw) =
                self.item::<RawPhase>(node, RawPhase::KEYS, &["id", "goal", "owners"], &ctx)
            else {
                continue;
            };
            if let Some(id) = &raw.id {
                self.unique(&mut seen, "phase", id, at);
            }
            let mut owners = Vec::new();
            if let Some(list) = &raw.owners {
                if list.is_empty() {
                    let pos = node
                        .as_mapping()
                        .and_then(|m| key_pos(m, "owners"))
                        .unwrap_or(at);
                    self.diags
                        .error(pos, format!("{ctx} has no owners; name at least one layer"));
                }
                for o in list {
                    if self.layer_ref(o, at, format!("{ctx} is owned by")) {
                        owners.push(o.as_str().to_owned());
                    }
                }
            }
            let mut exit = Vec::new();
            let exit_nodes = match node.as_mapping().and_then(|m| m.get_node("exit")) {
                Some(Node::Sequence(s)) if raw.exit.is_some() => s.as_slice(),
                _ => &[],
            };
            let exit_ok = raw.exit.is_some()
                || node
                    .as_mapping()
                    .is_none_or(|m| m.get_node("exit").is_none());
            if exit_nodes.is_empty() && exit_ok {
                self.diags.warn(
                    at,
                    format!("{ctx} has no exit condition; it can be left at any time"),
                );
            }
            for (j, c) in exit_nodes.iter().enumerate() {
                let cctx = match peek_id(c) {
                    Some(id) => format!("condition \"{}\"", short(&id)),
                    None => format!("exit condition #{} of {ctx}", j + 1),
                };
                if let Some(cond) = self.condition(c, &cctx, &owners) {
                    exit.push(cond);
                }
            }
            self.clean_days_checks(&mut exit, at, &ctx);
            if let (Some(id), Some(goal)) = (raw.id, raw.goal) {
                out.push(Phase {
                    id: id.as_str().to_owned(),
                    goal: goal.as_str().to_owned(),
                    owners,
                    exit,
                });
            }
        }
        out
    }

    fn duration(
        &mut self,
        s: &Spanned<String>,
        at: Pos,
        ctx: &str,
        key: &str,
    ) -> Option<TimeDelta> {
        match parse_duration(s.as_str()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.diags
                    .error(text_pos(s, at), format!("{key} of {ctx}: {e}"));
                None
            }
        }
    }

    fn condition(&mut self, node: &Node, ctx: &str, phase_owners: &[String]) -> Option<Condition> {
        let at = node_pos(node);
        let raw = self.item::<RawCondition>(node, RawCondition::KEYS, &["id"], ctx)?;
        let map = node.as_mapping()?;
        if let Some(id) = &raw.id {
            let pos = text_pos(id, at);
            if let Some(first) = self.condition_ids.get(id.as_str()) {
                self.diags.error(
                    pos,
                    format!(
                        "duplicate condition id \"{}\"; first defined on line {first}",
                        id.as_str()
                    ),
                );
            } else {
                self.condition_ids.insert(id.as_str().to_owned(), pos.line);
            }
        }

        let kinds: Vec<&str> = map
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| RawCondition::KINDS.contains(k))
            .collect();
        match kinds.as_slice() {
            [] => {
                self.diags.error(
                    at,
                    format!(
                        "{ctx} needs exactly one of check, signoff, min_duration, variances, inventory, clean_days, any or all; found none"
                    ),
                );
                return None;
            }
            [_] => {}
            [_, second, ..] => {
                self.diags.error(
                    key_pos(map, second).unwrap_or(at),
                    format!(
                        "{ctx} has {}; a condition is exactly one of check, signoff, min_duration, variances, inventory, clean_days, any or all",
                        quoted_list(&kinds)
                    ),
                );
                return None;
            }
        }
        let kind = kinds[0];
        if kind != "check" {
            for k in RawCondition::CHECK_ONLY {
                if let Some(pos) = key_pos(map, k) {
                    self.diags.error(
                        pos,
                        format!("\"{k}\" of {ctx} only applies to a check condition, not {kind}"),
                    );
                }
            }
        }

        let mut owner_override = None;
        if let Some(o) = &raw.owner {
            let names = OneOrMany::located(o);
            if names.is_empty() {
                self.diags.error(
                    Pos::of_span_or(o.span(), at),
                    format!("{ctx} has an empty owner list; name at least one layer"),
                );
            }
            let mut ok = Vec::new();
            for n in &names {
                if self.layer_ref(n, at, format!("{ctx} is owned by")) {
                    ok.push(n.as_str().to_owned());
                }
            }
            owner_override = Some(ok);
        }

        let (kind, default_owners) = match kind {
            "check" => {
                let check = raw.check.as_ref()?;
                let name = check.as_str().to_owned();
                self.used_checks.insert(name.clone());
                if !self.check_ids.contains(&name) {
                    let h = self.diags.hint(&name, self.check_ids.iter());
                    self.diags.error(
                        text_pos(check, at),
                        format!("{ctx} refers to unknown check \"{name}\"{h}"),
                    );
                }
                let outcomes = self.outcomes(&raw, at, ctx);
                let consecutive = match &raw.consecutive {
                    None => Some(1),
                    Some(n) => match u32::try_from(**n) {
                        Ok(v) if v >= 1 => Some(v),
                        _ => {
                            self.diags.error(
                                Pos::of_span_or(n.span(), at),
                                format!("consecutive of {ctx} must be at least 1, found {}", **n),
                            );
                            None
                        }
                    },
                };
                let fresh_within = match &raw.fresh_within {
                    None => Some(None),
                    Some(s) => self.duration(s, at, ctx, "fresh_within").map(Some),
                };
                let owners: Vec<String> =
                    self.check_layers.get(&name).cloned().into_iter().collect();
                (
                    ConditionKind::CheckOutcome {
                        check: name,
                        outcomes: outcomes?,
                        consecutive: consecutive?,
                        fresh_within: fresh_within?,
                    },
                    owners,
                )
            }
            "signoff" => {
                let list = raw.signoff.as_ref()?;
                let names = OneOrMany::located(list);
                if names.is_empty() {
                    self.diags.error(
                        Pos::of_span_or(list.span(), at),
                        format!("{ctx} has an empty signoff list; name at least one layer"),
                    );
                }
                let mut layers = Vec::new();
                for n in &names {
                    if self.layer_ref(n, at, format!("{ctx} asks for a sign-off from")) {
                        layers.push(n.as_str().to_owned());
                    }
                }
                (
                    ConditionKind::SignOff {
                        layers: layers.clone(),
                    },
                    layers,
                )
            }
            "variances" => {
                let value = map.get_node("variances")?;
                let layer_ids = &self.layer_ids;
                let mut layer_ok = |n: &Spanned<String>, what: &str, diags: &mut Diags| {
                    if layer_ids.contains(n.as_str()) {
                        return true;
                    }
                    let h = diags.hint(n.as_str(), layer_ids.iter());
                    diags.error(
                        text_pos(n, at),
                        format!("{what} unknown layer \"{}\"{h}", n.as_str()),
                    );
                    false
                };
                let g = crate::variance_policy::gate(
                    value,
                    ctx,
                    &self.vocabulary,
                    self.diags,
                    &mut layer_ok,
                )?;
                let owners = if !g.accepted_by.is_empty() {
                    g.accepted_by.clone()
                } else if !g.layers.is_empty() {
                    g.layers.clone()
                } else {
                    phase_owners.to_vec()
                };
                (ConditionKind::Variances(g), owners)
            }
            "inventory" => {
                let value = map.get_node("inventory")?;
                crate::inventory::gate(value, ctx, self.diags)?;
                (ConditionKind::Inventory, phase_owners.to_vec())
            }
            "clean_days" => {
                let n = raw.clean_days.as_ref()?;
                let days = match u32::try_from(**n) {
                    Ok(v) if (1..=366).contains(&v) => v,
                    _ => {
                        self.diags.error(
                            Pos::of_span_or(n.span(), at),
                            format!(
                                "clean_days of {ctx} must be a number of days from 1 to 366, found {}",
                                **n
                            ),
                        );
                        return None;
                    }
                };
                // The phase's scheduled checks are filled in once the phase is read.
                (
                    ConditionKind::CleanDays {
                        days,
                        checks: Vec::new(),
                    },
                    phase_owners.to_vec(),
                )
            }
            "min_duration" => {
                let s = raw.min_duration.as_ref()?;
                let d = self.duration(s, at, ctx, "min_duration")?;
                (ConditionKind::MinDuration(d), phase_owners.to_vec())
            }
            combinator => {
                let children = match map.get_node(combinator) {
                    Some(Node::Sequence(s)) => s.as_slice(),
                    _ => &[],
                };
                if children.is_empty() {
                    self.diags.error(
                        key_pos(map, combinator).unwrap_or(at),
                        format!("{ctx} has an empty {combinator} list; add at least one condition"),
                    );
                }
                let mut kids = Vec::new();
                for (j, child) in children.iter().enumerate() {
                    let cctx = match peek_id(child) {
                        Some(id) => format!("condition \"{}\"", short(&id)),
                        None => format!("condition #{} under {ctx}", j + 1),
                    };
                    if let Some(k) = self.condition(child, &cctx, phase_owners) {
                        kids.push(k);
                    }
                }
                let kind = if combinator == "any" {
                    ConditionKind::Any(kids)
                } else {
                    ConditionKind::All(kids)
                };
                (kind, phase_owners.to_vec())
            }
        };
        Some(Condition {
            id: raw.id?.as_str().to_owned(),
            owners: owner_override.unwrap_or(default_owners),
            kind,
        })
    }

    fn outcomes(&mut self, raw: &RawCondition, at: Pos, ctx: &str) -> Option<Vec<Outcome>> {
        let Some(list) = &raw.outcome else {
            return Some(vec![Outcome::Pass]);
        };
        let names = OneOrMany::located(list);
        if names.is_empty() {
            self.diags.error(
                Pos::of_span_or(list.span(), at),
                format!("{ctx} has an empty outcome list; use pass, warn or fail"),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for n in &names {
            let pos = text_pos(n, at);
            match Outcome::from_str(n.as_str()) {
                Ok(o) if o.can_satisfy() => {
                    if !out.contains(&o) {
                        out.push(o);
                    }
                }
                Ok(o) => {
                    self.diags.error(
                        pos,
                        format!(
                            "{ctx} lists outcome \"{o}\", which never satisfies a condition; use pass, warn or fail"
                        ),
                    );
                    ok = false;
                }
                Err(_) => {
                    let h = self
                        .diags
                        .hint(n.as_str(), Outcome::ALL.map(Outcome::as_str));
                    self.diags.error(
                        pos,
                        format!(
                            "{ctx} has unknown outcome \"{}\" (expected pass, warn or fail){h}",
                            n.as_str()
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn unused_checks(&mut self, checks_node: Option<&Node>) {
        let Some(Node::Sequence(items)) = checks_node else {
            return;
        };
        let mut warned = HashSet::new();
        for node in items.iter() {
            let Some(map) = node.as_mapping() else {
                continue;
            };
            let Some(id) = map.get_scalar("id") else {
                continue;
            };
            if !id.as_str().is_empty()
                && !self.used_checks.contains(id.as_str())
                && warned.insert(id.as_str().to_owned())
            {
                self.diags.warn(
                    Pos::of_span(id.span()),
                    format!(
                        "check \"{}\" is not used by any exit condition",
                        id.as_str()
                    ),
                );
            }
        }
    }
}
