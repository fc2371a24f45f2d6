//! The variance classifier: given the non-matching keys of one check run (and the evidence
//! around them: the matching keys, earlier pulls, hourly series, both hierarchies, coupon
//! owners, row caps, status splits), it *proposes* a cause for each variance with a
//! confidence and evidence, and groups the variances that share one cause. It never
//! accepts anything: a person does (the register, later). When a rule cannot verify its
//! signature tightly the proposal is `None` and the variance stays unexplained; a real
//! defect (lost days, a wrong rate, duplicated rows, noise) must end there.
//!
//! Pure: plain data in, plain data out. The rules, their evidence and their limits are in
//! docs/explainability.md.

mod rules;

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use chrono::NaiveDate;
use cutover_plan::MetricKind;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{HierarchyRow, Metric};

/// The causes the classifier knows (the names are part of the register's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    TzShift,
    Fx,
    Rounding,
    GrossUnique,
    StatusScope,
    LateData,
    Hierarchy,
    AttributionSwap,
    CouponPrecedence,
    Truncation,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::TzShift,
        Category::Fx,
        Category::Rounding,
        Category::GrossUnique,
        Category::StatusScope,
        Category::LateData,
        Category::Hierarchy,
        Category::AttributionSwap,
        Category::CouponPrecedence,
        Category::Truncation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::TzShift => "tz_shift",
            Category::Fx => "fx",
            Category::Rounding => "rounding",
            Category::GrossUnique => "gross_unique",
            Category::StatusScope => "status_scope",
            Category::LateData => "late_data",
            Category::Hierarchy => "hierarchy",
            Category::AttributionSwap => "attribution_swap",
            Category::CouponPrecedence => "coupon_precedence",
            Category::Truncation => "truncation",
        }
    }

    /// The category called `name` (`None` outside the list).
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a variance is about: (check, partner, day, metric [, link, coupon]). The partner
/// is the id the check compared under (the old platform's, after mapping).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VarianceKey {
    pub check: String,
    pub partner: String,
    pub day: NaiveDate,
    pub metric: Metric,
    pub link: Option<String>,
    pub coupon: Option<String>,
}

/// The parts of a side's value that are not approved (pending, rejected), where the
/// source breaks them out. Zero when a side has none or does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusSplit {
    pub old_pending: Decimal,
    pub old_rejected: Decimal,
    pub new_pending: Decimal,
    pub new_rejected: Decimal,
}

/// An earlier pull of the same key (a re-pull), oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repull {
    pub pulled_on: NaiveDate,
    pub old: Decimal,
    pub new: Decimal,
}

/// One compared key of a check run: both sides' values and what is known around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub key: VarianceKey,
    pub old: Decimal,
    pub new: Decimal,
    /// Count or money, from the plan's metric vocabulary.
    pub kind: MetricKind,
    /// ISO 4217 codes of money values (`None` for counts).
    pub old_currency: Option<String>,
    pub new_currency: Option<String>,
    /// How many source rows each side summed into the value (0: the key is absent there).
    pub old_rows: u32,
    pub new_rows: u32,
    /// The non-approved parts of each side, when the sources break them out.
    pub status: Option<StatusSplit>,
    /// Earlier pulls of this key, oldest first (empty: never pulled before).
    pub history: Vec<Repull>,
}

impl Observation {
    /// A count or money observation with one row a side and nothing else known.
    pub fn new(key: VarianceKey, kind: MetricKind, old: Decimal, new: Decimal) -> Observation {
        Observation {
            key,
            old,
            new,
            kind,
            old_currency: None,
            new_currency: None,
            old_rows: 1,
            new_rows: 1,
            status: None,
            history: Vec::new(),
        }
    }

    pub fn delta(&self) -> Option<Decimal> {
        self.new.checked_sub(self.old)
    }
}

/// The old platform's value of one (partner, metric, day) by hour of its day (hour 0 is
/// the first hour of the old platform's day), e.g. from its events' timestamps or an
/// hourly report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourlySeries {
    pub partner: String,
    pub metric: Metric,
    pub day: NaiveDate,
    pub values: [Decimal; 24],
}

/// A pull of one side of a check, with the row cap it ran into, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullInfo {
    pub check: String,
    /// `true`: the new platform's side; `false`: the old platform's.
    pub new_side: bool,
    /// `None`: the pull covered every partner; else the partner it was for.
    pub partner: Option<String>,
    pub rows: u64,
    /// The source's documented row cap (10,000 on Everflow and CAKE...).
    pub cap: Option<u64>,
    /// The source said its result is incomplete (Everflow's `incomplete_results`).
    pub incomplete: bool,
}

/// Both platforms' partner trees (ids as the check compares them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hierarchies {
    pub old: Vec<HierarchyRow>,
    pub new: Vec<HierarchyRow>,
}

