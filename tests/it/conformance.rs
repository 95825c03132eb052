//! The conformance suite: one set of cases, run against every backend (DESIGN §5).
//!
//! Each case is an `async fn(&Backend)` written once against the public API (`bind`,
//! `connect`, `accept`, `Stream` + `Sink`). [`Backend`] says how to make a fresh endpoint and
//! what the transport can promise (an end-of-stream signal, back-pressure, …); a case whose
//! promise a backend does not make passes at once for it, as its flags in the instantiation
//! line at the bottom of this file say.
//!
//! # Adding a transport
//!
//! One line at the bottom of this file:
//!
//! ```text
//! conformance!(shm, Backend { fresh: || fresh_name("shm"), ..Backend::STREAM });
//! ```
//!
//! `conformance!(name, backend)` makes a module `conformance::name` with one `#[tokio::test]`
//! per case, so `cargo test --test it conformance::shm::` runs the suite for `shm` alone;
//! `conformance!(name, backend; case case …)` makes only the cases listed (for `mq`, which
//! has no pair of ends for the others to test).
//! Cross-process cases spawn a helper process (see `process.rs`) when `cross_process` is set.

use crate::process::{Helper, Role};
#[cfg(unix)]
use crate::util::TempDir;
use crate::util::{frame_error, pattern, unique_name, watchdog, yields_during};
use anyipc::codec::FrameError;
use anyipc::{Connection, EndpointParseError, Listener};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::io;
use std::time::{Duration, Instant};

/// A backend as the suite sees it.
#[derive(Clone, Copy)]
pub(crate) struct Backend {
    /// A fresh endpoint URL to bind, unique to this test, and the guard that removes what it
    /// names (its directory, its queue).
    pub(crate) fresh: fn() -> (String, Option<Guard>),
    /// The peer closing is seen: end of stream on read, `BrokenPipe` on write (not udp).
    pub(crate) has_eof: bool,
    /// A close shuts only the sending side: replies still arrive after it. Not on Windows'
    /// named pipes, which have none; there a close ends both ways.
    pub(crate) half_close: bool,
    /// The mechanism keeps message boundaries itself (udp, mem); otherwise a byte stream.
    pub(crate) message_based: bool,
    /// The largest message the suite sends (it sets `limit_option` to this).
    pub(crate) max_message: usize,
    /// The option that sets the largest message a send may carry: `max_frame`, or on `mq://`
    /// the queue's own `max_message_len` (its `max_frame` stays the larger default).
    pub(crate) limit_option: &'static str,
    /// Messages may be dropped when a receiver falls behind: ordered cases are paced.
    pub(crate) lossy: bool,
    /// A sender to a peer that does not read eventually waits (`Pending`).
    pub(crate) backpressure: bool,
    /// The kinds `connect` may return when nothing listens there; `None` when connecting
    /// cannot tell (udp has no handshake).
    pub(crate) missing: Option<&'static [io::ErrorKind]>,
    /// `connect` waits while the listener does not accept (after a backlog), so
    /// `connect_timeout` can be tested deterministically.
    pub(crate) connect_waits_for_accept: bool,
    /// The transport reaches other processes: run the cross-process cases.
    pub(crate) cross_process: bool,
    /// Both ends learn the peer's pid, uid and gid (`Connection::peer_credentials`).
    pub(crate) credentials: bool,
}

impl Backend {
    /// A byte-stream transport with every capability; override what differs.
    pub(crate) const STREAM: Backend = Backend {
        fresh: || panic!("set Backend::fresh"),
        has_eof: true,
        half_close: true,
        message_based: false,
        max_message: 1 << 20,
        limit_option: "max_frame",
        lossy: false,
        backpressure: true,
        missing: Some(&[io::ErrorKind::NotFound]),
        connect_waits_for_accept: false,
        cross_process: true,
        credentials: false,
    };
}

/// What a fresh endpoint leaves behind, removed when dropped.
pub(crate) type Guard = Box<dyn std::any::Any + Send>;

/// `scheme://<unique name>`.
pub(crate) fn fresh_name(scheme: &str) -> (String, Option<Guard>) {
    (format!("{scheme}://{}", unique_name("conf")), None)
}

