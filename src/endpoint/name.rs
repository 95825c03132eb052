//! The name rules for `pipe://`, `shm://`, `mq://` and `mem://` endpoints.

/// Longest name accepted. Short enough for every OS's limit once a prefix is added
/// (`/dev/shm/anyipc-…`, a Unix socket path of at most 108 bytes, `\\.\pipe\…`).
pub(crate) const MAX_NAME_LEN: usize = 64;

/// Checks `name` against the rules: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, not
/// starting with `.` or `-`. On failure returns the reason, written for an error message.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name needs at least one character".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "a name has at most {MAX_NAME_LEN} characters, this one has {}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{bad:?} is not allowed: use ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err("a name may not start with '.' or '-'".to_owned());
    }
    Ok(())
}

/// [`check_name`] as an `InvalidInput` error naming the `what` (`"queue"`, `"region"`): for
/// the APIs that take a bare name rather than a URL.
pub(crate) fn check_bare_name(name: &str, what: &str) -> std::io::Result<()> {
    check_name(name).map_err(|reason| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{name:?} is not a valid {what} name: {reason}"),
        )
    })
}
