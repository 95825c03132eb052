//! `Connection::send_many` and `Connection::recv_batch`: the batch calls deliver what the
//! one-message calls deliver (order, content, errors), across processes and in one.

use crate::process::{numbered, Helper, Role};
use crate::util::{frame_error, length_frame, pattern, unique_name, watchdog, TempDir};
use anyipc::codec::FrameError;
use std::io::ErrorKind;
use tokio::io::AsyncWriteExt;

/// One URL per byte-stream transport whose batches carry many messages.
fn stream_urls(dir: &TempDir) -> Vec<String> {
    let mut urls = vec![
        "tcp://127.0.0.1:0".to_owned(),
        format!("pipe://{}", unique_name("batch")),
    ];
    if cfg!(unix) {
        urls.push(format!("unix://{}", dir.join("batch.sock")));
    }
    if cfg!(target_os = "linux") {
        urls.push(format!("shm://{}", unique_name("batch")));
    }
    urls
}

/// Collects `count` messages through `recv_batch`, with the size of the largest batch.
async fn recv_batches(conn: &mut anyipc::Connection, count: usize) -> (Vec<Vec<u8>>, usize) {
    let (mut got, mut largest) = (Vec::new(), 0);
    while got.len() < count {
        let batch = conn
            .recv_batch()
            .await
            .expect("recv_batch")
            .expect("the peer closed early");
        assert!(!batch.is_empty());
        assert_eq!(batch.iter().count(), batch.len());
        largest = largest.max(batch.len());
        got.extend(batch.iter().map(<[u8]>::to_vec));
    }
    (got, largest)
}

#[tokio::test]
async fn send_many_reaches_another_process_whole_and_in_order() {
    let dir = TempDir::new("batch-send");
    for url in stream_urls(&dir) {
        watchdog(60, async {
            let helper = Helper::spawn(Role::Verify, &url).await;
            let mut conn = anyipc::connect(helper.endpoint()).await.expect("connect");
            let msgs: Vec<Vec<u8>> = (0..6_000).map(numbered).collect();
            for chunk in msgs.chunks(1_000) {
                conn.send_many(chunk).await.expect("send_many");
            }
            conn.send_many(&[b""]).await.expect("end marker");
            let answer = conn.recv().await.expect("answer").expect("helper closed");
            assert_eq!(answer, "ok 6000", "{url}");
        })
        .await;
    }
}

#[tokio::test]
async fn recv_batch_takes_another_process_stream_whole_and_in_order() {
    let dir = TempDir::new("batch-recv");
    for url in stream_urls(&dir) {
        watchdog(60, async {
            let mut listener = anyipc::bind(&url).await.expect("bind");
            let _helper = Helper::spawn(Role::Stream, &listener.endpoint().to_string()).await;
            let mut conn = listener.accept().await.expect("accept");
            let (got, largest) = recv_batches(&mut conn, 5_000).await;
            for (seq, msg) in got.iter().enumerate() {
                assert_eq!(msg[..], numbered(seq as u64)[..], "{url}: message {seq}");
            }
            // The helper sends as fast as it can: reads bring in several frames at a time
            // (not counted on Windows' named pipes, where tokio reads what one overlapped
            // read of its own buffer got).
            if cfg!(unix) || !url.starts_with("pipe://") {
                assert!(largest > 1, "{url}: every batch held one message");
            }
        })
        .await;
    }
}