/// `scheme:///<fresh dir>/s` (the guard removes the directory).
#[cfg(unix)]
pub(crate) fn fresh_path(scheme: &str) -> (String, Option<Guard>) {
    let dir = TempDir::new("conf");
    (format!("{scheme}://{}", dir.join("s")), Some(Box::new(dir)))
}

/// `mq://<unique name>?create=true&…`: a small queue holding messages up to the suite's
/// largest (the guard removes it).
#[cfg(target_os = "linux")]
pub(crate) fn fresh_queue() -> (String, Option<Guard>) {
    let name = crate::queue::Name::new();
    let url = format!(
        "mq://{}?create=true&capacity=4&max_message_len={}",
        name.0,
        Backend::STREAM.max_message
    );
    (url, Some(Box::new(name)))
}

/// `url` with `options` added (replacing any earlier value of the same key).
pub(crate) fn with_options(url: &str, options: &[(&str, &str)]) -> String {
    let mut endpoint: anyipc::Endpoint = url.parse().expect("test URL parses");
    for (key, value) in options {
        endpoint = endpoint
            .with_option(key, value)
            .expect("test option is valid");
    }
    endpoint.to_string()
}

/// A bound listener and a connected client/server pair.
pub(crate) struct Pair {
    /// Kept bound for the test's duration.
    _listener: Listener,
    pub(crate) client: Connection,
    pub(crate) server: Connection,
    _guard: Option<Guard>,
}

/// Binds a fresh endpoint with `options`, connects, and accepts. The client sends one
/// `hello` first (a udp server sees a client only once it sends), which the server reads.
pub(crate) async fn pair(backend: &Backend, options: &[(&str, &str)]) -> Pair {
    let (url, guard) = (backend.fresh)();
    let mut listener = anyipc::bind(with_options(&url, options))
        .await
        .expect("bind");
    let mut client = anyipc::connect(listener.endpoint()).await.expect("connect");
    client.send("hello").await.expect("send hello");
    let mut server = listener.accept().await.expect("accept");
    assert_eq!(server.recv().await.expect("recv hello").unwrap(), "hello");
    Pair {
        _listener: listener,
        client,
        server,
        _guard: guard,
    }
}

fn assert_kind<T: std::fmt::Debug>(result: io::Result<T>, kinds: &[io::ErrorKind], what: &str) {
    match result {
        Err(e) => assert!(
            kinds.contains(&e.kind()),
            "{what}: expected one of {kinds:?}, got {:?}: {e}",
            e.kind()
        ),
        Ok(v) => panic!("{what}: expected one of {kinds:?}, got Ok({v:?})"),
    }
}

/// A message carrying its sequence number and a length that varies with it.
fn numbered(seq: u32) -> Bytes {
    let mut msg = seq.to_be_bytes().to_vec();
    msg.extend(std::iter::repeat_n(seq as u8, (seq % 61) as usize));
    Bytes::from(msg)
}

async fn expect_numbered(
    conn: &mut (impl futures::Stream<Item = io::Result<Bytes>> + Unpin),
    n: u32,
) {
    for seq in 0..n {
        let msg = conn
            .next()
            .await
            .expect("stream ended early")
            .expect("recv");
        assert_eq!(msg, numbered(seq), "message {seq} out of order or corrupt");
    }
}

// ---------------------------------------------------------------------------------------
// The cases.

/// A message each way, and a short echo conversation.
pub(crate) async fn round_trip(backend: &Backend) {
    let Pair {
        mut client,
        mut server,
        ..
    } = pair(backend, &[]).await;
    assert!(!server.peer_addr().is_empty());
    assert!(!client.peer_addr().is_empty());
    if backend.credentials {
        for conn in [&client, &server] {
            let peer = conn.peer_credentials().expect("peer credentials");
            assert_eq!(peer.pid, Some(std::process::id()));
        }
    }
    let echo = tokio::spawn(async move {
        while let Some(msg) = server.next().await {
            server.send(msg.unwrap()).await.unwrap();
        }
    });
    for i in 0..100 {
        let msg = Bytes::from(format!("message {i}"));
        client.send(msg.clone()).await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), msg);
    }
    if backend.has_eof {
        client.close().await.unwrap();
        assert!(client.recv().await.unwrap().is_none());
        echo.await.unwrap();
    } else {
        echo.abort();
    }
}