/// Everything the classifier reads for one check run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassifyInput {
    /// The last day of the run's window (recent days are counted back from it).
    pub as_of: Option<NaiveDate>,
    /// The non-matching keys: one proposal (or none) is returned for each, in this order.
    pub variances: Vec<Observation>,
    /// The keys that matched (within tolerance): evidence that "the rest is equal". A
    /// rule that needs such evidence and does not find it proposes nothing.
    pub matching: Vec<Observation>,
    pub hourly: Vec<HourlySeries>,
    pub hierarchies: Option<Hierarchies>,
    /// (coupon, owning partner).
    pub coupon_owners: Vec<(String, String)>,
    pub pulls: Vec<PullInfo>,
}

/// Why a cause is proposed: structured facts and one sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub facts: BTreeMap<String, String>,
    pub sentence: String,
}

/// A proposed cause for one variance (never an acceptance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    pub category: Category,
    /// 0..1, two decimals.
    pub confidence: Decimal,
    /// The group this variance belongs to (index into [`Classification::groups`]).
    pub group: usize,
    pub evidence: Evidence,
}

/// Variances that share one cause, proposed together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Stable id: category, check and partners (e.g. `tz_shift:reconcile:P-2572`).
    pub id: String,
    pub category: Category,
    pub check: String,
    pub partners: Vec<String>,
    /// e.g. "partner P-2572: count metrics shifted 2 h, 84 keys".
    pub title: String,
    pub confidence: Decimal,
    pub evidence: Evidence,
    /// Indexes into [`ClassifyInput::variances`].
    pub members: Vec<usize>,
}

/// The classifier's answer: one entry per input variance, and the groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub proposals: Vec<Option<Proposal>>,
    pub groups: Vec<Group>,
}

impl Classification {
    /// How many variances have a proposal.
    pub fn proposed(&self) -> usize {
        self.proposals.iter().filter(|p| p.is_some()).count()
    }
}

/// Proposes a cause for each variance of `input`, or none. Deterministic: the same input
/// gives the same answer.
pub fn classify(input: &ClassifyInput) -> Classification {
    let ctx = rules::Ctx::new(input);
    let mut claims = Claims::new(input.variances.len());
    rules::run_all(&ctx, &mut claims);
    claims.finish(input)
}

/// One rule's finding before grouping: members, confidence and evidence.
pub(crate) struct Claim {
    pub category: Category,
    pub check: String,
    pub partners: Vec<String>,
    /// What the title says after "partner P: " (e.g. "count metrics shifted 2 h").
    pub what: String,
    pub confidence: Decimal,
    pub evidence: Evidence,
    pub members: Vec<usize>,
}

/// The claims made so far; a variance belongs to the first rule that claims it.
pub(crate) struct Claims {
    owner: Vec<Option<usize>>,
    claims: Vec<Claim>,
}

impl Claims {
    fn new(n: usize) -> Claims {
        Claims {
            owner: vec![None; n],
            claims: Vec::new(),
        }
    }

    pub fn is_claimed(&self, i: usize) -> bool {
        self.owner[i].is_some()
    }

    /// Records `claim` for its members not claimed yet (nothing when none is left).
    pub fn add(&mut self, mut claim: Claim) {
        claim.members.retain(|&i| self.owner[i].is_none());
        claim.members.sort_unstable();
        claim.members.dedup();
        if claim.members.is_empty() {
            return;
        }
        let g = self.claims.len();
        for &i in &claim.members {
            self.owner[i] = Some(g);
        }
        self.claims.push(claim);
    }

    fn finish(self, input: &ClassifyInput) -> Classification {
        let mut groups = Vec::with_capacity(self.claims.len());
        let mut ids: HashSet<String> = HashSet::new();
        for c in self.claims {
            let mut partners = c.partners.clone();
            partners.sort();
            partners.dedup();
            let who = if partners.len() == 1 {
                format!("partner {}", partners[0])
            } else {
                format!("partners {}", partners.join(" and "))
            };
            let n = c.members.len();
            let title = format!(
                "{who}: {}, {n} key{}",
                c.what,
                if n == 1 { "" } else { "s" }
            );
            let mut id = format!("{}:{}:{}", c.category, c.check, partners.join("+"));
            let mut k = 2;
            while ids.contains(&id) {
                id = format!("{}:{}:{}#{k}", c.category, c.check, partners.join("+"));
                k += 1;
            }
            ids.insert(id.clone());
            groups.push(Group {
                id,
                category: c.category,
                check: c.check,
                partners,
                title,
                confidence: c.confidence,
                evidence: c.evidence,
                members: c.members,
            });
        }
        let mut proposals = vec![None; input.variances.len()];
        for (g, group) in groups.iter().enumerate() {
            for &i in &group.members {
                proposals[i] = Some(Proposal {
                    category: group.category,
                    confidence: group.confidence,
                    group: g,
                    evidence: group.evidence.clone(),
                });
            }
        }
        Classification { proposals, groups }
    }
}

/// Builds an [`Evidence`] from (name, value) facts and a sentence.
pub(crate) fn evidence<const N: usize>(facts: [(&str, String); N], sentence: String) -> Evidence {
    Evidence {
        facts: facts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        sentence,
    }
}
