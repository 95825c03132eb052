//! udp:// multicast listeners and broadcast senders, across processes where it matters: two
//! `anyipc listen` processes on one group each get the datagram one `anyipc send` sent, a
//! group listener answers a plain socket from a unicast address, and a broadcast address
//! takes `broadcast=true`.
//!
//! A host where multicast (or broadcast) does not come back to the host itself cannot run
//! these: no route for it, no interface to join on, or a firewall that drops it on the way
//! in. A test finds out first with a round trip between two plain sockets ([`round_trips`])
//! and skips with a line saying why when it fails. Where the round trip works, the test must
//! pass.

use crate::cli::Spawned;
use crate::util::watchdog;
use anyipc::Connection;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::timeout;

/// Seconds any one test may take.
const WATCHDOG: u64 = 30;
/// What a step that should happen may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(5);

/// An IPv4 group in the organisation-local range (239.0.0.0/8) no other test process uses:
/// made of this process's id and a counter (the port, from `bind(0)`, differs too).
fn unique_group_v4() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = std::process::id().wrapping_mul(64) + NEXT.fetch_add(1, Ordering::Relaxed);
    let [_, a, b, c] = n.to_be_bytes();
    Ipv4Addr::new(239, a, b, c.max(1))
}

/// An IPv6 group of transient, site-local scope (`ff15::/16`: no zone needed), likewise unique.
fn unique_group_v6() -> Ipv6Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    Ipv6Addr::new(
        0xff15,
        0,
        0,
        0,
        0x4e59,
        (pid >> 16) as u16,
        pid as u16,
        n as u16,
    )
}

/// How long a probe waits for its own datagram to come back.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// Whether a datagram sent to `to` (a multicast group; with `broadcast`, a broadcast address)
/// comes back to this host: a plain socket at a port of its own, bound to the group and
/// joined to it (for a broadcast, bound to the wildcard address), gets the one a plain
/// sender sent there within [`PROBE_WAIT`]. When it does not, prints why the calling test is
/// skipped: no route, no interface to join on, or nothing back (a firewall that drops
/// inbound multicast, a loopback that does not loop it). Any other error fails the test.
///
/// The receiver takes no `SO_REUSEADDR`: it needs no shared port, and with it Linux's search
/// for a free port may give it one a stranger's socket holds.
fn round_trips(what: &str, to: IpAddr, broadcast: bool) -> bool {
    let wildcard: IpAddr = match to {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let skip = |why: String| {
        println!("skipped: no {what} here: {why}");
        false
    };
    let receiver_at = if to.is_multicast() { to } else { wildcard };
    let receiver = match UdpSocket::bind((receiver_at, 0)) {
        Ok(receiver) => receiver,
        Err(e) if no_route(&e) => return skip(format!("cannot bind {receiver_at}:0 ({e})")),
        Err(e) => panic!("a plain socket cannot bind {receiver_at}:0: {e}"),
    };
    let joined = match to {
        IpAddr::V4(v4) if v4.is_multicast() => {
            receiver.join_multicast_v4(&v4, &Ipv4Addr::UNSPECIFIED)
        }
        IpAddr::V6(v6) => receiver.join_multicast_v6(&v6, 0),
        IpAddr::V4(_) => Ok(()),
    };
    match joined {
        Ok(()) => {}
        Err(e) if no_route(&e) || anyipc::raw_os_error(&e) == Some(libc::ENODEV) => {
            return skip(format!("cannot join {to} ({e})"));
        }
        Err(e) => panic!("a plain socket cannot join {to}: {e}"),
    }
    let to = SocketAddr::new(to, receiver.local_addr().unwrap().port());
    let sender = UdpSocket::bind((wildcard, 0)).unwrap();
    sender.set_broadcast(broadcast).unwrap();
    let probe = format!("probe {} {}", std::process::id(), to.port());
    match sender.send_to(probe.as_bytes(), to) {
        Ok(_) => {}
        Err(e) if no_route(&e) => return skip(format!("no route for it ({to}: {e})")),
        Err(e) => panic!("a plain send to {to} failed: {e}"),
    }
    let deadline = std::time::Instant::now() + PROBE_WAIT;
    let mut buf = [0; 64];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        receiver.set_read_timeout(Some(left)).unwrap();
        match receiver.recv_from(&mut buf) {
            Ok((len, _)) if buf[..len] == *probe.as_bytes() => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("a plain receive on {to} failed: {e}"),
        }
    }
    skip(format!(
        "a datagram sent to {to} did not come back within {PROBE_WAIT:?} \
         (a firewall dropping it on the way in?)"
    ))
}

