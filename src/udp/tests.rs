//! The listener's limits, on the router alone: no socket, no timer.

use super::budget::{cost, ByteBudget, LISTENER_BYTE_BUDGET};
use super::limits::{Limits, Sweeps};
use super::router::{NewPeers, PeerQueue, Router, ACCEPT_BACKLOG, CONNECTION_BACKLOG};
use crate::endpoint::MAX_UDP_PAYLOAD;
use crate::Endpoint;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc::error::TryRecvError;

fn limits() -> Limits {
    Limits {
        max_frame: MAX_UDP_PAYLOAD,
        max_peers: 1024,
        idle_timeout: None,
        byte_budget: LISTENER_BYTE_BUDGET,
    }
}

fn sender(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10_000 + n))
}

/// The connection `accept` would return next, with its sender.
fn accept(new_peers: &mut NewPeers) -> Option<(SocketAddr, PeerQueue)> {
    new_peers.try_recv().ok()
}

/// The next queued datagram's bytes; panics when there is none or it is an error.
fn next(queue: &mut PeerQueue) -> Vec<u8> {
    queue
        .try_recv()
        .expect("a queued datagram")
        .unwrap()
        .to_vec()
}

fn limits_of(url: &str) -> Limits {
    Limits::from_endpoint(&url.parse::<Endpoint>().unwrap())
}

#[test]
fn datagrams_over_the_byte_budget_are_dropped() {
    let payload = [7u8; 100];
    let (mut router, mut new_peers) = Router::new(Limits {
        byte_budget: 3 * cost(payload.len()),
        ..limits()
    });
    for _ in 0..4 {
        router.receive(sender(1), &payload);
    }
    let (_, mut a) = accept(&mut new_peers).unwrap();
    assert_eq!(router.queued_bytes(), 3 * cost(payload.len()));
    // A new sender is not even accepted while the budget is spent.
    router.receive(sender(2), &payload);
    assert!(accept(&mut new_peers).is_none());
    for _ in 0..3 {
        assert_eq!(next(&mut a), payload);
    }
    assert_eq!(
        a.try_recv().unwrap_err(),
        TryRecvError::Empty,
        "the 4th was dropped"
    );
    assert_eq!(
        router.queued_bytes(),
        0,
        "taking datagrams gives their bytes back"
    );
}

#[test]
fn the_smallest_max_queued_holds_two_of_the_largest_datagrams() {
    let min = usize::try_from(crate::endpoint::MIN_UDP_MAX_QUEUED).unwrap();
    assert!(min >= 2 * cost(MAX_UDP_PAYLOAD), "{min}");
}

#[test]
fn a_charge_gives_its_bytes_back_when_dropped() {
    let budget = ByteBudget::new(100);
    let first = budget.charge(60).unwrap();
    assert!(budget.charge(41).is_none(), "over the limit");
    assert_eq!(budget.queued(), 60, "a refused charge takes nothing");
    let second = budget.charge(40).unwrap();
    assert_eq!(budget.queued(), 100);
    drop(first);
    assert_eq!(budget.queued(), 40);
    drop(second);
    assert_eq!(budget.queued(), 0);
}

#[test]
fn a_dropped_connection_gives_back_the_budget_of_what_it_held() {
    let payload = [1u8; 1000];
    let (mut router, mut new_peers) = Router::new(Limits {
        byte_budget: 2 * cost(payload.len()),
        ..limits()
    });
    router.receive(sender(1), &payload);
    router.receive(sender(1), &payload);
    let (_, a) = accept(&mut new_peers).unwrap();
    router.receive(sender(2), &payload);
    assert!(accept(&mut new_peers).is_none(), "over budget");
    drop(a);
    assert_eq!(router.queued_bytes(), 0);
    router.receive(sender(2), &payload);
    let (from, mut b) = accept(&mut new_peers).unwrap();
    assert_eq!(from, sender(2));
    assert_eq!(next(&mut b), payload);
}

#[test]
fn a_connection_not_accepted_gives_back_its_budget_when_the_listener_goes() {
    let (mut router, new_peers) = Router::new(limits());
    router.receive(sender(1), b"never accepted");
    assert!(router.queued_bytes() > 0);
    drop(new_peers);
    assert_eq!(router.queued_bytes(), 0);
}

