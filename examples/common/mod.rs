//! What the examples share: stopping on a signal, and reading the command line (and `MQ`) the
//! same way.
//! (A directory without `main.rs`, so Cargo does not take it for an example of its own.)
//!
//! Each example compiles this module and uses only part of it.
#![allow(dead_code)]

use std::error::Error;
use std::fmt;

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM. The handlers are installed when this is
/// called, so a signal that comes before the first `.await` is not lost.
pub(crate) fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(windows)]
    {
        let mut ctrl_c = tokio::signal::windows::ctrl_c()?;
        Ok(async move {
            ctrl_c.recv().await;
        })
    }
}

/// Prints one line on stdout, as `println!` does, but gives an error instead of panicking when
/// stdout cannot be written, such as when its reader has gone (`cargo run --example durable_log
/// | head -4`): `println!` panics then, since Rust ignores SIGPIPE (and anyipc needs it ignored
/// to report a closed socket as `BrokenPipe`). With `?` the example ends as after any other
/// error: what it bound is removed, stderr says "cannot write to stdout", the status is 1.
///
/// ```ignore
/// common::say!("received {message}")?;
/// ```
macro_rules! say {
    () => {
        $crate::common::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::common::write_line(format_args!($($arg)*))
    };
}
// Unused where an example prints nothing (pipe_parent off Unix), like the rest of the module.
#[allow(unused_imports)]
pub(crate) use say;

/// Writes `line` and a newline to stdout (see [`say!`]); the error says it was stdout.
pub(crate) fn write_line(line: fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|err| std::io::Error::new(err.kind(), format!("cannot write to stdout: {err}")))
}

/// A command line the example does not take: [`exit_status`] prints it with the example's
/// usage line and gives exit status 2, as the `anyipc` CLI does for its usage errors (1 is for
/// failures). It is found before anything is bound, created or connected. `--help` (or `-h`)
/// is one too, but asked for: [`exit_status`] prints the usage line on stdout and gives 0.
#[derive(Debug)]
pub(crate) struct Usage {
    /// What is wrong (`unknown option --bogus`); empty when help was asked for.
    problem: String,
    /// The example's usage line (`fifo_reader [PATH|URL] [--count N]`).
    usage: &'static str,
    /// Whether the user asked for the usage line (`--help`, `-h`) rather than got it wrong.
    help: bool,
}

impl Usage {
    /// `problem` with the command line, for `usage`.
    pub(crate) fn new(problem: impl Into<String>, usage: &'static str) -> Usage {
        Usage {
            problem: problem.into(),
            usage,
            help: false,
        }
    }

    /// An argument after the ones the example takes (`unexpected argument "b"`).
    pub(crate) fn unexpected(arg: &str, usage: &'static str) -> Usage {
        Usage::new(format!("unexpected argument {arg:?}"), usage)
    }

    /// An option (an argument starting with `-`) the example does not know, or the request
    /// for help (`--help`, `-h`), which every example answers with its usage line.
    pub(crate) fn unknown_option(arg: &str, usage: &'static str) -> Usage {
        if is_help(arg) {
            return Usage {
                problem: String::new(),
                usage,
                help: true,
            };
        }
        Usage::new(format!("unknown option {arg}"), usage)
    }
}

/// Whether `arg` asks for the usage line: `--help` or `-h`.
pub(crate) fn is_help(arg: &str) -> bool {
    matches!(arg, "--help" | "-h")
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; usage: {}", self.problem, self.usage)
    }
}

impl Error for Usage {}

/// Whether `arg` is an option rather than a path, URL, name or port: it starts with `-`. An
/// example never takes such an argument for a path or name (it would create a FIFO or file
/// named `--once`); a path that starts with `-` can be written `./-name`.
pub(crate) fn is_option(arg: &str) -> bool {
    arg.starts_with('-')
}

/// `arg` as a positional argument (a path, URL, name or port), or a [`Usage`] error when it
/// is an option: one the example knows is handled before this, so this one is unknown.
pub(crate) fn positional(arg: String, usage: &'static str) -> Result<String, Usage> {
    if is_option(&arg) {
        Err(Usage::unknown_option(&arg, usage))
    } else {
        Ok(arg)
    }
}

/// Refuses every argument but those in `known`: a [`Usage`] error naming the first other
/// (for the examples that take no path, URL or name).
pub(crate) fn only(
    args: impl IntoIterator<Item = String>,
    known: &[&str],
    usage: &'static str,
) -> Result<(), Usage> {
    match args.into_iter().find(|arg| !known.contains(&arg.as_str())) {
        None => Ok(()),
        Some(arg) if is_option(&arg) => Err(Usage::unknown_option(&arg, usage)),
        Some(arg) => Err(Usage::unexpected(&arg, usage)),
    }
}

/// Refuses a second positional argument (a path, URL, name or port) of an example that takes
/// one: a [`Usage`] error naming it; `seen` records the first, options pass. A second used to
/// replace the first silently (`unix_server /a /b` listened on `/b`).
pub(crate) fn no_second_positional(
    seen: &mut bool,
    arg: &str,
    usage: &'static str,
) -> Result<(), Usage> {
    if is_option(arg) || !std::mem::replace(seen, true) {
        return Ok(());
    }
    Err(Usage::unexpected(arg, usage))
}

