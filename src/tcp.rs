//! `tcp://host:port`: TCP streams, with TCP_NODELAY on unless `nodelay=false`.
//!
//! Reach other machines with the same code that talks to local processes. Bind port 0 to get
//! any free port; [`Listener::endpoint`](crate::Listener::endpoint) names it. Connecting to
//! port 0 (here and on `udp://`) is refused at once with `InvalidInput` and an
//! [`EndpointParseError`] inside: nothing can listen there.
//!
//! ```
//! # tokio_test::block_on(async {
//! let mut listener = anyipc::bind("tcp://127.0.0.1:0").await?;
//! // The real port, and an option for this client only.
//! let url = format!("{}?nodelay=false", listener.endpoint());
//! let mut client = anyipc::connect(&url).await?;
//! let mut server = listener.accept().await?;
//! client.send("over tcp").await?;
//! assert_eq!(server.recv().await?.unwrap(), "over tcp");
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```
//!
//! # IPv6 zones
//!
//! A link-local IPv6 address (`fe80::…`) is reachable only through a named link, its zone:
//! the URL writes it after `%25` (RFC 6874: the `%` of `fe80::1%eth0`, escaped), as an
//! interface name or index, here and on `udp://`: `tcp://[fe80::1%25eth0]:7000`,
//! `tcp://[fe80::1%252]:7000`. The zone becomes the address's scope id; nothing goes to a
//! resolver. A name is looked up on Unix only (on Windows give the index, or it is
//! `Unsupported`); a name no interface has is `NotFound`. Without its zone, Linux refuses a
//! link-local address (`InvalidInput`); on other addresses it takes a zone and ignores it.
//!
//! ```
//! # tokio_test::block_on(async {
//! let err = anyipc::connect("tcp://[fe80::1%25anyipc-none]:7000").await.unwrap_err();
//! # #[cfg(unix)]
//! assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
//! assert!(err.to_string().contains("anyipc-none"), "{err}");
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```
//!
//! # Listening
//!
//! The [`Listener`](crate::Listener) that [`bind`](crate::bind) returns for `tcp://` holds the
//! port while it lives.
//!
//! ```
//! use std::io::ErrorKind;
//! # tokio_test::block_on(async {
//! let mut listener = anyipc::bind("tcp://127.0.0.1:0").await?;
//! let mut client = anyipc::connect(listener.endpoint()).await?;
//! let mut server = listener.accept().await?;
//! server.send("welcome").await?;
//! assert_eq!(client.recv().await?.unwrap(), "welcome");
//! // The port is taken while the listener lives.
//! let err = anyipc::bind(listener.endpoint()).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::AddrInUse);
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```

use crate::endpoint::ParseErrorKind;
use crate::transport::{AnyStream, Connection};
use crate::{Address, Endpoint, EndpointParseError};
use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::task::{ready, Context, Poll};

fn host_port(endpoint: &Endpoint) -> io::Result<(&str, u16)> {
    match endpoint.address() {
        Address::HostPort { host, port } => Ok((host, *port)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} has no host:port"),
        )),
    }
}

/// Refuses to connect to port 0 (`tcp://` and `udp://`): it asks the OS for a free port when
/// binding, and nothing listens there, so a connect to it is a bad URL for connecting
/// (`InvalidInput` with an [`EndpointParseError`] inside), not the OS's `ConnectionRefused`.
/// The URL itself parses: the same endpoint binds.
pub(crate) fn refuse_port_zero(endpoint: &Endpoint) -> io::Result<()> {
    let (_, port) = host_port(endpoint)?;
    if port != 0 {
        return Ok(());
    }
    let scheme = endpoint.scheme();
    let reason = "port 0 can only be bound (it asks the OS for a free port); connect to the \
                  port a listener got, which its endpoint names"
        .to_owned();
    let kind = ParseErrorKind::InvalidAddress { scheme, reason };
    Err(EndpointParseError::new(&endpoint.to_string(), kind).into())
}

