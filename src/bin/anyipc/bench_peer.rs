//! `anyipc bench-peer TARGET` (hidden): the peer process `anyipc tour` (and later
//! `anyipc bench`) spawns; it serves bench runs until its parent goes away.

use crate::CliError;

/// Arguments of the hidden `anyipc bench-peer`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchPeerArgs {
    /// What to listen on: an endpoint URL, `raw+unix://PATH` or `raw+tcp://ADDR`.
    target: String,
}

/// Runs the peer until stdin closes.
pub(crate) async fn run(args: BenchPeerArgs) -> Result<(), CliError> {
    anyipc::bench::peer_main(&args.target)
        .await
        .map_err(|e| CliError::Runtime(format!("bench peer on {}: {e}", args.target)))
}