/// A send under way when its connection drops lands after the connection's queue is gone:
/// the channel holds it until the router forgets the sender, and dropping it then gives its
/// cost back.
#[test]
fn a_datagram_landing_after_its_connection_dropped_gives_back_its_budget() {
    let (mut router, mut new_peers) = Router::new(Limits {
        idle_timeout: Some(Duration::from_millis(10)),
        ..limits()
    });
    router.receive(sender(1), b"taken");
    let (_, mut a) = accept(&mut new_peers).unwrap();
    assert_eq!(next(&mut a), b"taken");
    router.receive(sender(1), b"unread");
    let land = router.start_send(sender(1), b"late");
    drop(a);
    assert_eq!(router.queued_bytes(), cost(4), "the unread one is back");
    land();
    assert_eq!(
        router.queued_bytes(),
        cost(4),
        "held by the router's sender"
    );
    router.sweep();
    assert_eq!(
        router.known_senders(),
        0,
        "the closed connection is forgotten"
    );
    assert_eq!(router.queued_bytes(), 0);
}

#[test]
fn too_large_datagrams_are_invalid_data_and_cost_no_payload() {
    let (mut router, mut new_peers) = Router::new(Limits {
        max_frame: 10,
        ..limits()
    });
    router.receive(sender(1), &[0u8; 11]);
    assert_eq!(router.queued_bytes(), cost(0));
    let (_, mut a) = accept(&mut new_peers).unwrap();
    let err = a.try_recv().unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn new_senders_beyond_max_peers_are_dropped_until_a_connection_goes() {
    let (mut router, mut new_peers) = Router::new(Limits {
        max_peers: 2,
        ..limits()
    });
    router.receive(sender(1), b"a");
    router.receive(sender(2), b"b");
    let (_, a) = accept(&mut new_peers).unwrap();
    let (_, mut b) = accept(&mut new_peers).unwrap();
    router.receive(sender(3), b"c0");
    assert!(accept(&mut new_peers).is_none());
    assert_eq!(
        router.queued_bytes(),
        cost(1) * 2,
        "the dropped one holds nothing"
    );
    // Live senders still get through.
    router.receive(sender(2), b"b1");
    assert_eq!(next(&mut b), b"b");
    assert_eq!(next(&mut b), b"b1");
    drop(a);
    router.receive(sender(3), b"c1");
    let (from, mut c) = accept(&mut new_peers).unwrap();
    assert_eq!(from, sender(3));
    assert_eq!(next(&mut c), b"c1");
}

#[test]
fn a_connection_waiting_for_accept_counts_toward_max_peers() {
    let (mut router, mut new_peers) = Router::new(Limits {
        max_peers: 1,
        ..limits()
    });
    router.receive(sender(1), b"a");
    router.receive(sender(2), b"b");
    let (from, _a) = accept(&mut new_peers).unwrap();
    assert_eq!(from, sender(1));
    assert!(accept(&mut new_peers).is_none());
}

#[test]
fn the_final_error_reaches_every_open_connection_after_its_datagrams() {
    let (mut router, mut new_peers) = Router::new(limits());
    router.receive(sender(1), b"one");
    router.receive(sender(2), b"two");
    router.receive(sender(3), b"three");
    let (_, mut a) = accept(&mut new_peers).unwrap();
    let (_, mut b) = accept(&mut new_peers).unwrap();
    drop(accept(&mut new_peers).unwrap());
    router.fail(&io::Error::new(
        io::ErrorKind::PermissionDenied,
        "socket gone",
    ));
    for (queue, first) in [(&mut a, &b"one"[..]), (&mut b, &b"two"[..])] {
        assert_eq!(next(queue), first);
        let err = queue.try_recv().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("socket gone"), "{err}");
        assert_eq!(queue.try_recv().unwrap_err(), TryRecvError::Disconnected);
    }
}

#[test]
fn a_full_connection_drops_datagrams_but_the_final_error_still_fits() {
    let (mut router, mut new_peers) = Router::new(limits());
    for _ in 0..CONNECTION_BACKLOG + 1 {
        router.receive(sender(1), b"x");
    }
    let (_, mut a) = accept(&mut new_peers).unwrap();
    assert_eq!(
        router.queued_bytes(),
        CONNECTION_BACKLOG * cost(1),
        "the refused datagram's cost is back"
    );
    router.fail(&io::Error::other("socket gone"));
    // The datagram past the backlog was dropped; the error was not.
    for _ in 0..CONNECTION_BACKLOG {
        assert_eq!(next(&mut a), b"x");
    }
    assert_eq!(
        a.try_recv().unwrap().unwrap_err().kind(),
        io::ErrorKind::Other
    );
    assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Disconnected);
}

