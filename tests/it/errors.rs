//! Error kinds that do not depend on a backend (the per-backend ones are in the conformance
//! suite): unsupported schemes, bad URLs, default limits, TCP `connect_timeout`, and the
//! typed layer's `InvalidData`/`InvalidInput`.

use crate::util::{frame_error, pattern, unique_name, watchdog};
use anyipc::codec::{FormatError, FrameError, Json, Postcard};
use anyipc::EndpointParseError;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;

/// Schemes that parse but have no transport in this build yet. Shrink this list as
/// transports land (each then gets its line in `conformance.rs`); the test below fails for a
/// scheme that is listed here but works, so the list cannot go stale.
const UNSUPPORTED: &[&str] = &[];

/// Schemes that only connect: binding them is `Unsupported` for good (`stdio://` is the
/// child's end of pipes its parent made).
const CONNECT_ONLY: &[&str] = &["stdio://"];

/// A scheme this platform lacks ([`Scheme::is_available`](anyipc::Scheme::is_available)
/// says which) is `Unsupported` at bind and connect, naming the scheme and the platform; one
/// it has is never refused that way. (On Linux every scheme is available.)
#[tokio::test]
async fn a_scheme_this_platform_lacks_is_unsupported_and_says_so() {
    watchdog(20, async {
        let dir = std::env::temp_dir().join(unique_name("unavailable"));
        let urls = [
            format!("unix://{}", dir.join("a.sock").display()),
            format!("fifo://{}", dir.join("a.fifo").display()),
            format!("shm://{}", unique_name("unavailable")),
            format!("mq://{}", unique_name("unavailable")),
        ];
        for url in &urls {
            let scheme = url.parse::<anyipc::Endpoint>().unwrap().scheme();
            if scheme.is_available() {
                continue;
            }
            for (what, result) in [
                ("connect", anyipc::connect(url.as_str()).await.map(drop)),
                ("bind", anyipc::bind(url.as_str()).await.map(drop)),
            ] {
                let err = result.expect_err(&format!("{what} {url} works"));
                assert_eq!(
                    err.kind(),
                    io::ErrorKind::Unsupported,
                    "{what} {url}: {err}"
                );
                assert!(err.to_string().contains(scheme.as_str()), "{err}");
            }
        }
        // Only where it is unavailable: elsewhere it would take this process's stdio.
        if !anyipc::Scheme::Stdio.is_available() {
            let err = anyipc::connect("stdio://").await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        }
        assert!(
            !dir.exists(),
            "nothing is created for an unavailable scheme"
        );
    })
    .await;
}

#[tokio::test]
async fn unsupported_schemes() {
    watchdog(20, async {
        let hint = "if this transport exists now, take it off UNSUPPORTED and give it its line \
                    in conformance.rs";
        for url in UNSUPPORTED {
            for (what, result) in [
                ("connect", anyipc::connect(*url).await.map(drop)),
                ("bind", anyipc::bind(*url).await.map(drop)),
            ] {
                let err = result.expect_err(&format!("{what} {url} works: {hint}"));
                assert_eq!(
                    err.kind(),
                    io::ErrorKind::Unsupported,
                    "{what} {url}: {err}: {hint}"
                );
                let scheme = url.split("://").next().unwrap();
                assert!(err.to_string().contains(scheme), "{err}");
            }
        }
        for url in CONNECT_ONLY {
            let err = anyipc::bind(*url).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Unsupported, "bind {url}: {err}");
            // Not "this platform": no platform binds it; the message says what to do instead.
            assert!(err.to_string().contains("cannot be bound"), "{err}");
            assert!(err.to_string().contains("connect_parent"), "{err}");
        }
    })
    .await;
}

