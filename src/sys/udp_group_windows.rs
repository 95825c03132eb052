//! udp://: the address a multicast listener binds on Windows, which refuses to bind a socket to
//! a multicast address (`WSAEADDRNOTAVAIL`): the wildcard of the group's family, with its port.
//! The joined socket then also takes unicast datagrams sent to that port.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The address to bind a listener on `group` to: the wildcard with the group's port.
pub(crate) fn udp_group_bind_addr(group: SocketAddr) -> SocketAddr {
    let wildcard: IpAddr = match group {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    SocketAddr::new(wildcard, group.port())
}
