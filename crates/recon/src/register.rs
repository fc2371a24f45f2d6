//! The variance register's domain: the key a difference is kept under, its status machine
//! (`open` → `explained` → `accepted` | `rejected`; `converged`, `resolved`, `reopen`),
//! and turning one check run's findings into sightings to upsert. Pure: the store keeps
//! the rows, the CLI asks people; this module only says what is allowed.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::check::Finding;
use crate::classify::{ClassifyInput, Observation, Proposal, VarianceKey, classify};
use crate::model::Metric;
use cutover_plan::MetricKind;

/// The finding codes that are a difference worth keeping (a reconcile key that did not
/// match); `within_tolerance` and mapping findings are not.
pub const VARIANCE_CODES: [&str; 4] = ["variance", "only_old", "only_new", "currency_mismatch"];

/// Where a variance lives: (check, partner, day, metric [, link, coupon]). Partner ids are
/// the old platform's (check findings already name partners that way).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RegisterKey {
    pub check: String,
    pub partner: String,
    pub day: NaiveDate,
    pub metric: String,
    pub link: Option<String>,
    pub coupon: Option<String>,
}

impl RegisterKey {
    /// Reads a reconcile finding's subject (`partner,day,metric[,link=L][,coupon=C]`);
    /// `None` for a subject of another shape (other check kinds' findings).
    pub fn parse(check: &str, subject: &str) -> Option<RegisterKey> {
        let mut parts = subject.split(',');
        let partner = parts.next()?.to_string();
        let day = NaiveDate::parse_from_str(parts.next()?, "%Y-%m-%d").ok()?;
        let metric = parts.next()?.to_string();
        let (mut link, mut coupon) = (None, None);
        for p in parts {
            if let Some(l) = p.strip_prefix("link=") {
                link = Some(l.to_string());
            } else if let Some(c) = p.strip_prefix("coupon=") {
                coupon = Some(c.to_string());
            } else {
                return None;
            }
        }
        if partner.is_empty() || metric.is_empty() {
            return None;
        }
        Some(RegisterKey {
            check: check.to_string(),
            partner,
            day,
            metric,
            link,
            coupon,
        })
    }

    /// The key as one string (unique in the register): `check|partner|day|metric|link|coupon`.
    pub fn text(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.check,
            self.partner,
            self.day,
            self.metric,
            self.link.as_deref().unwrap_or(""),
            self.coupon.as_deref().unwrap_or("")
        )
    }
}

/// Where a variance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Found and not explained yet.
    Open,
    /// Someone gave a cause; waiting for the owning layer's acceptance.
    Explained,
    /// The owning layer accepted the explanation.
    Accepted,
    /// The owning layer rejected the explanation: a defect to fix.
    Rejected,
    /// A later run found the key matching (late data arrived).
    Converged,
    /// Fixed at the source.
    Resolved,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Open,
        Status::Explained,
        Status::Accepted,
        Status::Rejected,
        Status::Converged,
        Status::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Explained => "explained",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Converged => "converged",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Closed: nothing left to explain or accept (only `reopen` moves it).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Status::Accepted | Status::Rejected | Status::Converged | Status::Resolved
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a variance (each one is kept with who, when and why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A check run found the key not matching (first time, or again).
    Seen,
    Explain,
    Accept,
    Reject,
    Reopen,
    /// A check run covering the key's day found it matching.
    Converge,
    Resolve,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Seen => "seen",
            Action::Explain => "explain",
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Reopen => "reopen",
            Action::Converge => "converge",
            Action::Resolve => "resolve",
        }
    }
}

/// Why an action is not allowed on a variance in its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAllowed {
    pub status: Status,
    pub action: Action,
}

