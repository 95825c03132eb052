//! udp://: outside Linux a listener bound to a wildcard address answers from the address the
//! OS picks by its routes (see `udp_local_linux.rs` for what Linux does instead).

use std::io;
use std::net::SocketAddr;
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

/// `try_send_to`: sends now, or `WouldBlock` (with the socket's write readiness cleared, so
/// that waiting for `writable` sleeps until the OS has room).
///
/// # Errors
/// `WouldBlock`; the socket's send error.
pub(crate) fn try_send_to_from(
    socket: &UdpSocket,
    buf: &[u8],
    to: SocketAddr,
    _from: Option<LocalAddr>,
) -> io::Result<usize> {
    socket.try_send_to(buf, to)
}