#[tokio::test]
async fn malformed_urls_are_invalid_input() {
    watchdog(20, async {
        for url in [
            "tcp:/127.0.0.1:1",
            "nope://x",
            "tcp://127.0.0.1",
            "tcp://[::1:80",
            "udp://127.0.0.1:99999",
            "unix://",
            "mem://bad name",
            "mem://x?capacity",
            "tcp://127.0.0.1:1?max_frame=big",
            "tcp://127.0.0.1:1?nodelay=true&nodelay=false",
            "stdio://something",
            "unix://@anyipc-abstract-with-mode?mode=0600",
            "fifo:///tmp/a%00b",
            "file:///tmp/log%00?consumer=c",
        ] {
            for result in [
                anyipc::connect(url).await.map(drop),
                anyipc::bind(url).await.map(drop),
            ] {
                let err = result.expect_err(url);
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{url}: {err}");
                let inner = parse_error_inside(&err, url);
                assert_eq!(inner.input(), url);
            }
        }
    })
    .await;
}

/// A `unix://` path too long for a socket address can never be bound or reached: a bad URL
/// (`InvalidInput`, an `EndpointParseError` inside naming the limit), for binding and
/// connecting alike.
#[cfg(unix)]
#[tokio::test]
async fn a_unix_socket_path_too_long_for_a_socket_address_is_a_bad_url() {
    watchdog(20, async {
        let url = format!("unix:///tmp/{}.sock", "a".repeat(120));
        for result in [
            anyipc::connect(&url).await.map(drop),
            anyipc::bind(&url).await.map(drop),
        ] {
            let err = result.expect_err(&url);
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert_eq!(parse_error_inside(&err, &url).input(), url);
            assert!(err.to_string().contains("at most"), "{err}");
        }
    })
    .await;
}

/// The `EndpointParseError` inside `err`, the error of `url`; panics when there is none.
fn parse_error_inside<'a>(err: &'a io::Error, url: &str) -> &'a EndpointParseError {
    err.get_ref()
        .and_then(|e| e.downcast_ref::<EndpointParseError>())
        .unwrap_or_else(|| panic!("{url}: no EndpointParseError inside {err:?}"))
}

/// Port 0 asks the OS for a free port when binding; nothing can listen there, so connecting
/// to it is a bad URL for connecting (`InvalidInput`, an `EndpointParseError` inside, saying
/// port 0 can only be bound), refused before anything is sent, not the `ConnectionRefused`
/// the OS would give. Binding port 0 still gets a free port.
#[tokio::test]
async fn connecting_to_port_0_is_invalid_input() {
    watchdog(20, async {
        for url in [
            "tcp://127.0.0.1:0",
            "udp://127.0.0.1:0",
            "tcp://localhost:0?nodelay=false",
        ] {
            let err = anyipc::connect(url).await.map(drop).expect_err(url);
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{url}: {err}");
            let inner = parse_error_inside(&err, url);
            assert_eq!(inner.input(), url);
            assert!(
                err.to_string().contains("port 0 can only be bound"),
                "{err}"
            );
            let listener = anyipc::bind(url).await.unwrap();
            let anyipc::Address::HostPort { port, .. } = listener.endpoint().address() else {
                panic!("{url}: bound to {}", listener.endpoint());
            };
            assert_ne!(*port, 0, "{url}");
        }
    })
    .await;
}

/// A TCP client that resets its connection before the server accepts it is a connection
/// that ends at once, not an accept error (a server's accept loop gives up after a run of
/// errors); the next client is accepted after it.
#[cfg(unix)]
#[tokio::test]
async fn a_tcp_client_reset_before_accept_is_no_accept_error() {
    use std::os::fd::AsRawFd;
    watchdog(20, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0").await.unwrap();
        let url = listener.endpoint().to_string();
        let addr = url.trim_start_matches("tcp://").to_owned();
        let reset = std::net::TcpStream::connect(&addr).unwrap();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt reads one `linger` we own, of the size given, on an open socket.
        let set = unsafe {
            libc::setsockopt(
                reset.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0);
        drop(reset); // closed with a reset while it waits in the accept queue
        let mut good = anyipc::connect(&url).await.unwrap();
        let mut gone = listener.accept().await.unwrap();
        assert!(
            gone.next().await.is_none(),
            "the reset client's stream ends"
        );
        let mut server = listener.accept().await.unwrap();
        good.send(bytes::Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), "hello");
    })
    .await;
}

