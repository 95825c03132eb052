//! udp://: outside Linux a listener bound to a wildcard address answers from the address the
//! OS picks by its routes (see `udp_local_linux.rs` for what Linux does instead).

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use tokio::net::UdpSocket;

/// The local end a datagram came to (never known here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocalAddr {}

/// Reports nothing here: `false`.
///
/// # Errors
/// None.
pub(crate) fn report_local_addr(_socket: &UdpSocket) -> io::Result<bool> {
    Ok(false)
}

/// `recv_from`, with no local address.
///
/// # Errors
/// The socket's receive error.
pub(crate) async fn recv_from_at(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<LocalAddr>)> {
    let (len, from) = socket.recv_from(buf).await?;
    Ok((len, from, None))
}

/// `poll_send_to`.
///
/// # Errors
/// The socket's send error.
pub(crate) fn poll_send_to_from(
    socket: &UdpSocket,
    cx: &mut Context<'_>,
    buf: &[u8],
    to: SocketAddr,
    _from: Option<LocalAddr>,
) -> Poll<io::Result<usize>> {
    socket.poll_send_to(cx, buf, to)
}
