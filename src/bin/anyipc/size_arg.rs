//! Message sizes on the command line (`bench --size 4KiB`, `mq create --max-message-len
//! 4KiB`), written as endpoint options write them.

/// The largest size [`parse_size`] accepts: beyond any transport's default limit, so for
/// `anyipc bench` the transport itself says what it refuses.
const MAX_SIZE: u64 = 1 << 30;

/// Parses `64`, `4096`, `4KiB`, `64kib`, `1MiB`, `1GiB` (also `KB`/`MB`/`GB` and `k`/`m`/`g`,
/// all powers of 1024). Zero and sizes over 1 GiB are refused.
///
/// # Errors
/// A message saying what is accepted, which clap turns into a usage error.
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    parse_size_up_to(text, MAX_SIZE)
}

/// Parses a size as [`parse_size`] does, refusing zero and sizes over `max` (at most 1 GiB),
/// with a message that names `max`.
///
/// # Errors
/// A message saying what is accepted, which clap turns into a usage error.
pub(crate) fn parse_size_up_to(text: &str, max: u64) -> Result<usize, String> {
    let max = max.min(MAX_SIZE);
    let bad = || {
        format!(
            "`{text}` is not a size from 1 B to {}; write it as 64, 4KiB or 1MiB",
            in_units(max)
        )
    };
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let multiplier: u64 = match unit.trim_start() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    let number: u64 = digits.parse().map_err(|_| bad())?;
    match number.checked_mul(multiplier) {
        Some(size) if (1..=max).contains(&size) => usize::try_from(size).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// `size` in the largest unit that writes it whole: `1 GiB`, `64 MiB`, `4 KiB`, `100 B`.
fn in_units(size: u64) -> String {
    let (number, unit) = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        .into_iter()
        .find(|(unit, _)| size >= *unit && size % unit == 0)
        .map_or((size, "B"), |(unit, name)| (size / unit, name));
    format!("{number} {unit}")
}

#[cfg(test)]
mod tests {
    use super::{in_units, parse_size, parse_size_up_to};

    #[test]
    fn accepts_units() {
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
    }

    #[test]
    fn a_smaller_limit_is_kept_and_named() {
        assert_eq!(parse_size_up_to("64MiB", 64 << 20), Ok(64 << 20));
        for text in ["0", "65MiB", "1GiB"] {
            let err = parse_size_up_to(text, 64 << 20).unwrap_err();
            assert!(err.contains("from 1 B to 64 MiB"), "{text}: {err}");
        }
        assert!(parse_size("2GiB").unwrap_err().contains("to 1 GiB"));
        assert_eq!(in_units(100), "100 B");
        assert_eq!(in_units(4096), "4 KiB");
        assert_eq!(in_units(1536), "1536 B");
    }

    #[test]
    fn refuses_garbage() {
        for text in [
            "",
            "0",
            "KiB",
            "4 XB",
            "-1",
            "2GiB",
            "1.5k",
            "99999999999999999999",
        ] {
            assert!(parse_size(text).is_err(), "{text}");
        }
    }
}
