//! `anyipc`: talk to, listen on, and tour every IPC mechanism from the command line.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad usage or endpoint URL.

/// `eprintln!` that cannot panic: a stderr that cannot be written (closed, or a pipe whose
/// reader left, as in `anyipc bridge -v 2>&1 | head -1`) loses the line and the command goes
/// on. `eprintln!` panics then, which ended `send` and `listen` with 101 and killed every
/// `bridge` session at its first line.
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod accept_errors;
mod bench;
mod bench_peer;
mod bridge;
#[cfg(target_os = "linux")]
mod clean;
mod cli_error;
mod completions;
mod duration_arg;
mod endpoint_arg;
mod fd_limit;
mod listen;
mod listen_kept;
#[cfg(target_os = "linux")]
mod ls;
mod mq;
mod output;
#[cfg(target_os = "linux")]
mod resources;
mod scratch_dir;
mod send;
mod size_arg;
mod time_limit;
mod tour;

use clap::{CommandFactory, Parser, Subcommand};
use cli_error::CliError;
use std::process::ExitCode;

/// One async IPC toolkit: TCP, UDP, Unix sockets, pipes, shared memory, queues and files
/// behind endpoint URLs.
#[derive(Debug, Parser)]
#[command(name = "anyipc", version, about, long_about = None)]
#[command(after_help = "Examples:
  anyipc listen tcp://127.0.0.1:7000 --echo     an echo server
  anyipc send tcp://127.0.0.1:7000 --expect-reply hello
  anyipc bench unix:///tmp/b.sock --baseline    latency and throughput against the raw baseline
  anyipc bridge tcp://0.0.0.0:7000 unix:///run/app.sock
  anyipc ls                                      names, regions, queues, file:// logs, owners

Exit codes: 0 success, 1 runtime failure, 2 bad usage or endpoint URL.\n\
Logging: RUST_LOG=anyipc=debug shows connection events on stderr.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bind an endpoint and print every message received.
    Listen(listen::ListenArgs),
    /// Connect to an endpoint and send messages.
    Send(send::SendArgs),
    /// Run every transport between two real processes and print a table.
    #[command(after_help = "Examples:
  anyipc tour                 one row per transport: 64 B round-trip p50, 4 KiB throughput
  cargo run --release -- tour the same, measured in a release build
  anyipc tour --timeout 2m    a slow or emulated machine: each transport may take 2 minutes

Exit codes: 0 every transport worked, 1 some transport failed, stdout could not be written, or \
Ctrl-C, SIGTERM or SIGHUP (the transport being measured is stopped and its endpoints \
removed), 2 bad usage.")]
    Tour(tour::TourArgs),
    /// Measure latency and throughput of one endpoint between two processes.
    Bench(bench::BenchArgs),
    /// Forward messages both ways between two endpoints of any kinds.
    Bridge(bridge::BridgeArgs),
    /// List the anyipc resources (pipe, shm and mq names, shared-memory regions, file:// logs)
    /// on this machine and their owners.
    #[cfg(target_os = "linux")]
    Ls(ls::LsArgs),
    /// Remove resources whose owner died.
    #[cfg(target_os = "linux")]
    Clean(clean::CleanArgs),
    /// Remove one resource (refusing a live owner's without --force).
    #[cfg(target_os = "linux")]
    Rm(clean::RmArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Create, inspect and remove named message queues (mq://NAME).
    Mq(mq::MqArgs),
    /// The peer process of `anyipc tour` (internal).
    #[command(hide = true)]
    BenchPeer(bench_peer::BenchPeerArgs),
}

/// How long the process waits at its end for work left in the runtime's blocking pool (a
/// write to stdout nobody reads, a queue wait): every command has awaited what it must finish
/// before it returns.
const EXIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> ExitCode {
    let help = help_command(std::env::args_os());
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return CliError::from_clap(err).report(&help),
    };
    init_tracing();
    fd_limit::raise();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            return CliError::Runtime(format!("cannot start the runtime: {err}")).report(&help)
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Listen(args) => listen::run(args).await,
            Command::Send(args) => send::run(args).await,
            Command::Tour(args) => tour::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Bridge(args) => bridge::run(args).await,
            #[cfg(target_os = "linux")]
            Command::Ls(args) => ls::run(args),
            #[cfg(target_os = "linux")]
            Command::Clean(args) => clean::clean(args),
            #[cfg(target_os = "linux")]
            Command::Rm(args) => clean::rm(args),
            Command::Completions(args) => completions::run(args),
            Command::Mq(args) => mq::run(args),
            Command::BenchPeer(args) => bench_peer::run(args).await,
        }
    });
    // Not the runtime's drop, which waits for every blocking task: a write to stdout that a
    // reader who reads nothing holds up (`listen` gave up on it) would never return.
    runtime.shutdown_timeout(EXIT_PATIENCE);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => err.report(&help),
    }
}

