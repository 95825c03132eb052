use crate::{Endpoint, ToEndpoint};
use std::fmt;
use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;
use std::str::FromStr;

/// What a bench run talks to: an anyipc endpoint, or one of the hand-written raw baselines.
///
/// Written as text (for a peer process's command line) as the endpoint URL, `raw+unix://PATH`
/// or `raw+tcp://HOST:PORT`.
///
/// ```
/// use anyipc::bench::Target;
///
/// let t: Target = "raw+tcp://127.0.0.1:0".parse()?;
/// assert_eq!(t.to_string(), "raw+tcp://127.0.0.1:0");
/// assert!(t.is_raw());
/// let t: Target = "tcp://127.0.0.1:7000".parse()?;
/// assert!(!t.is_raw());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An anyipc endpoint.
    Anyipc(Endpoint),
    /// The raw baseline: tokio `UnixStream` + tokio-util `LengthDelimitedCodec`.
    #[cfg(unix)]
    RawUnix(PathBuf),
    /// The raw TCP twin: tokio `TcpStream` (TCP_NODELAY) + `LengthDelimitedCodec`.
    RawTcp(SocketAddr),
}

impl Target {
    /// Whether this is a raw baseline rather than an anyipc endpoint.
    pub fn is_raw(&self) -> bool {
        !matches!(self, Target::Anyipc(_))
    }
}

impl FromStr for Target {
    type Err = io::Error;

    /// # Errors
    /// `InvalidInput` for a malformed URL or socket address.
    fn from_str(s: &str) -> io::Result<Target> {
        if let Some(addr) = s.strip_prefix("raw+tcp://") {
            return addr
                .parse()
                .map(Target::RawTcp)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{s}: {e}")));
        }
        #[cfg(unix)]
        if let Some(path) = s.strip_prefix("raw+unix://") {
            return Ok(Target::RawUnix(PathBuf::from(path)));
        }
        Ok(Target::Anyipc(s.to_endpoint()?))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Anyipc(endpoint) => endpoint.fmt(f),
            #[cfg(unix)]
            Target::RawUnix(path) => write!(f, "raw+unix://{}", path.display()),
            Target::RawTcp(addr) => write!(f, "raw+tcp://{addr}"),
        }
    }
}
