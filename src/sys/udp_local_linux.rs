//! udp://: the local address each datagram came to, so that a listener bound to a wildcard
//! address (`0.0.0.0`, `[::]`) answers from it (`IP_PKTINFO`, `IPV6_PKTINFO`). Without it the
//! OS picks the reply's source by its routes: a client that sent to another of the host's
//! addresses (a second address, `127.0.0.2`, a virtual IP) gets the reply from an address it
//! did not send to, and its connected socket drops it.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// The local end a datagram came to: the address to answer from, and for IPv6 the interface
/// (a link-local address needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalAddr {
    ip: IpAddr,
    ifindex: u32,
}

/// Room for one `in6_pktinfo` (or `in_pktinfo`) control message, aligned as `cmsghdr`.
type Control = [u64; 8];

/// Asks the OS to tell each datagram's local address on `socket` when it is bound to a
/// wildcard address (elsewhere it is the bound one). Returns whether it now does.
///
/// # Errors
/// The OS refused the option.
pub(crate) fn report_local_addr(socket: &UdpSocket) -> io::Result<bool> {
    let local = socket.local_addr()?;
    if !local.ip().is_unspecified() {
        return Ok(false);
    }
    let (level, name) = match local {
        SocketAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_PKTINFO),
        SocketAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
    };
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor and a pointer to a c_int of the length given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// `recv_from` that also gives the local address the datagram came to (`None` when the OS
/// did not say, or it was a broadcast or multicast address, which cannot answer).
///
/// # Errors
/// The socket's receive error.
pub(crate) async fn recv_from_at(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<LocalAddr>)> {
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || recvmsg(socket, buf)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            // A sender of another address family: its datagram is dropped, the socket is fine.
            Ok(None) => continue,
            Ok(Some(received)) => return Ok(received),
            Err(e) => return Err(e),
        }
    }
}

/// `try_send_to` from the local address `from` (as the OS picks it, with `None`): sends
/// now, or `WouldBlock` (with the socket's write readiness cleared, so that waiting for
/// `writable` sleeps until the OS has room).
///
/// # Errors
/// `WouldBlock`; the socket's send error.
pub(crate) fn try_send_to_from(
    socket: &UdpSocket,
    buf: &[u8],
    to: SocketAddr,
    from: Option<LocalAddr>,
) -> io::Result<usize> {
    match from {
        None => socket.try_send_to(buf, to),
        Some(from) => socket.try_io(Interest::WRITABLE, || sendmsg(socket, buf, to, from)),
    }
}

/// One datagram: its length, sender and local address; `None` when its sender's address is
/// of a family other than IPv4 and IPv6 (dropped).
fn recvmsg(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<Option<(usize, SocketAddr, Option<LocalAddr>)>> {
    // SAFETY: all-zero is a valid sockaddr_storage, msghdr and control buffer.
    let mut name: libc::sockaddr_storage = unsafe { zeroed() };
    let mut control: Control = [0; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<Control>() as _;
    // SAFETY: every pointer in `msg` points to live memory of the length given with it.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    let Ok(len) = usize::try_from(n) else {
        return Err(io::Error::last_os_error());
    };
    let name = (&name as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
    // SAFETY: recvmsg wrote `msg_namelen` bytes of address into `name` (at most its size).
    let Some(from) = (unsafe { super::socket_addr(name, msg.msg_namelen) }) else {
        return Ok(None);
    };
    let mut local = None;
    // Cut short (the buffer holds one pktinfo, the only option asked for): trust none of it.
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Ok(Some((len, from, None)));
    }
    // SAFETY: `msg` is the header recvmsg filled; its control buffer is live.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: a non-null header inside the control buffer that recvmsg filled.
        let header = unsafe { &*cmsg };
        let holds = |data: usize| {
            // SAFETY: CMSG_LEN only computes a size.
            header.cmsg_len as usize >= unsafe { libc::CMSG_LEN(data as u32) } as usize
        };
        // SAFETY: the data of a header of this level and type is that struct (read
        // unaligned, as the kernel promises no alignment beyond the header's).
        unsafe {
            if header.cmsg_level == libc::IPPROTO_IP
                && header.cmsg_type == libc::IP_PKTINFO
                && holds(size_of::<libc::in_pktinfo>())
            {
                let info: libc::in_pktinfo = libc::CMSG_DATA(cmsg)
                    .cast::<libc::in_pktinfo>()
                    .read_unaligned();
                // The address the packet was routed to locally (for a broadcast, the
                // interface's own address), the one to answer from.
                let ip = Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr));
                local = Some(LocalAddr {
                    ip: ip.into(),
                    ifindex: 0,
                });
            } else if header.cmsg_level == libc::IPPROTO_IPV6
                && header.cmsg_type == libc::IPV6_PKTINFO
                && holds(size_of::<libc::in6_pktinfo>())
            {
                let info: libc::in6_pktinfo = libc::CMSG_DATA(cmsg)
                    .cast::<libc::in6_pktinfo>()
                    .read_unaligned();
                let ip = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                local = Some(LocalAddr {
                    ip: ip.into(),
                    ifindex: info.ipi6_ifindex,
                });
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Some((len, from, local.filter(can_answer_from))))
}

