//! Duration syntax used by `min_duration` and `fresh_within`: `14d`, `24h`, `90m`, `30s`,
//! `2w`, and combinations such as `1d12h`.

use chrono::TimeDelta;

/// Parses a positive duration made of `<number><unit>` parts; units are `w` (weeks), `d`
/// (days), `h` (hours), `m` (minutes) and `s` (seconds). Each unit may appear once, from
/// largest to smallest.
pub fn parse_duration(s: &str) -> Result<TimeDelta, String> {
    const EXPECTED: &str =
        "expected a number followed by w, d, h, m or s, e.g. \"14d\", \"24h\" or \"1d12h\"";
    let bad = |why: &str| format!("invalid duration \"{s}\": {why}");
    if s.trim().is_empty() {
        return Err(bad(EXPECTED));
    }
    let units: [(char, i64); 5] = [
        ('w', 7 * 86_400),
        ('d', 86_400),
        ('h', 3_600),
        ('m', 60),
        ('s', 1),
    ];
    let mut total: i64 = 0;
    let mut next_unit = 0usize;
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        let mut digits = String::new();
        while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(c);
            chars.next();
        }
        if digits.is_empty() {
            return Err(bad(EXPECTED));
        }
        let Some(unit) = chars.next() else {
            return Err(bad(&format!("\"{digits}\" has no unit; {EXPECTED}")));
        };
        let Some(idx) = units.iter().position(|(u, _)| *u == unit) else {
            return Err(bad(&format!("unknown unit \"{unit}\"; {EXPECTED}")));
        };
        if idx < next_unit {
            return Err(bad(
                "units must appear once each, largest first (w, d, h, m, s)",
            ));
        }
        next_unit = idx + 1;
        let seconds = digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(units[idx].1))
            .and_then(|n| total.checked_add(n))
            .filter(|n| *n <= 100 * 365 * 86_400);
        match seconds {
            Some(n) => total = n,
            None => return Err(bad("too long (at most 100 years)")),
        }
    }
    if total <= 0 {
        return Err(bad("must be longer than zero"));
    }
    TimeDelta::try_seconds(total).ok_or_else(|| bad("too long (at most 100 years)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_units_and_combinations() {
        assert_eq!(parse_duration("14d"), Ok(TimeDelta::days(14)));
        assert_eq!(parse_duration("24h"), Ok(TimeDelta::hours(24)));
        assert_eq!(parse_duration("90m"), Ok(TimeDelta::minutes(90)));
        assert_eq!(parse_duration("30s"), Ok(TimeDelta::seconds(30)));
        assert_eq!(parse_duration("2w"), Ok(TimeDelta::weeks(2)));
        assert_eq!(
            parse_duration("1d12h"),
            Ok(TimeDelta::days(1) + TimeDelta::hours(12))
        );
        assert_eq!(
            parse_duration("1w2d3h4m5s"),
            Ok(TimeDelta::seconds(
                7 * 86_400 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5
            ))
        );
    }

    #[test]
    fn rejects_bad_input() {
        for s in [
            "",
            " ",
            "14",
            "d",
            "14x",
            "-1d",
            "0d",
            "0h0m",
            "1h1d",
            "1d1d",
            "1.5d",
            "1 d",
            "99999999999999999999d",
            "6000w",
        ] {
            assert!(parse_duration(s).is_err(), "{s:?} should be rejected");
        }
        assert_eq!(
            parse_duration("14x"),
            Err("invalid duration \"14x\": unknown unit \"x\"; expected a number followed by w, d, h, m or s, e.g. \"14d\", \"24h\" or \"1d12h\"".to_owned())
        );
        assert_eq!(
            parse_duration("0d"),
            Err("invalid duration \"0d\": must be longer than zero".to_owned())
        );
    }
}
