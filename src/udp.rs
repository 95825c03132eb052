//! `udp://host:port`: one datagram per message.
//!
//! A listener demultiplexes datagrams by sender address into connections, so server code is
//! the same as for TCP: the first datagram from a new address is `accept`ed as a new
//! [`Connection`]. UDP itself has no connection: nothing tells a server that a client went
//! away; datagrams may be reordered between machines and are dropped, on one host too,
//! whenever a sender outruns its receiver (UDP has no flow control: a full kernel buffer, or
//! a listener's limits below, drop them instead of making the sender wait). Messages larger
//! than `max_frame` (at most 65,507 bytes) are refused on send with `InvalidInput` and
//! reported on receive as `InvalidData`: never truncated.
//!
//! `connect` succeeds whether or not anything listens: no datagram has been sent yet (port
//! 0, where nothing can listen, is refused at once with `InvalidInput`). When the
//! server's host answers one with "port unreachable", the client's next receive (or send)
//! fails with `ConnectionRefused` ("nothing listens at ADDR") at once (on Linux, the tested
//! platform; Windows reports it as `ConnectionReset` on a receive), instead of waiting for a
//! reply that cannot come; a datagram whose send reports it was not sent. The refusal is
//! reported once and the connection stays usable: a server that starts later gets the next
//! datagram. A host or firewall that drops datagrams silently tells nothing;
//! `recv_timeout=` bounds that wait.
//!
//! # Listener limits
//!
//! Any host can send to a listener from as many addresses as it likes, so what a listener
//! holds is bounded. A datagram over a limit is dropped (logged at `debug`), as the network
//! could have dropped it; the listener never waits.
//!
//! - **`max_peers=`** (default 1,024): live sender connections. Datagrams from a new sender
//!   are dropped while that many are live; a connection stops counting when it is dropped or
//!   ends idle. `max_peers=0` is `InvalidInput`.
//! - **`idle_timeout=`** (default 5 minutes; `0` keeps quiet senders for ever): a connection
//!   that nothing has passed through for this long, either way (a connection that only
//!   sends to its sender is alive), ends: its stream yields what was already
//!   queued, then `None`, and the listener forgets the sender. The sender's next datagram is
//!   `accept`ed as a new connection. Senders are checked four times per timeout (at most once
//!   per 10 ms, at least once an hour), and a connection ends at the first check after
//!   it has been quiet for whole check periods covering the timeout: up to a quarter of the
//!   timeout late, or, where the period is not a quarter of it, two periods (timeouts under
//!   40 ms: up to 20 ms; over 4 hours: up to 2 hours).
//! - 1,024 unread datagrams per connection, and 128 new senders waiting for `accept`.
//! - **`max_queued=`** (default 64 MiB; at least 129 KiB, room for two of the largest
//!   datagrams): bytes of queued datagrams per listener, all its connections together (each
//!   counts its length plus 64 bytes); datagrams beyond it are dropped. A connection gives its share back as it takes
//!   datagrams, or all of it when dropped.
//!
//! These options are the listener's: `connect` takes them and ignores them. `recv_timeout=`
//! is separate: it fails one receive with `TimedOut` and the connection stays. If the
//! listening socket fails, every open connection gets that error (same kind) after its queued
//! datagrams, then `None`, and `accept` fails with `BrokenPipe`.
//!
//! ```
//! use futures::StreamExt;
//!
//! # tokio_test::block_on(async {
//! // At most 100 senders at a time; a sender quiet for 30 s is forgotten.
//! let mut listener = anyipc::bind("udp://127.0.0.1:0?max_peers=100&idle_timeout=30s").await?;
//! let mut client = anyipc::connect(listener.endpoint()).await?;
//! client.send("hello").await?;
//! let mut server = listener.accept().await?;
//! assert_eq!(server.next().await.transpose()?.as_deref(), Some(&b"hello"[..]));
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```
//!
//! # Listening
//!
//! The [`Listener`](crate::Listener) that [`bind`](crate::bind) returns for `udp://` is a
//! bound UDP socket whose senders become connections, within the limits above: `max_peers`
//! live senders, an `idle_timeout` after which a quiet sender's connection ends, and
//! `max_queued` bytes of queued datagrams in all. Bound to a wildcard address (`0.0.0.0`,
//! `[::]`), it answers each sender from the address the sender's first datagram came to (on
//! Linux; elsewhere from the one the OS's routes pick, which a client that sent to another
//! of the host's addresses drops, as its socket takes replies from that address only).
//!
//! The port stays bound while the listener or any of its connections lives (they reply
//! through its socket), and a moment longer: the task that receives on the socket closes it
//! as it ends, just after the last of them is dropped (a child process being started holds
//! a copy until it execs, too). So a bind of a port this process let go of less than a
//! second ago waits for that, briefly, instead of failing with `AddrInUse`; a port another
//! listener holds is refused once that second is over.
//!
//! ```
//! # tokio_test::block_on(async {
//! let mut listener = anyipc::bind("udp://127.0.0.1:0").await?;
//! let mut a = anyipc::connect(listener.endpoint()).await?;
//! let mut b = anyipc::connect(listener.endpoint()).await?;
//! // Each sender's first datagram is accepted as a new connection.
//! a.send("from a").await?;
//! let mut to_a = listener.accept().await?;
//! b.send("from b").await?;
//! let mut to_b = listener.accept().await?;
//! assert_eq!(to_a.recv().await?.unwrap(), "from a");
//! assert_eq!(to_b.recv().await?.unwrap(), "from b");
//! to_b.send("to b").await?;
//! assert_eq!(b.recv().await?.unwrap(), "to b");
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```
//!
//! # Multicast and broadcast
//!
//! A listener whose address is a multicast group (IPv4 `224.0.0.0/4`, IPv6 `ff00::/8`)
//! joins it: IPv4 on the interface the OS's routes pick, IPv6 on the interface of the
//! address's zone (`udp://[ff02::1:2%25eth0]:7100`), or the routes' one without a zone (a
//! group of interface- or link-local scope, `ff01::…` or `ff02::…`, needs one:
//! `InvalidInput` without). Several listeners on one group and port, in as many processes,
//! each get every datagram sent to it: a group listener shares its port (`SO_REUSEADDR`;
//! not `SO_REUSEPORT`, which on Linux spreads unicast datagrams over the sockets and lets
//! only one user's sockets share a port). It takes the group's datagrams only, not unicast
//! ones to that port. On Windows, which cannot bind a socket to a group, it is bound to the
//! wildcard address and takes unicast datagrams to the port too; with several group
//! listeners on one port, all bound to the wildcard with `SO_REUSEADDR`, a unicast datagram
//! reaches only one of them, and which one is unpredictable. A listener on a unicast
//! address shares nothing: a port in use is `AddrInUse`, as before. A host with no
//! interface to join on fails `bind` with the OS's error, saying which group could not be
//! joined.
//!
//! Each sender to the group becomes a connection (the listener limits above apply), and a
//! reply goes to that sender from a unicast address of the host (the OS picks it), never
//! from the group, which cannot be a datagram's source. That is tested on Linux only: on
//! macOS and the BSDs a socket bound to the group may send with the group as its source
//! address (XNU takes the socket's bound address), which receivers drop, so replies from a
//! group listener there are untested and may not arrive. A plain socket that sent to the
//! group gets it; a `connect`ed udp client does not: its socket takes datagrams from the
//! address it sent to only, here the group, so **multicast and broadcast are one-way from
//! the client's side**. For answers, have the members reply to a listener of the sender's
//! own.
//!
//! `connect` to a group sends to it as to any address: with the OS's defaults, a time to live
//! of 1 (the datagrams do not cross a router: enough for processes on one host or one
//! network), a copy looped back to the sending host's own members, and the interface the
//! routes pick (a host without a route for multicast refuses it, on Linux as soon as
//! `connect`: `NetworkUnreachable`).
//!
//! A broadcast address (`255.255.255.255`, a subnet's such as `192.168.1.255`; IPv4 only)
//! takes **`broadcast=true`** (`SO_BROADCAST`): without it the OS refuses to send there
//! with `PermissionDenied` (Linux as soon as `connect`), and the error says to add it. A
//! listener gets broadcasts when bound to the wildcard address (`udp://0.0.0.0:7100`), not to
//! a unicast one; it takes `broadcast=` and ignores it, as `connect` ignores the listener's
//! options.
//!
//! ```no_run
//! use futures::StreamExt;
//!
//! # tokio_test::block_on(async {
//! // In each member process: every datagram sent to the group reaches each of them.
//! let mut member = anyipc::bind("udp://239.1.2.3:7100").await?;
//! // In the sending process: one datagram to every member, no replies.
//! let mut sender = anyipc::connect("udp://239.1.2.3:7100").await?;
//! sender.send("to every member").await?;
//! let mut from_sender = member.accept().await?;
//! let got = from_sender.next().await.transpose()?;
//! assert_eq!(got.as_deref(), Some(&b"to every member"[..]));
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```
//!
//! ```
//! // A broadcast sender says so in its URL.
//! let everyone: anyipc::Endpoint = "udp://255.255.255.255:7100?broadcast=true".parse()?;
//! assert_eq!(everyone.option("broadcast").as_deref(), Some("true"));
//! # Ok::<(), anyipc::EndpointParseError>(())
//! ```