#[tokio::test]
async fn batch_calls_mix_with_the_one_message_calls() {
    watchdog(30, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0").await.unwrap();
        let mut client = anyipc::connect(listener.endpoint()).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        client.send("first").await.unwrap();
        client.send_many(&["second", "", "fourth"]).await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), "first");
        let (rest, _) = recv_batches(&mut server, 3).await;
        assert_eq!(rest, [b"second".to_vec(), vec![], b"fourth".to_vec()]);
        drop(client);
        assert!(server.recv_batch().await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn send_many_sends_large_messages_whole_between_small_ones() {
    let dir = TempDir::new("batch-large");
    for url in stream_urls(&dir) {
        watchdog(60, async {
            let mut listener = anyipc::bind(&url).await.unwrap();
            let mut client = anyipc::connect(listener.endpoint()).await.unwrap();
            let mut server = listener.accept().await.unwrap();
            // Large ones go out from their own memory, small ones through the buffer.
            let msgs: Vec<Vec<u8>> = [10, 100_000, 0, 40_000, 32 * 1024, 5, 1 << 20]
                .iter()
                .map(|&len| pattern(len).to_vec())
                .collect();
            let receiving = tokio::spawn(async move {
                let (got, _) = recv_batches(&mut server, 7).await;
                got
            });
            client.send_many(&msgs).await.unwrap();
            assert_eq!(receiving.await.unwrap(), msgs, "{url}");
        })
        .await;
    }
}

#[tokio::test]
async fn send_many_with_a_message_over_max_frame_sends_nothing() {
    watchdog(30, async {
        let url = format!("pipe://{}?max_frame=100", unique_name("batch-oversize"));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let err = client
            .send_many(&[vec![1u8; 10], vec![2u8; 101]])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(matches!(
            frame_error(&err),
            Some(FrameError::SendTooLarge { len: 101, max: 100 })
        ));
        client.send("after").await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), "after");
    })
    .await;
}

#[tokio::test]
async fn lines_go_in_batches_and_a_line_with_a_newline_sends_nothing() {
    watchdog(30, async {
        let url = format!("pipe://{}?framing=lines", unique_name("batch-lines"));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let err = client.send_many(&["fine", "two\nlines"]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let lines: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("line {i}").into_bytes())
            .collect();
        // The reader runs when the sender yields: after its write of about 9 KB here (all of
        // it in the socket, one read, one batch of lines), or when a smaller socket buffer
        // fills. Either way it reads many lines at a time.
        let receiving = tokio::spawn(async move { recv_batches(&mut server, 1000).await });
        client.send_many(&lines).await.unwrap();
        let (got, largest) = receiving.await.unwrap();
        assert_eq!(got, lines);
        assert!(largest > 1, "every batch held one line");
    })
    .await;
}

/// A raw TCP peer (tokio, no anyipc) writing `bytes` to an anyipc `tcp://` listener bound
/// with `options` (`?max_frame=16`, or empty), then closing; returns the accepted connection.
async fn raw_peer_wrote(options: &str, bytes: &[u8]) -> anyipc::Connection {
    let mut listener = anyipc::bind(format!("tcp://127.0.0.1:0{options}"))
        .await
        .unwrap();
    let anyipc::Address::HostPort { port, .. } = listener.endpoint().address() else {
        panic!("{} has no port", listener.endpoint());
    };
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", *port))
        .await
        .unwrap();
    let conn = listener.accept().await.unwrap();
    raw.write_all(bytes).await.unwrap();
    raw.shutdown().await.unwrap();
    conn
}