/// 10,000 messages each way at once, all in order and intact. On lossy backends the
/// messages go in echoed windows, so nothing overruns a receiver.
pub(crate) async fn ten_thousand_in_order(backend: &Backend) {
    const N: u32 = 10_000;
    let Pair { client, server, .. } = pair(backend, &[]).await;
    if backend.lossy {
        let (mut client, mut server) = (client, server);
        let echo = tokio::spawn(async move {
            for seq in 0..N {
                let msg = server.next().await.unwrap().unwrap();
                assert_eq!(msg, numbered(seq), "server: message {seq}");
                server.send(msg).await.unwrap();
            }
        });
        const WINDOW: u32 = 16;
        for start in (0..N).step_by(WINDOW as usize) {
            for seq in start..start + WINDOW {
                client.feed(numbered(seq)).await.unwrap();
            }
            client.flush().await.unwrap();
            for seq in start..start + WINDOW {
                let msg = client.next().await.unwrap().unwrap();
                assert_eq!(msg, numbered(seq), "client: message {seq}");
            }
        }
        echo.await.unwrap();
        return;
    }
    let one_side = |conn: Connection| async move {
        let (mut tx, mut rx) = conn.split();
        let send = async {
            for seq in 0..N {
                tx.feed(numbered(seq)).await.unwrap();
            }
            tx.flush().await.unwrap();
        };
        tokio::join!(send, expect_numbered(&mut rx, N));
        tx.reunite(rx).unwrap()
    };
    let server = tokio::spawn(one_side(server));
    let _client = one_side(client).await;
    let _server = server.await.unwrap();
}

/// A message of `len` bytes that says which it is (`seq`) in every byte.
fn sized(seq: u32, len: usize) -> Bytes {
    (0..len)
        .map(|i| (seq as usize).wrapping_mul(131).wrapping_add(i) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Sizes either side of the point where byte streams stop copying a message into their write
/// buffer (32 KiB), within the backend's largest message.
fn mixed_size(seq: u32, max: usize) -> usize {
    const SIZES: [usize; 8] = [0, 7, 40_000, 100, 300_000, 32 * 1024, 1, 32 * 1024 - 1];
    SIZES[seq as usize % SIZES.len()].min(max)
}

/// Small and large messages mixed in one burst each way at once: every one arrives whole and
/// in order (large ones travel by reference past the small ones gathered around them).
pub(crate) async fn mixed_sizes_in_order(backend: &Backend) {
    const N: u32 = 200;
    if backend.lossy {
        return; // datagrams may be lost: ten_thousand_in_order covers udp with windows
    }
    let max = backend.max_message;
    let Pair { client, server, .. } = pair(backend, &[]).await;
    let one_side = move |conn: Connection| async move {
        let (mut tx, mut rx) = conn.split();
        let send = async {
            for seq in 0..N {
                tx.feed(sized(seq, mixed_size(seq, max))).await.unwrap();
            }
            tx.flush().await.unwrap();
        };
        let receive = async {
            for seq in 0..N {
                let msg = rx.next().await.expect("stream ended early").expect("recv");
                assert!(
                    msg == sized(seq, mixed_size(seq, max)),
                    "message {seq} ({} bytes) out of order or corrupt",
                    msg.len()
                );
            }
        };
        tokio::join!(send, receive);
        tx.reunite(rx).unwrap()
    };
    let server = tokio::spawn(one_side(server));
    let _client = one_side(client).await;
    let _server = server.await.unwrap();
}

/// A message of exactly the limit (`max_frame`; an mq queue's `max_message_len`) goes
/// through both ways; one byte more is refused with `InvalidInput`
/// ([`FrameError::SendTooLarge`] inside) and the connection carries small messages
/// afterwards.
pub(crate) async fn max_size_message(backend: &Backend) {
    let max = backend.max_message;
    let max_text = max.to_string();
    let Pair {
        mut client,
        mut server,
        ..
    } = pair(backend, &[(backend.limit_option, &max_text)]).await;
    let big = pattern(max);
    max_size_one_way(&mut client, &mut server, &big, max).await;
    max_size_one_way(&mut server, &mut client, &big, max).await;
}

async fn max_size_one_way(from: &mut Connection, to: &mut Connection, big: &Bytes, max: usize) {
    let (sent, received) = tokio::join!(from.send(big.clone()), to.recv());
    sent.unwrap();
    assert!(
        received.unwrap().unwrap() == big,
        "max-size message corrupt"
    );

    let err = from.send(pattern(max + 1)).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert_eq!(
        frame_error(&err),
        Some(&FrameError::SendTooLarge { len: max + 1, max })
    );

    from.send("small").await.unwrap();
    assert_eq!(to.recv().await.unwrap().unwrap(), "small");
}

/// Empty messages arrive as empty messages (a zero length prefix; a zero-length datagram).
pub(crate) async fn zero_length_messages(backend: &Backend) {
    let Pair {
        mut client,
        mut server,
        ..
    } = pair(backend, &[]).await;
    for _ in 0..3 {
        client.send(Bytes::new()).await.unwrap();
    }
    client.send("after").await.unwrap();
    for _ in 0..3 {
        assert_eq!(server.recv().await.unwrap().unwrap(), "");
    }
    assert_eq!(server.recv().await.unwrap().unwrap(), "after");
    server.send(Bytes::new()).await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), "");
}

