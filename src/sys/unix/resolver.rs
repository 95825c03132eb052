//! Unix: host names and interface names to addresses, through the system resolver
//! (`getaddrinfo`, `if_nametoindex`), keeping the resolver's error codes apart.

use std::io;

/// The index of network interface `name` (an IPv6 zone), or `NotFound` (with the OS's error
/// inside) when there is no such interface.
pub(crate) fn interface_index(name: &str) -> io::Result<u32> {
    let missing = |source: io::Error| {
        crate::error::with_context(
            io::ErrorKind::NotFound,
            format!("there is no network interface `{name}` ({source})"),
            source,
        )
    };
    let c_name = std::ffi::CString::new(name)
        .map_err(|_| missing(io::Error::from(io::ErrorKind::InvalidInput)))?;
    // SAFETY: if_nametoindex reads the NUL-terminated string, which lives across the call.
    match unsafe { libc::if_nametoindex(c_name.as_ptr()) } {
        0 => Err(missing(io::Error::last_os_error())),
        index => Ok(index),
    }
}

/// The addresses `host` (a name, not an IP literal) resolves to, with `port`, through the
/// system resolver (`getaddrinfo`, on the blocking pool: it blocks).
///
/// # Errors
/// `TimedOut` when the resolver could not answer for now (`EAI_AGAIN`: no name server
/// answered, or one failed temporarily), where a later try may succeed; `OutOfMemory` for
/// `EAI_MEMORY`; `NotFound` for every other failure, a name that does not exist above all. Told apart by the resolver's
/// error code, not its (localised) text; std's and tokio's `lookup_host` keep only the text.
pub(crate) async fn lookup_host(host: &str, port: u16) -> io::Result<Vec<std::net::SocketAddr>> {
    let host = host.to_owned();
    crate::io::blocking::run(move || getaddrinfo(&host, port)).await
}

fn getaddrinfo(host: &str, port: u16) -> io::Result<Vec<std::net::SocketAddr>> {
    let c_host = std::ffi::CString::new(host)
        .map_err(|_| io::Error::new(io::ErrorKind::NotFound, "a host name holds no NUL byte"))?;
    // SAFETY: an all-zero addrinfo is a valid "no hints" value; the fields set below are
    // plain integers.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    // One entry per address (not one per socket type), as std asks.
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the node is a NUL-terminated string and the hints live across the call; no
    // service; `list` receives a list we free below.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc != 0 {
        // Read first: EAI_SYSTEM leaves the cause in errno.
        let errno = io::Error::last_os_error();
        return Err(lookup_failure(rc, errno));
    }
    let mut addrs = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getaddrinfo returned, not yet freed.
        let info = unsafe { &*entry };
        // SAFETY: getaddrinfo's `ai_addr` points to `ai_addrlen` bytes of a socket address.
        if let Some(mut addr) = unsafe { socket_addr(info.ai_addr, info.ai_addrlen) } {
            addr.set_port(port);
            addrs.push(addr);
        }
        entry = info.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed once; nothing borrowed
    // from it outlives this.
    unsafe { libc::freeaddrinfo(list) };
    Ok(addrs)
}

/// The IPv4 or IPv6 address at `addr` (`len` bytes); `None` for another family or a short
/// one.
///
/// # Safety
/// `addr` is null or points to `len` readable bytes.
pub(crate) unsafe fn socket_addr(
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    if addr.is_null() {
        return None;
    }
    let len = len as usize;
    // Too short to hold even the family (every read below is checked against `len`).
    let family_end =
        std::mem::offset_of!(libc::sockaddr, sa_family) + std::mem::size_of::<libc::sa_family_t>();
    if len < family_end {
        return None;
    }
    // SAFETY: the caller vouches for `len` bytes; each read below is within them (checked
    // above for the family, in each arm for the rest) and unaligned-safe.
    unsafe {
        let family = std::ptr::read_unaligned(std::ptr::addr_of!((*addr).sa_family));
        match libc::c_int::from(family) {
            libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
                let v4 = std::ptr::read_unaligned(addr.cast::<libc::sockaddr_in>());
                let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                Some(SocketAddrV4::new(ip, u16::from_be(v4.sin_port)).into())
            }
            libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let v6 = std::ptr::read_unaligned(addr.cast::<libc::sockaddr_in6>());
                let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
                let port = u16::from_be(v6.sin6_port);
                Some(SocketAddrV6::new(ip, port, v6.sin6_flowinfo, v6.sin6_scope_id).into())
            }
            _ => None,
        }
    }
}

/// The error of a failed `getaddrinfo` that returned `code` (with `errno` read right after):
/// `TimedOut` for `EAI_AGAIN`, `OutOfMemory` for `EAI_MEMORY`, `NotFound` otherwise; the text is the resolver's own, with
/// the code's name. For `EAI_SYSTEM` the OS error is inside ([`crate::raw_os_error`]).
fn lookup_failure(code: libc::c_int, errno: io::Error) -> io::Error {
    // SAFETY: gai_strerror returns a pointer to a static NUL-terminated string (or null).
    let text = unsafe {
        let text = libc::gai_strerror(code);
        if text.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned()
        }
    };
    match code {
        libc::EAI_AGAIN => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{text} (EAI_AGAIN: temporary)"),
        ),
        libc::EAI_SYSTEM => crate::error::with_context(
            io::ErrorKind::NotFound,
            format!("{text} (EAI_SYSTEM: {errno})"),
            errno,
        ),
        libc::EAI_NONAME => io::Error::new(io::ErrorKind::NotFound, format!("{text} (EAI_NONAME)")),
        libc::EAI_MEMORY => {
            io::Error::new(io::ErrorKind::OutOfMemory, format!("{text} (EAI_MEMORY)"))
        }
        code => io::Error::new(io::ErrorKind::NotFound, format!("{text} (error {code})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary failure is told from a name that does not exist by the resolver's code:
    /// `TimedOut` against `NotFound`.
    #[test]
    fn a_temporary_lookup_failure_is_timed_out() {
        let errno = || io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let again = lookup_failure(libc::EAI_AGAIN, errno());
        assert_eq!(again.kind(), io::ErrorKind::TimedOut, "{again}");
        assert!(again.to_string().contains("EAI_AGAIN"), "{again}");
        let memory = lookup_failure(libc::EAI_MEMORY, errno());
        assert_eq!(memory.kind(), io::ErrorKind::OutOfMemory, "{memory}");
        for code in [libc::EAI_NONAME, libc::EAI_FAIL, libc::EAI_SERVICE] {
            let err = lookup_failure(code, errno());
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{code}: {err}");
        }
        let system = lookup_failure(libc::EAI_SYSTEM, errno());
        assert_eq!(system.kind(), io::ErrorKind::NotFound);
        assert_eq!(crate::raw_os_error(&system), Some(libc::ECONNREFUSED));
    }

    /// The real resolver: `localhost` resolves (with the port), a name under `.invalid` does
    /// not. A machine whose resolver cannot be reached answers `EAI_AGAIN` for the latter:
    /// that is what `TimedOut` reports, and the test says so.
    #[tokio::test]
    async fn getaddrinfo_resolves_and_refuses() {
        let addrs = lookup_host("localhost", 7000).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.port() == 7000 && a.ip().is_loopback()),
            "{addrs:?}"
        );
        let err = lookup_host("anyipc-no-such-host.invalid", 1)
            .await
            .unwrap_err();
        match err.kind() {
            io::ErrorKind::NotFound => {}
            io::ErrorKind::TimedOut => println!("the resolver is unreachable here: {err}"),
            _ => panic!("{err:?}"),
        }
    }
}
