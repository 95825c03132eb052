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
    /// Extra pipes (not stdio), the default framing and limits of `stdio://`: what
    /// [`spawn`](super::spawn) uses.
    ///
    /// ```
    /// use anyipc::child::ChildOptions;
    ///
    /// assert!(!ChildOptions::new().uses_stdio());
    /// assert!(!ChildOptions::default().uses_stdio());
    /// ```
    pub fn new() -> ChildOptions {
        ChildOptions {
            stdio: false,
            endpoint: Endpoint::parse("stdio://").expect("stdio:// is a valid endpoint"),
        }
    }

    /// Use the child's stdin and stdout as the pipes (`true`), or two extra descriptors
    /// (`false`, the default) so that the child keeps its stdio.
    ///
    /// With `true`, whatever stdin and stdout the `Command` was given are replaced by the
    /// pipes (so the returned `Child`'s `stdin` and `stdout` are `None`); its stderr is left
    /// as it was set.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::child::{spawn_with, ChildOptions, CHILD_FDS_ENV};
    ///
    /// let options = ChildOptions::new().stdio(true).endpoint("stdio://?framing=lines".parse()?)?;
    /// let mut command = tokio::process::Command::new("printenv");
    /// command.arg(CHILD_FDS_ENV);
    /// let (mut child, mut conn) = spawn_with(command, options)?;
    /// // What the child prints on its stdout arrives as messages.
    /// assert_eq!(conn.recv().await?.unwrap(), format!("{}:stdio", std::process::id()));
    /// assert!(child.wait().await?.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn stdio(mut self, yes: bool) -> ChildOptions {
        self.stdio = yes;
        self
    }

    /// Whether the child's stdin and stdout are the pipes.
    ///
    /// ```
    /// use anyipc::child::ChildOptions;
    ///
    /// assert!(ChildOptions::new().stdio(true).uses_stdio());
    /// assert!(!ChildOptions::new().stdio(true).stdio(false).uses_stdio());
    /// ```
    pub fn uses_stdio(&self) -> bool {
        self.stdio
    }

    /// The parent side's options, as a `stdio://` endpoint (`framing=`, `max_frame=`,
    /// `recv_timeout=`, `send_timeout=`). The child chooses its own by the URL it connects to.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::child::{spawn_with, ChildOptions};
    /// use std::io::ErrorKind;
    ///
    /// let options = ChildOptions::new().stdio(true).endpoint("stdio://?max_frame=4".parse()?)?;
    /// let (_child, mut conn) = spawn_with(tokio::process::Command::new("cat"), options)?;
    /// assert_eq!(conn.send("hello").await.unwrap_err().kind(), ErrorKind::InvalidInput);
    /// conn.send("hi").await?;
    /// assert_eq!(conn.recv().await?.unwrap(), "hi");
    /// let tcp = "tcp://127.0.0.1:7000".parse()?;
    /// assert_eq!(ChildOptions::new().endpoint(tcp).unwrap_err().kind(), ErrorKind::InvalidInput);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
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
