use std::fmt;

/// How messages are cut out of a byte stream: the `framing=` option.
///
/// ```
/// let ep: anyipc::Endpoint = "tcp://127.0.0.1:8888?framing=raw".parse()?;
/// assert_eq!(ep.framing(), anyipc::codec::Framing::Raw);
/// # Ok::<(), anyipc::EndpointParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// A u32 big-endian length, then that many bytes (the default).
    #[default]
    Length,
    /// Each message is a line ending in `\n` (a `\r` before it is dropped). A message holding
    /// `\n` cannot be sent.
    Lines,
    /// No framing: each read is a message, each message is written as it is. For talking to
    /// programs that are not anyipc.
    Raw,
}

impl Framing {
    /// The option value (`"length"`, `"lines"`, `"raw"`).
    ///
    /// ```
    /// use anyipc::codec::Framing;
    ///
    /// assert_eq!(Framing::Lines.as_str(), "lines");
    /// let ep: anyipc::Endpoint = "tcp://127.0.0.1:7000".parse()?;
    /// let ep = ep.with_option("framing", Framing::Raw.as_str())?;
    /// assert_eq!(ep.framing(), Framing::Raw);
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::Length => "length",
            Framing::Lines => "lines",
            Framing::Raw => "raw",
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
