//! The udp:// listener's limits on real sockets: `max_peers=`, `idle_timeout=` and
//! `max_queued=` (the byte budget's accounting is tested on the router in
//! `src/udp/tests.rs`); a client told that nothing listens.

use crate::util::watchdog;
use anyipc::{Connection, Listener};
use futures::StreamExt;
use std::io;
use std::time::{Duration, Instant};
use tokio::time::timeout;

/// Long enough for a datagram on loopback to be routed, short enough to keep tests fast.
const SETTLE: Duration = Duration::from_millis(300);
/// What a step that should happen may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(3);

async fn bind(url: &str) -> (Listener, String) {
    let listener = anyipc::bind(url).await.unwrap();
    let url = listener.endpoint().to_string();
    (listener, url)
}

async fn accept(listener: &mut Listener) -> Connection {
    timeout(PATIENCE, listener.accept())
        .await
        .expect("a connection to accept")
        .unwrap()
}

async fn next(conn: &mut Connection) -> Option<Vec<u8>> {
    timeout(PATIENCE, conn.next())
        .await
        .expect("a message or the end")
        .map(|msg| msg.unwrap().to_vec())
}

#[tokio::test]
async fn a_sender_beyond_max_peers_is_accepted_only_once_a_connection_is_dropped() {
    watchdog(10, async {
        let (mut listener, url) = bind("udp://127.0.0.1:0?max_peers=2").await;
        let mut a = anyipc::connect(&url).await.unwrap();
        let mut b = anyipc::connect(&url).await.unwrap();
        let mut c = anyipc::connect(&url).await.unwrap();
        a.send("a0").await.unwrap();
        let mut from_a = accept(&mut listener).await;
        b.send("b0").await.unwrap();
        let mut from_b = accept(&mut listener).await;
        c.send("c0").await.unwrap();
        assert!(
            timeout(SETTLE, listener.accept()).await.is_err(),
            "a third sender was accepted while two connections live"
        );
        // The two live senders still get through; `a1` was routed after `c0` was dropped.
        a.send("a1").await.unwrap();
        b.send("b1").await.unwrap();
        assert_eq!(next(&mut from_a).await.unwrap(), b"a0");
        assert_eq!(next(&mut from_a).await.unwrap(), b"a1");
        assert_eq!(next(&mut from_b).await.unwrap(), b"b0");
        assert_eq!(next(&mut from_b).await.unwrap(), b"b1");
        drop(from_a);
        c.send("c1").await.unwrap();
        let mut from_c = accept(&mut listener).await;
        assert_eq!(
            next(&mut from_c).await.unwrap(),
            b"c1",
            "c0 was dropped, not queued"
        );
        from_c.send("reply").await.unwrap();
        assert_eq!(c.recv().await.unwrap().as_deref(), Some(&b"reply"[..]));
    })
    .await;
}

#[tokio::test]
async fn an_idle_connection_ends_and_its_sender_comes_back_as_a_new_connection() {
    watchdog(10, async {
        let (mut listener, url) = bind("udp://127.0.0.1:0?idle_timeout=200ms").await;
        let mut client = anyipc::connect(&url).await.unwrap();
        let quiet_since = Instant::now();
        client.send("one").await.unwrap();
        let mut first = accept(&mut listener).await;
        assert_eq!(next(&mut first).await.unwrap(), b"one");
        assert_eq!(next(&mut first).await, None, "the idle connection ends");
        let quiet = quiet_since.elapsed();
        // Not long before the timeout (its sweeps run late on a loaded host, never early,
        // but a late sweep can leave the last one less than a period after it), nor long
        // after it.
        assert!(quiet >= Duration::from_millis(100), "ended after {quiet:?}");
        assert!(quiet < Duration::from_secs(5), "ended after {quiet:?}");

        client.send("two").await.unwrap();
        client.send("three").await.unwrap();
        let mut second = accept(&mut listener).await;
        assert_eq!(second.peer_addr(), first.peer_addr());
        assert_eq!(next(&mut second).await.unwrap(), b"two");
        assert_eq!(next(&mut second).await.unwrap(), b"three");
        second.send("back").await.unwrap();
        assert_eq!(client.recv().await.unwrap().as_deref(), Some(&b"back"[..]));
    })
    .await;
}

#[tokio::test]
async fn an_idle_end_delivers_what_was_queued_before_it() {
    watchdog(10, async {
        let (mut listener, url) = bind("udp://127.0.0.1:0?idle_timeout=100ms").await;
        let mut client = anyipc::connect(&url).await.unwrap();
        for msg in ["one", "two", "three"] {
            client.send(msg).await.unwrap();
        }
        let mut conn = accept(&mut listener).await;
        // Unread until well past the idle end.
        tokio::time::sleep(SETTLE).await;
        for msg in ["one", "two", "three"] {
            assert_eq!(next(&mut conn).await.unwrap(), msg.as_bytes());
        }
        assert_eq!(next(&mut conn).await, None);
    })
    .await;
}

#[tokio::test]
async fn a_listener_needs_room_for_one_sender() {
    let err = anyipc::bind("udp://127.0.0.1:0?max_peers=0")
        .await
        .expect_err("max_peers=0 is refused");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("max_peers"), "{err}");
}