#[tokio::test]
async fn recv_batch_delivers_the_frames_before_an_oversized_one_then_fails() {
    watchdog(30, async {
        let mut bytes = [length_frame(b"one"), length_frame(b"two")].concat();
        bytes.extend_from_slice(&1000u32.to_be_bytes());
        bytes.extend_from_slice(&[0u8; 64]);
        let mut conn = raw_peer_wrote("?max_frame=16", &bytes).await;
        let (got, _) = recv_batches(&mut conn, 2).await;
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
        let err = conn.recv_batch().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(matches!(
            frame_error(&err),
            Some(FrameError::TooLarge { len: 1000, max: 16 })
        ));
        assert!(conn.recv_batch().await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn recv_batch_reports_a_peer_that_closed_inside_a_frame() {
    watchdog(30, async {
        let mut bytes = length_frame(b"whole");
        bytes.extend_from_slice(&10u32.to_be_bytes());
        bytes.extend_from_slice(b"abc");
        let mut conn = raw_peer_wrote("", &bytes).await;
        let (got, _) = recv_batches(&mut conn, 1).await;
        assert_eq!(got, [b"whole".to_vec()]);
        let err = conn.recv_batch().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert!(conn.recv_batch().await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn recv_batch_honours_recv_timeout() {
    watchdog(30, async {
        let mut listener = anyipc::bind("tcp://127.0.0.1:0?recv_timeout=100ms")
            .await
            .unwrap();
        let mut client = anyipc::connect(listener.endpoint()).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        let err = watchdog(10, server.recv_batch()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        client.send_many(&["late"]).await.unwrap();
        let batch = server.recv_batch().await.unwrap().unwrap();
        assert_eq!(batch.iter().collect::<Vec<_>>(), [&b"late"[..]]);
    })
    .await;
}

/// Waits `send_many(&[msg])` out for 100 ms (no one reads) and drops it there.
#[cfg(unix)]
async fn cancel_send(client: &mut anyipc::Connection, msg: &[u8], url: &str) {
    let msgs = [msg];
    let sending = client.send_many(&msgs);
    let cancelled = tokio::time::timeout(std::time::Duration::from_millis(100), sending).await;
    assert!(
        cancelled.is_err(),
        "{url}: 4 MiB went through without a reader"
    );
}

// Not on Windows: there tokio's named pipe takes a whole write at once (into a buffer of
// its own, one write in flight), so no send is ever cut off halfway to test.
#[cfg(unix)]
#[tokio::test]
async fn a_cancelled_send_many_leaves_no_torn_frame() {
    let dir = TempDir::new("batch-cancel");
    let mut urls = vec![
        format!("unix://{}", dir.join("cancel.sock")),
        format!("unix://{}?framing=lines", dir.join("lines.sock")),
        format!("pipe://{}", unique_name("batch-cancel")),
    ];
    if cfg!(target_os = "linux") {
        urls.push(format!("shm://{}", unique_name("batch-cancel")));
    }
    for url in urls {
        watchdog(60, async {
            let mut listener = anyipc::bind(&url).await.unwrap();
            let mut client = anyipc::connect(listener.endpoint()).await.unwrap();
            let mut server = listener.accept().await.unwrap();
            // Far more than the socket buffer or ring holds. The first send is dropped while
            // its body is being written; the second while the write queue ahead of its
            // header (the first one's rest) is. Lines: no newline inside.
            let lines = url.contains("lines");
            let message = |fill: u8| match lines {
                true => vec![fill; 4 << 20],
                false => pattern(4 << 20).iter().map(|b| b ^ fill).collect(),
            };
            let (first, second) = (message(b'x'), message(b'y'));
            cancel_send(&mut client, &first, &url).await;
            cancel_send(&mut client, &second, &url).await;
            let receiving = tokio::spawn(async move {
                let (got, _) = recv_batches(&mut server, 3).await;
                got
            });
            client.send("after").await.unwrap();
            let got = receiving.await.unwrap();
            assert_eq!(got.len(), 3, "{url}");
            assert!(got[0] == first, "{url}: the first message arrived torn");
            assert!(got[1] == second, "{url}: the second message arrived torn");
            assert_eq!(got[2], b"after", "{url}");
        })
        .await;
    }
}

#[cfg(unix)] // FIFOs
#[tokio::test]
async fn on_a_message_transport_what_came_before_a_refused_message_is_flushed() {
    let dir = TempDir::new("batch-fifo");
    let url = format!("fifo://{}", dir.join("f"));
    watchdog(30, async {
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut reader = listener.accept().await.unwrap();
        let mut writer = anyipc::connect(&url).await.unwrap();
        // A FIFO refuses frames over PIPE_BUF when it comes to them.
        let msgs = [b"first".to_vec(), vec![0u8; 5000], b"third".to_vec()];
        let err = writer.send_many(&msgs).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(reader.recv().await.unwrap().unwrap(), "first");
        writer.send("fourth").await.unwrap();
        assert_eq!(reader.recv().await.unwrap().unwrap(), "fourth");
    })
    .await;
}

#[tokio::test]
async fn message_transports_batch_one_message_at_a_time() {
    watchdog(30, async {
        let url = format!("mem://{}", unique_name("batch"));
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(&url).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        client.send_many(&["a", "bb", "ccc"]).await.unwrap();
        for want in ["a", "bb", "ccc"] {
            let batch = watchdog(10, server.recv_batch()).await.unwrap().unwrap();
            assert_eq!(batch.len(), 1);
            assert_eq!(batch.iter().collect::<Vec<_>>(), [want.as_bytes()]);
        }
    })
    .await;
}
