use super::demux::Demux;
use super::limits::Limits;
use super::router::NewPeers;
use super::{resolve, UdpChannel};
use crate::released::{self, Released};
use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::net::UdpSocket;

/// The `udp://` listener inside the [`Listener`](crate::Listener) that [`bind`](crate::bind)
/// returns; the module documentation says how it behaves.
#[derive(Debug)]
pub(crate) struct UdpListener {
    socket: Arc<UdpSocket>,
    new_peers: NewPeers,
    demux: Arc<Demux>,
    max_frame: usize,
}

impl UdpListener {
    /// Binds and starts routing datagrams; returns the endpoint with the real port.
    pub(crate) async fn bind(endpoint: &Endpoint) -> io::Result<(UdpListener, Endpoint)> {
        let limits = Limits::from_endpoint(endpoint);
        let addr = resolve(endpoint).await?;
        let bind = || {
            if addr.ip().is_multicast() {
                // Listeners on one group share its port, and each gets every datagram.
                return super::multicast::bind_group(addr);
            }
            let socket = std::net::UdpSocket::bind(addr)?;
            socket.set_nonblocking(true)?;
            UdpSocket::from_std(socket)
        };
        // A port this process let go of just now may still be held by the task that received
        // on it, or by a forked child's copy: waited for, briefly ([`released`]).
        let socket = match addr.port() {
            0 => bind(),
            port => released::bind_retrying(&Released::UdpPort(port), bind).await,
        };
        let socket = socket.map_err(|e| endpoint.error(e))?;
        // Bound to a wildcard address, replies go out from the address each sender sent to.
        let local_known =
            crate::sys::udp_local::report_local_addr(&socket).map_err(|e| endpoint.error(e))?;
        let socket = Arc::new(socket);
        let bound = endpoint.with_port(socket.local_addr()?.port());
        let (demux, new_peers) = Demux::start(socket.clone(), limits, local_known);
        Ok((
            UdpListener {
                socket,
                new_peers,
                demux,
                max_frame: limits.max_frame,
            },
            bound,
        ))
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        let Some((peer, datagrams)) = ready!(self.new_peers.poll_recv(cx)) else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("{endpoint}: the socket stopped receiving"),
            )));
        };
        let channel = UdpChannel::server(
            self.socket.clone(),
            self.max_frame,
            peer,
            datagrams,
            self.demux.clone(),
        );
        Poll::Ready(Ok(Connection::from_channel(
            AnyChannel::Udp(channel),
            endpoint,
            peer.to_string(),
        )))
    }
}
