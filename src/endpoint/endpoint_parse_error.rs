//! [`EndpointParseError`]: what is wrong with an endpoint URL, and what is accepted instead.

use super::Scheme;
use std::fmt;
use std::io;

/// An endpoint URL that could not be parsed. Its message names the offending part and lists
/// what is accepted there.
///
/// ```
/// let err = "tcp://127.0.0.1:80?colour=red".parse::<anyipc::Endpoint>().unwrap_err();
/// assert!(err.to_string().contains("unknown option `colour`"));
/// assert!(err.to_string().contains("max_frame"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointParseError {
    input: String,
    kind: ParseErrorKind,
}

/// Which part of an endpoint URL is wrong.
///
/// ```
/// use anyipc::endpoint::ParseErrorKind;
///
/// let err = "tcp://127.0.0.1:80?nodelay=1&nodelay=0".parse::<anyipc::Endpoint>().unwrap_err();
/// assert_eq!(err.kind(), &ParseErrorKind::DuplicateOption("nodelay".to_owned()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// No `scheme://` at the start.
    MissingScheme,
    /// A scheme anyipc does not know.
    UnknownScheme(String),
    /// The part after `://` is not an address of this scheme.
    InvalidAddress {
        /// The scheme whose address it is.
        scheme: Scheme,
        /// What is wrong with it.
        reason: String,
    },
    /// A query key this scheme does not take.
    UnknownOption {
        /// The scheme.
        scheme: Scheme,
        /// The key as written.
        key: String,
        /// The keys the scheme takes.
        accepted: Vec<&'static str>,
    },
    /// A query value that is not one the key takes.
    InvalidOptionValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// The values the key takes.
        expected: String,
    },
    /// A key given twice.
    DuplicateOption(String),
    /// An option the scheme takes, but not with this address: `mode=` on a `unix://@name`
    /// abstract name, which has no file to give a mode.
    ///
    /// ```
    /// use anyipc::endpoint::ParseErrorKind;
    ///
    /// let err = anyipc::Endpoint::parse("unix://@app?mode=0600").unwrap_err();
    /// assert!(matches!(err.kind(), ParseErrorKind::OptionNotApplicable { key, .. } if key == "mode"));
    /// assert!(err.to_string().contains("allow_uids="), "{err}");
    /// ```
    OptionNotApplicable {
        /// The key.
        key: String,
        /// Why it does not apply, and what to do instead.
        reason: String,
    },
    /// A query part without `=`.
    MalformedQuery(String),
    /// A path given to [`Endpoint::from_path`](crate::Endpoint::from_path) that is not
    /// UTF-8 (possible on Unix): a URL's `%XX` escapes decode to UTF-8 text only, so no URL
    /// names it.
    NonUtf8Path {
        /// The scheme it was for.
        scheme: Scheme,
    },
}

impl EndpointParseError {
    pub(crate) fn new(input: &str, kind: ParseErrorKind) -> Self {
        EndpointParseError {
            input: input.to_owned(),
            kind,
        }
    }

    /// The URL as given.
    ///
    /// ```
    /// let err = anyipc::Endpoint::parse("shm://bad name").unwrap_err();
    /// assert_eq!(err.input(), "shm://bad name");
    /// ```
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    ///
    /// ```
    /// use anyipc::endpoint::ParseErrorKind;
    ///
    /// let err = anyipc::Endpoint::parse("mem://jobs?colour=red").unwrap_err();
    /// match err.kind() {
    ///     ParseErrorKind::UnknownOption { key, accepted, .. } => {
    ///         assert_eq!(key, "colour");
    ///         assert!(accepted.contains(&"capacity"));
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// ```
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }
}

impl fmt::Display for EndpointParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid endpoint `{}`: ", self.input)?;
        match &self.kind {
            ParseErrorKind::MissingScheme => {
                write!(f, "no scheme; write it as scheme://address, ")?;
                write_schemes(f)
            }
            ParseErrorKind::UnknownScheme(scheme) => {
                write!(f, "unknown scheme `{scheme}`; ")?;
                write_schemes(f)
            }
            ParseErrorKind::InvalidAddress { scheme, reason } => {
                write!(f, "bad {scheme}:// address: {reason}")
            }
            ParseErrorKind::UnknownOption {
                scheme,
                key,
                accepted,
            } => write!(
                f,
                "unknown option `{key}` for {scheme}://; accepted options: {}",
                accepted.join(", ")
            ),
            ParseErrorKind::InvalidOptionValue {
                key,
                value,
                expected,
            } => write!(
                f,
                "bad value `{value}` for option `{key}`: expected {expected}"
            ),
            ParseErrorKind::DuplicateOption(key) => write!(f, "option `{key}` is given twice"),
            ParseErrorKind::OptionNotApplicable { key, reason } => {
                write!(f, "option `{key}` does not apply here: {reason}")
            }
            ParseErrorKind::MalformedQuery(part) => {
                write!(f, "query part `{part}` is not key=value")
            }
            ParseErrorKind::NonUtf8Path { scheme } => write!(
                f,
                "bad {scheme}:// address: the path is not UTF-8, and a URL's escapes decode \
                 to UTF-8 only; use a UTF-8 path"
            ),
        }
    }
}

fn write_schemes(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let names: Vec<&str> = Scheme::ALL.iter().map(|s| s.as_str()).collect();
    write!(f, "accepted schemes: {}", names.join(", "))
}

impl std::error::Error for EndpointParseError {}

impl From<EndpointParseError> for io::Error {
    fn from(err: EndpointParseError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, err)
    }
}