/// Sends until the peer's absence shows: the first sends may still be accepted by the OS.
async fn send_until_broken(conn: &mut Connection) -> io::Error {
    for _ in 0..1_000 {
        if let Err(e) = conn.send("anyone there?").await {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("1,000 sends to a dropped peer all succeeded");
}

/// A dropped peer ends the stream of the other side, whose sends then fail with `BrokenPipe`.
pub(crate) async fn peer_drop(backend: &Backend) {
    if !backend.has_eof {
        return; // No close signal (udp): nothing to observe.
    }
    for drop_client in [true, false] {
        let Pair { client, server, .. } = pair(backend, &[]).await;
        let (gone, mut survivor) = if drop_client {
            (client, server)
        } else {
            (server, client)
        };
        drop(gone);
        assert!(
            survivor.recv().await.unwrap().is_none(),
            "stream did not end"
        );
        let err = send_until_broken(&mut survivor).await;
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    }
}

/// The client closes its sending side: the server's stream ends, and the server's replies
/// still reach the client, whose stream ends when the server closes too. Without a
/// half-close the client's stream ends at its close and the server's sends then fail.
pub(crate) async fn half_close(backend: &Backend) {
    if !backend.has_eof {
        return;
    }
    let Pair {
        mut client,
        mut server,
        ..
    } = pair(backend, &[]).await;
    client.send("question").await.unwrap();
    client.close().await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), "question");
    assert!(
        server.recv().await.unwrap().is_none(),
        "server stream did not end"
    );
    if !backend.half_close {
        assert!(
            client.recv().await.unwrap().is_none(),
            "client stream did not end"
        );
        let err = send_until_broken(&mut server).await;
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
        return;
    }
    server.send("answer 1").await.unwrap();
    server.send("answer 2").await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), "answer 1");
    assert_eq!(client.recv().await.unwrap().unwrap(), "answer 2");
    server.close().await.unwrap();
    assert!(
        client.recv().await.unwrap().is_none(),
        "client stream did not end"
    );
}

/// After its own close a connection takes nothing more: a send fails with `BrokenPipe`, on
/// every transport (udp and mq too, which have no peer that the close would tell).
pub(crate) async fn send_after_close(backend: &Backend) {
    let Pair { mut client, .. } = pair(backend, &[]).await;
    client.close().await.unwrap();
    let err = client.send("late").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
}

