//! IPv6 addresses with a zone (RFC 6874: `tcp://[fe80::1%25eth0]:7000`) on `tcp://` and
//! `udp://`, checked against what the kernel does with them: a link-local address needs its
//! zone, a loopback one takes a zone and ignores it, an unknown interface is `NotFound`.

use crate::util::watchdog;
use anyipc::Endpoint;
use std::io;
use std::net::Ipv6Addr;

/// Whether IPv6 works here at all (binding `[::1]`); prints why not when it does not, and
/// the test that asked returns without checking anything.
async fn ipv6_available(test: &str) -> bool {
    match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(_) => true,
        Err(e) => {
            println!("{test}: skipped, IPv6 is unavailable here (binding [::1]:0: {e})");
            false
        }
    }
}

/// Binds `url`, connects to the endpoint it bound and passes a message each way; returns
/// the bound endpoint.
async fn round_trip(url: &str) -> Endpoint {
    let mut listener = anyipc::bind(url)
        .await
        .unwrap_or_else(|e| panic!("bind {url}: {e}"));
    let bound = listener.endpoint().clone();
    let mut client = anyipc::connect(&bound)
        .await
        .unwrap_or_else(|e| panic!("connect {bound}: {e}"));
    client.send("to the server").await.unwrap();
    let mut server = listener.accept().await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), "to the server");
    server.send("to the client").await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), "to the client");
    bound
}

/// The index of interface `name`.
fn index_of(name: &str) -> u32 {
    let c_name = std::ffi::CString::new(name).unwrap();
    // SAFETY: if_nametoindex reads the NUL-terminated string, which lives across the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    assert_ne!(index, 0, "no interface {name}");
    index
}

/// The bound endpoint names the zone as it was given, with the port the OS chose, and
/// parses back to itself.
fn assert_bound(bound: &Endpoint, scheme: &str, ip: &str, zone: &str) {
    let text = bound.to_string();
    let prefix = format!("{scheme}://[{ip}%25{zone}]:");
    assert!(text.starts_with(&prefix), "{text} is not {prefix}PORT");
    assert!(!text.ends_with(":0"), "{text}: the real port");
    assert_eq!(&text.parse::<Endpoint>().unwrap(), bound);
}

/// `[::1%25lo]`: Linux takes a zone on the loopback address and ignores it (it binds and
/// connects only link-local addresses by their zone), by name or by index.
#[tokio::test]
async fn a_loopback_address_takes_a_zone() {
    watchdog(30, async {
        if !ipv6_available("a_loopback_address_takes_a_zone").await {
            return;
        }
        let lo = index_of("lo").to_string();
        for scheme in ["tcp", "udp"] {
            for zone in ["lo", lo.as_str()] {
                let bound = round_trip(&format!("{scheme}://[::1%25{zone}]:0")).await;
                assert_bound(&bound, scheme, "::1", zone);
            }
        }
    })
    .await;
}

/// A link-local address of this machine (from /proc/net/if_inet6, not tentative nor failed
/// duplicate detection) and its interface's name, if there is one.
fn link_local_address() -> Option<(Ipv6Addr, String)> {
    const LINK_SCOPE: u32 = 0x20;
    const TENTATIVE_OR_FAILED: u32 = 0x40 | 0x08;
    let table = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [addr, _index, _prefix, scope, flags, name] = fields[..] else {
            return None;
        };
        let scope = u32::from_str_radix(scope, 16).ok()?;
        let flags = u32::from_str_radix(flags, 16).ok()?;
        if scope != LINK_SCOPE || flags & TENTATIVE_OR_FAILED != 0 {
            return None;
        }
        let bits = u128::from_str_radix(addr, 16).ok()?;
        Some((Ipv6Addr::from(bits), name.to_owned()))
    })
}

/// A link-local address works with its zone (name or index) and is refused by the kernel
/// without one (`EINVAL`: it cannot tell which link). Where no interface has a link-local
/// address, binding one is refused (`AddrNotAvailable`), zone or not.
#[tokio::test]
async fn a_link_local_address_works_with_its_zone() {
    watchdog(30, async {
        if !ipv6_available("a_link_local_address_works_with_its_zone").await {
            return;
        }
        let Some((ip, name)) = link_local_address() else {
            println!("no interface has a link-local address: checking that binding one fails");
            let err = anyipc::bind("tcp://[fe80::1%25lo]:0").await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable, "{err}");
            return;
        };
        let index = index_of(&name).to_string();
        for scheme in ["tcp", "udp"] {
            for zone in [name.as_str(), index.as_str()] {
                let bound = round_trip(&format!("{scheme}://[{ip}%25{zone}]:0")).await;
                assert_bound(&bound, scheme, &ip.to_string(), zone);
            }
            let unscoped = format!("{scheme}://[{ip}]:0");
            let err = anyipc::bind(&unscoped).await.map(drop).unwrap_err();
            assert_eq!(err.raw_os_error(), None, "{err}");
            assert_eq!(
                anyipc::raw_os_error(&err),
                Some(libc::EINVAL),
                "{unscoped}: {err}"
            );
        }
        // Another interface's zone: the address is not on it.
        let err = anyipc::bind(&format!("tcp://[{ip}%25lo]:0"))
            .await
            .map(drop)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable, "{err}");
    })
    .await;
}

/// A zone naming no interface is `NotFound`, naming the endpoint and the interface, on
/// connect and bind, before anything is sent (so also without IPv6).
#[tokio::test]
async fn an_unknown_interface_is_not_found() {
    watchdog(30, async {
        for scheme in ["tcp", "udp"] {
            let url = format!("{scheme}://[fe80::1%25anyipc-noif0]:7000");
            for (what, result) in [
                ("connect", anyipc::connect(&url).await.map(drop)),
                ("bind", anyipc::bind(&url).await.map(drop)),
            ] {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::NotFound, "{what} {url}: {err}");
                let text = err.to_string();
                assert!(text.starts_with(&url), "{what}: {text}");
                assert!(
                    text.contains("no network interface `anyipc-noif0`"),
                    "{text}"
                );
                assert_eq!(anyipc::raw_os_error(&err), Some(libc::ENODEV), "{err:?}");
            }
        }
    })
    .await;
}
