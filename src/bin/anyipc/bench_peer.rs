//! `anyipc bench-peer TARGET` (hidden): the peer process `anyipc tour` and `anyipc bench`
//! spawn; it serves bench runs until its parent goes away.
//!
//! Its parent reads the first line of its stdout: the ready line, or, when it cannot start,
//! the reason, which the parent then gives as its own one-line error (the reason is not also
//! printed on stderr). Ctrl-C at a terminal reaches the whole process group: the peer leaves
//! it to its parent, which stops the peer cleanly (removing its named endpoint) by closing the
//! peer's stdin, as does the parent's end however it comes.

use crate::CliError;
use std::io::Write;
use std::task::Poll;

/// Arguments of the hidden `anyipc bench-peer`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchPeerArgs {
    /// What to serve: an endpoint URL to listen on, `URL_TO_PEER + URL_FROM_PEER` (two one-way
    /// endpoints), `stdio://` (the pipes from the parent), `raw+unix://PATH`,
    /// `raw+tcp://ADDR`, or for one run of a raw twin started by
    /// `PeerProcess::spawn_raw_child`, `raw+child://` or `raw+fifo://PATH`.
    target: String,
}

/// Runs the peer until stdin closes.
pub(crate) async fn run(args: BenchPeerArgs) -> Result<(), CliError> {
    // Interrupts are the parent's to act on. Polling the first wait installs the handler
    // (before the ready line): from then on an interrupt no longer ends this process.
    let mut interrupt = Box::pin(tokio::signal::ctrl_c());
    let installed = !matches!(futures::poll!(&mut interrupt), Poll::Ready(Err(_)));
    let interrupts = tokio::spawn(async move {
        while installed && interrupt.await.is_ok() {
            tracing::debug!("bench peer: interrupt left to the parent");
            interrupt = Box::pin(tokio::signal::ctrl_c());
        }
    });
    let served = anyipc::bench::peer_main(&args.target).await;
    interrupts.abort();
    match served {
        Ok(()) => Ok(()),
        // Before the ready line the parent reads stdout: the reason is its one line to say.
        // After it the parent reads no more (the write fails) and stderr has to say it.
        Err(e) if tell_parent(&e) => std::process::exit(1),
        Err(e) => Err(CliError::Runtime(format!(
            "bench peer on {}: {e}",
            args.target
        ))),
    }
}

/// Writes `err` as a line on stdout; whether it got there.
fn tell_parent(err: &std::io::Error) -> bool {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{err}")
        .and_then(|()| stdout.flush())
        .is_ok()
}