/// A sender to a peer that does not read ends up waiting rather than buffering without
/// bound; once the peer reads, everything sent arrives in order.
pub(crate) async fn back_pressure(backend: &Backend) {
    if !backend.backpressure {
        return;
    }
    const LIMIT: u32 = 4096;
    let Pair {
        mut client,
        mut server,
        ..
    } = pair(backend, &[]).await;
    let body = pattern(256 * 1024);
    let msg = |seq: u32| {
        let mut m = seq.to_be_bytes().to_vec();
        m.extend_from_slice(&body[..1024]);
        // Shares `body`'s allocation except for the header: cheap on message backends.
        [Bytes::from(m), body.clone()]
    };
    let mut sent = 0u32;
    let mut stalled = false;
    while sent < LIMIT {
        let [head, tail] = msg(sent);
        // Two messages per step; a step that cannot finish in a while is waiting on the peer.
        let step = async {
            client.feed(head).await?;
            client.feed(tail).await
        };
        match tokio::time::timeout(Duration::from_millis(500), step).await {
            Ok(result) => result.unwrap(),
            Err(_) => {
                stalled = true;
                break;
            }
        }
        sent += 1;
    }
    assert!(
        stalled,
        "{LIMIT} messages of 256 KiB were buffered for a peer that does not read"
    );
    // The peer reads now: what was accepted arrives, in order, and the sender gets going.
    let reader = tokio::spawn(async move {
        let mut seq = 0u32;
        while let Some(m) = server.next().await {
            let m = m.unwrap();
            if m.len() == body.len() {
                assert!(m == body, "body of message {seq} corrupt");
                continue;
            }
            let got = u32::from_be_bytes(m[..4].try_into().unwrap());
            if got == u32::MAX {
                break;
            }
            assert_eq!(got, seq, "messages out of order");
            seq += 1;
        }
        seq
    });
    client.flush().await.unwrap();
    let mut end = u32::MAX.to_be_bytes().to_vec();
    end.extend_from_slice(&[0; 8]);
    client.send(Bytes::from(end)).await.unwrap();
    let received = reader.await.unwrap();
    assert!(received >= sent, "sent {sent} messages, {received} arrived");
}

/// `recv` is cancel safe: dropping it while it waits (here: losing a `select!` against a
/// yield, thousands of times) loses no message, even in the middle of a frame.
pub(crate) async fn recv_is_cancel_safe(backend: &Backend) {
    if backend.lossy {
        return; // A burst may overrun a udp receiver; that is loss, not a cancel bug.
    }
    const N: u32 = 3_000;
    let Pair {
        mut client,
        mut server,
        ..
    } = pair(backend, &[]).await;
    let sender = tokio::spawn(async move {
        for seq in 0..N {
            server.feed(numbered(seq)).await.unwrap();
            if seq % 7 == 0 {
                server.flush().await.unwrap();
            }
        }
        server.flush().await.unwrap();
        server
    });
    let mut seq = 0;
    while seq < N {
        tokio::select! {
            biased;
            msg = client.recv() => {
                assert_eq!(msg.unwrap().unwrap(), numbered(seq), "message {seq}");
                seq += 1;
            }
            () = tokio::task::yield_now() => {}
        }
    }
    let _server = sender.await.unwrap();
}

/// Connecting where nothing listens (any more) fails with the backend's kind.
pub(crate) async fn connect_to_nothing(backend: &Backend) {
    let Some(kinds) = backend.missing else {
        return;
    };
    let (url, _guard) = (backend.fresh)();
    let listener = anyipc::bind(&url).await.unwrap();
    let url = listener.endpoint().to_string();
    drop(listener);
    assert_kind(
        anyipc::connect(&url).await,
        kinds,
        "connect after the listener is gone",
    );
}

/// Binding an endpoint a live listener holds is `AddrInUse`; once it is gone, binding works.
pub(crate) async fn bind_live_endpoint(backend: &Backend) {
    let (url, _guard) = (backend.fresh)();
    let listener = anyipc::bind(&url).await.unwrap();
    let bound = listener.endpoint().to_string();
    assert_kind(
        anyipc::bind(&bound).await,
        &[io::ErrorKind::AddrInUse],
        "second bind",
    );
    drop(listener);
    // Freed at once on most backends; udp's socket goes with its receiving task, which the
    // runtime drops a moment later (a bounded wait, not a hang).
    let mut rebound = anyipc::bind(&bound).await;
    for _ in 0..100 {
        if rebound.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        rebound = anyipc::bind(&bound).await;
    }
    rebound.expect("bind after the first listener is gone");
}

