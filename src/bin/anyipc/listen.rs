//! `anyipc listen` (being written).

use crate::CliError;

/// Arguments of `anyipc listen`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListenArgs {}

/// Runs `anyipc listen`.
pub(crate) async fn run(_args: ListenArgs) -> Result<(), CliError> {
    Err(CliError::Runtime("listen is being written".to_owned()))
}
