//! `anyipc bench-peer TARGET` (hidden): the peer process `anyipc tour` and `anyipc bench`
//! spawn; it serves bench runs until its parent goes away.

use crate::CliError;

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
    anyipc::bench::peer_main(&args.target)
        .await
        .map_err(|e| CliError::Runtime(format!("bench peer on {}: {e}", args.target)))
}