/// Whether `err` says the host cannot send there at all (no route, no interface).
fn no_route(err: &io::Error) -> bool {
    let code = anyipc::raw_os_error(err);
    [libc::ENETUNREACH, libc::EADDRNOTAVAIL, libc::EHOSTUNREACH]
        .iter()
        .any(|c| code == Some(*c))
}

/// Starts `anyipc listen url`; returns it and the URL it listens on.
async fn listen(url: &str) -> (Spawned, String) {
    crate::cli::listen(&[url]).await
}

/// Runs `anyipc send url msg` to its end.
async fn send(url: &str, msg: &str) -> Output {
    crate::cli::anyipc(&["send", url, msg], b"").await
}

/// The next line a `listen` process prints, within [`PATIENCE`].
async fn printed(listener: &mut Spawned) -> Option<String> {
    timeout(PATIENCE, listener.stdout_line())
        .await
        .expect("listen prints the datagram it got")
}

/// The port of a `udp://host:port` URL.
fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// Two `anyipc listen` processes on one group and port each print the one datagram one
/// `anyipc send` sent to the group. Without the join neither got anything; without
/// `SO_REUSEADDR` the second could not bind the port.
#[tokio::test]
async fn two_listen_processes_on_a_group_each_get_one_send() {
    watchdog(WATCHDOG, async {
        let group = unique_group_v4();
        if !round_trips("IPv4 multicast", group.into(), false) {
            return;
        }
        let (mut first, url) = listen(&format!("udp://{group}:0")).await;
        let (mut second, again) = listen(&url).await;
        assert_eq!(again, url, "the second listener shares the group's port");
        let sent = send(&url, "to the group").await;
        assert!(
            sent.status.success(),
            "{}",
            String::from_utf8_lossy(&sent.stderr)
        );
        for listener in [&mut first, &mut second] {
            assert_eq!(printed(listener).await.as_deref(), Some("to the group"));
        }
    })
    .await;
}

/// `plain` sends "ping" to `to`; `listener` accepts it and answers "pong", which `plain`
/// gets from a unicast address (never the group, which cannot be a datagram's source).
/// Returns where the answer came from.
async fn ping_pong(
    listener: &mut anyipc::Listener,
    plain: &tokio::net::UdpSocket,
    to: SocketAddr,
) -> SocketAddr {
    plain.send_to(b"ping", to).await.unwrap();
    let mut server: Connection = timeout(PATIENCE, listener.accept())
        .await
        .expect("the group's datagram is accepted")
        .unwrap();
    let got = timeout(PATIENCE, server.recv()).await.unwrap().unwrap();
    assert_eq!(got.as_deref(), Some(&b"ping"[..]));
    server
        .send("pong")
        .await
        .expect("a reply from a unicast address");
    let mut buf = [0; 16];
    let (len, from) = timeout(PATIENCE, plain.recv_from(&mut buf))
        .await
        .expect("the reply reaches the plain socket")
        .unwrap();
    assert_eq!(&buf[..len], b"pong");
    assert!(!from.ip().is_multicast(), "a reply from {from}");
    from
}