/// A bad option or address is `InvalidInput` with the `EndpointParseError` inside.
pub(crate) async fn bad_url(backend: &Backend) {
    let (url, _guard) = (backend.fresh)();
    let sep = if url.contains('?') { '&' } else { '?' };
    let bad = format!("{url}{sep}colour=red");
    for result in [
        anyipc::connect(&bad).await.map(drop),
        anyipc::bind(&bad).await.map(drop),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<EndpointParseError>())
            .expect("EndpointParseError inside");
        assert!(inner.to_string().contains("colour"), "{inner}");
    }
}

/// No message within `recv_timeout` is `TimedOut`; the connection still works afterwards.
pub(crate) async fn recv_timeout(backend: &Backend) {
    let Pair {
        mut client,
        mut server,
        ..
    } = pair(backend, &[("recv_timeout", "300ms")]).await;
    let start = Instant::now();
    let err = client.recv().await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(start.elapsed() >= Duration::from_millis(300));
    server.send("late").await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), "late");
    // The timeout counts while a receive waits, not since the last message: after a pause
    // longer than the timeout, a receive still waits for a message on its way.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (received, sent) = tokio::join!(client.recv(), server.send("after a pause"));
    sent.unwrap();
    assert_eq!(received.unwrap().unwrap(), "after a pause");
}

/// Connecting past `connect_timeout` is `TimedOut` (where connecting waits for a listener
/// that does not accept).
pub(crate) async fn connect_timeout(backend: &Backend) {
    if !backend.connect_waits_for_accept {
        return;
    }
    let (url, _guard) = (backend.fresh)();
    let listener = anyipc::bind(&url).await.unwrap();
    let url = with_options(
        &listener.endpoint().to_string(),
        &[("connect_timeout", "100ms")],
    );
    let mut pending = Vec::new();
    for _ in 0..10_000 {
        match anyipc::connect(&url).await {
            Ok(conn) => pending.push(conn),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                return;
            }
        }
    }
    panic!("10,000 connections to a listener that never accepts all succeeded");
}

/// A frame over the receiver's `max_frame` from a peer with a larger limit is `InvalidData`.
pub(crate) async fn oversize_received(backend: &Backend) {
    let (url, _guard) = (backend.fresh)();
    let mut listener = anyipc::bind(with_options(&url, &[("max_frame", "1KiB")]))
        .await
        .unwrap();
    let url = with_options(&listener.endpoint().to_string(), &[("max_frame", "4KiB")]);
    let mut client = anyipc::connect(&url).await.unwrap();
    client.send("hello").await.unwrap();
    let mut server = listener.accept().await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), "hello");
    client.send(pattern(2048)).await.unwrap();
    let err = server.recv().await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    assert_eq!(
        frame_error(&err),
        Some(&FrameError::TooLarge {
            len: 2048,
            max: 1024
        })
    );
    client.send("next").await.unwrap();
    if backend.message_based {
        // Only the oversize message is lost.
        assert_eq!(server.recv().await.unwrap().unwrap(), "next");
    } else {
        // The stream ends (the body is not read through), and stays ended (it used to
        // end once, then wait, then report the same frame again once more bytes came).
        assert!(server.next().await.is_none());
        client.send("later").await.unwrap();
        for _ in 0..3 {
            let next = tokio::time::timeout(Duration::from_secs(5), server.next()).await;
            assert!(matches!(next, Ok(None)), "{next:?}");
        }
    }
}

/// Another process (a test helper, then the `anyipc` tool) echoes: a round trip across a
/// process boundary.
pub(crate) async fn cross_process_round_trip(backend: &Backend) {
    if !backend.cross_process {
        return;
    }
    for role in [Role::Echo, Role::CliEcho] {
        let (url, _guard) = (backend.fresh)();
        let helper = Helper::spawn(role, &url).await;
        let mut client = anyipc::connect(helper.endpoint()).await.unwrap();
        if backend.credentials {
            let peer = client.peer_credentials().expect("peer credentials");
            assert_eq!(peer.pid, Some(helper.pid()), "{role:?}: the server's pid");
        }
        for i in 0..100 {
            let msg = numbered(i);
            client.send(msg.clone()).await.unwrap();
            assert_eq!(client.recv().await.unwrap().unwrap(), msg, "{role:?}");
        }
    }
}