/// `max_queued=129KiB` holds two 60,000-byte datagrams unread, not a third; once they are
/// read, there is room again.
#[tokio::test]
async fn max_queued_bounds_what_a_listener_holds_unread() {
    watchdog(10, async {
        let (mut listener, url) = bind("udp://127.0.0.1:0?max_queued=129KiB").await;
        let mut client = anyipc::connect(&url).await.unwrap();
        let datagram = |n: u8| vec![n; 60_000];
        for n in 0..5 {
            client.send(datagram(n)).await.unwrap();
            // One at a time, so that the kernel's receive buffer is never what drops one.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut conn = accept(&mut listener).await;
        tokio::time::sleep(SETTLE).await;
        let mut unread = Vec::new();
        while let Ok(Some(msg)) = timeout(SETTLE, conn.next()).await {
            unread.push(msg.unwrap()[0]);
        }
        assert_eq!(unread, [0, 1], "what the listener held");
        client.send(datagram(9)).await.unwrap();
        assert_eq!(next(&mut conn).await.unwrap(), datagram(9), "room again");
    })
    .await;
}

#[tokio::test]
async fn max_queued_under_two_datagrams_is_refused() {
    let err = anyipc::bind("udp://127.0.0.1:0?max_queued=100KiB")
        .await
        .expect_err("max_queued=100KiB is refused");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("at least 129KiB"), "{err}");
}

#[tokio::test]
async fn a_client_waiting_for_a_reply_from_nothing_is_told_refused_and_stays_usable() {
    watchdog(10, async {
        let port = crate::util::silent_udp_port();
        let url = format!("udp://127.0.0.1:{port}");
        let mut client = anyipc::connect(&url).await.unwrap();
        client.send("anyone?").await.unwrap();
        let started = Instant::now();
        let err = timeout(PATIENCE, client.next())
            .await
            .expect("the receive ends, it does not wait for a reply that cannot come")
            .expect("an error, not the end")
            .expect_err("nothing listened");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        assert!(started.elapsed() < PATIENCE);

        // The refusal is taken once: a listener that comes later is reached over the same
        // connection, and its reply arrives.
        let (mut listener, _) = bind(&url).await;
        client.send("now?").await.unwrap();
        let mut server = accept(&mut listener).await;
        assert_eq!(next(&mut server).await.unwrap(), b"now?");
        server.send("yes").await.unwrap();
        assert_eq!(next(&mut client).await.unwrap(), b"yes");
    })
    .await;
}

/// The host's refusal of an earlier datagram, taken by a send rather than a receive, says
/// that nothing listens there, as a receive does, not the OS's bare "Connection refused".
#[tokio::test]
async fn a_send_told_that_nothing_listens_says_where() {
    watchdog(10, async {
        let port = crate::util::silent_udp_port();
        let mut client = anyipc::connect(&format!("udp://127.0.0.1:{port}"))
            .await
            .unwrap();
        // Each send may find the refusal of the one before (which one does is up to when
        // the host's answer comes back); the watchdog bounds the wait.
        let err = loop {
            match client.send("anyone?").await {
                Ok(()) => tokio::task::yield_now().await,
                Err(err) => break err,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        let said = err.to_string();
        assert!(
            said.starts_with(&format!("nothing listens at 127.0.0.1:{port}: ")),
            "{said}"
        );
    })
    .await;
}

/// A port another socket holds is `AddrInUse`, naming the endpoint (the OS's "Address
/// already in use" names neither host nor port).
#[tokio::test]
async fn binding_a_taken_port_names_the_endpoint() {
    let (_listener, url) = bind("udp://127.0.0.1:0").await;
    let err = anyipc::bind(&url).await.expect_err("the port is taken");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().starts_with(&format!("{url}: ")), "{err}");
}

/// A listener bound to a wildcard address answers from the address each client sent to: a
/// client that sent to another of the host's addresses (here 127.0.0.2; a second address or
/// a virtual IP elsewhere) got its reply from the address the routes pick (127.0.0.1), which
/// its connected socket dropped, so it waited for ever.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_wildcard_listener_answers_from_the_address_the_client_sent_to() {
    watchdog(10, async {
        let mut cases = vec![("udp://0.0.0.0:0", vec!["127.0.0.2", "127.0.0.1"])];
        match tokio::net::UdpSocket::bind("[::1]:0").await {
            Ok(_) => {
                let mut hosts = vec!["[::1]"];
                // IPv4 senders reach a `[::]` socket only where it is dual-stack.
                let v6_only = std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only");
                if v6_only.is_ok_and(|v| v.trim() == "0") {
                    hosts.extend(["127.0.0.2", "127.0.0.1"]);
                }
                cases.push(("udp://[::]:0", hosts));
            }
            Err(e) => println!("the udp://[::] case is skipped: no IPv6 here ({e})"),
        }
        for (wildcard, hosts) in cases {
            let (mut listener, url) = bind(wildcard).await;
            let port = url.rsplit(':').next().unwrap();
            for host in hosts {
                let mut client = anyipc::connect(&format!("udp://{host}:{port}"))
                    .await
                    .unwrap();
                client.send("ping").await.unwrap();
                let mut server = accept(&mut listener).await;
                assert_eq!(next(&mut server).await.unwrap(), b"ping");
                server.send("pong").await.unwrap();
                let reply = next(&mut client).await;
                assert_eq!(
                    reply.as_deref(),
                    Some(&b"pong"[..]),
                    "{wildcard} via {host}"
                );
            }
        }
    })
    .await;
}
