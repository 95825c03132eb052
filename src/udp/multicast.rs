//! A listener whose address is a multicast group (IPv4 `224.0.0.0/4`, IPv6 `ff00::/8`): its
//! socket shares the group's port with other listeners and joins the group.
//!
//! The port is shared with `SO_REUSEADDR`: every socket bound to the group then gets its own
//! copy of each datagram sent to it, whichever process or user owns it. Not `SO_REUSEPORT`:
//! on Linux that one spreads unicast datagrams over the sockets sharing a port, and lets only
//! sockets of one user share it. (BSD and macOS treat `SO_REUSEADDR` on a multicast address
//! as `SO_REUSEPORT`, which there gives every socket a copy of multicast datagrams too.)
//!
//! Only a group listener sets it: Linux lets a second UDP socket with `SO_REUSEADDR` take a
//! unicast port too, and then hands it that port's datagrams, so a unicast listener binds
//! without it and a port in use stays `AddrInUse`.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::net::UdpSocket;

/// Binds a socket, sharing the port, on `group` (a multicast address) and joins the group: on
/// the interface the OS's routes pick for IPv4; on the interface of the address's zone for
/// IPv6 (`[ff02::1%eth0]`), or the one the routes pick when it has none.
///
/// Must be called within a tokio runtime.
///
/// # Errors
/// The OS's, with its kind: `AddrInUse` when a socket without `SO_REUSEADDR` holds the port
/// (a unicast listener on the wildcard address); `InvalidInput`, saying to give one, for an
/// IPv6 group of interface- or link-local scope (`ff01::…`, `ff02::…`) without a zone. Joining fails (`ENODEV`,
/// `EADDRNOTAVAIL`) with no interface to join on: the message then names the group.
pub(super) fn bind_group(group: SocketAddr) -> io::Result<UdpSocket> {
    if let SocketAddr::V6(v6) = group {
        // The OS's own refusal is a bare "Invalid argument".
        if needs_zone(v6.ip()) && v6.scope_id() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the IPv6 group {} is interface- or link-local: give the interface to \
                     join on as its zone, e.g. [{}%25eth0]",
                    v6.ip(),
                    v6.ip()
                ),
            ));
        }
    }
    let socket = Socket::new(Domain::for_address(group), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    let bind_to = crate::sys::udp_group_bind_addr(group).into();
    if group.port() == 0 {
        // Not before this bind: Linux's search for a free port then also hands out one that
        // another program's socket with SO_REUSEADDR holds, and this listener would share a
        // stranger's port. Set right after, it lets later group listeners bind the port this
        // one got. No test here: seeing the difference takes a port range narrowed to the port
        // a stranger holds (`ip_local_port_range` in a network namespace of one's own).
        socket.bind(&bind_to)?;
        socket.set_reuse_address(true)?;
    } else {
        socket.set_reuse_address(true)?;
        socket.bind(&bind_to)?;
    }
    let joined = match group {
        SocketAddr::V4(v4) => socket.join_multicast_v4(v4.ip(), &Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(v6) => socket.join_multicast_v6(v6.ip(), v6.scope_id()),
    };
    joined.map_err(|err| {
        let message = format!("cannot join multicast group {}: {err}", group.ip());
        crate::error::with_context(err.kind(), message, err)
    })?;
    UdpSocket::from_std(socket.into())
}

/// Whether `group` (a multicast address) is of interface-local or link-local scope
/// (`ff01::/16`, `ff11::/16`, …: scope 1; `ff02::/16`, `ff12::/16`, …: scope 2), which
/// means nothing without an interface: Linux refuses to bind either without a zone.
fn needs_zone(group: &Ipv6Addr) -> bool {
    matches!(group.segments()[0] & 0x000f, 1 | 2)
}
