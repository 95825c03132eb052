//! `anyipc bench-peer TARGET` (hidden): the peer process `anyipc tour` and `anyipc bench`
//! spawn; it serves bench runs until its parent goes away.
//!
//! Its parent reads its stdout to the end. The first line is the ready line or, when it cannot
//! start, the reason, which the parent then gives as its own one-line error; a failure after
//! the ready line is its last line, which the parent adds to the run's error (neither is also
//! printed on stderr). Ctrl-C at a terminal reaches the whole process group: the peer leaves
//! it to its parent, which stops the peer cleanly (removing its named endpoint) by closing the
//! peer's stdin, as does the parent's end however it comes. SIGTERM and SIGHUP end the peer
//! as cleanly, and its parent's run fails saying so.

use crate::{CliError, StopSignal, StopSignals};
use std::io::Write;

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
    // Installed before the ready line. Interrupts are the parent's to act on: from then on
    // Ctrl-C no longer ends this process. SIGTERM and SIGHUP (to it, or its whole group) end
    // it as cleanly as its parent does: the listener is dropped, removing a named endpoint,
    // and the parent hears why.
    let stop = StopSignals::install().ok();
    let terminated = async move {
        let Some(mut stop) = stop else {
            return std::future::pending().await;
        };
        loop {
            match stop.recv().await {
                StopSignal::Interrupt => {
                    tracing::debug!("bench peer: interrupt left to the parent")
                }
                signal => break signal,
            }
        }
    };
    let served = tokio::select! {
        biased;
        signal = terminated => Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            format!("the bench peer was stopped by {}", signal.name()),
        )),
        served = anyipc::bench::peer_main(&args.target) => served,
    };
    match served {
        Ok(()) => Ok(()),
        // The parent reads stdout to its end: before the ready line the reason is its one
        // line to say; after it, the last line of its error for the run. Stderr says it only
        // when the parent has gone (the write fails).
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
