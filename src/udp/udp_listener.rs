use super::demux::Demux;
use super::limits::Limits;
use super::router::NewPeers;
use super::{resolve, UdpChannel};
use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use std::io;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::net::UdpSocket;

/// A bound UDP socket whose senders become connections, within the limits described in the
/// [module documentation](crate::udp): `max_peers` live senders, an `idle_timeout` after which
/// a quiet sender's connection ends, and 64 MiB of queued datagrams in all. It is inside
/// the [`Listener`](crate::Listener) that [`bind`](crate::bind) returns for `udp://`.
///
/// ```
/// # tokio_test::block_on(async {
/// let mut listener = anyipc::bind("udp://127.0.0.1:0").await?;
/// let mut a = anyipc::connect(listener.endpoint()).await?;
/// let mut b = anyipc::connect(listener.endpoint()).await?;
/// // Each sender's first datagram is accepted as a new connection.
/// a.send("from a").await?;
/// let mut to_a = listener.accept().await?;
/// b.send("from b").await?;
/// let mut to_b = listener.accept().await?;
/// assert_eq!(to_a.recv().await?.unwrap(), "from a");
/// assert_eq!(to_b.recv().await?.unwrap(), "from b");
/// to_b.send("to b").await?;
/// assert_eq!(b.recv().await?.unwrap(), "to b");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct UdpListener {
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
        let socket = Arc::new(UdpSocket::bind(addr).await?);
        let bound = endpoint.with_port(socket.local_addr()?.port());
        let (demux, new_peers) = Demux::start(socket.clone(), limits);
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
