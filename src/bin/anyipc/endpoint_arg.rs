//! The endpoint URL and `--framing` arguments that `listen` and `send` share.

use crate::CliError;
use anyipc::endpoint::ParseErrorKind;
use anyipc::Endpoint;

/// The URL plus the options that change it.
#[derive(Debug, clap::Args)]
pub(crate) struct EndpointArgs {
    /// Endpoint URL, e.g. tcp://127.0.0.1:7000, udp://127.0.0.1:7001, unix:///tmp/app.sock.
    #[arg(value_name = "URL")]
    url: String,

    /// How messages are cut out of a byte stream; overrides the URL's `framing=`. `raw` talks
    /// to programs that know nothing of anyipc. Not for udp:// or mem://, which keep messages
    /// apart by themselves.
    #[arg(long, value_name = "FRAMING", value_parser = ["length", "lines", "raw"])]
    framing: Option<String>,
}

impl EndpointArgs {
    /// The parsed endpoint with `--framing` applied.
    ///
    /// # Errors
    /// A usage error for a bad URL, or for `--framing` on a scheme that takes no framing.
    pub(crate) fn endpoint(&self) -> Result<Endpoint, CliError> {
        let endpoint = Endpoint::parse(&self.url)?;
        match &self.framing {
            None => Ok(endpoint),
            Some(framing) => {
                let scheme = endpoint.scheme();
                endpoint
                    .with_option("framing", framing)
                    .map_err(|err| match err.kind() {
                        ParseErrorKind::UnknownOption { .. } => CliError::Usage(format!(
                            "--framing: {scheme}:// takes no framing, its messages arrive whole"
                        )),
                        _ => CliError::Usage(format!("--framing {framing}: {err}")),
                    })
            }
        }
    }
}
