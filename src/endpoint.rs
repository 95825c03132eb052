//! Endpoint URLs: one grammar for every transport.
//!
//! An endpoint is `scheme://address?key=value&…`:
//!
//! | scheme | address | example |
//! |---|---|---|
//! | `tcp`, `udp` | `host:port` (IPv6 in brackets, with a zone as `[fe80::1%25eth0]`; port 0 = any free port when binding, `InvalidInput` when connecting) | `tcp://127.0.0.1:7000` |
//! | `unix` | a path, or `@name` for a Linux abstract name | `unix:///run/app.sock` |
//! | `fifo`, `file` | a path (a relative one: `fifo://app.fifo`) | `fifo:///tmp/app.fifo` |
//! | `pipe`, `shm`, `mq`, `mem` | a name | `shm://orders` |
//! | `stdio` | nothing | `stdio://` |
//!
//! # Names
//! A name has 1 to 64 ASCII letters, digits, `.`, `_` or `-`, and does not start with `.` or
//! `-`. Paths may hold `%XX` escapes (`%20` for a space, `%3F` for `?`), which decode to
//! UTF-8; [`Endpoint::from_path`] makes the endpoint of a [`Path`] and escapes what needs it.
//!
//! The address of a path-based URL is the path itself: there is no host part, and
//! `file://localhost/tmp/x` (RFC 8089's host form of `/tmp/x`) is refused, saying to write
//! `file:///tmp/x`.
//!
//! # Options
//! Which scheme takes which query option, and the values each takes, is the table in the
//! README ("Endpoint options"). An unknown key, a bad value or a key given twice is an
//! [`EndpointParseError`] that names it and lists what is accepted.

mod address;
mod bad_message;
mod endpoint_parse_error;
mod name;
pub(crate) mod option_spec;
mod option_value;
mod scheme;
#[cfg(test)]
mod tests;

#[cfg(unix)]
pub(crate) use address::unescape_path;
pub use address::Address;
pub(crate) use address::{escape_path, zone_index};
pub use endpoint_parse_error::{EndpointParseError, ParseErrorKind};
pub use scheme::Scheme;

pub(crate) use name::check_bare_name;

use crate::codec::Framing;
use option_spec::{OptionValue, ValueKind};
use scheme::AddressShape;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Default largest message: 8 MiB.
///
/// ```
/// let ep: anyipc::Endpoint = "tcp://127.0.0.1:7000".parse()?;
/// assert_eq!(ep.max_frame(), anyipc::endpoint::DEFAULT_MAX_FRAME);
/// assert_eq!(anyipc::endpoint::DEFAULT_MAX_FRAME, 8 << 20);
/// # Ok::<(), anyipc::EndpointParseError>(())
/// ```
pub const DEFAULT_MAX_FRAME: usize = 8 << 20;
/// Largest UDP payload over IPv4.
///
/// ```
/// // The default `max_frame` of udp endpoints.
/// let ep: anyipc::Endpoint = "udp://127.0.0.1:7000".parse()?;
/// assert_eq!(ep.max_frame(), anyipc::endpoint::MAX_UDP_PAYLOAD);
/// # Ok::<(), anyipc::EndpointParseError>(())
/// ```
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// A parsed endpoint URL: scheme, address and options.
///
/// Parsing and [`Display`](fmt::Display) round-trip: `s.parse::<Endpoint>()?.to_string()`
/// parses back to an equal endpoint.
///
/// ```
/// use anyipc::{Endpoint, Scheme};
/// let ep: Endpoint = "tcp://127.0.0.1:7000?max_frame=1MiB".parse()?;
/// assert_eq!(ep.scheme(), Scheme::Tcp);
/// assert_eq!(ep.max_frame(), 1 << 20);
/// assert_eq!(ep.to_string().parse::<Endpoint>()?, ep);
/// # Ok::<(), anyipc::EndpointParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    scheme: Scheme,
    address: Address,
    options: BTreeMap<&'static str, OptionValue>,
}

