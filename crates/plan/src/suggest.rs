//! "Did you mean" suggestions for misspelt names (keys, ids, kinds, zones, currencies).

/// Names longer than this (in characters) get no suggestion and are never suggested: a
/// typo is looked for in names, and the edit distance costs the product of both lengths.
const MAX_LEN: usize = 64;

/// How much one load may spend on suggestions, in characters looked at plus edit-distance
/// cells: ample for any real plan (a typo among a thousand 30-character ids costs about a
/// million), and it keeps a plan of many bad references to many ids linear, not
/// quadratic. When it runs out, further diagnostics just carry no suggestion.
pub(crate) const BUDGET: u64 = 50_000_000;

/// The closest candidate to `input`, if one is close enough to be a plausible typo.
///
/// A case-insensitive exact match wins; then a candidate ending in `/input` (time zones
/// written without their region); then the smallest edit distance within about a third of
/// the input's length.
pub(crate) fn closest<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut unlimited = u64::MAX;
    closest_within(input, candidates, &mut unlimited)
}

/// [`closest`], spending from `budget`; `None` when the budget runs out before the
/// candidates do.
pub(crate) fn closest_within<'a, I>(input: &str, candidates: I, budget: &mut u64) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let n = input.chars().count();
    if n > MAX_LEN {
        return None;
    }
    let lower = input.to_lowercase();
    let suffix = format!("/{lower}");
    let limit = (n / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        let spend = |budget: &mut u64, cost: usize| {
            let cost = cost as u64;
            if *budget < cost {
                return false;
            }
            *budget -= cost;
            true
        };
        if !spend(budget, cand.len().min(4 * MAX_LEN) + 1) {
            return None;
        }
        if cand == input || cand.len() > 4 * MAX_LEN {
            continue;
        }
        let m = cand.chars().count();
        if m > MAX_LEN {
            continue;
        }
        let cand_lower = cand.to_lowercase();
        let score = if cand_lower == lower {
            0
        } else if !lower.is_empty() && cand_lower.ends_with(&suffix) {
            1
        } else {
            if n.abs_diff(m) > limit {
                continue;
            }
            if !spend(budget, (n + 1) * (m + 1)) {
                return None;
            }
            let d = strsim::damerau_levenshtein(&lower, &cand_lower);
            if d > limit {
                continue;
            }
            d + 1
        };
        if best.is_none_or(|(b, _)| score < b) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// `; did you mean "x"?` or nothing.
pub(crate) fn hint<'a, I>(input: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    phrase(closest(input, candidates))
}

/// [`hint`], spending from `budget` (see [`BUDGET`]).
pub(crate) fn hint_within<'a, I>(input: &str, candidates: I, budget: &mut u64) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    phrase(closest_within(input, candidates, budget))
}

fn phrase(found: Option<&str>) -> String {
    match found {
        Some(c) => format!("; did you mean \"{c}\"?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_typos_case_and_suffix() {
        assert_eq!(closest("exitt", ["id", "goal", "exit"]), Some("exit"));
        assert_eq!(closest("EXIT", ["exit"]), Some("exit"));
        assert_eq!(
            closest("Malta", ["Europe/Malta", "Europe/Paris"]),
            Some("Europe/Malta")
        );
        assert_eq!(closest("zzzzzz", ["exit", "goal"]), None);
        assert_eq!(hint("gol", ["goal"]), "; did you mean \"goal\"?");
    }

    #[test]
    fn long_names_and_a_spent_budget_get_no_suggestion() {
        let long = "a".repeat(MAX_LEN + 1);
        let longer = format!("{long}b");
        assert_eq!(closest(&long, [longer.as_str()]), None);
        assert_eq!(closest("exitt", [longer.as_str(), "exit"]), Some("exit"));
        let mut budget = 1_000;
        assert_eq!(closest_within("exitt", ["exit"], &mut budget), Some("exit"));
        assert!(budget < 1_000);
        let mut budget = 10;
        assert_eq!(closest_within("exitt", ["exit"], &mut budget), None);
    }
}
