//! `anyipc`: talk to, listen on, and tour every IPC mechanism from the command line.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad usage or endpoint URL.

mod accept_errors;
mod bad_message;
mod bench;
mod bench_peer;
mod bridge;
#[cfg(target_os = "linux")]
mod clean;
mod cli_error;
mod completions;
mod duration_arg;
mod endpoint_arg;
mod listen;
#[cfg(target_os = "linux")]
mod ls;
mod mq;
mod output;
#[cfg(target_os = "linux")]
mod resources;
mod send;
mod size_arg;
mod tour;

use clap::{Parser, Subcommand};
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
  anyipc ls                                      pipe, shm and mq names and their owners

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

Exit codes: 0 every transport worked, 1 some transport failed, 2 bad usage.")]
    Tour(tour::TourArgs),
    /// Measure latency and throughput of one endpoint between two processes.
    Bench(bench::BenchArgs),
    /// Forward messages both ways between two endpoints of any kinds.
    Bridge(bridge::BridgeArgs),
    /// List the anyipc resources (pipe, shm, mq names) on this machine and their owners.
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return CliError::from_clap(err).report(),
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return CliError::Runtime(format!("cannot start the runtime: {err}")).report(),
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
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => err.report(),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