/// The endpoint of a server killed with SIGKILL (no clean-up of any kind) can be bound
/// again at once: whatever the dead process left behind is reclaimed.
pub(crate) async fn bind_after_owner_killed(backend: &Backend) {
    if !backend.cross_process {
        return;
    }
    let (url, _guard) = (backend.fresh)();
    let mut helper = Helper::spawn(Role::Echo, &url).await;
    let endpoint = helper.endpoint().to_owned();
    let mut client = anyipc::connect(&endpoint).await.unwrap();
    client.send("hello").await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), "hello");
    assert_kind(
        anyipc::bind(&endpoint).await,
        &[io::ErrorKind::AddrInUse],
        "bind while the owner lives",
    );
    helper.kill().await;
    let mut listener = anyipc::bind(&endpoint)
        .await
        .expect("bind the endpoint of a killed server");
    // And it works: a new client reaches the new listener.
    let mut client = anyipc::connect(listener.endpoint()).await.unwrap();
    client.send("again").await.unwrap();
    let mut server = listener.accept().await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), "again");
}

/// A peer process killed (SIGKILL) mid-stream: the survivor sees the end of the stream
/// (`None`, or `UnexpectedEof` inside a frame) or `BrokenPipe` on send, in bounded time.
pub(crate) async fn cross_process_peer_killed(backend: &Backend) {
    if !backend.cross_process || !backend.has_eof {
        return;
    }
    // The helper (a test process, then the `anyipc` tool) is the server; this process is
    // the client, mid-conversation.
    for role in [Role::Echo, Role::CliEcho] {
        client_survives_server_kill(backend, role).await;
    }

    // The helper is a client streaming to this process's server.
    let (url, _guard) = (backend.fresh)();
    let mut listener = anyipc::bind(&url).await.unwrap();
    let mut helper = Helper::spawn(Role::Stream, &listener.endpoint().to_string()).await;
    let mut server = listener.accept().await.unwrap();
    for _ in 0..10 {
        server.recv().await.unwrap().unwrap();
    }
    helper.kill().await;
    loop {
        match server.recv().await {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
                break;
            }
        }
    }
}

async fn client_survives_server_kill(backend: &Backend, role: Role) {
    use io::ErrorKind::{BrokenPipe, UnexpectedEof};
    let (url, _guard) = (backend.fresh)();
    let mut helper = Helper::spawn(role, &url).await;
    let client = anyipc::connect(helper.endpoint()).await.unwrap();
    let (mut tx, mut rx) = client.split();
    let sender = tokio::spawn(async move {
        let mut seq = 0u32;
        loop {
            if let Err(e) = tx.send(numbered(seq % 10_000)).await {
                return e;
            }
            seq += 1;
            tokio::task::yield_now().await;
        }
    });
    rx.next().await.unwrap().unwrap();
    helper.kill().await;
    loop {
        match rx.next().await {
            None => break,
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                assert_eq!(e.kind(), UnexpectedEof, "receive after peer death: {e}");
                break;
            }
        }
    }
    let err = sender.await.unwrap();
    assert_eq!(
        err.kind(),
        BrokenPipe,
        "send after peer death ({role:?}): {err}"
    );
}

