//! "Did you mean" suggestions for misspelt names (keys, ids, kinds, zones, currencies).

/// The closest candidate to `input`, if one is close enough to be a plausible typo.
///
/// A case-insensitive exact match wins; then a candidate ending in `/input` (time zones
/// written without their region); then the smallest edit distance within about a third of
/// the input's length.
pub(crate) fn closest<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = input.to_lowercase();
    let suffix = format!("/{lower}");
    let limit = (input.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        if cand == input {
            continue;
        }
        let cand_lower = cand.to_lowercase();
        let score = if cand_lower == lower {
            0
        } else if !lower.is_empty() && cand_lower.ends_with(&suffix) {
            1
        } else {
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
    match closest(input, candidates) {
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
}