/// The default `max_frame` of a byte stream is 8 MiB, exactly.
#[tokio::test]
async fn default_max_frame_is_8_mib() {
    watchdog(60, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0").await.unwrap();
        let mut client = anyipc::connect(listener.endpoint()).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let max = 8 << 20;
        let big = pattern(max);
        let (sent, received) = tokio::join!(client.send(big.clone()), server.recv());
        sent.unwrap();
        assert!(received.unwrap().unwrap() == big);
        let err = client.send(pattern(max + 1)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            frame_error(&err),
            Some(&FrameError::SendTooLarge { len: max + 1, max })
        );
    })
    .await;
}

/// A host name that does not resolve (`.invalid` never does) is `NotFound` naming the host,
/// on connect and bind, tcp and udp: the resolver's own error is of a kind no caller can
/// match, and said neither host nor endpoint. Other tcp errors name the endpoint too. (A
/// machine whose resolver cannot be reached answers "temporary failure" instead: that is
/// `TimedOut`, also naming the host, and the test says so.)
#[tokio::test]
async fn an_unresolvable_host_is_not_found_naming_it() {
    watchdog(60, async {
        let host = "anyipc-no-such-host.invalid";
        for scheme in ["tcp", "udp"] {
            let url = format!("{scheme}://{host}:7000");
            for (what, result) in [
                ("connect", anyipc::connect(&url).await.map(drop)),
                ("bind", anyipc::bind(&url).await.map(drop)),
            ] {
                let err = result.expect_err(&url);
                match err.kind() {
                    io::ErrorKind::NotFound => {}
                    io::ErrorKind::TimedOut if err.to_string().contains("for now") => {
                        println!("the resolver is unreachable here: {err}");
                    }
                    _ => panic!("{what} {url}: {err:?}"),
                }
                assert!(err.to_string().contains(host), "{what} {url}: {err}");
            }
        }
        let listener = anyipc::bind("tcp://127.0.0.1:0").await.unwrap();
        let url = listener.endpoint().to_string();
        let err = anyipc::bind(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().starts_with(&url), "{err}");
        drop(listener);
        // A port held by a socket that is bound but does not listen: refused, and no other
        // test's listener can be given it meanwhile, as a freed one could be.
        let held = tokio::net::TcpSocket::new_v4().unwrap();
        held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("tcp://{}", held.local_addr().unwrap());
        let err = anyipc::connect(&url).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        assert!(err.to_string().starts_with(&url), "{err}");
    })
    .await;
}

