//! `anyipc send` (being written).

use crate::CliError;

/// Arguments of `anyipc send`.
#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {}

/// Runs `anyipc send`.
pub(crate) async fn run(_args: SendArgs) -> Result<(), CliError> {
    Err(CliError::Runtime("send is being written".to_owned()))
}