#[test]
fn an_idle_sender_is_ended_after_what_it_sent_and_comes_back_as_a_new_connection() {
    let limits = Limits {
        idle_timeout: Some(Duration::from_millis(40)),
        ..limits()
    };
    let idle_sweeps = limits.sweeps().unwrap().idle_sweeps;
    assert_eq!(idle_sweeps, 4);
    let (mut router, mut new_peers) = Router::new(limits);
    router.receive(sender(1), b"one");
    let (_, mut first) = accept(&mut new_peers).unwrap();
    for _ in 0..idle_sweeps {
        router.sweep();
    }
    assert_eq!(router.known_senders(), 1);
    // Heard from within the last `idle_sweeps` whole periods: kept.
    router.receive(sender(1), b"two");
    assert!(accept(&mut new_peers).is_none());
    for _ in 0..idle_sweeps {
        router.sweep();
    }
    assert_eq!(router.known_senders(), 1);
    router.sweep();
    // Ended: what was queued first, then the end.
    assert_eq!(next(&mut first), b"one");
    assert_eq!(next(&mut first), b"two");
    assert_eq!(first.try_recv().unwrap_err(), TryRecvError::Disconnected);
    assert_eq!(router.known_senders(), 0);
    router.receive(sender(1), b"three");
    let (from, mut second) = accept(&mut new_peers).unwrap();
    assert_eq!(from, sender(1));
    assert_eq!(next(&mut second), b"three");
}

/// A connection that only sends to its sender (a subscription: one datagram in, replies
/// out) is not idle: its sends count as much as datagrams from the sender.
#[test]
fn a_connection_that_sends_to_its_sender_is_not_idle() {
    let limits = Limits {
        idle_timeout: Some(Duration::from_millis(40)),
        ..limits()
    };
    let idle_sweeps = limits.sweeps().unwrap().idle_sweeps;
    let (mut router, mut new_peers) = Router::new(limits);
    router.receive(sender(1), b"subscribe");
    let (_, mut conn) = accept(&mut new_peers).unwrap();
    for _ in 0..3 * idle_sweeps {
        conn.mark_sent();
        router.sweep();
    }
    assert_eq!(router.known_senders(), 1, "ended while it kept sending");
    for _ in 0..=idle_sweeps {
        router.sweep();
    }
    assert_eq!(next(&mut conn), b"subscribe");
    assert_eq!(conn.try_recv().unwrap_err(), TryRecvError::Disconnected);
}

#[test]
fn an_idle_end_frees_the_seat_while_the_old_connection_is_still_held() {
    let (mut router, mut new_peers) = Router::new(Limits {
        max_peers: 1,
        idle_timeout: Some(Duration::from_millis(10)),
        ..limits()
    });
    router.receive(sender(1), b"a");
    let (_, _held) = accept(&mut new_peers).unwrap();
    for _ in 0..3 {
        router.sweep();
    }
    router.receive(sender(2), b"b");
    let (from, _) = accept(&mut new_peers).unwrap();
    assert_eq!(from, sender(2));
}

#[test]
fn closed_connections_are_pruned_as_the_map_doubles() {
    let (mut router, mut new_peers) = Router::new(limits());
    let mut largest = 0;
    for n in 0..5_000u16 {
        router.receive(sender(n), b"x");
        drop(accept(&mut new_peers).unwrap());
        largest = largest.max(router.known_senders());
    }
    assert!(largest <= 64, "the map grew to {largest}");
    // With live connections, it prunes at twice their number.
    let mut live = Vec::new();
    for n in 0..100u16 {
        router.receive(sender(n), b"x");
        live.push(accept(&mut new_peers).unwrap());
    }
    for n in 100..5_000u16 {
        router.receive(sender(n), b"x");
        drop(accept(&mut new_peers).unwrap());
        largest = largest.max(router.known_senders());
    }
    assert!(largest <= 2 * 101, "the map grew to {largest}");
    assert_eq!(live.len(), 100);
}

#[test]
fn the_accept_backlog_is_bounded() {
    let (mut router, mut new_peers) = Router::new(limits());
    for n in 0..ACCEPT_BACKLOG as u16 + 5 {
        router.receive(sender(n), b"x");
    }
    assert_eq!(
        router.queued_bytes(),
        ACCEPT_BACKLOG * cost(1),
        "connections refused by the backlog gave their cost back"
    );
    let mut waiting = 0;
    while accept(&mut new_peers).is_some() {
        waiting += 1;
    }
    assert_eq!(waiting, ACCEPT_BACKLOG);
}

