//! Durations on the command line (`--timeout 5s`), written as endpoint options write them.

use std::time::Duration;

/// Parses `250ms`, `5s`, `1.5s`, `2m`, `1h`; a bare number is seconds. Zero is refused: a
/// limit of nothing would fail every wait.
///
/// # Errors
/// A message saying what is accepted, which clap turns into a usage error.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration; write it as 250ms, 5s, 1.5s, 2m or 1h");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(bad()),
    };
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err(format!(
            "`{text}` is no time at all, which would fail every wait at once; give more than \
             zero, such as 1ms (or leave the option out for its default)"
        )),
        Err(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn zero_is_refused_as_no_time_at_all() {
        for text in ["0", "0s", "0ms", "0.0h"] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains("no time at all"), "{text}: {err}");
        }
    }

    #[test]
    fn refuses_garbage() {
        for text in ["", "s", "5x", "-1s", "1e999", "five", "1..2s", "0", "0ms"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }
}