/// The command that shows the help of what `args` (the whole command line) runs, for a
/// usage error to point to: `anyipc send --help` for `anyipc send udp://… --framing lines`,
/// `anyipc mq create --help` for `anyipc mq create …`, `anyipc --help` when no subcommand is
/// named. Options are passed over; the first word that names no subcommand ends the walk.
fn help_command(args: impl IntoIterator<Item = std::ffi::OsString>) -> String {
    let root = Cli::command();
    let mut command = &root;
    let mut path = vec![root.get_name().to_owned()];
    for arg in args.into_iter().skip(1) {
        let Some(arg) = arg.to_str() else { break };
        if arg == "--" {
            break;
        }
        if arg.starts_with('-') {
            continue;
        }
        let Some(sub) = command.find_subcommand(arg) else {
            break;
        };
        path.push(sub.get_name().to_owned());
        command = sub;
    }
    format!("{} --help", path.join(" "))
}

/// Log lines (warnings by default, `RUST_LOG` for more) go to stderr, coloured only when
/// stderr is a terminal and `NO_COLOR` is unset or empty: escape codes in a log file or a
/// pipe are noise.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_stderr())
        .init();
}

/// Whether lines on stderr may carry colour: stderr is a terminal and `NO_COLOR` (see
/// no-color.org) is unset or empty.
fn colour_stderr() -> bool {
    use std::io::IsTerminal as _;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// The signals that stop `listen` and `bridge` cleanly (their listeners dropped, so socket
/// files, pipe and shm names and FIFOs are removed): Ctrl-C, and on Unix also SIGTERM (what
/// `kill`, `timeout` and systemd send) and SIGHUP (the terminal went away; left alone when
/// the process was started with it ignored, as `nohup` does).
///
/// Every handler is in place once [`StopSignals::install`] returns, so a signal sent right
/// after a command announces itself is caught rather than killing the process.
#[derive(Debug)]
pub(crate) struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    /// `None` when SIGHUP was ignored at start.
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    #[cfg(not(unix))]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl StopSignals {
    /// Installs the handlers.
    ///
    /// # Errors
    /// A runtime error when a handler cannot be installed.
    pub(crate) fn install() -> Result<StopSignals, CliError> {
        let failed = |err: std::io::Error| {
            CliError::Runtime(format!("cannot watch for Ctrl-C and SIGTERM: {err}"))
        };
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let hangup = match ignored(libc::SIGHUP) {
                true => None,
                false => Some(signal(SignalKind::hangup()).map_err(failed)?),
            };
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt()).map_err(failed)?,
                terminate: signal(SignalKind::terminate()).map_err(failed)?,
                hangup,
            })
        }
        #[cfg(not(unix))]
        {
            let ctrl_c = tokio::signal::windows::ctrl_c().map_err(failed)?;
            Ok(StopSignals { ctrl_c })
        }
    }

    /// Waits for the next stop signal; says which. Cancel-safe: a signal that arrives while
    /// no one waits is kept for the next call.
    pub(crate) async fn recv(&mut self) -> StopSignal {
        #[cfg(unix)]
        {
            let hangup = async {
                match &mut self.hangup {
                    Some(hangup) => hangup.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.interrupt.recv() => StopSignal::Interrupt,
                _ = self.terminate.recv() => StopSignal::Terminate,
                _ = hangup => StopSignal::Hangup,
            }
        }
        #[cfg(not(unix))]
        {
            self.ctrl_c.recv().await;
            StopSignal::Interrupt
        }
    }
}

/// Which of the [`StopSignals`] arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopSignal {
    /// Ctrl-C (SIGINT on Unix).
    Interrupt,
    /// SIGTERM.
    #[cfg_attr(not(unix), allow(dead_code))]
    Terminate,
    /// SIGHUP.
    #[cfg_attr(not(unix), allow(dead_code))]
    Hangup,
}

impl StopSignal {
    /// The signal's name, as messages give it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt if cfg!(unix) => "SIGINT",
            StopSignal::Interrupt => "Ctrl-C",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }
}

/// Whether `signal` is ignored (`SIG_IGN`) in this process, as `nohup` leaves SIGHUP.
#[cfg(unix)]
pub(crate) fn ignored(signal: libc::c_int) -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `old`, which is valid,
    // zeroed memory of the right type; `signal` is a valid signal number.
    let rc = unsafe { libc::sigaction(signal, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: on success sigaction filled `old`; it was zeroed before in any case.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

#[cfg(test)]
mod tests {
    use super::help_command;

    fn help(line: &str) -> String {
        help_command(line.split(' ').map(std::ffi::OsString::from))
    }

    #[test]
    fn usage_errors_point_to_the_help_of_the_subcommand_run() {
        assert_eq!(
            help("anyipc send udp://127.0.0.1:1 --framing lines x"),
            "anyipc send --help"
        );
        assert_eq!(
            help("anyipc mq create jobs --capacity 64KiB"),
            "anyipc mq create --help"
        );
        assert_eq!(help("anyipc mq --bogus"), "anyipc mq --help");
        assert_eq!(
            help("anyipc listen --framing bridge"),
            "anyipc listen --help"
        );
        assert_eq!(help("anyipc frobnicate send"), "anyipc --help");
        assert_eq!(help("anyipc --bogus"), "anyipc --help");
        assert_eq!(help("anyipc"), "anyipc --help");
    }
}