impl fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = match self.action {
            Action::Accept | Action::Reject => {
                " (only an explained variance is accepted or rejected)"
            }
            Action::Explain if self.status.is_closed() => " (it is closed; reopen it first)",
            Action::Reopen => " (it is open already)",
            _ => "",
        };
        write!(
            f,
            "a variance that is {} cannot be {}ed{hint}",
            self.status,
            self.action.as_str().trim_end_matches('e')
        )
    }
}

/// The status machine: where `action` takes a variance in `status`.
///
/// `Seen` keeps every status but `converged` (the difference came back: open again);
/// `explain` takes an open or explained variance (a new explanation replaces the old);
/// `accept`/`reject` an explained one; `converge` any variance not resolved; `resolve` any
/// not closed; `reopen` any variance but an open one.
pub fn next(status: Status, action: Action) -> Result<Status, NotAllowed> {
    use Status::*;
    let to = match (action, status) {
        (Action::Seen, Converged) => Some(Open),
        (Action::Seen, s) => Some(s),
        (Action::Explain, Open | Explained) => Some(Explained),
        (Action::Accept, Explained) => Some(Accepted),
        (Action::Reject, Explained) => Some(Rejected),
        (Action::Converge, Resolved) => None,
        (Action::Converge, _) => Some(Converged),
        (Action::Resolve, s) if !s.is_closed() => Some(Resolved),
        (Action::Reopen, Open) => None,
        (Action::Reopen, _) => Some(Open),
        _ => None,
    };
    to.ok_or(NotAllowed { status, action })
}

/// One non-matching key of one check run, as the register upserts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub key: RegisterKey,
    pub code: String,
    pub old: Option<Decimal>,
    pub new: Option<Decimal>,
    /// new − old (a missing side counts as zero).
    pub delta: Decimal,
    /// |delta| for a money metric in the plan currency; `None` for counts.
    pub money_impact: Option<Decimal>,
}

/// The run's findings that are register variances, keyed; findings of another shape
/// (mapping, event-level checks) are left out. `is_money` says which metrics carry money
/// (already converted to the plan currency by the check).
pub fn sightings(
    check: &str,
    findings: &[Finding],
    is_money: impl Fn(&str) -> bool,
) -> Vec<Sighting> {
    let mut out: Vec<Sighting> = Vec::new();
    // The first finding of a key stands; a set, not a scan of `out`, so a run with tens of
    // thousands of non-matching keys stays linear.
    let mut seen: std::collections::HashSet<RegisterKey> = std::collections::HashSet::new();
    for f in findings {
        if !VARIANCE_CODES.contains(&f.code) {
            continue;
        }
        let Some(key) = RegisterKey::parse(check, &f.subject) else {
            continue;
        };
        let delta = f.new.unwrap_or_default() - f.old.unwrap_or_default();
        let money_impact =
            (is_money(&key.metric) && f.code != "currency_mismatch").then(|| delta.abs());
        if !seen.insert(key.clone()) {
            continue;
        }
        out.push(Sighting {
            key,
            code: f.code.to_string(),
            old: f.old,
            new: f.new,
            delta,
            money_impact,
        });
    }
    out
}

