//! The endpoint URL and `--framing` arguments that `listen` and `send` share, and the checks
//! of what a command can do with an endpoint ([`refuse_in_process`],
//! [`refuse_connecting_to_port_zero`], [`refuse_binding_stdio`], [`no_way_back`]).

use crate::CliError;
use anyipc::endpoint::ParseErrorKind;
use anyipc::{Address, Endpoint, Scheme};

/// The URL plus the options that change it.
#[derive(Debug, clap::Args)]
pub(crate) struct EndpointArgs {
    /// Endpoint URL, e.g. tcp://127.0.0.1:7000, udp://127.0.0.1:7001, unix:///tmp/app.sock.
    #[arg(value_name = "URL")]
    url: String,

    /// How messages are cut out of a byte stream; overrides the URL's `framing=`. `raw` talks
    /// to programs that know nothing of anyipc. Not for udp:// or mq://, which keep messages
    /// apart by themselves.
    #[arg(long, value_name = "FRAMING", value_parser = ["length", "lines", "raw"])]
    framing: Option<String>,
}

impl EndpointArgs {
    /// The parsed endpoint with `--framing` applied.
    ///
    /// # Errors
    /// A usage error for a bad URL, or for `--framing` on a scheme that takes no framing.
    pub(crate) fn endpoint(&self) -> Result<Endpoint, CliError> {
        let endpoint = Endpoint::parse(&self.url)?;
        match &self.framing {
            None => Ok(endpoint),
            Some(framing) => {
                let scheme = endpoint.scheme();
                endpoint
                    .with_option("framing", framing)
                    .map_err(|err| match err.kind() {
                        ParseErrorKind::UnknownOption { .. } => CliError::Usage(format!(
                            "--framing: {scheme}:// takes no framing, its messages arrive whole"
                        )),
                        _ => CliError::Usage(format!("--framing {framing}: {err}")),
                    })
            }
        }
    }
}

/// Refuses `mem://` for `command`: its endpoints live inside one process, and a command runs
/// in a process of its own, so nothing could ever reach it or be reached through it.
///
/// # Errors
/// A usage error for a `mem://` endpoint.
pub(crate) fn refuse_in_process(endpoint: &Endpoint, command: &str) -> Result<(), CliError> {
    if endpoint.scheme() != Scheme::Mem {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "{command}: {endpoint} lives inside one process and no other process can reach it; \
         use pipe://, unix:// or tcp:// between processes"
    )))
}

/// Refuses to connect to port 0 of `tcp://` or `udp://` for `command` (a `bridge` side it
/// connects to, once per client): port 0 asks the OS for a free port when binding, and
/// nothing listens there. Checked before anything starts, as `send` finds it at once,
/// rather than at every client, each of which it would drop.
///
/// # Errors
/// A usage error for such an endpoint.
pub(crate) fn refuse_connecting_to_port_zero(
    endpoint: &Endpoint,
    command: &str,
) -> Result<(), CliError> {
    if !matches!(endpoint.address(), Address::HostPort { port: 0, .. }) {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "{command}: {endpoint}: port 0 can only be bound (it asks the OS for a free port); \
         connect to the port a listener got, which its endpoint names"
    )))
}

/// Refuses to bind `stdio://` for `command` (`listen`, a bound `bridge` side): it is the
/// pipes between a child and the parent that started it, which only the child's side
/// connects to, so nothing could ever come to a listener there.
///
/// # Errors
/// A usage error for a `stdio://` endpoint.
pub(crate) fn refuse_binding_stdio(endpoint: &Endpoint, command: &str) -> Result<(), CliError> {
    if endpoint.scheme() != Scheme::Stdio {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "{command}: {endpoint} cannot be bound: it is a child process's pipes to its parent, \
         which only the child connects to (anyipc::child); use pipe://, unix:// or tcp:// to \
         take clients"
    )))
}

/// Why nothing sent back on a connection of `endpoint` would reach the other side (for
/// `send --expect-reply` and `listen --echo`), or `None` when a reply can travel back:
/// fifo:// and file:// carry messages one way only, and an mq:// queue is shared, so a
/// reply would land in the queue the message came from, to be taken as one more message.
pub(crate) fn no_way_back(endpoint: &Endpoint) -> Option<String> {
    let why = match endpoint.scheme() {
        Scheme::Fifo => {
            "fifo:// is one way (writers send, the reader receives): nothing can answer on it"
                .to_owned()
        }
        Scheme::File => {
            "file:// is one way (writers append, readers receive): nothing can answer on it"
                .to_owned()
        }
        Scheme::Mq => format!(
            "{endpoint} is one shared queue: an answer would go back into it and be taken as \
             one more message; use a second queue for answers"
        ),
        scheme if scheme.is_one_way() => {
            format!("{endpoint} carries messages one way only: nothing can answer on it")
        }
        _ => return None,
    };
    Some(why)
}

/// Whether `endpoint`, bound, gives one connection and nothing after it: a `file://` log or
/// file, a `mq://` queue and a `fifo://` each have one reader, and their listener accepts
/// once. What that connection has not handed out stays there for the next reader (after a
/// log's cursor, in the queue; a FIFO's pipe goes with its listener). A command serving such
/// an endpoint ends when that connection ends — at the end of a file read without `follow`,
/// or with the error that ended it (a damaged log, a queued message over `max_frame`, which
/// stays queued, corrupt frames in a FIFO) — rather than waiting for ever on an accept that
/// cannot come.
pub(crate) fn gives_one_connection(endpoint: &Endpoint) -> bool {
    matches!(endpoint.scheme(), Scheme::File | Scheme::Mq | Scheme::Fifo)
}

/// The consumer name of `endpoint` when it names a consumer of a log (`file:///dir` with
/// `consumer=`, no `framing=`): one whose cursor says where a next reader resumes.
pub(crate) fn log_consumer_name(endpoint: &Endpoint) -> Option<String> {
    let log = endpoint.scheme() == Scheme::File && !endpoint.has_framing();
    log.then(|| endpoint.option("consumer")).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_two_way_endpoints_can_answer() {
        for url in ["fifo:///tmp/f", "file:///tmp/log", "mq://jobs"] {
            assert!(
                no_way_back(&Endpoint::parse(url).unwrap()).is_some(),
                "{url}"
            );
        }
        for url in [
            "tcp://127.0.0.1:1",
            "udp://127.0.0.1:1",
            "unix:///s",
            "pipe://p",
        ] {
            assert_eq!(no_way_back(&Endpoint::parse(url).unwrap()), None, "{url}");
        }
    }

    #[test]
    fn mem_is_refused_other_schemes_are_not() {
        let mem = Endpoint::parse("mem://x").unwrap();
        assert!(matches!(
            refuse_in_process(&mem, "listen"),
            Err(CliError::Usage(_))
        ));
        let tcp = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
        assert!(refuse_in_process(&tcp, "listen").is_ok());
    }

    #[test]
    fn binding_stdio_is_refused_other_schemes_are_not() {
        let stdio = Endpoint::parse("stdio://").unwrap();
        assert!(matches!(
            refuse_binding_stdio(&stdio, "listen"),
            Err(CliError::Usage(line)) if line.contains("cannot be bound")
        ));
        let pipe = Endpoint::parse("pipe://app").unwrap();
        assert!(refuse_binding_stdio(&pipe, "listen").is_ok());
    }
}