/// Whether a datagram's local address can be a reply's source: not a broadcast or multicast
/// address (also an IPv4 one mapped into IPv6), nor the wildcard.
fn can_answer_from(local: &LocalAddr) -> bool {
    let v4 = match local.ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) if v6.is_multicast() => return false,
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    !local.ip.is_unspecified()
        && v4.is_none_or(|v4| !(v4.is_broadcast() || v4.is_multicast() || v4.is_unspecified()))
}

fn sendmsg(socket: &UdpSocket, buf: &[u8], to: SocketAddr, from: LocalAddr) -> io::Result<usize> {
    let (mut name, name_len) = socket_name(to);
    let mut control: Control = [0; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = name_len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // The socket's family says which option it reads: an IPv6 socket takes IPV6_PKTINFO for
    // IPv4-mapped peers too. Its peers' addresses are of its family (an IPv6 socket names an
    // IPv4 sender by its mapped address), so `to` tells it without asking the OS.
    let v6_socket = to.is_ipv6();
    let data_len = if v6_socket {
        size_of::<libc::in6_pktinfo>()
    } else {
        size_of::<libc::in_pktinfo>()
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(data_len as u32) } as usize;
    assert!(
        space <= size_of::<Control>(),
        "the control buffer holds one pktinfo"
    );
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer is live, aligned and at least `space` bytes long, so its
    // first header and that header's data fit in it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_len = libc::CMSG_LEN(data_len as u32) as _;
        if v6_socket {
            (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
            (*cmsg).cmsg_type = libc::IPV6_PKTINFO;
            let ip = match from.ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            // The interface pins the reply's way out: only a link-local address needs it (it
            // means nothing without one). Others, an IPv4 sender's mapped address above all,
            // leave it to the routes, as the IPv4 socket does.
            let link_local = (ip.segments()[0] & 0xffc0) == 0xfe80;
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: ip.octets(),
                },
                ipi6_ifindex: if link_local { from.ifindex } else { 0 },
            };
            libc::CMSG_DATA(cmsg)
                .cast::<libc::in6_pktinfo>()
                .write_unaligned(info);
        } else {
            (*cmsg).cmsg_level = libc::IPPROTO_IP;
            (*cmsg).cmsg_type = libc::IP_PKTINFO;
            let ip = match from.ip {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(v6) => v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
            };
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(ip).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            libc::CMSG_DATA(cmsg)
                .cast::<libc::in_pktinfo>()
                .write_unaligned(info);
        }
    }
    // SAFETY: every pointer in `msg` points to live memory of the length given with it.
    let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// `to` as a socket address for sendmsg, and its length.
fn socket_name(to: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut name: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match to {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in.
            let sin = unsafe {
                &mut *(&mut name as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut name as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: v6.ip().octets(),
            };
            sin6.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (name, len as libc::socklen_t)
}