/// A group listener answers a plain (unconnected) socket, and from a unicast address of
/// this host, never from the group (which cannot be a datagram's source).
async fn a_group_listener_answers_a_plain_socket(group: IpAddr) {
    let url = match group {
        IpAddr::V4(v4) => format!("udp://{v4}:0"),
        IpAddr::V6(v6) => format!("udp://[{v6}]:0"),
    };
    let mut listener = anyipc::bind(&url).await.unwrap();
    let port = port_of(&listener.endpoint().to_string());
    let group = SocketAddr::new(group, port);
    let local: SocketAddr = match group {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let plain = tokio::net::UdpSocket::bind(local).await.unwrap();
    let from = ping_pong(&mut listener, &plain, group).await;
    assert_eq!(
        from.port(),
        port,
        "the reply comes from the listener's port"
    );
}

#[tokio::test]
async fn an_ipv4_group_listener_answers_a_plain_socket_from_a_unicast_address() {
    watchdog(WATCHDOG, async {
        let group = unique_group_v4();
        if round_trips("IPv4 multicast", group.into(), false) {
            a_group_listener_answers_a_plain_socket(group.into()).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_ipv6_group_listener_answers_a_plain_socket_from_a_unicast_address() {
    watchdog(WATCHDOG, async {
        let group = unique_group_v6();
        if round_trips("IPv6 multicast", group.into(), false) {
            a_group_listener_answers_a_plain_socket(group.into()).await;
        }
    })
    .await;
}

/// A listener bound to the wildcard address also gets datagrams sent to a group another
/// socket of this host joined (Linux's `IP_MULTICAST_ALL`), and tells the address each came
/// to (`IP_PKTINFO`, `IPV6_PKTINFO`, which for IPv6 is the group itself): its reply to one
/// that came to the group goes out from a unicast address of the host, never from the
/// group, and reaches the plain socket that sent it.
async fn a_wildcard_listener_answers_a_datagram_to_a_group(group: IpAddr) {
    let (wildcard, url): (IpAddr, _) = match group {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED.into(), "udp://0.0.0.0:0"),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED.into(), "udp://[::]:0"),
    };
    let joined = UdpSocket::bind((wildcard, 0)).unwrap();
    match group {
        IpAddr::V4(v4) => joined.join_multicast_v4(&v4, &Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(v6) => joined.join_multicast_v6(&v6, 0),
    }
    .unwrap();
    let mut listener = anyipc::bind(url).await.unwrap();
    let port = port_of(&listener.endpoint().to_string());
    let plain = tokio::net::UdpSocket::bind((wildcard, 0)).await.unwrap();
    ping_pong(&mut listener, &plain, (group, port).into()).await;
}

#[tokio::test]
async fn a_wildcard_listener_answers_an_ipv4_group_datagram_from_a_unicast_address() {
    watchdog(WATCHDOG, async {
        let group = unique_group_v4();
        if round_trips("IPv4 multicast", group.into(), false) {
            a_wildcard_listener_answers_a_datagram_to_a_group(group.into()).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_wildcard_listener_answers_an_ipv6_group_datagram_from_a_unicast_address() {
    watchdog(WATCHDOG, async {
        let group = unique_group_v6();
        if round_trips("IPv6 multicast", group.into(), false) {
            a_wildcard_listener_answers_a_datagram_to_a_group(group.into()).await;
        }
    })
    .await;
}

/// A group listener shares its port with other group listeners only: a unicast listener on
/// a port in use is still `AddrInUse` (no `SO_REUSEADDR` for it, which on Linux would let it
/// take the port's unicast datagrams from the listener there).
#[tokio::test]
async fn a_unicast_listener_still_refuses_a_port_a_group_listener_holds() {
    watchdog(WATCHDOG, async {
        let group = unique_group_v4();
        if !round_trips("IPv4 multicast", group.into(), false) {
            return;
        }
        let listener = anyipc::bind(&format!("udp://{group}:0")).await.unwrap();
        let port = port_of(&listener.endpoint().to_string());
        let err = anyipc::bind(&format!("udp://0.0.0.0:{port}"))
            .await
            .expect_err("the port is taken");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    })
    .await;
}

/// Without `broadcast=true` a send to a broadcast address is `PermissionDenied` saying to
/// add it (the OS's own "Permission denied" says nothing of the option); with it, a
/// wildcard `anyipc listen` process gets the datagram.
#[tokio::test]
async fn a_broadcast_address_takes_broadcast_true() {
    watchdog(WATCHDOG, async {
        // Without a route for broadcast the OS refuses with ENETUNREACH, not EACCES.
        if !round_trips("broadcast", Ipv4Addr::BROADCAST.into(), true) {
            return;
        }
        let (mut listener, url) = listen("udp://0.0.0.0:0").await;
        let port = port_of(&url);
        let to = format!("udp://255.255.255.255:{port}");

        // Linux refuses the connect; elsewhere the send may be what fails.
        let err = match anyipc::connect(&to).await {
            Err(err) => err,
            Ok(mut client) => client.send("refused").await.expect_err("no SO_BROADCAST"),
        };
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("broadcast=true"), "{err}");
        let refused = send(&to, "refused").await;
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("add broadcast=true"), "{stderr}");

        let sent = send(&format!("{to}?broadcast=true"), "to everyone").await;
        assert!(
            sent.status.success(),
            "{}",
            String::from_utf8_lossy(&sent.stderr)
        );
        assert_eq!(printed(&mut listener).await.as_deref(), Some("to everyone"));
    })
    .await;
}

/// An IPv6 group of interface-local (`ff01::…`, `ff11::…`: scope 1) or link-local
/// (`ff02::…`: scope 2) scope means nothing without an interface: binding one without a zone
/// is `InvalidInput` saying to give it (the OS's own refusal is "Invalid argument").
#[tokio::test]
async fn a_link_local_ipv6_group_needs_a_zone() {
    for url in [
        "udp://[ff02::1:2]:0",
        "udp://[ff12::1:2]:0",
        "udp://[ff01::1234]:0",
        "udp://[ff11::1234]:0",
    ] {
        let err = anyipc::bind(url)
            .await
            .expect_err("no interface to join on");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{url}: {err}");
        let said = err.to_string();
        assert!(
            said.starts_with(&format!("{url}: ")) && said.contains("%25eth0"),
            "{said}"
        );
    }
}