/// The addresses the `host:port` of a `tcp://` or `udp://` endpoint resolves to, in the
/// resolver's order (never empty); an IPv6 address with a zone is its one address, with the
/// zone's interface index as its scope id.
///
/// # Errors
/// `NotFound`, naming the host (or the zone's interface), when it does not exist (or the
/// resolver fails for good) or resolves to no address; `TimedOut`, naming the host, when the
/// resolver could not answer for now (`EAI_AGAIN`, "Temporary failure in name resolution";
/// Windows' `WSATRY_AGAIN`): a later try may succeed. Told apart by the resolver's error
/// code (std's and tokio's `lookup_host` keep only its text, of a kind no caller can match).
pub(crate) async fn resolve(endpoint: &Endpoint) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = host_port(endpoint)?;
    if let Some((ip, zone)) = host.split_once('%') {
        return Ok(vec![scoped(endpoint, ip, zone, port)?]);
    }
    let not_found = |why: String| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{endpoint}: the host `{host}` {why}"),
        )
    };
    // An address is its own; a name goes to the system resolver.
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs = crate::sys::lookup_host(host, port).await.map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::TimedOut => "could not be resolved for now, a later try may succeed",
            _ => "does not resolve",
        };
        let message = format!("{endpoint}: the host `{host}` {why} ({e})");
        crate::error::with_context(e.kind(), message, e)
    })?;
    if addrs.is_empty() {
        return Err(not_found("resolves to no address".to_owned()));
    }
    Ok(addrs)
}

/// The socket address of an IPv6 address with a zone (`fe80::1%eth0`): the zone is an
/// interface index, or a name looked up (Unix). Nothing goes to a resolver.
///
/// # Errors
/// `NotFound`, naming the endpoint and the zone, for an interface that does not exist;
/// `Unsupported` for an interface name on Windows (an index works).
fn scoped(endpoint: &Endpoint, ip: &str, zone: &str, port: u16) -> io::Result<SocketAddr> {
    let invalid =
        |why: String| io::Error::new(io::ErrorKind::InvalidInput, format!("{endpoint}: {why}"));
    // The parser let only an IPv6 address and a u32 index (or a name) through.
    let ip: Ipv6Addr = ip
        .parse()
        .map_err(|_| invalid(format!("`{ip}` is not an IPv6 address")))?;
    let index = match crate::endpoint::zone_index(zone) {
        Some(index) => index.map_err(invalid)?,
        None => crate::sys::interface_index(zone).map_err(|e| endpoint.error(e))?,
    };
    Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, index)))
}

fn stream_connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    endpoint: &Endpoint,
) -> io::Result<Connection> {
    stream.set_nodelay(endpoint.bool_option("nodelay").unwrap_or(true))?;
    Ok(Connection::from_stream(
        AnyStream::Tcp(stream),
        endpoint,
        peer.to_string(),
        None,
    ))
}

/// Connects to `tcp://host:port`, trying each address the host resolves to.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    refuse_port_zero(endpoint)?;
    let addrs = resolve(endpoint).await?;
    let stream = tokio::net::TcpStream::connect(&addrs[..])
        .await
        .map_err(|e| endpoint.error(e))?;
    let peer = stream.peer_addr().map_err(|e| endpoint.error(e))?;
    stream_connection(stream, peer, endpoint)
}

/// The `tcp://` listener inside the [`Listener`](crate::Listener) that [`bind`](crate::bind)
/// returns; the module documentation says how it behaves.
#[derive(Debug)]
pub(crate) struct TcpListener {
    listener: tokio::net::TcpListener,
}

impl Drop for TcpListener {
    /// Stops listening before the socket closes: a child forked meanwhile holds a copy of it
    /// until it execs, which kept the port listening and refused a rebind ([`stop_listening`]).
    ///
    /// [`stop_listening`]: crate::sys::stop_listening
    fn drop(&mut self) {
        crate::sys::stop_listening(&self.listener);
    }
}

impl TcpListener {
    /// Binds; returns the listener and its endpoint with the real port.
    pub(crate) async fn bind(endpoint: &Endpoint) -> io::Result<(TcpListener, Endpoint)> {
        let addrs = resolve(endpoint).await?;
        let listener = tokio::net::TcpListener::bind(&addrs[..])
            .await
            .map_err(|e| endpoint.error(e))?;
        let bound = endpoint.with_port(listener.local_addr()?.port());
        Ok((TcpListener { listener }, bound))
    }

    /// Polls for the next client. A connection that fails before it is set up (a client
    /// that reset it while it waited to be accepted, which some systems report as a failed
    /// accept) is skipped, not an error: it must not stop a server's accept loop.
    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        loop {
            // The address `accept` gives: `getpeername` fails once the client has reset.
            let accepted = ready!(self.listener.poll_accept(cx));
            let Some((stream, peer)) = crate::sys::skip_one_clients_failure(accepted)? else {
                continue;
            };
            match stream_connection(stream, peer, endpoint) {
                Ok(connection) => return Poll::Ready(Ok(connection)),
                Err(e) => tracing::debug!(%peer, error = %e, "tcp client gone before set-up"),
            }
        }
    }
}