mod budget;
mod demux;
mod limits;
mod multicast;
mod router;
mod seat;
#[cfg(test)]
mod tests;
mod udp_channel;
mod udp_listener;

pub(crate) use udp_channel::UdpChannel;
pub(crate) use udp_listener::UdpListener;

use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;
use std::net::SocketAddr;

/// A receive buffer larger than any UDP payload, so the kernel never truncates silently.
const RECV_BUFFER: usize = 65_536;

/// The first address the endpoint's host resolves to (`NotFound`, naming the host, when it
/// does not resolve; `TimedOut` when the resolver cannot answer for now: see
/// `tcp::resolve`).
async fn resolve(endpoint: &Endpoint) -> io::Result<SocketAddr> {
    Ok(crate::tcp::resolve(endpoint).await?[0])
}

/// "Connects" a UDP socket to the server: datagrams go there and only its come back.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    crate::tcp::refuse_port_zero(endpoint)?;
    let server = resolve(endpoint).await?;
    let local: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|e| endpoint.error(e))?;
    let broadcast = endpoint.bool_option("broadcast").unwrap_or(false);
    if broadcast {
        socket.set_broadcast(true).map_err(|e| endpoint.error(e))?;
    }
    // Linux refuses to connect a socket without SO_BROADCAST to a broadcast address.
    socket
        .connect(server)
        .await
        .map_err(|e| endpoint.error(udp_channel::needs_broadcast(server, broadcast, e)))?;
    Ok(Connection::from_channel(
        AnyChannel::Udp(UdpChannel::client(
            socket,
            server,
            broadcast,
            endpoint.max_frame(),
        )),
        endpoint,
        server.to_string(),
    ))
}