/// Asks the classifier about a run's sightings: for each, its proposal and the id of its
/// group, or `None` (unexplained). `matching` are the run's findings that matched within
/// tolerance (evidence that the rest is equal); `kind` says a metric's kind. The
/// classifier only proposes: nothing here accepts anything.
pub fn propose(
    as_of: NaiveDate,
    sightings: &[Sighting],
    matching: &[Finding],
    kind: impl Fn(&str) -> MetricKind,
) -> Vec<Option<(Proposal, String)>> {
    let observe = |key: &RegisterKey, old: Option<Decimal>, new: Option<Decimal>| {
        let metric = Metric::parse(&key.metric).ok()?;
        let mut o = Observation::new(
            VarianceKey {
                check: key.check.clone(),
                partner: key.partner.clone(),
                day: key.day,
                metric,
                link: key.link.clone(),
                coupon: key.coupon.clone(),
            },
            kind(&key.metric),
            old.unwrap_or_default(),
            new.unwrap_or_default(),
        );
        o.old_rows = u32::from(old.is_some());
        o.new_rows = u32::from(new.is_some());
        Some(o)
    };
    // Sightings whose metric name does not parse get no proposal.
    let mut index = Vec::new();
    let mut input = ClassifyInput {
        as_of: Some(as_of),
        ..ClassifyInput::default()
    };
    for (i, s) in sightings.iter().enumerate() {
        if let Some(o) = observe(&s.key, s.old, s.new) {
            index.push(i);
            input.variances.push(o);
        }
    }
    for f in matching.iter().filter(|f| f.code == "within_tolerance") {
        let check = sightings.first().map_or("", |s| s.key.check.as_str());
        if let Some(o) =
            RegisterKey::parse(check, &f.subject).and_then(|k| observe(&k, f.old, f.new))
        {
            input.matching.push(o);
        }
    }
    let c = classify(&input);
    let mut out = vec![None; sightings.len()];
    for (j, p) in c.proposals.into_iter().enumerate() {
        if let Some(p) = p {
            let group = c.groups[p.group].id.clone();
            out[index[j]] = Some((p, group));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_from_subjects() {
        let k = RegisterKey::parse("daily", "P-1,2026-11-02,ftd_amount,coupon=X1").unwrap();
        assert_eq!(k.partner, "P-1");
        assert_eq!(k.metric, "ftd_amount");
        assert_eq!(k.coupon.as_deref(), Some("X1"));
        assert_eq!(k.text(), "daily|P-1|2026-11-02|ftd_amount||X1");
        assert!(RegisterKey::parse("daily", "new:x").is_none());
        assert!(RegisterKey::parse("daily", "P-1,2026-11-02,clicks,bogus").is_none());
    }

    #[test]
    fn the_status_machine() {
        use Status::*;
        assert_eq!(next(Open, Action::Explain), Ok(Explained));
        assert_eq!(next(Explained, Action::Accept), Ok(Accepted));
        assert_eq!(next(Explained, Action::Reject), Ok(Rejected));
        assert!(next(Open, Action::Accept).is_err());
        assert!(next(Accepted, Action::Explain).is_err());
        assert!(next(Open, Action::Reopen).is_err());
        assert_eq!(next(Accepted, Action::Reopen), Ok(Open));
        assert_eq!(next(Converged, Action::Seen), Ok(Open));
        assert_eq!(next(Accepted, Action::Seen), Ok(Accepted));
        assert_eq!(next(Explained, Action::Converge), Ok(Converged));
        assert!(next(Resolved, Action::Converge).is_err());
        let e = next(Open, Action::Accept).unwrap_err().to_string();
        assert!(e.contains("open") && e.contains("explained"), "{e}");
    }

    #[test]
    fn sightings_keep_variances_only() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let findings = vec![
            Finding::new("variance", "P-1,2026-11-02,ftd_amount", "")
                .values(Some(d("10.00")), Some(d("7.50"))),
            Finding::new("within_tolerance", "P-1,2026-11-02,clicks_gross", ""),
            Finding::new("only_old", "P-2,2026-11-02,registrations", "").values(Some(d("3")), None),
            Finding::new("unmapped_partner", "new:x", ""),
        ];
        let s = sightings("daily", &findings, |m| m == "ftd_amount");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].delta, d("-2.50"));
        assert_eq!(s[0].money_impact, Some(d("2.50")));
        assert_eq!(s[1].delta, d("-3"));
        assert_eq!(s[1].money_impact, None);
        // Two unrelated differences with nothing around them: nothing is proposed.
        let p = propose(
            NaiveDate::from_ymd_opt(2026, 11, 7).unwrap(),
            &s,
            &findings,
            |m| {
                if m == "ftd_amount" {
                    MetricKind::Money
                } else {
                    MetricKind::Count
                }
            },
        );
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(Option::is_none), "{p:?}");
    }
}
