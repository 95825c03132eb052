//! [`Address`]: the part of an endpoint URL between `://` and `?`.

use super::name::check_name;
use super::scheme::AddressShape;
use super::Scheme;
use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

/// Where an endpoint is, in the shape its scheme uses.
///
/// ```
/// use anyipc::{Address, Endpoint};
/// let ep: Endpoint = "unix:///run/app.sock".parse().unwrap();
/// assert_eq!(ep.address(), &Address::Path("/run/app.sock".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// `host:port` of `tcp://` and `udp://`. An IPv6 host is kept without its brackets, and
    /// with its zone (the interface of a link-local address) after a `%`, as RFC 4007 writes
    /// it: the URL `tcp://[fe80::1%25eth0]:80` (RFC 6874 spells the `%` as `%25`) has the host
    /// `fe80::1%eth0`.
    ///
    /// ```
    /// use anyipc::{Address, Endpoint};
    ///
    /// let ep: Endpoint = "tcp://[fe80::1%25eth0]:80".parse()?;
    /// let host = "fe80::1%eth0".to_owned();
    /// assert_eq!(ep.address(), &Address::HostPort { host, port: 80 });
    /// assert_eq!(ep.to_string(), "tcp://[fe80::1%25eth0]:80");
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    HostPort {
        /// A host name, IPv4 or IPv6 address; an IPv6 address may end with `%zone`, an
        /// interface name or index.
        host: String,
        /// The port; 0 asks the OS for a free one when binding.
        port: u16,
    },
    /// A file-system path (`unix`, `fifo`, `file`). Percent-escapes are decoded.
    Path(PathBuf),
    /// A Linux abstract socket name: `unix://@name`.
    Abstract(String),
    /// A name (`pipe`, `shm`, `mq`, `mem`) under the name rules.
    Name(String),
    /// No address (`stdio://`).
    None,
}

impl Address {
    /// Parses the address part of a URL of `scheme`. On failure returns the reason.
    pub(crate) fn parse(scheme: Scheme, text: &str) -> Result<Address, String> {
        match scheme.address_shape() {
            AddressShape::HostPort => parse_host_port(text),
            AddressShape::Path => {
                if let Some(name) = text.strip_prefix('@').filter(|_| scheme == Scheme::Unix) {
                    // The limit is on the name itself, not on its escaped spelling.
                    let name = percent_decode(name)?;
                    check_abstract_name(&name)?;
                    return Ok(Address::Abstract(name));
                }
                if text.is_empty() {
                    return Err(format!(
                        "a path is missing; write it as {scheme}:///absolute/path"
                    ));
                }
                if let Some(rest) = localhost_prefix(text) {
                    return Err(format!(
                        "`{scheme}://localhost/…` names a host, which these URLs do not take \
                         (the path starts right after `{scheme}://`): write {scheme}://{rest} \
                         for that absolute path, or {scheme}://./{text} for a relative one"
                    ));
                }
                let path = percent_decode(text)?;
                if path.contains('\0') {
                    return Err(NUL_IN_PATH.to_owned());
                }
                Ok(Address::Path(PathBuf::from(path)))
            }
            AddressShape::Name => {
                check_name(text)?;
                Ok(Address::Name(text.to_owned()))
            }
            AddressShape::Empty if text.is_empty() => Ok(Address::None),
            AddressShape::Empty => Err(format!("{scheme}:// takes no address, found `{text}`")),
        }
    }
}

/// If `text`, a path-based URL's address as written, is `localhost` or starts with
/// `localhost/` (any case), the rest from that `/` on (`/` alone for `localhost`).
///
/// RFC 8089 reads `file://localhost/tmp/x` as the absolute path `/tmp/x`; the grammar here
/// reads everything after `scheme://` as the path, so it would be the relative path
/// `localhost/tmp/x`, silently created in the working directory. It is refused instead.
fn localhost_prefix(text: &str) -> Option<&str> {
    const HOST: &str = "localhost";
    let head = text.get(..HOST.len())?;
    let rest = &text[HOST.len()..];
    let is_host = head.eq_ignore_ascii_case(HOST) && (rest.is_empty() || rest.starts_with('/'));
    is_host.then_some(if rest.is_empty() { "/" } else { rest })
}

fn check_abstract_name(name: &str) -> Result<(), String> {
    // sun_path holds 108 bytes, one of which is the leading NUL of an abstract name.
    if name.is_empty() || name.len() > 107 {
        return Err("an abstract name has 1 to 107 bytes".to_owned());
    }
    Ok(())
}