/// An error that names its endpoint is rebuilt around the OS's, whose message names neither
/// host nor port: the OS's error code stays reachable through `anyipc::raw_os_error`, and the
/// OS's text is said once (no `source()` repeats it), on tcp, udp and unix (an abstract name's, and a path's on connect).
#[tokio::test]
async fn errors_naming_the_endpoint_keep_the_os_error_code() {
    watchdog(20, async {
        let abstract_name = format!("unix://@{}", unique_name("anyipc-os-code"));
        let urls = ["tcp://127.0.0.1:0", "udp://127.0.0.1:0", &abstract_name];
        // Abstract names are Linux's.
        let urls = &urls[..if cfg!(target_os = "linux") { 3 } else { 2 }];
        for url in urls {
            let listener = anyipc::bind(*url).await.unwrap();
            let bound = listener.endpoint().to_string();
            let err = anyipc::bind(&bound).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
            assert!(err.to_string().starts_with(&bound), "{err}");
            let code = anyipc::raw_os_error(&err).unwrap_or_else(|| panic!("no code: {err:?}"));
            assert_eq!(
                io::Error::from_raw_os_error(code).kind(),
                io::ErrorKind::AddrInUse
            );
            // The OS's text is in the message already: no source repeats it to a reporter
            // that prints the chain (anyhow's `{:#}`).
            assert!(std::error::Error::source(&err).is_none(), "{err:?}");
        }
        // Nothing listens at a unix path: connect's NotFound keeps ENOENT.
        #[cfg(unix)]
        {
            let dir = crate::util::TempDir::new("os-code");
            let url = format!("unix://{}", dir.join("nobody.sock"));
            let err = anyipc::connect(&url).await.map(drop).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
            assert_eq!(anyipc::raw_os_error(&err), Some(libc::ENOENT), "{err:?}");
            // So do fifo:// (connect, and bind in a missing directory), shm:// (connect with
            // no listener) and file:// (a consumer of a missing log that does not follow),
            // whose errors name the endpoint too.
            let missing = [
                anyipc::connect(format!("fifo://{}", dir.join("nobody.fifo")))
                    .await
                    .map(drop),
                anyipc::bind(format!("fifo://{}", dir.join("no-dir/x.fifo")))
                    .await
                    .map(drop),
                anyipc::connect(format!("shm://{}", unique_name("os-code")))
                    .await
                    .map(drop),
                anyipc::bind(format!("file://{}?follow=false", dir.join("no-log")))
                    .await
                    .map(drop),
            ];
            for err in missing.into_iter().map(Result::unwrap_err) {
                assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
                let code = anyipc::raw_os_error(&err);
                assert!(
                    code == Some(libc::ENOENT) || code == Some(libc::ECONNREFUSED),
                    "{err:?}"
                );
            }
        }
        // An error of the OS's own is its code, and one with no code has none.
        let plain = io::Error::from_raw_os_error(7);
        assert_eq!(anyipc::raw_os_error(&plain), Some(7));
        assert_eq!(anyipc::raw_os_error(&io::Error::other("no code")), None);
    })
    .await;
}

/// `connect_timeout` on TCP, made deterministic with a listener whose accept queue is full:
/// Linux then drops further SYNs, so a connect waits until it gives up.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn tcp_connect_timeout() {
    use std::os::fd::FromRawFd;
    watchdog(60, async {
        // SAFETY: plain socket calls on a descriptor this block owns; on success it is handed
        // to a std TcpListener, which closes it.
        let (listener, port) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
                0
            );
            assert_eq!(libc::listen(fd, 0), 0);
            let listener = std::net::TcpListener::from_raw_fd(fd);
            let port = listener.local_addr().unwrap().port();
            (listener, port)
        };
        let url = format!("tcp://127.0.0.1:{port}?connect_timeout=200ms");
        let mut held = Vec::new();
        for _ in 0..64 {
            match anyipc::connect(&url).await {
                Ok(conn) => held.push(conn),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                    drop(listener);
                    return;
                }
            }
        }
        panic!("64 connections to a listener with a full queue all succeeded");
    })
    .await;
}

/// `send_timeout`: a send held up by a peer that reads nothing fails with `TimedOut`
/// instead of waiting for ever; what was queued stays whole and goes out with a later
/// flush once the peer reads, in order.
#[tokio::test]
async fn send_timeout_bounds_a_send_to_a_peer_that_does_not_read() {
    watchdog(60, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0").await.unwrap();
        let url = format!("{}?send_timeout=200ms", listener.endpoint());
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let mut sent = 0u32;
        let err = loop {
            let mut msg = pattern(64 * 1024).to_vec();
            msg[..4].copy_from_slice(&sent.to_be_bytes());
            match client.send(msg).await {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 10_000, "640 MiB sent to a peer that reads nothing");
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(err.to_string().contains("send_timeout"), "{err}");
        let reading = tokio::spawn(async move {
            let mut got = 0u32;
            while let Some(msg) = server.next().await {
                let msg = msg.unwrap();
                assert_eq!(msg.len(), 64 * 1024);
                assert_eq!(msg[..4], got.to_be_bytes(), "whole and in order");
                got += 1;
            }
            got
        });
        client.flush().await.unwrap();
        client.close().await.unwrap();
        let got = reading.await.unwrap();
        // The timed-out message is there too: it stayed queued.
        assert_eq!(got, sent + 1, "sent {sent} before the one that timed out");
    })
    .await;
}

