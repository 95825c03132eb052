//! How the command reports failure: one line on stderr and an exit code.

use anyipc::{Endpoint, Scheme};
use std::io;
use std::process::ExitCode;

/// A failure of the command.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad usage or a bad endpoint URL: exit 2.
    Usage(String),
    /// Anything that went wrong while running: exit 1.
    Runtime(String),
}

impl CliError {
    /// Turns a clap error into one line (help and version go to stdout with exit 0, or 1
    /// when stdout cannot be written; help asked for by a missing subcommand goes to stderr
    /// with exit 2).
    pub(crate) fn from_clap(err: clap::Error) -> CliError {
        use clap::error::ErrorKind;
        match err.kind() {
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = err.print();
                std::process::exit(2);
            }
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                // A closed pipe or a full disk: the help was not printed.
                let printed = err.print().and_then(|()| {
                    use std::io::Write as _;
                    std::io::stdout().flush()
                });
                if let Err(e) = printed {
                    stderr_line!("anyipc: cannot write to stdout: {e}");
                    std::process::exit(1);
                }
                std::process::exit(0);
            }
            _ => CliError::Usage(with_hints(first_line(&err.to_string()), &err)),
        }
    }

    /// Prints the one line and gives the exit code; a usage error points to `help`, the
    /// command that shows the help of what was run (`anyipc send --help`).
    pub(crate) fn report(self, help: &str) -> ExitCode {
        match self {
            CliError::Usage(msg) => {
                stderr_line!("anyipc: {msg} (see {help})");
                ExitCode::from(2)
            }
            CliError::Runtime(msg) => {
                stderr_line!("anyipc: {msg}");
                ExitCode::from(1)
            }
        }
    }
}

impl CliError {
    /// A failed `bind` of `endpoint`: `cannot bind URL: what the OS said`, the URL once.
    pub(crate) fn bind(endpoint: &Endpoint, err: io::Error) -> CliError {
        match parse_error(&err) {
            Some(usage) => usage,
            None => {
                CliError::Runtime(missing_queue(endpoint, &err).unwrap_or_else(|| {
                    format!("cannot bind {endpoint}: {}", detail(endpoint, &err))
                }))
            }
        }
    }

    /// A failed `connect` to `endpoint`, as [`connect_failure`] words it.
    pub(crate) fn connect(endpoint: &Endpoint, err: io::Error) -> CliError {
        match parse_error(&err) {
            Some(usage) => usage,
            None => CliError::Runtime(connect_failure(endpoint, &err)),
        }
    }
}

/// The usage error inside `err`, when it is a bad URL.
fn parse_error(err: &io::Error) -> Option<CliError> {
    let parse = err
        .get_ref()?
        .downcast_ref::<anyipc::EndpointParseError>()?;
    Some(CliError::Usage(parse.to_string()))
}

/// What went wrong with a failed connect to `endpoint`, in one line that names it once:
/// `nothing listens at pipe://app: No such file or directory (os error 2)` when the error
/// means that nobody is there, `cannot connect to URL: …` otherwise (a `tcp://` `NotFound`
/// is a host that does not resolve or an IPv6 zone's interface that does not exist: nothing
/// was tried).
pub(crate) fn connect_failure(endpoint: &Endpoint, err: &io::Error) -> String {
    let detail = detail(endpoint, err);
    let nobody = match err.kind() {
        io::ErrorKind::NotFound => endpoint.scheme() != Scheme::Tcp,
        kind => kind == io::ErrorKind::ConnectionRefused,
    };
    if let Some(missing) = missing_queue(endpoint, err) {
        return missing;
    }
    match endpoint.scheme() {
        Scheme::Tcp | Scheme::Unix | Scheme::Pipe | Scheme::Fifo | Scheme::Shm if nobody => {
            format!("nothing listens at {endpoint}: {detail}")
        }
        _ => format!("cannot connect to {endpoint}: {detail}"),
    }
}

/// For a queue that does not exist (bind or connect), how to make it.
fn missing_queue(endpoint: &Endpoint, err: &io::Error) -> Option<String> {
    if endpoint.scheme() != Scheme::Mq || err.kind() != io::ErrorKind::NotFound {
        return None;
    }
    let name = endpoint.name().unwrap_or("NAME");
    Some(format!(
        "there is no queue {endpoint}: create it with `anyipc mq create {name}` or add \
         ?create=true"
    ))
}