fn parse_host_port(text: &str) -> Result<Address, String> {
    let expected = "write it as host:port, e.g. 127.0.0.1:7000 or [::1]:7000";
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (bracketed, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("an IPv6 host needs its closing `]`; {expected}"))?;
        let (ip, zone) = match bracketed.split_once('%') {
            Some((ip, zone)) => (ip, Some(parse_zone(zone)?)),
            None => (bracketed, None),
        };
        ip.parse::<Ipv6Addr>()
            .map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("the port is missing; {expected}"))?;
        let host = match zone {
            Some(zone) => format!("{ip}%{zone}"),
            None => ip.to_owned(),
        };
        (host, port)
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("the port is missing; {expected}"))?;
        if host.contains(':') {
            return Err(format!("an IPv6 host goes in brackets; {expected}"));
        }
        let host = host.to_owned();
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(format!(
                "`{host}` is not a host name or address; {expected}"
            ));
        }
        (host, port)
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{port}` is not a port number (0 to 65535)"));
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("`{port}` is not a port number (0 to 65535)"))?;
    Ok(Address::HostPort { host, port })
}

/// The zone of a bracketed IPv6 host, the part after its `%`: `25` (the escaped `%` of RFC
/// 6874), then an interface name or index, which may hold `%XX` escapes. Returns it decoded.
fn parse_zone(text: &str) -> Result<String, String> {
    let example = "e.g. [fe80::1%25eth0]:80 or [fe80::1%252]:80";
    let escaped = text.strip_prefix("25").ok_or_else(|| {
        format!("the `%` before an IPv6 zone is written `%25` in a URL (RFC 6874), {example}")
    })?;
    let zone = percent_decode(escaped)?;
    if zone.is_empty() {
        return Err(format!(
            "the IPv6 zone after `%25` is empty: name an interface or its index, {example}"
        ));
    }
    if zone.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "the IPv6 zone {zone:?} holds a space or control character: name an interface or \
             its index, {example}"
        ));
    }
    if let Some(Err(why)) = zone_index(&zone) {
        return Err(why);
    }
    Ok(zone)
}

/// A zone of digits as the interface index it is: `None` for an interface name; an error
/// for 0 (no interface has it: the OS reads it as no zone) or a number over `u32::MAX`.
pub(crate) fn zone_index(zone: &str) -> Option<Result<u32, String>> {
    if !zone.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match zone.parse::<u32>() {
        Ok(0) => Err("the IPv6 zone index 0 names no interface (indexes start at 1)".to_owned()),
        Ok(index) => Ok(index),
        Err(_) => Err(format!(
            "the IPv6 zone index `{zone}` is too large (at most {})",
            u32::MAX
        )),
    })
}

/// `path` as the address of a path-based URL writes it: `%`, `?`, `#`, spaces, control
/// characters (and a leading `@`) escaped. For URL templates filled in with a path.
pub(crate) fn escape_path(path: &Path) -> String {
    Address::Path(path.to_owned()).to_string()
}

/// The path an address written by [`escape_path`] names (for the raw bench targets, which
/// exist on Unix only).
///
/// # Errors
/// The reason, for a bad escape.
#[cfg(unix)]
pub(crate) fn unescape_path(text: &str) -> Result<PathBuf, String> {
    percent_decode(text).map(PathBuf::from)
}

/// Why a path holding a NUL byte is refused.
pub(crate) const NUL_IN_PATH: &str =
    "a path cannot hold a NUL byte (%00): no file system takes one in a name";

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits, nothing else (`from_str_radix` alone would take `%+1`).
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "`%` must start an escape such as %20".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "escapes must decode to UTF-8".to_owned())
}

/// Escapes what would not survive a round trip through the parser.
fn percent_encode(text: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for c in text.chars() {
        if matches!(c, '%' | '?' | '#' | ' ') || c.is_control() {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                write!(f, "%{byte:02X}")?;
            }
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::HostPort { host, port } if host.contains(':') => match host.split_once('%') {
                // RFC 6874: the zone's `%` is `%25`, and the zone is escaped as a URL needs.
                Some((ip, zone)) => {
                    write!(f, "[{ip}%25")?;
                    for c in zone.chars() {
                        if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') {
                            write!(f, "{c}")?;
                        } else {
                            let mut buf = [0u8; 4];
                            for byte in c.encode_utf8(&mut buf).bytes() {
                                write!(f, "%{byte:02X}")?;
                            }
                        }
                    }
                    write!(f, "]:{port}")
                }
                None => write!(f, "[{host}]:{port}"),
            },
            Address::HostPort { host, port } => write!(f, "{host}:{port}"),
            Address::Path(path) => {
                let path = path.to_string_lossy();
                // A leading `@` would read back as an abstract name, and a relative path
                // starting with `localhost` as the host form of a file URL, which is refused:
                // their first character is escaped.
                match path.chars().next() {
                    Some(first) if first == '@' || localhost_prefix(&path).is_some() => {
                        write!(f, "%{:02X}", first as u32)?;
                        percent_encode(&path[1..], f)
                    }
                    _ => percent_encode(&path, f),
                }
            }
            Address::Abstract(name) => {
                f.write_str("@")?;
                percent_encode(name, f)
            }
            Address::Name(name) => f.write_str(name),
            Address::None => Ok(()),
        }
    }
}