impl Endpoint {
    /// Parses an endpoint URL.
    ///
    /// ```
    /// use anyipc::endpoint::ParseErrorKind;
    /// use anyipc::{Address, Endpoint};
    ///
    /// let ep = Endpoint::parse("tcp://[::1]:7000?nodelay=false")?;
    /// let host = "::1".to_owned();
    /// assert_eq!(ep.address(), &Address::HostPort { host, port: 7000 });
    /// let err = Endpoint::parse("tcp://[::1]:7000?nodelay=maybe").unwrap_err();
    /// assert!(matches!(err.kind(), ParseErrorKind::InvalidOptionValue { .. }));
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    ///
    /// # Errors
    /// [`EndpointParseError`] naming the bad part: scheme, address, option key or value.
    pub fn parse(input: &str) -> Result<Endpoint, EndpointParseError> {
        let err = |kind| EndpointParseError::new(input, kind);
        let (scheme, rest) = input
            .split_once("://")
            .ok_or_else(|| err(ParseErrorKind::MissingScheme))?;
        let scheme: Scheme = scheme
            .parse()
            .map_err(|_| err(ParseErrorKind::UnknownScheme(scheme.to_owned())))?;
        let (address, query) = match rest.split_once('?') {
            Some((address, query)) => (address, Some(query)),
            None => (rest, None),
        };
        let address = Address::parse(scheme, address)
            .map_err(|reason| err(ParseErrorKind::InvalidAddress { scheme, reason }))?;
        let mut endpoint = Endpoint {
            scheme,
            address,
            options: BTreeMap::new(),
        };
        for part in query.into_iter().flat_map(|q| q.split('&')) {
            if part.is_empty() {
                continue;
            }
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| err(ParseErrorKind::MalformedQuery(part.to_owned())))?;
            if endpoint.options.keys().any(|k| *k == key) {
                return Err(err(ParseErrorKind::DuplicateOption(key.to_owned())));
            }
            endpoint
                .insert_option(key, value)
                .map_err(|kind| EndpointParseError::new(input, kind))?;
        }
        Ok(endpoint)
    }

    /// The endpoint of a path-based scheme (`unix`, `fifo`, `file`) for `path`, without
    /// writing a URL by hand: `format!("unix://{}", path.display())` misreads a path holding
    /// `?` (the start of the options), `%` (an escape) or a leading `@` (a Linux abstract
    /// name), and those are refused or read as another endpoint. Here the path is taken as it
    /// is, and the URL [`Display`](fmt::Display) writes escapes what the parser would misread
    /// (`%`, `?`, `#`, spaces, control characters, a leading `@`), so
    /// `Endpoint::from_path(scheme, p)?.path() == Some(p)` and the URL parses back to an
    /// equal endpoint. Add options with [`with_option`](Endpoint::with_option).
    ///
    /// ```
    /// use anyipc::{Endpoint, Scheme};
    /// use std::path::Path;
    ///
    /// let path = Path::new("/tmp/50%/a?b #1.sock");
    /// let ep = Endpoint::from_path(Scheme::Unix, path)?;
    /// assert_eq!(ep.path(), Some(path));
    /// assert_eq!(ep.to_string(), "unix:///tmp/50%25/a%3Fb%20%231.sock");
    /// assert_eq!(ep.to_string().parse::<Endpoint>()?, ep);
    /// let ep = ep.with_option("framing", "lines")?;
    /// assert_eq!(ep.to_string(), "unix:///tmp/50%25/a%3Fb%20%231.sock?framing=lines");
    /// // A path, never an abstract name, even with a leading `@`.
    /// let at = Endpoint::from_path(Scheme::Unix, "@not-abstract")?;
    /// assert_eq!(at.path(), Some(Path::new("@not-abstract")));
    /// // Only the path-based schemes take a path.
    /// assert!(Endpoint::from_path(Scheme::Tcp, "/tmp/x").is_err());
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    ///
    /// A URL holds UTF-8 text, and its `%XX` escapes decode to UTF-8 only: a path that is not
    /// UTF-8 (possible on Unix) has no URL, and is refused with
    /// [`ParseErrorKind::NonUtf8Path`].
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use anyipc::endpoint::ParseErrorKind;
    /// use anyipc::{Endpoint, Scheme};
    /// use std::os::unix::ffi::OsStrExt;
    ///
    /// let latin1 = std::ffi::OsStr::from_bytes(b"/tmp/caf\xe9.fifo");
    /// let err = Endpoint::from_path(Scheme::Fifo, latin1).unwrap_err();
    /// assert_eq!(err.kind(), &ParseErrorKind::NonUtf8Path { scheme: Scheme::Fifo });
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`EndpointParseError`]: [`ParseErrorKind::InvalidAddress`] for a scheme that takes no
    /// path (`tcp`, `udp`, `pipe`, `shm`, `mq`, `mem`, `stdio`), an empty path or one holding
    /// a NUL byte; [`ParseErrorKind::NonUtf8Path`] for a path that is not UTF-8.
    pub fn from_path(
        scheme: Scheme,
        path: impl AsRef<Path>,
    ) -> Result<Endpoint, EndpointParseError> {
        let path = path.as_ref();
        let err = |kind| EndpointParseError::new(&format!("{scheme}://{}", path.display()), kind);
        let invalid = |reason: String| err(ParseErrorKind::InvalidAddress { scheme, reason });
        let takes = match scheme.address_shape() {
            AddressShape::Path => None,
            AddressShape::HostPort => Some("host:port"),
            AddressShape::Name => Some("a name"),
            AddressShape::Empty => Some("no address"),
        };
        if let Some(takes) = takes {
            return Err(invalid(format!(
                "{scheme}:// takes {takes}, not a path (a path is for unix, fifo and file)"
            )));
        }
        if path.as_os_str().is_empty() {
            return Err(invalid("the path is empty".to_owned()));
        }
        let Some(text) = path.to_str() else {
            return Err(err(ParseErrorKind::NonUtf8Path { scheme }));
        };
        if text.contains('\0') {
            return Err(invalid(address::NUL_IN_PATH.to_owned()));
        }
        Ok(Endpoint {
            scheme,
            address: Address::Path(path.to_owned()),
            options: BTreeMap::new(),
        })
    }

    /// This endpoint with option `key` set to `value` (replacing any earlier value), checked
    /// as the parser checks it.
    ///
    /// ```
    /// let ep: anyipc::Endpoint = "unix:///tmp/a.sock".parse()?;
    /// let ep = ep.with_option("framing", "lines")?;
    /// assert_eq!(ep.to_string(), "unix:///tmp/a.sock?framing=lines");
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    ///
    /// # Errors
    /// [`EndpointParseError`] when the scheme does not take `key` or `value` is not one of its
    /// values.
    pub fn with_option(mut self, key: &str, value: &str) -> Result<Endpoint, EndpointParseError> {
        let input = format!("{self}");
        self.insert_option(key, value)
            .map_err(|kind| EndpointParseError::new(&input, kind))?;
        Ok(self)
    }

    fn insert_option(&mut self, key: &str, value: &str) -> Result<(), ParseErrorKind> {
        let spec =
            option_spec::find(self.scheme, key).ok_or_else(|| ParseErrorKind::UnknownOption {
                scheme: self.scheme,
                key: key.to_owned(),
                accepted: option_spec::keys_for(self.scheme),
            })?;
        let parsed = option_value::parse_value(spec.kind, value).ok_or_else(|| {
            ParseErrorKind::InvalidOptionValue {
                key: key.to_owned(),
                value: value.to_owned(),
                expected: spec.kind.describe(),
            }
        })?;
        if spec.key == "max_frame" {
            self.check_max_frame(&parsed, value)?;
        }
        if spec.key == "mode" && matches!(self.address, Address::Abstract(_)) {
            return Err(ParseErrorKind::OptionNotApplicable {
                key: spec.key.to_owned(),
                reason: "mode= sets a socket file's permissions, and an abstract name \
                         (unix://@name) has no file: anyone on this machine may connect to it; \
                         use allow_uids= to choose who may, or bind a path"
                    .to_owned(),
            });
        }
        if spec.key == "mode" && self.scheme == Scheme::Fifo {
            if let OptionValue::Mode(mode) = parsed {
                if mode & 0o600 != 0o600 {
                    return Err(ParseErrorKind::InvalidOptionValue {
                        key: spec.key.to_owned(),
                        value: value.to_owned(),
                        expected: "an octal mode that lets the owner read and write (0600, \
                                   0620, 0640…): the reader opens the FIFO both ways"
                            .to_owned(),
                    });
                }
            }
        }
        let other = match spec.key {
            "consumer" => "framing",
            "framing" if self.scheme == Scheme::File => "consumer",
            _ => "",
        };
        if self.scheme == Scheme::File && self.options.contains_key(other) {
            return Err(ParseErrorKind::OptionNotApplicable {
                key: "consumer".to_owned(),
                reason: "consumer= names a cursor kept beside a log (file:///dir without \
                         framing=), and a plain file (framing=lines, raw or length) has no \
                         cursor: its reader starts at its beginning every time; leave out one \
                         of the two"
                    .to_owned(),
            });
        }
        self.options.insert(spec.key, parsed);
        Ok(())
    }

    /// A `max_frame` of 0 would refuse every message, and a udp one over the largest
    /// datagram could never be sent: both are refused here rather than at the first message.
    fn check_max_frame(&self, parsed: &OptionValue, value: &str) -> Result<(), ParseErrorKind> {
        let (OptionValue::Size(n) | OptionValue::Uint(n)) = *parsed else {
            return Ok(());
        };
        let max = match self.scheme {
            Scheme::Udp => MAX_UDP_PAYLOAD as u64,
            _ => u64::MAX,
        };
        if (1..=max).contains(&n) {
            return Ok(());
        }
        Err(ParseErrorKind::InvalidOptionValue {
            key: "max_frame".to_owned(),
            value: value.to_owned(),
            expected: match self.scheme {
                Scheme::Udp => format!("a size from 1 to {max} (the largest udp datagram)"),
                _ => "a size of at least 1".to_owned(),
            },
        })
    }

    /// The scheme.
    ///
    /// ```
    /// use anyipc::{Endpoint, Scheme};
    ///
    /// let ep: Endpoint = "mq://jobs".parse()?;
    /// assert_eq!(ep.scheme(), Scheme::Mq);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The address.
    ///
    /// ```
    /// use anyipc::{Address, Endpoint};
    ///
    /// let ep: Endpoint = "udp://localhost:9000".parse()?;
    /// let host = "localhost".to_owned();
    /// assert_eq!(ep.address(), &Address::HostPort { host, port: 9000 });
    /// assert_eq!(ep.address().to_string(), "localhost:9000");
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The name of a `pipe`, `shm`, `mq` or `mem` endpoint.
    ///
    /// ```
    /// use anyipc::Endpoint;
    ///
    /// assert_eq!(Endpoint::parse("shm://orders")?.name(), Some("orders"));
    /// assert_eq!(Endpoint::parse("unix:///run/app.sock")?.name(), None);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        match &self.address {
            Address::Name(name) => Some(name),
            _ => None,
        }
    }

    /// The path of a `unix`, `fifo` or `file` endpoint.
    ///
    /// ```
    /// use anyipc::Endpoint;
    /// use std::path::Path;
    ///
    /// let ep = Endpoint::parse("fifo:///tmp/my%20fifo")?;
    /// assert_eq!(ep.path(), Some(Path::new("/tmp/my fifo")));
    /// assert_eq!(Endpoint::parse("unix://@app")?.path(), None);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match &self.address {
            Address::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The value of option `key` as written in the canonical URL, if it was given.
    ///
    /// ```
    /// let ep: anyipc::Endpoint = "mq://jobs?capacity=64".parse()?;
    /// assert_eq!(ep.option("capacity").as_deref(), Some("64"));
    /// assert_eq!(ep.option("priority"), None);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn option(&self, key: &str) -> Option<String> {
        self.options
            .iter()
            .find(|(k, _)| **k == key)
            .map(|(_, v)| v.to_string())
    }

    /// How messages are cut out of the byte stream (`framing=`, default `length`). A
    /// `file://` endpoint without `framing=` is the durable log, which keeps records apart
    /// itself: [`has_framing`](Endpoint::has_framing) tells the two apart.
    ///
    /// ```
    /// use anyipc::{codec::Framing, Endpoint};
    ///
    /// assert_eq!(Endpoint::parse("tcp://127.0.0.1:7000")?.framing(), Framing::Length);
    /// let ep = Endpoint::parse("tcp://127.0.0.1:7000?framing=lines")?;
    /// assert_eq!(ep.framing(), Framing::Lines);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn framing(&self) -> Framing {
        match self.options.get("framing") {
            Some(OptionValue::Choice("lines")) => Framing::Lines,
            Some(OptionValue::Choice("raw")) => Framing::Raw,
            _ => Framing::Length,
        }
    }

    /// Whether `framing=` was given explicitly.
    ///
    /// ```
    /// use anyipc::{codec::Framing, Endpoint};
    ///
    /// // A file without `framing=` is the durable log; with it, a plain file.
    /// let log = Endpoint::parse("file:///var/lib/app/log")?;
    /// assert!(!log.has_framing());
    /// let plain = log.with_option("framing", "length")?;
    /// assert!(plain.has_framing());
    /// assert_eq!(plain.framing(), Framing::Length);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn has_framing(&self) -> bool {
        self.options.contains_key("framing")
    }

    /// Largest message either way (`max_frame=`; default 8 MiB, udp 65,507 bytes).
    ///
    /// ```
    /// use anyipc::Endpoint;
    ///
    /// let ep = Endpoint::parse("unix:///tmp/app.sock?max_frame=64KiB")?;
    /// assert_eq!(ep.max_frame(), 64 * 1024);
    /// assert_eq!(Endpoint::parse("udp://127.0.0.1:7000")?.max_frame(), 65_507);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn max_frame(&self) -> usize {
        let default = match self.scheme {
            Scheme::Udp => MAX_UDP_PAYLOAD,
            _ => DEFAULT_MAX_FRAME,
        };
        self.usize_option("max_frame").unwrap_or(default)
    }

    pub(crate) fn size_option(&self, key: &str) -> Option<u64> {
        match self.options.get(key) {
            Some(OptionValue::Size(n) | OptionValue::Uint(n)) => Some(*n),
            _ => None,
        }
    }

    /// A size or count option as a `usize` (saturated where it does not fit).
    pub(crate) fn usize_option(&self, key: &str) -> Option<usize> {
        self.size_option(key)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(crate) fn duration_option(&self, key: &str) -> Option<Duration> {
        match self.options.get(key) {
            Some(OptionValue::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    pub(crate) fn bool_option(&self, key: &str) -> Option<bool> {
        match self.options.get(key) {
            Some(OptionValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn mode_option(&self) -> u32 {
        match self.options.get("mode") {
            Some(OptionValue::Mode(mode)) => *mode,
            _ => 0o600,
        }
    }

    #[allow(dead_code)]
    pub(crate) fn uid_list_option(&self, key: &str) -> Option<&[u32]> {
        match self.options.get(key) {
            Some(OptionValue::UidList(uids)) => Some(uids),
            _ => None,
        }
    }

    /// `err` with this endpoint in front of its message and its kind kept: the OS's own
    /// ("Address already in use") names neither host, port nor path. `err` stays inside
    /// it, so [`raw_os_error`](crate::raw_os_error) still finds its code.
    pub(crate) fn error(&self, err: std::io::Error) -> std::io::Error {
        crate::error::with_context(err.kind(), format!("{self}: {err}"), err)
    }

    /// A copy whose `host:port` has another port (the port a listener really bound).
    pub(crate) fn with_port(&self, port: u16) -> Endpoint {
        let mut endpoint = self.clone();
        if let Address::HostPort { port: p, .. } = &mut endpoint.address {
            *p = port;
        }
        endpoint
    }
}

/// The smallest `max_queued=` a udp listener takes, 129 KiB: room for two of the largest
/// datagrams (each costs its length and 64 bytes). Smaller is refused when the URL is parsed.
///
/// ```
/// use anyipc::Endpoint;
/// use anyipc::endpoint::MIN_UDP_MAX_QUEUED;
///
/// assert!(Endpoint::parse(&format!("udp://127.0.0.1:0?max_queued={MIN_UDP_MAX_QUEUED}")).is_ok());
/// let err = Endpoint::parse("udp://127.0.0.1:0?max_queued=128KiB").unwrap_err();
/// assert!(err.to_string().contains("at least 129KiB"), "{err}");
/// ```
pub const MIN_UDP_MAX_QUEUED: u64 = 129 << 10;

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.address)?;
        for (i, (key, value)) in self.options.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{key}={value}")?;
        }
        Ok(())
    }
}

impl FromStr for Endpoint {
    type Err = EndpointParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

impl TryFrom<&str> for Endpoint {
    type Error = EndpointParseError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Endpoint::parse(s)
    }
}

/// Anything [`connect`](crate::connect) and [`bind`](crate::bind) accept as an endpoint: a URL
/// (`&str`, `String`) or an [`Endpoint`].
///
/// ```
/// use anyipc::{EndpointParseError, Scheme, ToEndpoint};
///
/// fn scheme_of(endpoint: impl ToEndpoint) -> Result<Scheme, EndpointParseError> {
///     Ok(endpoint.to_endpoint()?.scheme())
/// }
/// assert_eq!(scheme_of("mem://jobs")?, Scheme::Mem);
/// assert_eq!(scheme_of(String::from("udp://127.0.0.1:9000"))?, Scheme::Udp);
/// assert!(scheme_of("smoke://signals").is_err());
/// # Ok::<(), EndpointParseError>(())
/// ```
pub trait ToEndpoint {
    /// Parses or clones into an [`Endpoint`].
    ///
    /// ```
    /// use anyipc::ToEndpoint;
    ///
    /// let ep = "mem://jobs?capacity=8".to_endpoint()?;
    /// assert_eq!(ep.option("capacity").as_deref(), Some("8"));
    /// assert_eq!(ep.to_endpoint()?, ep);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    ///
    /// # Errors
    /// [`EndpointParseError`] for a malformed URL.
    fn to_endpoint(&self) -> Result<Endpoint, EndpointParseError>;
}

impl ToEndpoint for Endpoint {
    fn to_endpoint(&self) -> Result<Endpoint, EndpointParseError> {
        Ok(self.clone())
    }
}

impl ToEndpoint for &Endpoint {
    fn to_endpoint(&self) -> Result<Endpoint, EndpointParseError> {
        Ok((*self).clone())
    }
}

impl ToEndpoint for str {
    fn to_endpoint(&self) -> Result<Endpoint, EndpointParseError> {
        Endpoint::parse(self)
    }
}

impl ToEndpoint for &str {
    fn to_endpoint(&self) -> Result<Endpoint, EndpointParseError> {
        Endpoint::parse(self)
    }
}

impl ToEndpoint for String {
    fn to_endpoint(&self) -> Result<Endpoint, EndpointParseError> {
        Endpoint::parse(self)
    }
}

impl ToEndpoint for &String {
    fn to_endpoint(&self) -> Result<Endpoint, EndpointParseError> {
        Endpoint::parse(self)
    }
}

/// The README's option table, generated from the one table in the code.
///
/// ```
/// let table = anyipc::endpoint::option_table_markdown();
/// assert!(table.starts_with("| option | schemes | values | default | meaning |"));
/// // `capacity` counts messages on mem:// and mq://, and bytes on shm://.
/// let rows: Vec<&str> = table.lines().filter(|row| row.starts_with("| `capacity` |")).collect();
/// assert!(rows[0].contains("| mem | a number of messages from 1 to "));
/// assert!(rows[1].contains("| shm | a size such as 4096"));
/// assert!(rows[2].contains("| mq | a number of messages from 1 to 1048576"));
/// ```
pub fn option_table_markdown() -> String {
    let mut out =
        String::from("| option | schemes | values | default | meaning |\n|---|---|---|---|---|\n");
    for spec in option_spec::OPTIONS {
        let schemes: Vec<&str> = spec.schemes.iter().map(|s| s.as_str()).collect();
        let values = match spec.kind {
            ValueKind::Choice(words) => format!("`{}`", words.join("`, `")),
            other => other.describe(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            spec.key,
            schemes.join(", "),
            values,
            spec.default,
            spec.meaning
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    out
}
