#[cfg(unix)]
use crate::endpoint::{escape_path, unescape_path};
use crate::{Endpoint, Scheme, ToEndpoint};
use std::fmt;
use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;
use std::str::FromStr;

/// What a bench run talks to: an anyipc endpoint, a pair of one-way endpoints, or one of the
/// hand-written raw baselines.
///
/// Written as text (for a peer process's command line) as the endpoint URL, two URLs joined
/// by ` + ` for a [`Pair`](Target::Pair), `raw+unix://PATH`, `raw+tcp://HOST:PORT`,
/// `raw+child://` or `raw+fifo://PATH`. A URL never holds a bare space (it is written `%20`),
/// so ` + ` cannot be part of one.
///
/// `stdio://` names a peer that is a child process talking over its pipes to the parent:
/// start it with [`PeerProcess::spawn_child`](super::PeerProcess::spawn_child) and measure it
/// with [`PeerProcess::measure`](super::PeerProcess::measure). The raw twins `raw+child://`
/// and `raw+fifo://PATH` have a child process per run
/// ([`PeerProcess::spawn_raw_child`](super::PeerProcess::spawn_raw_child)).
///
/// ```
/// use anyipc::bench::Target;
///
/// let t: Target = "raw+tcp://127.0.0.1:0".parse()?;
/// assert_eq!(t.to_string(), "raw+tcp://127.0.0.1:0");
/// assert!(t.is_raw());
/// let t: Target = "tcp://127.0.0.1:7000".parse()?;
/// assert!(!t.is_raw());
/// let t: Target = "fifo:///tmp/to-peer + fifo:///tmp/from-peer".parse()?;
/// assert!(matches!(t, Target::Pair { .. }));
/// assert_eq!(t.to_string(), "fifo:///tmp/to-peer + fifo:///tmp/from-peer");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An anyipc endpoint.
    Anyipc(Endpoint),
    /// Two one-way endpoints (`fifo://`, `file://`, `mq://`), one each way, joined by a
    /// [`Duplex`](crate::Duplex). Each side binds the endpoint it reads and connects to the
    /// one it writes: the peer binds `to_peer` before it says it is ready; the measuring side
    /// binds `from_peer` before it sends a run's first message, and the peer connects to
    /// `from_peer` when that message arrives.
    Pair {
        /// What the measuring side sends on and the peer reads.
        to_peer: Endpoint,
        /// What the peer answers on and the measuring side reads.
        from_peer: Endpoint,
    },
    /// The raw baseline: tokio `UnixStream` + tokio-util `LengthDelimitedCodec`.
    #[cfg(unix)]
    RawUnix(PathBuf),
    /// The raw TCP twin: tokio `TcpStream` (TCP_NODELAY) + `LengthDelimitedCodec`.
    RawTcp(SocketAddr),
    /// The raw twin of `child` (`raw+child://`): a child process on two anonymous pipes it
    /// inherits, tokio `pipe::{Receiver, Sender}` + `LengthDelimitedCodec`.
    #[cfg(unix)]
    RawChild,
    /// The raw twin of a pair of `fifo://` endpoints (`raw+fifo://PATH`): two FIFOs, `PATH`
    /// towards the peer and `PATH.reply` back, tokio `pipe::{Receiver, Sender}` +
    /// `LengthDelimitedCodec`; the peer is a child process.
    #[cfg(unix)]
    RawFifo(PathBuf),
}

/// Between the two URLs of a [`Target::Pair`] written as text.
const PAIR_SEPARATOR: &str = " + ";

impl Target {
    /// Whether this is a raw baseline rather than anyipc endpoints.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use anyipc::bench::Target;
    ///
    /// for raw in ["raw+unix:///tmp/b.sock", "raw+tcp://127.0.0.1:0", "raw+child://"] {
    ///     assert!(raw.parse::<Target>()?.is_raw());
    /// }
    /// assert!(!"unix:///tmp/b.sock".parse::<Target>()?.is_raw());
    /// assert!(!"fifo:///tmp/a + fifo:///tmp/b".parse::<Target>()?.is_raw());
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_raw(&self) -> bool {
        !matches!(self, Target::Anyipc(_) | Target::Pair { .. })
    }