/// `err`'s text without the endpoint that the library puts in front of it (`unix:///s: No
/// such file or directory`), for lines that name the endpoint themselves.
pub(crate) fn detail(endpoint: &Endpoint, err: &io::Error) -> String {
    let text = err.to_string();
    let url = endpoint.to_string();
    let bare = url.split('?').next().unwrap_or(&url);
    for prefix in [url.as_str(), bare] {
        if let Some(rest) = text.strip_prefix(prefix).and_then(|r| r.strip_prefix(": ")) {
            return rest.to_owned();
        }
    }
    text
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        parse_error(&err).unwrap_or_else(|| CliError::Runtime(err.to_string()))
    }
}

impl From<anyipc::EndpointParseError> for CliError {
    fn from(err: anyipc::EndpointParseError) -> Self {
        CliError::Usage(err.to_string())
    }
}

/// `line` with what clap says below it that the one line would lose: the values a closed
/// list accepts, and the option, subcommand or value meant by a misspelt one.
fn with_hints(mut line: String, err: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let values = |kind| match err.get(kind) {
        Some(ContextValue::String(one)) => vec![one.clone()],
        Some(ContextValue::Strings(many)) => many.clone(),
        _ => Vec::new(),
    };
    let accepted = values(ContextKind::ValidValue);
    if !accepted.is_empty() {
        line.push_str(&format!(" (possible values: {})", accepted.join(", ")));
    }
    // Clap lists the most similar last.
    let meant: Vec<String> = [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .flat_map(|kind| values(kind).into_iter().rev())
    .collect();
    if let Some((last, rest)) = meant.split_last() {
        let meant = match rest {
            [] => format!("'{last}'"),
            rest => format!("'{}' or '{last}'", rest.join("', '")),
        };
        line.push_str(&format!("; did you mean {meant}?"));
    }
    line
}

/// The first line of a clap error, without its `error: ` prefix. A line ending in `:`
/// ("the following required arguments were not provided:") gets the indented lines under it,
/// so the one line still says what is wrong.
fn first_line(text: &str) -> String {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let first = lines
        .next()
        .unwrap_or("bad usage")
        .trim_start_matches("error: ")
        .trim_end();
    if !first.ends_with(':') {
        return first.to_owned();
    }
    let items: Vec<&str> = lines
        .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    format!("{first} {}", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_failures_name_the_endpoint_once() {
        let pipe = Endpoint::parse("pipe://app").unwrap();
        let err = io::Error::new(
            io::ErrorKind::NotFound,
            "pipe://app: No such file (os error 2)",
        );
        assert_eq!(
            connect_failure(&pipe, &err),
            "nothing listens at pipe://app: No such file (os error 2)"
        );
        let tcp = Endpoint::parse("tcp://127.0.0.1:1?nodelay=false").unwrap();
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let line = connect_failure(&tcp, &refused);
        assert!(
            line.starts_with("nothing listens at tcp://127.0.0.1:1"),
            "{line}"
        );
        let denied = io::Error::new(io::ErrorKind::PermissionDenied, "tcp://127.0.0.1:1: no");
        assert_eq!(
            connect_failure(&tcp, &denied),
            "cannot connect to tcp://127.0.0.1:1?nodelay=false: no"
        );
        // A host or interface that is not there: nothing was tried.
        let zoned = Endpoint::parse("tcp://[fe80::1%25nope]:80").unwrap();
        let no_interface = io::Error::new(
            io::ErrorKind::NotFound,
            "tcp://[fe80::1%25nope]:80: there is no network interface `nope`",
        );
        assert_eq!(
            connect_failure(&zoned, &no_interface),
            "cannot connect to tcp://[fe80::1%25nope]:80: there is no network interface `nope`"
        );
        let mq = Endpoint::parse("mq://jobs").unwrap();
        let missing = io::Error::new(io::ErrorKind::NotFound, "no queue named \"jobs\"");
        assert!(connect_failure(&mq, &missing).contains("anyipc mq create jobs"));
        // Binding (listen, bridge) says the same.
        let bound = CliError::bind(&mq, io::Error::new(io::ErrorKind::NotFound, "no queue"));
        assert!(
            matches!(&bound, CliError::Runtime(line) if line.contains("anyipc mq create jobs")),
            "{bound:?}"
        );
    }

    #[test]
    fn clap_errors_become_one_line() {
        assert_eq!(
            first_line("error: unexpected argument '--x' found\n\n  tip: …\n\nUsage: anyipc\n"),
            "unexpected argument '--x' found"
        );
        assert_eq!(
            first_line(
                "error: the following required arguments were not provided:\n  <URL>\n  <N>\n\n\
                 Usage: anyipc send <URL>\n"
            ),
            "the following required arguments were not provided: <URL>, <N>"
        );
    }
}
