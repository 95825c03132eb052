//! udp://: the address a multicast listener binds on Unix: the group itself, so that the
//! socket takes only the group's datagrams, not unicast ones sent to the port.

use std::net::SocketAddr;

/// The address to bind a listener on `group` to: `group` itself.
pub(crate) fn udp_group_bind_addr(group: SocketAddr) -> SocketAddr {
    group
}
