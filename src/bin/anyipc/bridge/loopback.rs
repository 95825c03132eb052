//! Whether connecting to one endpoint reaches what binding another listens on, however the
//! two are spelled: `bridge listen:tcp://0.0.0.0:7000 connect:tcp://localhost:7000` would
//! connect to itself as surely as the same URL twice.

use anyipc::{Address, Endpoint, Scheme};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};
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
/// - for a path, the same file once resolved (`/tmp/./x`, a symlink, `..`; the part that
///   does not exist yet taken as written, without `.` and `..`);
/// - for a name, the same name.
///
/// Not caught: a wildcard bound address reached through one of this host's interface
/// addresses (`0.0.0.0:7000` and `192.168.1.5:7000`): telling those from another host's
/// would need the interface list, and a wrong guess would refuse a legitimate bridge.
pub(super) async fn reaches(bound: &Endpoint, target: &Endpoint) -> bool {
    if bound.scheme() != target.scheme() {
        return false;
    }
    match (bound.address(), target.address()) {
        (Address::HostPort { host: b, port: bp }, Address::HostPort { host: t, port: tp }) => {
            // A UDP socket sends to the first address only; a TCP connect tries each.
            let every_target = bound.scheme() == Scheme::Tcp;
            let meet = hosts_meet(b, t, *bp, every_target);
            *bp != 0 && bp == tp && matches!(timeout(LOOKUP_PATIENCE, meet).await, Ok(true))
        }
        (Address::Path(b), Address::Path(t)) => resolved(b) == resolved(t),
        (b, t) => b == t,
    }
}

/// Whether a socket bound to host `bound` accepts a connection to host `target` on `port`:
/// `bound` as binding uses it (its first address), `target` by its first address or, with
/// `every_target`, any of them.
async fn hosts_meet(bound: &str, target: &str, port: u16, every_target: bool) -> bool {
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
    let mut target_ips =
        target_ips
            .map(|addr| addr.ip())
            .take(if every_target { usize::MAX } else { 1 });
    target_ips.any(|target_ip| accepts(bound_ip, target_ip))
}

/// Whether a socket bound to `bound` accepts a connection made to `target`, both as the OS
/// takes them (an IPv4-mapped IPv6 address is its IPv4 address; a connection to a wildcard
/// goes to the loopback address of its family): the same address, or a wildcard bound
/// address (`0.0.0.0` for IPv4, `::` for both families, as Linux's sockets are dual-stack by
/// default) and a loopback `target`.
fn accepts(bound: IpAddr, target: IpAddr) -> bool {
    let (bound, target) = (bound.to_canonical(), connected_to(target.to_canonical()));
    if bound == target {
        return true;
    }
    let family_fits = match bound {
        IpAddr::V4(_) => target.is_ipv4(),
        IpAddr::V6(_) => true,
    };
    bound.is_unspecified() && family_fits && target.is_loopback()
}

/// Where a connection to `ip` goes: a wildcard address means this host's loopback.
fn connected_to(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// `path` resolved as far as it exists (symlinks, `.` and `..`), the rest appended without
/// `.` and with `..` taking the part before it: the socket, FIFO or log may not exist yet,
/// or be in a directory the bridge is about to create. A relative path starts at the
/// current directory.
fn resolved(path: &Path) -> PathBuf {
    let mut out = match path.is_relative() {
        true => std::env::current_dir().unwrap_or_default(),
        false => PathBuf::new(),
    };
    for component in path.components() {
        match component {
            Component::CurDir => continue,
            // `out` is resolved wherever it exists, so its parent is the real one.
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
        if let Ok(real) = std::fs::canonicalize(&out) {
            out = real;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn endpoint(url: &str) -> Endpoint {
        url.parse().unwrap()
    }

    #[test]
    fn a_wildcard_accepts_loopback_addresses_only() {
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let loop4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        // TEST-NET-1 (RFC 5737): not loopback.
        let elsewhere = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert!(accepts(any4, loop4));
        assert!(accepts(any6, loop4));
        assert!(accepts(any4, any4));
        assert!(!accepts(any4, elsewhere));
        assert!(!accepts(loop4, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));
        // A connection to a wildcard goes to the loopback address; a mapped address is its
        // IPv4 address.
        assert!(accepts(loop4, any4));
        assert!(accepts(any4, "::ffff:127.0.0.1".parse().unwrap()));
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
            ("tcp://127.0.0.1:7400", "tcp://0.0.0.0:7400"),
            (
                "unix:///tmp/anyipc-no-such-dir/a/x.sock",
                "unix:///tmp/anyipc-no-such-dir/b/../a/./x.sock",
            ),
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
