//! `udp://host:port`: one datagram per message.
//!
//! A listener demultiplexes datagrams by sender address into connections, so server code is
//! the same as for TCP: the first datagram from a new address is `accept`ed as a new
//! [`Connection`]. UDP itself has no connection: nothing tells a server that a client went away
//! (use `recv_timeout=` to end idle connections), datagrams may be lost or reordered between
//! machines, and a datagram arriving while its connection already holds
//! 1,024 unread ones is dropped. Messages larger than `max_frame` (at most 65,507 bytes) are
//! refused on send with `InvalidInput` and reported on receive as `InvalidData`: never
//! truncated.

mod demux;
mod udp_channel;
mod udp_listener;

pub(crate) use udp_channel::UdpChannel;
pub use udp_listener::UdpListener;

use crate::endpoint::MAX_UDP_PAYLOAD;
use crate::transport::{AnyChannel, Connection};
use crate::{Address, Endpoint};
use std::io;
use std::net::SocketAddr;

/// A receive buffer larger than any UDP payload, so the kernel never truncates silently.
const RECV_BUFFER: usize = 65_536;

fn max_frame(endpoint: &Endpoint) -> usize {
    endpoint.max_frame().min(MAX_UDP_PAYLOAD)
}

async fn resolve(endpoint: &Endpoint) -> io::Result<SocketAddr> {
    let Address::HostPort { host, port } = endpoint.address() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} has no host:port"),
        ));
    };
    tokio::net::lookup_host((host.as_str(), *port))
        .await?
        .next()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{endpoint}: `{host}` resolves to no address"),
            )
        })
}

/// "Connects" a UDP socket to the server: datagrams go there and only its come back.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let server = resolve(endpoint).await?;
    let local: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    Ok(Connection::from_channel(
        AnyChannel::Udp(UdpChannel::client(socket, max_frame(endpoint))),
        endpoint,
        server.to_string(),
    ))
}