/// Message `i` of [`timed_out_sends_lose_nothing`]: `i` in its first four bytes.
fn numbered(i: u32, len: usize) -> Vec<u8> {
    let mut msg = pattern(len).to_vec();
    msg[..4].copy_from_slice(&i.to_be_bytes());
    msg
}

/// Every message a `send` or `send_many` was given arrives, whole and in order, even those
/// whose call ended in `TimedOut` ("do not send it again"), several in a row: a send that
/// timed out waiting for room in a full queue used to drop its message. `connect_url` has a
/// short `send_timeout`; the peer reads nothing until three sends in a row have timed out
/// and a `send_many` of three has too.
pub(crate) async fn timed_out_sends_lose_nothing(
    listener: &mut anyipc::Listener,
    connect_url: &str,
    len: usize,
) {
    let mut client = anyipc::connect(connect_url).await.unwrap();
    let mut server = listener.accept().await.unwrap();
    let (mut sent, mut timed_out) = (0u32, 0);
    while timed_out < 3 {
        match client.send(numbered(sent, len)).await {
            Ok(()) => timed_out = 0,
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{connect_url}: {e}");
                timed_out += 1;
            }
        }
        sent += 1;
        assert!(sent < 20_000, "{connect_url}: no send timed out");
    }
    let batch: Vec<Vec<u8>> = (sent..sent + 3).map(|i| numbered(i, len)).collect();
    let err = client.send_many(&batch).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{connect_url}: {err}");
    sent += 3;
    // Exactly `sent` (a queue has no end of stream), each in order: a lost one shows as a
    // wrong number, or as a wait that times out at the end.
    let reading = tokio::spawn(async move {
        for i in 0..sent {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(10), server.recv()).await;
            let msg = msg
                .unwrap_or_else(|_| panic!("message {i} within 10 s"))
                .unwrap();
            let msg = msg.unwrap_or_else(|| panic!("the stream ended before message {i}"));
            assert_eq!(msg.len(), len);
            assert_eq!(msg[..4], i.to_be_bytes(), "whole and in order");
        }
    });
    client.flush().await.unwrap();
    reading.await.unwrap();
}

#[tokio::test]
async fn timed_out_sends_lose_nothing_on_byte_streams_and_mem() {
    watchdog(60, async {
        // (bind URL, connect options, message length)
        #[allow(unused_mut)] // extended on Unix
        let mut cases = vec![
            ("tcp://127.0.0.1:0".to_owned(), "", 64 * 1024),
            (
                format!("mem://{}", unique_name("timed-out")),
                "capacity=1&",
                8,
            ),
        ];
        #[cfg(unix)]
        let dir = crate::util::TempDir::new("timed-out");
        #[cfg(unix)]
        cases.extend([
            (dir.url("unix", "s.sock"), "", 20 * 1024),
            (
                format!("pipe://{}", unique_name("timed-out")),
                "",
                20 * 1024,
            ),
        ]);
        #[cfg(target_os = "linux")]
        cases.push((format!("shm://{}", unique_name("timed-out")), "", 20 * 1024));
        for (url, options, len) in cases {
            let mut listener = anyipc::bind(&url).await.unwrap();
            let endpoint = listener.endpoint().to_string();
            let sep = if endpoint.contains('?') { '&' } else { '?' };
            let connect_url = format!("{endpoint}{sep}{options}send_timeout=50ms");
            timed_out_sends_lose_nothing(&mut listener, &connect_url, len).await;
        }
    })
    .await;
}