/// Refuses what is left of `args` after an example took what it knows: a [`Usage`] error
/// naming the first leftover (`shm_process2 NAME extra`).
pub(crate) fn nothing_more(
    mut args: impl Iterator<Item = String>,
    usage: &'static str,
) -> Result<(), Usage> {
    match args.next() {
        None => Ok(()),
        Some(arg) => Err(Usage::unexpected(&arg, usage)),
    }
}

/// The number after option `flag`, taken from `args`, or a [`Usage`] error when it is missing
/// or not a number.
pub(crate) fn number<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    flag: &str,
    usage: &'static str,
) -> Result<T, Usage> {
    let value = args
        .next()
        .ok_or_else(|| Usage::new(format!("{flag} needs a number"), usage))?;
    value
        .parse()
        .map_err(|_| Usage::new(format!("{flag} needs a number, not {value:?}"), usage))
}

/// Prints the library's warnings (a client refused by `allow_uids`, a failed handshake) on
/// stderr, coloured only on a terminal; `RUST_LOG` (`RUST_LOG=debug`) shows more.
pub(crate) fn log_warnings() {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The endpoint of the TCP examples' argument: a port on 127.0.0.1 (`9000`) or a URL. A
/// port out of range or a malformed URL is a [`Usage`] error (exit status 2), before anything
/// is bound or connected.
pub(crate) fn tcp_endpoint_arg(arg: &str, usage: &'static str) -> Result<anyipc::Endpoint, Usage> {
    let url = if arg.bytes().all(|b| b.is_ascii_digit()) {
        let port: u16 = arg
            .parse()
            .map_err(|_| Usage::new(format!("port {arg} is out of range (0 to 65535)"), usage))?;
        format!("tcp://127.0.0.1:{port}")
    } else {
        arg.to_owned()
    };
    anyipc::Endpoint::parse(&url).map_err(|err| Usage::new(err.to_string(), usage))
}

/// The `fifo://` URL of the FIFO at `path` (absolute), the path escaped into it (`%`, `?`,
/// `#` and spaces mean something in a URL).
pub(crate) fn fifo_url(path: &std::path::Path) -> Result<String, anyipc::EndpointParseError> {
    Ok(anyipc::Endpoint::from_path(anyipc::Scheme::Fifo, path)?.to_string())
}

/// The endpoint of the plain text file at `path` (absolute), one line per message, the path
/// escaped into it as for [`fifo_url`].
pub(crate) fn lines_file(
    path: &std::path::Path,
) -> Result<anyipc::Endpoint, anyipc::EndpointParseError> {
    anyipc::Endpoint::from_path(anyipc::Scheme::File, path)?.with_option("framing", "lines")
}

/// What to add to a queue example's error `err`: how to create the queue when it is
/// missing, nothing otherwise.
pub(crate) fn create_queue_hint(err: &std::io::Error) -> &'static str {
    if err.kind() == std::io::ErrorKind::NotFound {
        " (create the queue with mq_create first)"
    } else {
        ""
    }
}

/// The queue name the mq examples take from `MQ` (`demo` when it is not set), checked against
/// the name rules before it goes into an `mq://` URL: a [`Usage`] error saying why when it is
/// not a queue name. Pasted into the URL as it is, `MQ='jobs?recv_timeout=1s'` would set an
/// option of `mq://jobs` instead of naming a queue.
pub(crate) fn queue_name_from_env(usage: &'static str) -> Result<String, Usage> {
    let name = match std::env::var("MQ") {
        Ok(name) => name,
        Err(std::env::VarError::NotPresent) => return Ok("demo".to_owned()),
        Err(std::env::VarError::NotUnicode(name)) => {
            let problem = format!("MQ={name:?} is not a queue name: it is not Unicode");
            return Err(Usage::new(problem, usage));
        }
    };
    let reason = if name.contains('?') {
        // `?` starts a URL's options: the parser would take what follows for options rather
        // than refuse the name.
        "'?' is not allowed: use ASCII letters, digits, '.', '_' and '-'".to_owned()
    } else {
        // The name rules are the URL parser's: without a `?` all of it is the address, which
        // it checks as a name.
        match anyipc::Endpoint::parse(&format!("mq://{name}")) {
            Ok(_) => return Ok(name),
            Err(err) => match err.kind() {
                anyipc::endpoint::ParseErrorKind::InvalidAddress { reason, .. } => reason.clone(),
                _ => err.to_string(),
            },
        }
    };
    Err(Usage::new(
        format!("MQ={name:?} is not a queue name: {reason}"),
        usage,
    ))
}

/// The exit status for the result of an example's `run`: 0 after success, and after printing
/// the usage line on stdout when `--help` asked for it; otherwise it prints the error after the
/// example's name (`fifo_reader: unknown option --bogus; usage: …`) and gives 2 for a [`Usage`]
/// error, 1 for any other.
pub(crate) fn exit_status(example: &str, result: Result<(), Box<dyn Error>>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(err) => match err.downcast_ref::<Usage>() {
            Some(usage) if usage.help => match say!("usage: {}", usage.usage) {
                Ok(()) => 0,
                Err(err) => {
                    eprintln!("{example}: {err}");
                    1
                }
            },
            usage => {
                eprintln!("{example}: {err}");
                if usage.is_some() {
                    2
                } else {
                    1
                }
            }
        },
    }
}