/// A sender that always has room, and on message transports a receiver that always finds a
/// message waiting, still let the other tasks on their thread run: each send (a write of the
/// stream, a message of a message transport) takes a unit of tokio's cooperative budget, 128
/// per turn, as a tokio socket's writes do. 160 sends that fit the transport's buffers (a
/// Unix socket's holds about 200 small writes) yield; so do 160 receives of waiting
/// messages where each is its own operation (a byte stream reads them together, in one
/// read, as tokio-util's `Framed` does). Not on lossy backends, whose buffers need not hold
/// them all.
pub(crate) async fn busy_loops_yield(backend: &Backend) {
    const N: u32 = 160;
    // Nor on Windows' named pipes (the one backend without half-close): under Wine 160
    // unread writes filled one and the sends waited for a reader that never came.
    if backend.lossy || !backend.half_close {
        return;
    }
    let Pair {
        mut client,
        mut server,
        ..
    } = pair(backend, &[]).await;
    let (yielded, ()) = yields_during(async {
        for seq in 0..N {
            client.send(numbered(seq)).await.unwrap();
        }
    })
    .await;
    assert!(yielded, "sending {N} messages never let another task run");
    // The first message shows the receiver that the rest are there.
    let first = server.next().await.unwrap().unwrap();
    assert_eq!(first, numbered(0));
    let (yielded, ()) = yields_during(async {
        for seq in 1..N {
            let msg = server.next().await.unwrap().unwrap();
            assert_eq!(msg, numbered(seq), "message {seq}");
        }
    })
    .await;
    if backend.message_based {
        assert!(
            yielded,
            "receiving {N} waiting messages never let another task run"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Instantiation: one line per backend.

macro_rules! conformance {
    ($name:ident, $backend:expr) => {
        conformance!($name, $backend;
            round_trip ten_thousand_in_order mixed_sizes_in_order max_size_message
            zero_length_messages busy_loops_yield
            peer_drop half_close send_after_close back_pressure recv_is_cancel_safe
            connect_to_nothing
            bind_live_endpoint
            bad_url recv_timeout connect_timeout oversize_received
            cross_process_round_trip cross_process_peer_killed bind_after_owner_killed
        );
    };
    ($name:ident, $backend:expr; $($case:ident)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            const BACKEND: Backend = $backend;
            conformance!(@cases $($case)*);
        }
    };
    (@cases $($case:ident)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                watchdog(60, super::$case(&BACKEND)).await;
            }
        )*
    };
}

conformance!(
    tcp,
    Backend {
        fresh: || ("tcp://127.0.0.1:0".to_owned(), None),
        missing: Some(&[io::ErrorKind::ConnectionRefused]),
        ..Backend::STREAM
    }
);

conformance!(
    udp,
    Backend {
        fresh: || ("udp://127.0.0.1:0".to_owned(), None),
        has_eof: false,
        message_based: true,
        max_message: anyipc::endpoint::MAX_UDP_PAYLOAD,
        lossy: true,
        backpressure: false,
        missing: None,
        ..Backend::STREAM
    }
);

#[cfg(unix)]
conformance!(
    unix,
    Backend {
        fresh: || fresh_path("unix"),
        credentials: true,
        ..Backend::STREAM
    }
);

#[cfg(target_os = "linux")]
conformance!(
    unix_abstract,
    Backend {
        fresh: || (format!("unix://@{}", unique_name("anyipc-conf")), None),
        // No file to be missing: the kernel refuses, and anyipc reports the name NotFound.
        missing: Some(&[io::ErrorKind::NotFound]),
        credentials: true,
        ..Backend::STREAM
    }
);

conformance!(
    pipe,
    Backend {
        fresh: || fresh_name("pipe"),
        half_close: cfg!(unix),
        ..Backend::STREAM
    }
);

conformance!(
    mem,
    Backend {
        fresh: || fresh_name("mem"),
        message_based: true,
        connect_waits_for_accept: true,
        cross_process: false,
        ..Backend::STREAM
    }
);

#[cfg(target_os = "linux")]
conformance!(
    shm,
    Backend {
        fresh: || fresh_name("shm"),
        ..Backend::STREAM
    }
);

// `mq://` has no pair of ends: every handle, the accepted one included, shares one queue, so
// a side may receive what it sent itself, and there is no peer to lose. Only the cases where
// one side sends and the other receives in turn hold for it.
#[cfg(target_os = "linux")]
conformance!(
    mq,
    Backend {
        fresh: fresh_queue,
        message_based: true,
        limit_option: "max_message_len",
        cross_process: false,
        ..Backend::STREAM
    };
    max_size_message zero_length_messages send_after_close bad_url recv_timeout
);
