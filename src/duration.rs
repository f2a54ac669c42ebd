//! Durations as people write them in `.gitlab-ci.yml`: `500ms`, `30s`, `5m`, `1h30m`, or bare seconds.

use std::time::Duration;

/// Parses `1h30m`, `90s`, `500ms`, `2m30s` or a bare number of seconds (`45`).
///
/// Units may appear once each, largest first, as GitLab's own `timeout:` keyword reads them; a
/// value that could be misread (`5x`, `m`, `1.5m`, empty) is refused rather than guessed at.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty duration".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("'{text}' is too large"));
    }
    const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
    let mut total_ms: u64 = 0;
    let mut rest = text;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "'{text}' is not a duration (use e.g. 500ms, 30s, 5m, 1h30m)"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("'{text}' is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let position = UNITS[next_unit..]
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| {
                format!("'{text}' is not a duration (use e.g. 500ms, 30s, 5m, 1h30m)")
            })?;
        let (_, factor) = UNITS[next_unit + position];
        next_unit += position + 1;
        total_ms = number
            .checked_mul(factor)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("'{text}' is too large"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats seconds the way the tables show them: `42s`, `3m 05s`, `1h 02m`.
pub fn human(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".into();
    }
    let whole = seconds.round() as u64;
    match whole {
        0..=59 => format!("{whole}s"),
        60..=3599 => format!("{}m {:02}s", whole / 60, whole % 60),
        _ => format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("2m30s"), Ok(Duration::from_secs(150)));
        assert_eq!(parse("1s500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_could_be_misread() {
        for bad in [
            "",
            "m",
            "5x",
            "1.5m",
            "-3s",
            "30s5m",
            "5m5m",
            "ms5",
            "1 h",
            "99999999999999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(0.4), "0s");
        assert_eq!(human(42.0), "42s");
        assert_eq!(human(185.2), "3m 05s");
        assert_eq!(human(3720.0), "1h 02m");
        assert_eq!(human(f64::NAN), "-");
    }
}