/// `send_timeout` bounds `send_many` on a byte stream and a send on a message transport
/// whose queue stays full, as it bounds `send`.
#[tokio::test]
async fn send_timeout_bounds_send_many_and_a_full_message_queue() {
    watchdog(60, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0").await.unwrap();
        let url = format!("{}?send_timeout=200ms", listener.endpoint());
        let mut client = anyipc::connect(&url).await.unwrap();
        let _server = listener.accept().await.unwrap();
        let big = vec![7u8; 1 << 20];
        let err = client.send_many(&vec![&big[..]; 256]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");

        let name = unique_name("send-timeout");
        let mut mem = anyipc::bind(format!("mem://{name}")).await.unwrap();
        let url = format!("mem://{name}?capacity=1&send_timeout=200ms");
        let mut sender = anyipc::connect(url).await.unwrap();
        let _receiver = mem.accept().await.unwrap();
        let mut err = None;
        for _ in 0..4 {
            if let Err(e) = sender.send("x").await {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("a send into a full queue nobody reads times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    })
    .await;
}

/// `send_many` on a message transport gives up after one `send_timeout`, not two: the flush
/// that follows an accepted message does not wait again for a queue that stayed full (on
/// tokio's paused clock, so the figure is exact).
#[tokio::test(start_paused = true)]
async fn send_many_into_a_full_message_queue_waits_one_send_timeout() {
    let name = unique_name("send-many-timeout");
    let mut mem = anyipc::bind(format!("mem://{name}")).await.unwrap();
    let url = format!("mem://{name}?capacity=1&send_timeout=1s");
    let mut sender = anyipc::connect(url).await.unwrap();
    let _receiver = mem.accept().await.unwrap();
    let started = tokio::time::Instant::now();
    let err = sender.send_many(&["a", "b", "c"]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(1));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    item: String,
}

/// A message that is not an `In` is `InvalidData` (with the `FormatError` inside) and the
/// connection stays usable; a value that will not serialize is `InvalidInput`.
async fn typed_bad_message(url: &str) {
    let mut listener = anyipc::bind(url).await.unwrap();
    let mut raw_client = anyipc::connect(listener.endpoint()).await.unwrap();
    raw_client.send("{not json").await.unwrap();
    let mut server = listener.accept().await.unwrap().typed::<Order, Order>(Json);

    let err = server.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    assert!(err.get_ref().unwrap().is::<FormatError>(), "{err:?}");

    raw_client.send(r#"{"id":7,"item":"tea"}"#).await.unwrap();
    let order = server.next().await.unwrap().unwrap();
    assert_eq!(
        order,
        Order {
            id: 7,
            item: "tea".into()
        }
    );
    server.send(order).await.unwrap();
    assert_eq!(
        raw_client.recv().await.unwrap().unwrap(),
        r#"{"id":7,"item":"tea"}"#
    );

    // JSON map keys must be strings: this value cannot be serialized.
    let mut bad_sender = server.into_inner().typed::<(), HashMap<(u8, u8), u8>>(Json);
    let err = bad_sender
        .send(HashMap::from([((1, 2), 3)]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    bad_sender.get_mut().send("still fine").await.unwrap();
    assert_eq!(raw_client.recv().await.unwrap().unwrap(), "still fine");
}

#[tokio::test]
async fn typed_bad_message_tcp() {
    watchdog(20, typed_bad_message("tcp://127.0.0.1:0")).await;
}

#[tokio::test]
async fn typed_bad_message_mem() {
    watchdog(
        20,
        typed_bad_message(&format!("mem://{}", unique_name("typed"))),
    )
    .await;
}

/// Raw framing keeps no message boundaries: three JSON values that another process wrote
/// (`1`, `2`, `3`) used to arrive as one value, `123`. A typed connection over it now
/// refuses every receive and send with `Unsupported`, and sends nothing.
#[tokio::test]
async fn typed_over_raw_framing_is_unsupported_not_merged_values() {
    watchdog(20, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0?framing=raw").await.unwrap();
        let url = listener.endpoint().to_string();
        let sent = tokio::process::Command::new(crate::util::anyipc_bin())
            .args(["send", &url, "1", "2", "3"])
            .output()
            .await
            .unwrap();
        assert!(sent.status.success(), "{sent:?}");
        let mut server = listener.accept().await.unwrap().typed::<u32, u32>(Json);
        let err = server.recv().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("framing=raw"), "{err}");
        // Said once, then the stream ends: a loop that goes on after errors does not spin.
        assert!(server.recv().await.unwrap().is_none());

        let mut client = anyipc::connect(&url).await.unwrap().typed::<u32, u32>(Json);
        let mut peer = listener.accept().await.unwrap();
        let err = client.send(7).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        // Nothing went out: the peer sees the end of the stream and no bytes.
        client.close().await.unwrap();
        assert!(peer.recv().await.unwrap().is_none());
    })
    .await;
}

/// A binary format's values may hold the newline that ends a line: over `framing=lines`,
/// Postcard's `10u32` (the one byte `\n`) was refused on send while `7` went out, a trap
/// that depended on the values. A Postcard connection over lines now refuses every send and
/// receive with `Unsupported` and sends nothing; Json over lines works as before.
#[tokio::test]
async fn typed_binary_format_over_lines_is_unsupported_json_is_fine() {
    watchdog(20, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0?framing=lines")
            .await
            .unwrap();
        let url = listener.endpoint().to_string();
        let mut client = anyipc::connect(&url)
            .await
            .unwrap()
            .typed::<u32, u32>(Postcard);
        let mut peer = listener.accept().await.unwrap();
        let err = client.send(7).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("framing=lines"), "{err}");
        client.close().await.unwrap();
        assert!(peer.recv().await.unwrap().is_none(), "nothing was sent");

        let mut client = anyipc::connect(&url).await.unwrap().typed::<u32, u32>(Json);
        let mut server = listener.accept().await.unwrap().typed::<u32, u32>(Json);
        client.send(10).await.unwrap();
        assert_eq!(server.recv().await.unwrap(), Some(10));
    })
    .await;
}

#[tokio::test]
async fn typed_postcard_round_trip_over_udp() {
    watchdog(20, async {
        let mut listener = anyipc::bind("udp://127.0.0.1:0").await.unwrap();
        let mut client = anyipc::connect(listener.endpoint())
            .await
            .unwrap()
            .typed::<Order, Order>(Postcard);
        client
            .send(Order {
                id: 1,
                item: "ünïcode".into(),
            })
            .await
            .unwrap();
        let mut server = listener
            .accept()
            .await
            .unwrap()
            .typed::<Order, Order>(Postcard);
        let order = server.next().await.unwrap().unwrap();
        server.send(order).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap().item, "ünïcode");
        // Garbage on the wire: InvalidData, and the next good message still arrives.
        server.get_mut().send(&[0xff_u8; 3][..]).await.unwrap();
        let err = client.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        server
            .send(Order {
                id: 2,
                item: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(client.next().await.unwrap().unwrap().id, 2);
    })
    .await;
}

/// A peer that sends part of a frame and stalls is bounded by `recv_timeout`, and one that
/// announces 4 GiB is refused at once: both with a plain TCP socket as the hostile peer.
#[tokio::test]
async fn hostile_tcp_peer() {
    use tokio::io::AsyncWriteExt;
    watchdog(20, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0?recv_timeout=150ms")
            .await
            .unwrap();
        let port = match listener.endpoint().address() {
            anyipc::Address::HostPort { port, .. } => *port,
            other => panic!("{other:?}"),
        };

        let mut peer = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut server = listener.accept().await.unwrap();
        peer.write_all(&[0, 0, 0, 100, 1, 2, 3]).await.unwrap();
        let start = std::time::Instant::now();
        let err = server.recv().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(start.elapsed() >= std::time::Duration::from_millis(150));
        // The timeout lost nothing: the rest of the frame completes it.
        peer.write_all(&[7; 97]).await.unwrap();
        let frame = server.recv().await.unwrap().unwrap();
        assert_eq!(frame.len(), 100);
        assert_eq!(&frame[..3], &[1, 2, 3]);

        let mut peer = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut server = listener.accept().await.unwrap();
        peer.write_all(&[0xff, 0xff, 0xff, 0xff, 0]).await.unwrap();
        let err = server.recv().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(matches!(
            frame_error(&err),
            Some(FrameError::TooLarge {
                len: 0xffff_ffff,
                ..
            })
        ));
    })
    .await;
}
