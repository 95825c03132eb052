//! Whether connecting to one endpoint reaches what binding another listens on, however the
//! two are spelled: `bridge listen:tcp://0.0.0.0:7000 connect:tcp://localhost:7000` would
//! connect to itself as surely as the same URL twice.

use anyipc::{Address, Endpoint};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::timeout;

/// How long the check waits for a host name to resolve before it takes the two hosts as
/// different (connecting will resolve it again, and report what fails).
const LOOKUP_PATIENCE: Duration = Duration::from_secs(2);

/// Whether a connection to `target` would be accepted by a listener bound at `bound`: the same
/// scheme and
/// - for `tcp`/`udp`, the same port (not 0: that binds a new one) and a host that `bound`'s
///   socket accepts for `target`'s (see [`accepts`]); a host that does not resolve (within
///   [`LOOKUP_PATIENCE`]) is compared as written;
/// - for a path, the same file once the directories are resolved (`/tmp/./x`, a symlinked
///   directory);
/// - for a name, the same name.
pub(super) async fn reaches(bound: &Endpoint, target: &Endpoint) -> bool {
    if bound.scheme() != target.scheme() {
        return false;
    }
    match (bound.address(), target.address()) {
        (Address::HostPort { host: b, port: bp }, Address::HostPort { host: t, port: tp }) => {
            let meet = hosts_meet(b, t, *bp);
            *bp != 0 && bp == tp && matches!(timeout(LOOKUP_PATIENCE, meet).await, Ok(true))
        }
        (Address::Path(b), Address::Path(t)) => resolved(b) == resolved(t),
        (b, t) => b == t,
    }
}

/// Whether a socket bound to host `bound` accepts a connection to host `target` on `port`:
/// `bound` as binding uses it (its first address), `target` by any of its addresses, as a
/// TCP connect tries each.
async fn hosts_meet(bound: &str, target: &str, port: u16) -> bool {
    if bound == target {
        return true;
    }
    let Ok(mut bound_ips) = tokio::net::lookup_host((bound, port)).await else {
        return false;
    };
    let Some(bound_ip) = bound_ips.next().map(|addr| addr.ip()) else {
        return false;
    };
    let Ok(target_ips) = tokio::net::lookup_host((target, port)).await else {
        return false;
    };
    let mut target_ips = target_ips.map(|addr| addr.ip());
    target_ips.any(|target_ip| accepts(bound_ip, target_ip))
}

/// Whether a socket bound to `bound` accepts a connection made to `target`: the same address,
/// or a wildcard bound address (`0.0.0.0` for IPv4, `::` for both families, as Linux's
/// sockets are dual-stack by default) and a `target` that is this host's own (loopback, the
/// wildcard itself, or an interface's address).
fn accepts(bound: IpAddr, target: IpAddr) -> bool {
    if bound == target {
        return true;
    }
    let family_fits = match bound {
        IpAddr::V4(_) => target.is_ipv4(),
        IpAddr::V6(_) => true,
    };
    bound.is_unspecified() && family_fits && is_this_host(target)
}

/// Whether `ip` is one of this host's addresses: only those can be bound (a UDP socket on
/// port 0, gone at once, so no port is taken).
fn is_this_host(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// `path` with its directory resolved (symlinks, `.` and `..`), the file name kept as it is:
/// the socket, FIFO or log may not exist yet, or be a name the bridge is about to create.
/// As written when the directory does not resolve.
fn resolved(path: &Path) -> PathBuf {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return path.to_path_buf();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match std::fs::canonicalize(dir) {
        Ok(dir) => dir.join(name),
        Err(_) => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn endpoint(url: &str) -> Endpoint {
        url.parse().unwrap()
    }

    #[test]
    fn a_wildcard_accepts_this_hosts_addresses_only() {
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let loop4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        // TEST-NET-1 (RFC 5737): never a host's own address.
        let elsewhere = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert!(accepts(any4, loop4));
        assert!(accepts(any6, loop4));
        assert!(accepts(any4, any4));
        assert!(!accepts(any4, elsewhere));
        assert!(!accepts(loop4, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));
        assert!(!accepts(loop4, any4));
        assert!(!accepts(any4, IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[tokio::test]
    async fn spellings_of_the_same_endpoint_reach_it() {
        for (bound, target) in [
            ("tcp://127.0.0.1:7400", "tcp://127.0.0.1:7400"),
            ("tcp://0.0.0.0:7400", "tcp://127.0.0.1:7400"),
            ("tcp://0.0.0.0:7400", "tcp://localhost:7400"),
            ("udp://127.0.0.1:7400", "udp://localhost:7400"),
            ("unix:///tmp/x.sock", "unix:///tmp/./x.sock"),
            ("unix:///tmp/x.sock", "unix:///tmp/../tmp/x.sock"),
            ("fifo:///tmp/x", "fifo:///tmp/x"),
            ("pipe://app", "pipe://app"),
        ] {
            assert!(
                reaches(&endpoint(bound), &endpoint(target)).await,
                "{bound} {target}"
            );
        }
    }

    #[tokio::test]
    async fn other_endpoints_do_not() {
        for (bound, target) in [
            ("tcp://127.0.0.1:0", "tcp://127.0.0.1:0"),
            ("tcp://127.0.0.1:7400", "tcp://127.0.0.1:7401"),
            ("tcp://127.0.0.1:7400", "tcp://192.0.2.1:7400"),
            ("tcp://0.0.0.0:7400", "tcp://192.0.2.1:7400"),
            ("tcp://127.0.0.1:7400", "udp://127.0.0.1:7400"),
            ("unix:///tmp/x.sock", "unix:///tmp/y.sock"),
            ("unix:///tmp/x.sock", "unix://@x.sock"),
            ("pipe://app", "pipe://app2"),
            ("pipe://app", "shm://app"),
        ] {
            assert!(
                !reaches(&endpoint(bound), &endpoint(target)).await,
                "{bound} {target}"
            );
        }
    }
}
