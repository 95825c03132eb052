//! `anyipc tour` (being written).

use crate::CliError;

/// Arguments of `anyipc tour`.
#[derive(Debug, clap::Args)]
pub(crate) struct TourArgs {}

/// Runs `anyipc tour`.
pub(crate) async fn run(_args: TourArgs) -> Result<(), CliError> {
    Err(CliError::Runtime("tour is being written".to_owned()))
}