    /// Whether this platform can run the target: every scheme in it
    /// [is available](crate::Scheme::is_available) here (a raw twin parses only where it runs).
    ///
    /// ```
    /// use anyipc::bench::Target;
    ///
    /// assert!("tcp://127.0.0.1:0".parse::<Target>()?.is_available());
    /// let pair: Target = "mq://a?create=true + mq://b?create=true".parse()?;
    /// assert_eq!(pair.is_available(), cfg!(target_os = "linux"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_available(&self) -> bool {
        match self {
            Target::Anyipc(endpoint) => endpoint.scheme().is_available(),
            Target::Pair { to_peer, from_peer } => {
                to_peer.scheme().is_available() && from_peer.scheme().is_available()
            }
            _ => true,
        }
    }

    /// Whether this is `stdio://`: the peer is a child process on pipes to this one.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use anyipc::bench::Target;
    ///
    /// assert!("stdio://".parse::<Target>()?.is_child());
    /// assert!(!"raw+child://".parse::<Target>()?.is_child()); // a raw twin, not anyipc's pipes
    /// assert!(!"pipe://doc-peer".parse::<Target>()?.is_child());
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_child(&self) -> bool {
        matches!(self, Target::Anyipc(e) if e.scheme() == Scheme::Stdio)
    }

    /// Whether this is a raw twin served by a child process of its own for every run
    /// (`raw+child://`, `raw+fifo://PATH`): start it with
    /// [`PeerProcess::spawn_raw_child`](super::PeerProcess::spawn_raw_child).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use anyipc::bench::Target;
    ///
    /// assert!("raw+child://".parse::<Target>()?.is_raw_child());
    /// assert!("raw+fifo:///tmp/twin".parse::<Target>()?.is_raw_child());
    /// assert!(!"raw+unix:///tmp/b.sock".parse::<Target>()?.is_raw_child());
    /// assert!(!"stdio://".parse::<Target>()?.is_raw_child());
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_raw_child(&self) -> bool {
        match self {
            #[cfg(unix)]
            Target::RawChild | Target::RawFifo(_) => true,
            _ => false,
        }
    }

    /// The anyipc endpoints of this target: one, a pair's two, none for a raw baseline.
    ///
    /// ```
    /// use anyipc::bench::Target;
    ///
    /// let pair: Target = "fifo:///tmp/a + fifo:///tmp/b".parse()?;
    /// let urls: Vec<String> = pair.endpoints().iter().map(|e| e.to_string()).collect();
    /// assert_eq!(urls, ["fifo:///tmp/a", "fifo:///tmp/b"]);
    /// assert!("raw+tcp://127.0.0.1:1".parse::<Target>()?.endpoints().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn endpoints(&self) -> Vec<&crate::Endpoint> {
        match self {
            Target::Anyipc(endpoint) => vec![endpoint],
            Target::Pair { to_peer, from_peer } => vec![to_peer, from_peer],
            _ => Vec::new(),
        }
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
        for (prefix, make) in [
            ("raw+unix://", Target::RawUnix as fn(PathBuf) -> Target),
            ("raw+fifo://", Target::RawFifo),
        ] {
            if let Some(path) = s.strip_prefix(prefix) {
                return match path {
                    "" => Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{s}: {prefix} needs a path"),
                    )),
                    _ => unescape_path(path).map(make).map_err(|why| {
                        io::Error::new(io::ErrorKind::InvalidInput, format!("{s}: {why}"))
                    }),
                };
            }
        }
        #[cfg(unix)]
        if let Some(rest) = s.strip_prefix("raw+child://") {
            return match rest {
                "" => Ok(Target::RawChild),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{s}: raw+child:// takes nothing after it"),
                )),
            };
        }
        // Padded, so that a `+` at either end with its endpoint missing splits too.
        let padded = format!(" {} ", s.trim_ascii());
        let ends: Vec<&str> = padded.split(PAIR_SEPARATOR).map(str::trim_ascii).collect();
        match ends[..] {
            [_] => Ok(Target::Anyipc(s.to_endpoint()?)),
            [to_peer, from_peer] if !to_peer.is_empty() && !from_peer.is_empty() => {
                Ok(Target::Pair {
                    to_peer: to_peer.to_endpoint()?,
                    from_peer: from_peer.to_endpoint()?,
                })
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{s}: a pair is two endpoints, \"URL_TO_PEER + URL_FROM_PEER\"; this has {}",
                    ends.iter().filter(|end| !end.is_empty()).count()
                ),
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Anyipc(endpoint) => endpoint.fmt(f),
            Target::Pair { to_peer, from_peer } => {
                write!(f, "{to_peer}{PAIR_SEPARATOR}{from_peer}")
            }
            #[cfg(unix)]
            Target::RawUnix(path) => write!(f, "raw+unix://{}", escape_path(path)),
            Target::RawTcp(addr) => write!(f, "raw+tcp://{addr}"),
            #[cfg(unix)]
            Target::RawChild => f.write_str("raw+child://"),
            #[cfg(unix)]
            Target::RawFifo(path) => write!(f, "raw+fifo://{}", escape_path(path)),
        }
    }
}
