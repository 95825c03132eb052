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
    // SIGTERM and SIGHUP (to this process, or its whole group) end it as cleanly as its
    // parent does: the listener is dropped, removing a named endpoint, and the parent hears
    // why. Installed before the ready line too.
    let mut termination = Termination::install();
    let served = tokio::select! {
        biased;
        signal = termination.recv() => Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            format!("the bench peer was stopped by {signal}"),
        )),
        served = anyipc::bench::peer_main(&args.target) => served,
    };
    interrupts.abort();
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

/// The signals that ask a bench peer to end (SIGTERM; SIGHUP unless it was ignored at start,
/// as `nohup` leaves it); none off Unix or where a handler cannot be installed.
struct Termination {
    #[cfg(unix)]
    signals: Vec<(tokio::signal::unix::Signal, &'static str)>,
}

impl Termination {
    /// Installs the handlers.
    fn install() -> Termination {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut kinds = vec![(SignalKind::terminate(), "SIGTERM")];
            if !crate::ignored(libc::SIGHUP) {
                kinds.push((SignalKind::hangup(), "SIGHUP"));
            }
            let signals = kinds
                .into_iter()
                .filter_map(|(kind, name)| Some((signal(kind).ok()?, name)))
                .collect();
            Termination { signals }
        }
        #[cfg(not(unix))]
        Termination {}
    }

    /// Resolves with the name of the first signal that arrives.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            let arrivals = self.signals.iter_mut().map(|(signal, name)| {
                Box::pin(async move {
                    match signal.recv().await {
                        Some(()) => *name,
                        None => std::future::pending().await,
                    }
                })
            });
            if arrivals.len() > 0 {
                return futures::future::select_all(arrivals).await.0;
            }
        }
        std::future::pending().await
    }
}

/// Writes `err` as a line on stdout; whether it got there.
fn tell_parent(err: &std::io::Error) -> bool {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{err}")
        .and_then(|()| stdout.flush())
        .is_ok()
}
