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
    let bad = || format!("`{text}` is not a size from 1 B to 1 GiB; write it as 64, 4KiB or 1MiB");
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
        Some(size @ 1..=MAX_SIZE) => usize::try_from(size).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn accepts_units() {
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
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