#[test]
fn limits_come_from_the_endpoint() {
    let defaults = limits_of("udp://127.0.0.1:0");
    assert_eq!(defaults.max_peers, 1024);
    assert_eq!(defaults.idle_timeout, Some(Duration::from_secs(300)));
    assert_eq!(defaults.byte_budget, 64 << 20);
    assert_eq!(defaults.max_frame, MAX_UDP_PAYLOAD);
    assert_eq!(
        defaults.sweeps(),
        Some(Sweeps {
            period: Duration::from_secs(75),
            idle_sweeps: 4
        })
    );
    let set = limits_of("udp://127.0.0.1:0?max_peers=2&idle_timeout=200ms");
    assert_eq!(set.max_peers, 2);
    assert_eq!(set.idle_timeout, Some(Duration::from_millis(200)));
    let never = limits_of("udp://127.0.0.1:0?idle_timeout=0");
    assert_eq!(never.idle_timeout, None);
    assert_eq!(never.sweeps(), None);
    // A listener that could never take a sender: refused with the URL.
    let err = "udp://127.0.0.1:0?max_peers=0"
        .parse::<Endpoint>()
        .unwrap_err();
    assert!(err.to_string().contains("max_peers"), "{err}");
}

#[test]
fn sweeps_stay_within_bounds() {
    let sweeps = |timeout: Duration| {
        Limits {
            idle_timeout: Some(timeout),
            ..limits()
        }
        .sweeps()
        .unwrap()
    };
    let short = sweeps(Duration::from_millis(1));
    assert_eq!(short.period, Duration::from_millis(10));
    assert_eq!(short.idle_sweeps, 1);
    let odd = sweeps(Duration::from_millis(25));
    assert_eq!(odd.period, Duration::from_millis(10));
    assert_eq!(odd.idle_sweeps, 3);
    let huge = sweeps(Duration::from_millis(u64::MAX));
    assert_eq!(huge.period, Duration::from_secs(3600));
    assert!(huge.idle_sweeps > 1_000_000);
}

/// Only `EACCES` to an IPv4 address that is not a group gets the hint to add
/// `broadcast=true`: `EPERM` (a firewall's refusal, also `PermissionDenied`), IPv6 and groups
/// keep the OS's error as it is.
#[cfg(unix)]
#[test]
fn only_eacces_to_an_ipv4_address_says_to_add_broadcast_true() {
    use super::udp_channel::{needs_broadcast, refused_as_broadcast};
    let eacces = || io::Error::from_raw_os_error(libc::EACCES);
    let eperm = || io::Error::from_raw_os_error(libc::EPERM);
    let broadcast: SocketAddr = "255.255.255.255:7100".parse().unwrap();
    let subnet: SocketAddr = "192.168.1.255:7100".parse().unwrap();
    let group: SocketAddr = "239.1.2.3:7100".parse().unwrap();
    let v6: SocketAddr = "[ff15::1]:7100".parse().unwrap();
    let v6_unicast: SocketAddr = "[2001:db8::1]:7100".parse().unwrap();
    assert_eq!(eperm().kind(), io::ErrorKind::PermissionDenied);

    assert!(refused_as_broadcast(broadcast, &eacces()));
    assert!(refused_as_broadcast(subnet, &eacces()));
    let wrapped = crate::error::with_context(io::ErrorKind::PermissionDenied, "x".into(), eacces());
    assert!(
        refused_as_broadcast(subnet, &wrapped),
        "the code is found inside"
    );
    assert!(!refused_as_broadcast(broadcast, &eperm()));
    assert!(!refused_as_broadcast(group, &eacces()));
    assert!(!refused_as_broadcast(v6, &eacces()));
    assert!(!refused_as_broadcast(v6_unicast, &eacces()));

    let hinted = needs_broadcast(broadcast, false, eacces());
    assert_eq!(hinted.kind(), io::ErrorKind::PermissionDenied);
    assert!(
        hinted.to_string().contains("add broadcast=true"),
        "{hinted}"
    );
    for (to, err) in [(broadcast, eperm()), (group, eacces()), (v6, eacces())] {
        let kept = needs_broadcast(to, false, err);
        assert!(!kept.to_string().contains("broadcast=true"), "{to}: {kept}");
        assert!(
            kept.raw_os_error().is_some(),
            "{to}: the OS's error as it is"
        );
    }
    let given = needs_broadcast(broadcast, true, eacces());
    assert!(!given.to_string().contains("broadcast=true"), "{given}");
}
