use crate::{Endpoint, Scheme};
use std::io;

/// How [`spawn_with`](super::spawn_with) connects to the child.
///
/// ```
/// use anyipc::child::ChildOptions;
/// let options = ChildOptions::new()
///     .stdio(true)
///     .endpoint("stdio://?framing=lines&max_frame=64KiB".parse()?)?;
/// assert!(options.uses_stdio());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChildOptions {
    stdio: bool,
    endpoint: Endpoint,
}

impl Default for ChildOptions {
    fn default() -> Self {
        ChildOptions::new()
    }
}

impl ChildOptions {
    /// Extra pipes (not stdio), the default framing and limits of `stdio://`.
    pub fn new() -> ChildOptions {
        ChildOptions {
            stdio: false,
            endpoint: Endpoint::parse("stdio://").expect("stdio:// is a valid endpoint"),
        }
    }

    /// Use the child's stdin and stdout as the pipes (`true`), or two extra descriptors
    /// (`false`, the default) so that the child keeps its stdio.
    pub fn stdio(mut self, yes: bool) -> ChildOptions {
        self.stdio = yes;
        self
    }

    /// Whether the child's stdin and stdout are the pipes.
    pub fn uses_stdio(&self) -> bool {
        self.stdio
    }

    /// The parent side's options, as a `stdio://` endpoint (`framing=`, `max_frame=`,
    /// `recv_timeout=`). The child chooses its own by the URL it connects to.
    ///
    /// # Errors
    /// `InvalidInput` when the endpoint is not `stdio://`.
    pub fn endpoint(mut self, endpoint: Endpoint) -> io::Result<ChildOptions> {
        if endpoint.scheme() != Scheme::Stdio {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("child options take a stdio:// endpoint, not {endpoint}"),
            ));
        }
        self.endpoint = endpoint;
        Ok(self)
    }

    pub(crate) fn endpoint_ref(&self) -> &Endpoint {
        &self.endpoint
    }
}
