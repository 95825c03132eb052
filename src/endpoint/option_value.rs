//! Parsing and displaying option values; `parse(display(v)) == v` for every value.

use super::name::check_name;
use super::option_spec::{OptionValue, ValueKind};
use std::fmt;
use std::time::Duration;

const SIZE_UNITS: &[(&str, u64)] = &[
    ("gib", 1 << 30),
    ("mib", 1 << 20),
    ("kib", 1 << 10),
    ("gb", 1 << 30),
    ("mb", 1 << 20),
    ("kb", 1 << 10),
    ("g", 1 << 30),
    ("m", 1 << 20),
    ("k", 1 << 10),
    ("b", 1),
];

/// Parses `text` as a value of `kind`; `None` when it is not one.
pub(crate) fn parse_value(kind: ValueKind, text: &str) -> Option<OptionValue> {
    match kind {
        ValueKind::Size { min, max } => parse_size(text)
            .filter(|n| (min..=max).contains(n))
            .map(OptionValue::Size),
        ValueKind::Duration => parse_duration(text).map(OptionValue::Duration),
        ValueKind::Timeout => parse_duration(text)
            .filter(|d| !d.is_zero())
            .map(OptionValue::Duration),
        ValueKind::Bool => parse_bool(text).map(OptionValue::Bool),
        ValueKind::Choice(words) => words
            .iter()
            .find(|word| **word == text)
            .map(|word| OptionValue::Choice(word)),
        ValueKind::Mode => parse_mode(text).map(OptionValue::Mode),
        ValueKind::Uint { min, max } | ValueKind::Count { min, max, .. } => Some(text)
            .filter(|t| is_digits(t))
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|n| (min..=max).contains(n))
            .map(OptionValue::Uint),
        ValueKind::UidList => parse_uid_list(text).map(OptionValue::UidList),
        ValueKind::Name => check_name(text)
            .ok()
            .map(|()| OptionValue::Name(text.to_owned())),
    }
}

/// One or more ASCII digits and nothing else (Rust's integer parsing also takes a sign).
fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_size(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = SIZE_UNITS
        .iter()
        .find_map(|(suffix, unit)| lower.strip_suffix(suffix).map(|d| (d, *unit)))
        .unwrap_or((lower.as_str(), 1));
    if !is_digits(digits) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// `250ms`, `5s`, `1.5s`, `2m`, `1h` (a bare number is seconds), to the millisecond: a
/// fraction that is not a whole number of milliseconds (`1.5ms`) is refused.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, millis_per_unit) = if let Some(d) = text.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = text.strip_suffix('s') {
        (d, 1_000)
    } else if let Some(d) = text.strip_suffix('m') {
        (d, 60_000)
    } else if let Some(d) = text.strip_suffix('h') {
        (d, 3_600_000)
    } else {
        (text, 1_000)
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) if is_digits(fraction) => (whole, fraction),
        Some(_) => return None,
        None => (number, ""),
    };
    if !is_digits(whole) {
        return None;
    }
    let mut millis = whole.parse::<u64>().ok()?.checked_mul(millis_per_unit)?;
    // The fraction in units of 10^-len, times the unit: whole milliseconds only.
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        let scale = 10u64.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        let scaled = fraction.parse::<u64>().ok()?.checked_mul(millis_per_unit)?;
        if scaled % scale != 0 {
            return None;
        }
        millis = millis.checked_add(scaled / scale)?;
    }
    Some(Duration::from_millis(millis))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.len() > 4 || !is_digits(digits) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o777)
}

fn parse_uid_list(text: &str) -> Option<Vec<u32>> {
    text.split(',')
        .map(|uid| {
            if !is_digits(uid) {
                None
            } else {
                uid.parse::<u32>().ok()
            }
        })
        .collect()
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Size(bytes) => {
                let unit = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
                    .into_iter()
                    .find(|(_, unit)| *bytes != 0 && bytes % unit == 0);
                match unit {
                    Some((suffix, unit)) => write!(f, "{}{suffix}", bytes / unit),
                    None => write!(f, "{bytes}"),
                }
            }
            OptionValue::Duration(duration) => {
                let millis = duration.as_millis();
                if millis != 0 && millis % 1000 == 0 {
                    write!(f, "{}s", millis / 1000)
                } else {
                    write!(f, "{millis}ms")
                }
            }
            OptionValue::Bool(value) => write!(f, "{value}"),
            OptionValue::Choice(word) => f.write_str(word),
            OptionValue::Mode(mode) => write!(f, "{mode:04o}"),
            OptionValue::Uint(n) => write!(f, "{n}"),
            OptionValue::UidList(uids) => {
                let list: Vec<String> = uids.iter().map(u32::to_string).collect();
                f.write_str(&list.join(","))
            }
            OptionValue::Name(name) => f.write_str(name),
        }
    }
}
