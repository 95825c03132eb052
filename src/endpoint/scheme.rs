//! The endpoint schemes and what each one is.

use std::fmt;

/// The mechanism an [`Endpoint`](crate::Endpoint) names: the part of the URL before `://`.
///
/// ```
/// use anyipc::Scheme;
/// assert_eq!("tcp".parse::<Scheme>().unwrap(), Scheme::Tcp);
/// assert_eq!(Scheme::Shm.to_string(), "shm");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// `tcp://host:port`: a TCP stream (TCP_NODELAY by default).
    Tcp,
    /// `udp://host:port`: UDP datagrams, one message each.
    Udp,
    /// `unix:///path` or `unix://@name` (Linux abstract name): a Unix stream socket.
    Unix,
    /// `pipe://name`: a named local socket (Unix socket or Windows named pipe).
    Pipe,
    /// `fifo:///path`: a POSIX FIFO, one-way.
    Fifo,
    /// `stdio://`: the pipes a child process got from the parent that spawned it.
    Stdio,
    /// `shm://name`: rings in shared memory.
    Shm,
    /// `mq://name`: a named, bounded, prioritised message queue.
    Mq,
    /// `mem://name`: an in-process channel pair with the same API.
    Mem,
    /// `file:///path`: a durable log, or a plain file with `framing=lines|raw`.
    File,
}

/// What a scheme's address looks like after `://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressShape {
    /// `host:port`.
    HostPort,
    /// A file-system path (`unix` also takes `@name`).
    Path,
    /// A name under the [name rules](crate::endpoint#names).
    Name,
    /// Nothing after `://`.
    Empty,
}

impl Scheme {
    /// Every scheme, in the order the documentation lists them.
    ///
    /// ```
    /// use anyipc::Scheme;
    ///
    /// assert_eq!(Scheme::ALL[0], Scheme::Tcp);
    /// for scheme in Scheme::ALL {
    ///     assert_eq!(scheme.as_str().parse::<Scheme>()?, scheme);
    /// }
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub const ALL: [Scheme; 10] = [
        Scheme::Tcp,
        Scheme::Udp,
        Scheme::Unix,
        Scheme::Pipe,
        Scheme::Fifo,
        Scheme::Stdio,
        Scheme::Shm,
        Scheme::Mq,
        Scheme::Mem,
        Scheme::File,
    ];

    /// The scheme as written in a URL (`"tcp"`, `"shm"`, …).
    ///
    /// ```
    /// use anyipc::{Endpoint, Scheme};
    ///
    /// assert_eq!(Scheme::Unix.as_str(), "unix");
    /// let ep: Endpoint = "fifo:///tmp/app.fifo".parse()?;
    /// assert_eq!(ep.scheme().as_str(), "fifo");
    /// # Ok::<(), anyipc::EndpointParseError>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Tcp => "tcp",
            Scheme::Udp => "udp",
            Scheme::Unix => "unix",
            Scheme::Pipe => "pipe",
            Scheme::Fifo => "fifo",
            Scheme::Stdio => "stdio",
            Scheme::Shm => "shm",
            Scheme::Mq => "mq",
            Scheme::Mem => "mem",
            Scheme::File => "file",
        }
    }

    /// Whether this platform has the scheme's transport: `unix`, `fifo` and `stdio` need a
    /// Unix system, `shm` and `mq` Linux; the others are everywhere. On a platform without
    /// it, [`bind`](crate::bind) and [`connect`](crate::connect) fail with `Unsupported`.
    ///
    /// ```
    /// use anyipc::Scheme;
    ///
    /// assert!(Scheme::Tcp.is_available() && Scheme::Pipe.is_available());
    /// assert_eq!(Scheme::Shm.is_available(), cfg!(target_os = "linux"));
    /// // The fastest way to a local peer that this platform has.
    /// let url = if Scheme::Shm.is_available() { "shm://app" } else { "pipe://app" };
    /// # let _ = url;
    /// ```
    pub const fn is_available(self) -> bool {
        match self {
            Scheme::Tcp | Scheme::Udp | Scheme::Pipe | Scheme::Mem | Scheme::File => true,
            Scheme::Unix | Scheme::Fifo | Scheme::Stdio => cfg!(unix),
            Scheme::Shm | Scheme::Mq => cfg!(target_os = "linux"),
        }
    }

    /// Whether the scheme can carry a byte stream that needs framing and so takes `framing=`
    /// (`true`), or only whole messages the mechanism keeps apart by itself (`false`: udp,
    /// mq, mem). `file` is both: a plain file with `framing=`, the durable log (whole
    /// records) without it; [`Endpoint::has_framing`](crate::Endpoint::has_framing) tells them
    /// apart.
    ///
    /// ```
    /// use anyipc::{Endpoint, Scheme};
    ///
    /// assert!(Scheme::Tcp.is_byte_stream());
    /// assert!(!Scheme::Udp.is_byte_stream());
    /// // Only byte streams take `framing=`.
    /// assert!(Endpoint::parse("udp://127.0.0.1:9000?framing=lines").is_err());
    /// ```
    pub fn is_byte_stream(self) -> bool {
        !matches!(self, Scheme::Udp | Scheme::Mq | Scheme::Mem)
    }

    /// Whether connections of this scheme carry messages one way only (`fifo`, `file`: writers
    /// send, the reader receives) or through one shared queue (`mq`): nothing sent back on
    /// such a connection reaches the sender, and a bound endpoint hands out one connection
    /// that receives from every sender. Request and reply over them take two endpoints, one
    /// each way.
    ///
    /// ```
    /// use anyipc::Scheme;
    ///
    /// assert!(Scheme::Fifo.is_one_way() && Scheme::File.is_one_way() && Scheme::Mq.is_one_way());
    /// assert!(!Scheme::Tcp.is_one_way() && !Scheme::Udp.is_one_way());
    /// ```
    pub fn is_one_way(self) -> bool {
        matches!(self, Scheme::Fifo | Scheme::File | Scheme::Mq)
    }

    pub(crate) fn address_shape(self) -> AddressShape {
        match self {
            Scheme::Tcp | Scheme::Udp => AddressShape::HostPort,
            Scheme::Unix | Scheme::Fifo | Scheme::File => AddressShape::Path,
            Scheme::Pipe | Scheme::Shm | Scheme::Mq | Scheme::Mem => AddressShape::Name,
            Scheme::Stdio => AddressShape::Empty,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scheme {
    type Err = crate::EndpointParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.as_str() == s)
            .ok_or_else(|| {
                crate::EndpointParseError::new(
                    s,
                    crate::endpoint::ParseErrorKind::UnknownScheme(s.to_owned()),
                )
            })
    }
}
