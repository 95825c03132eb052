//! `anyipc::queue` and `mq://` in one process: the API, error kinds, priorities, waiting,
//! the URL layer, hostile bytes and half-created segments. Cross-process and kill tests are
//! in `queue_process.rs`.

use crate::bounded::RunBounded;
use crate::util::{frame_error, unique_name, watchdog};
use anyipc::codec::FrameError;
use anyipc::queue::{MessageQueue, QueueError, QueueOptions};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::time::{Duration, Instant};

/// A fresh queue name, removed when the guard drops.
pub(crate) struct Name(pub(crate) String);

impl Name {
    pub(crate) fn new() -> Name {
        Name(unique_name("mq"))
    }
    pub(crate) fn path(&self) -> String {
        format!("/dev/shm/anyipc-mq-{}", self.0)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = MessageQueue::remove(&self.0);
    }
}

fn small(capacity: u32, max_message_len: u32) -> QueueOptions {
    QueueOptions {
        capacity,
        max_message_len,
        ..QueueOptions::default()
    }
}

#[tokio::test]
async fn create_open_remove_and_error_kinds() {
    watchdog(30, async {
        let name = Name::new();
        let n = &name.0;
        assert_eq!(
            MessageQueue::open(n).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            MessageQueue::remove(n).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let q = MessageQueue::create(n, &small(4, 100)).unwrap();
        let meta = std::fs::symlink_metadata(name.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            MessageQueue::create(n, &small(4, 100)).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        let differ = MessageQueue::open_or_create(n, &small(5, 100)).unwrap_err();
        assert_eq!(differ.kind(), ErrorKind::AlreadyExists);
        assert!(matches!(
            differ
                .get_ref()
                .and_then(|e| e.downcast_ref::<QueueError>()),
            Some(QueueError::AttributesDiffer {
                found: (4, 100),
                wanted: (5, 100)
            })
        ));
        let same = MessageQueue::open_or_create(n, &small(4, 100)).unwrap();
        let other = MessageQueue::open(n).unwrap();

        let attrs = q.attributes();
        assert_eq!(
            (attrs.capacity, attrs.max_message_len, attrs.len),
            (4, 100, 0)
        );
        assert_eq!(q.try_recv().unwrap_err().kind(), ErrorKind::WouldBlock);
        assert_eq!(
            q.try_send(&[0; 101], 0).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            q.try_send(b"x", 32).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        for i in 0..4u8 {
            same.try_send(&[i; 100], 0).unwrap();
        }
        assert_eq!(other.attributes().len, 4);
        assert_eq!(
            q.try_send(b"full", 0).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        let started = Instant::now();
        let err = q
            .send_timeout(b"full", 0, Duration::from_millis(120))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(120));
        for i in 0..4u8 {
            assert_eq!(other.recv().await.unwrap(), (Bytes::from(vec![i; 100]), 0));
        }
        let started = Instant::now();
        let err = q
            .recv_timeout(Duration::from_millis(120))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(120));
        // Zero-length messages are messages.
        q.try_send(b"", 7).unwrap();
        assert_eq!(q.try_recv().unwrap(), (Bytes::new(), 7));

        MessageQueue::remove(n).unwrap();
        assert_eq!(
            MessageQueue::open(n).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        // Open handles outlive the name, as with mq_unlink.
        q.try_send(b"still", 1).unwrap();
        assert_eq!(other.try_recv().unwrap().0, "still");
        // Not a name character, even where a URL would read options or a fragment.
        for bad in ["bad/name", "jobs?mode=0644", "jobs?", "jobs#x"] {
            assert_eq!(
                MessageQueue::create(bad, &small(1, 1)).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
        assert_eq!(
            MessageQueue::create(n, &small(0, 1)).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    })
    .await;
}

#[tokio::test]
async fn mode_is_exact_whatever_the_umask() {
    let name = Name::new();
    let q = MessageQueue::create(
        &name.0,
        &QueueOptions {
            mode: 0o640,
            ..small(1, 8)
        },
    );
    q.unwrap();
    let mode = std::fs::metadata(name.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[tokio::test]
async fn highest_priority_first_fifo_within() {
    watchdog(30, async {
        let name = Name::new();
        let q = MessageQueue::create(&name.0, &small(64, 16)).unwrap();
        let sent = [
            (0u8, "a"),
            (31, "b"),
            (5, "c"),
            (31, "d"),
            (0, "e"),
            (5, "f"),
        ];
        for (p, text) in sent {
            q.send(text.as_bytes(), p).await.unwrap();
        }
        let mut got = Vec::new();
        while let Ok((msg, p)) = q.try_recv() {
            got.push((p, String::from_utf8(msg.to_vec()).unwrap()));
        }
        let want = [(31, "b"), (31, "d"), (5, "c"), (5, "f"), (0, "a"), (0, "e")];
        assert_eq!(got, want.map(|(p, t)| (p, t.to_owned())));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_calls_move_many_in_order_and_wait_like_single_ones() {
    watchdog(60, async {
        let name = Name::new();
        let q = MessageQueue::create(&name.0, &small(8, 16)).unwrap();
        let no: &[&[u8]] = &[];
        assert_eq!(q.try_send_many(no, 0).unwrap(), 0);
        assert_eq!(q.try_recv_many(&mut Vec::new(), 0).unwrap(), 0);
        let mut got = Vec::new();
        assert_eq!(
            q.try_recv_many(&mut got, 4).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // Checked before anything is sent: one bad message sends none.
        let bad: [&[u8]; 2] = [b"ok", &[0; 17]];
        assert_eq!(
            q.try_send_many(&bad, 0).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            q.try_send_many(&[b"x"], 32).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(q.attributes().len, 0);
        // The longest prefix that fits.
        assert_eq!(q.try_send_many(&["a", "b", "c"], 2).unwrap(), 3);
        assert_eq!(q.try_send_many(&["U", "V"], 9).unwrap(), 2);
        assert_eq!(q.try_send_many(&["d", "e", "f", "g", "h"], 2).unwrap(), 3);
        assert_eq!(
            q.try_send_many(&["h"], 2).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // In the order single receives give, appended to the buffer, at most `limit`.
        got.push((Bytes::from_static(b"kept"), 0));
        assert_eq!(q.try_recv_many(&mut got, 3).unwrap(), 3);
        assert_eq!(q.try_recv_many(&mut got, 10).unwrap(), 5);
        let order: Vec<(&[u8], u8)> = got.iter().map(|(m, p)| (&m[..], *p)).collect();
        let want: [(&[u8], u8); 9] = [
            (b"kept", 0),
            (b"U", 9),
            (b"V", 9),
            (b"a", 2),
            (b"b", 2),
            (b"c", 2),
            (b"d", 2),
            (b"e", 2),
            (b"f", 2),
        ];
        assert_eq!(order, want);

        // recv_many waits for a message; send_many waits for room.
        let receiver = {
            let q = q.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let n = q.recv_many(&mut got, 8).await.unwrap();
                (n, got)
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!receiver.is_finished());
        q.send(b"late", 4).await.unwrap();
        let (n, late) = receiver.await.unwrap();
        assert_eq!((n, &late[0].0[..], late[0].1), (1, &b"late"[..], 4));
        let ten: Vec<[u8; 1]> = (0..10u8).map(|i| [i]).collect();
        assert_eq!(q.send_many(&ten, 1).await.unwrap(), 8);
        let sender = {
            let q = q.clone();
            tokio::spawn(async move { q.send_many(&[[8u8], [9]], 1).await.unwrap() })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!sender.is_finished());
        let mut all = Vec::new();
        assert_eq!(q.recv_many(&mut all, 3).await.unwrap(), 3);
        assert_eq!(sender.await.unwrap(), 2);
        while all.len() < 10 {
            q.recv_many(&mut all, 10).await.unwrap();
        }
        let bodies: Vec<u8> = all.iter().map(|(m, _)| m[0]).collect();
        assert_eq!(bodies, (0..10).collect::<Vec<u8>>());
    })
    .await;
}

#[tokio::test]
async fn batches_larger_than_one_lock_hold_arrive_whole_and_in_order() {
    watchdog(60, async {
        let name = Name::new();
        let q = MessageQueue::create(&name.0, &small(300, 4096)).unwrap();
        // 1.2 MiB: many lock holds of 64 KiB each.
        let batch: Vec<Vec<u8>> = (0..300u32)
            .map(|i| {
                let mut m = vec![i as u8; 4 + (i as usize * 13) % 4092];
                m[..4].copy_from_slice(&i.to_le_bytes());
                m
            })
            .collect();
        assert_eq!(q.try_send_many(&batch, 3).unwrap(), 300);
        let mut got = Vec::new();
        assert_eq!(q.try_recv_many(&mut got, 1000).unwrap(), 300);
        for (i, ((msg, p), want)) in got.iter().zip(&batch).enumerate() {
            assert_eq!((&msg[..], *p), (&want[..], 3), "message {i}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_sink_gathers_fed_messages_and_sends_them_in_batches() {
    watchdog(60, async {
        let name = Name::new();
        let n = &name.0;
        let q = MessageQueue::create(n, &small(16, 64)).unwrap();
        let mut conn = anyipc::connect(format!("mq://{n}?priority=3"))
            .await
            .unwrap();
        // Fed messages wait in the sink until a flush…
        for i in 0..10u8 {
            conn.feed(Bytes::from(vec![i; 8])).await.unwrap();
        }
        assert_eq!(q.attributes().len, 0);
        conn.flush().await.unwrap();
        assert_eq!(q.attributes().len, 10);
        // …or until 64 are gathered; `send` flushes at once.
        q.try_recv_many(&mut Vec::new(), 16).unwrap();
        conn.send(Bytes::from_static(b"now")).await.unwrap();
        assert_eq!(q.try_recv().unwrap(), (Bytes::from_static(b"now"), 3));
        // A message too large is refused when the sink takes it in (the flush after the
        // feed); the messages gathered before it still go.
        conn.feed(Bytes::from_static(b"kept")).await.unwrap();
        conn.feed(Bytes::from(vec![0; 65])).await.unwrap();
        let err = conn.flush().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        conn.flush().await.unwrap();
        assert_eq!(q.try_recv().unwrap().0, "kept");
        assert_eq!(q.attributes().len, 0);
        // send_all through a queue far smaller than the stream: back-pressure, all in order.
        let receiver = {
            let q = q.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while got.len() < 1000 {
                    q.recv_many(&mut got, 64).await.unwrap();
                }
                got
            })
        };
        let mut stream =
            futures::stream::iter((0..1000u32).map(|i| Ok(Bytes::from(i.to_le_bytes().to_vec()))));
        conn.send_all(&mut stream).await.unwrap();
        let got = receiver.await.unwrap();
        let seqs: Vec<u32> = got
            .iter()
            .map(|(m, _)| u32::from_le_bytes(m[..].try_into().unwrap()))
            .collect();
        assert_eq!(seqs, (0..1000).collect::<Vec<u32>>());
        // Gathering stops at 64: with 64 in the sink (and one more fed, which the framing
        // holds until the next feed), the next feed puts the 64 in the queue.
        let q2_name = Name::new();
        let q2 = MessageQueue::create(&q2_name.0, &small(100, 8)).unwrap();
        let mut conn2 = anyipc::connect(format!("mq://{}", q2_name.0))
            .await
            .unwrap();
        for i in 0..65u8 {
            conn2.feed(Bytes::from(vec![i])).await.unwrap();
        }
        assert_eq!(q2.attributes().len, 0);
        conn2.feed(Bytes::from_static(b"more")).await.unwrap();
        assert_eq!(q2.attributes().len, 64);
        conn2.close().await.unwrap();
        assert_eq!(q2.attributes().len, 66);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_receivers_and_senders_are_woken() {
    watchdog(60, async {
        let name = Name::new();
        let q = MessageQueue::create(&name.0, &small(2, 8)).unwrap();
        // Receivers park (no message for far longer than the spin), then get one each.
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move { q.recv().await.unwrap().0 })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for i in 0..3u8 {
            q.send(&[i], 0).await.unwrap();
        }
        let mut got: Vec<u8> = Vec::new();
        for r in receivers {
            got.push(r.await.unwrap()[0]);
        }
        got.sort();
        assert_eq!(got, [0, 1, 2]);
        // A sender parks on a full queue and goes once a receiver makes room.
        q.send(b"1", 0).await.unwrap();
        q.send(b"2", 0).await.unwrap();
        let sender = {
            let q = q.clone();
            tokio::spawn(async move { q.send(b"3", 0).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!sender.is_finished());
        assert_eq!(q.recv().await.unwrap().0, "1");
        sender.await.unwrap().unwrap();
        assert_eq!(q.recv().await.unwrap().0, "2");
        assert_eq!(q.recv().await.unwrap().0, "3");
    })
    .await;
}

/// A full queue: sends that time out keep their messages (see the helper).
#[tokio::test]
async fn timed_out_sends_into_a_full_queue_lose_nothing() {
    watchdog(30, async {
        let name = Name::new();
        let n = &name.0;
        let mut listener = anyipc::bind(format!(
            "mq://{n}?create=true&capacity=4&max_message_len=64"
        ))
        .await
        .unwrap();
        let url = format!("mq://{n}?send_timeout=50ms");
        crate::errors::timed_out_sends_lose_nothing(&mut listener, &url, 64).await;
    })
    .await;
}

#[tokio::test]
async fn url_layer_opens_creates_and_sends_with_priority() {
    watchdog(30, async {
        let name = Name::new();
        let n = &name.0;
        let err = anyipc::connect(format!("mq://{n}")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        // bind creates; its first accept yields the one connection on the queue.
        let mut listener = anyipc::bind(format!(
            "mq://{n}?create=true&capacity=8&max_message_len=64"
        ))
        .await
        .unwrap();
        let mut server = listener.accept().await.unwrap();
        let mut low = anyipc::connect(format!("mq://{n}")).await.unwrap();
        let mut high = anyipc::connect(format!("mq://{n}?priority=9"))
            .await
            .unwrap();
        low.send(Bytes::from_static(b"low")).await.unwrap();
        high.send(Bytes::from_static(b"high")).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), "high");
        assert_eq!(server.next().await.unwrap().unwrap(), "low");
        let attrs = MessageQueue::open(n).unwrap().attributes();
        assert_eq!((attrs.capacity, attrs.max_message_len), (8, 64));
        // Too large for the queue: InvalidInput, as for every backend.
        let err = low.send(Bytes::from(vec![0; 65])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        // max_frame applies on top of the queue's limit.
        let mut capped = anyipc::connect(format!("mq://{n}?max_frame=8"))
            .await
            .unwrap();
        let err = capped.send(Bytes::from(vec![0; 9])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        low.send(Bytes::from(vec![1; 9])).await.unwrap();
        let err = capped.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        // Refused, not destroyed: the message stays for a receiver that takes it.
        assert_eq!(MessageQueue::open(n).unwrap().attributes().len, 1);
        assert_eq!(server.next().await.unwrap().unwrap(), vec![1; 9]);
        // create=true on an existing queue with other sizes is refused, never adopted.
        let err = anyipc::connect(format!("mq://{n}?create=true&capacity=9"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        anyipc::connect(format!("mq://{n}?create=true"))
            .await
            .unwrap();
        // Without create=true too: sizes in the URL must be the queue's.
        let err = anyipc::connect(format!("mq://{n}?max_message_len=65"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        anyipc::connect(format!("mq://{n}?capacity=8&max_message_len=64"))
            .await
            .unwrap();
        // No second connection to accept.
        let more = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
        assert!(more.is_err());
        // recv_timeout applies.
        let mut timed = anyipc::connect(format!("mq://{n}?recv_timeout=50ms"))
            .await
            .unwrap();
        assert_eq!(
            timed.next().await.unwrap().unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        // Typed messages work over queues too.
        let mut typed = anyipc::connect(format!("mq://{n}"))
            .await
            .unwrap()
            .typed::<(u32, String), (u32, String)>(anyipc::codec::Json);
        typed.send((7, "seven".to_owned())).await.unwrap();
        assert_eq!(
            typed.next().await.unwrap().unwrap(),
            (7, "seven".to_owned())
        );
    })
    .await;
}

/// A URL that names one attribute of an existing queue, and not the one it has, is refused
/// naming that attribute only: it used to say the URL asked for the default of the other
/// one too ("not the asked-for capacity 3 and max_message_len 8192" for `capacity=3`).
#[tokio::test]
async fn a_url_attribute_mismatch_names_only_what_the_url_asked_for() {
    watchdog(30, async {
        let name = Name::new();
        let n = &name.0;
        let _queue = MessageQueue::create(n, &small(2, 8)).unwrap();
        for (query, found, wanted, text) in [
            (
                "capacity=3",
                (2, 8),
                (3, 8),
                "with capacity 2, not the asked-for 3",
            ),
            (
                "create=true&max_message_len=9",
                (2, 8),
                (2, 9),
                "with max_message_len 8, not the asked-for 9",
            ),
        ] {
            let err = anyipc::connect(format!("mq://{n}?{query}"))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
            let inner = err.get_ref().and_then(|e| e.downcast_ref::<QueueError>());
            assert_eq!(
                inner,
                Some(&QueueError::AttributesDiffer { found, wanted }),
                "{query}"
            );
            assert_eq!(
                err.to_string(),
                format!("the queue exists {text}"),
                "{query}"
            );
        }
    })
    .await;
}

/// A send over the queue's `max_message_len` is refused as every transport refuses a send
/// over its limit: `InvalidInput` with `FrameError::SendTooLarge` inside, from each of the
/// queue's send calls and from a connection whose `max_frame` is larger (the default). The
/// queue is left as it was.
#[tokio::test]
async fn sends_over_max_message_len_are_send_too_large() {
    watchdog(30, async {
        let name = Name::new();
        let n = &name.0;
        let q = MessageQueue::create(n, &small(4, 16)).unwrap();
        let long = [7u8; 17];
        let too_large = FrameError::SendTooLarge { len: 17, max: 16 };
        let check = |err: std::io::Error, call: &str| {
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{call}: {err}");
            assert_eq!(frame_error(&err), Some(&too_large), "{call}: {err}");
            // What a user reads names the sizes and the option that set the limit.
            let text = err.to_string();
            assert!(
                text.contains("17-byte") && text.contains("16-byte"),
                "{text}"
            );
            assert!(text.contains("max_message_len"), "{text}");
        };
        check(q.try_send(&long, 0).unwrap_err(), "try_send");
        check(q.send(&long, 0).await.unwrap_err(), "send");
        let timeout = Duration::from_secs(5);
        check(
            q.send_timeout(&long, 0, timeout).await.unwrap_err(),
            "send_timeout",
        );
        let batch = [&[1u8; 16][..], &long[..]];
        check(q.try_send_many(&batch, 0).unwrap_err(), "try_send_many");
        check(q.send_many(&batch, 0).await.unwrap_err(), "send_many");
        assert_eq!(q.attributes().len, 0, "nothing was sent");

        // Through the URL layer: max_frame is 8 MiB by default, the queue's limit applies.
        let mut conn = anyipc::connect(format!("mq://{n}")).await.unwrap();
        check(
            conn.send(Bytes::copy_from_slice(&long)).await.unwrap_err(),
            "Connection::send",
        );
        let err = conn
            .send_many(&[long.to_vec(), vec![1u8; 3]])
            .await
            .unwrap_err();
        check(err, "Connection::send_many");
        conn.send(Bytes::from_static(b"after")).await.unwrap();
        assert_eq!(q.try_recv().unwrap().0, "after");
        assert_eq!(q.attributes().len, 0);
        // The messages before the refused one are sent, at once.
        let err = conn
            .send_many(&[b"first".to_vec(), long.to_vec(), b"never".to_vec()])
            .await
            .unwrap_err();
        check(err, "Connection::send_many after a good one");
        assert_eq!(q.try_recv().unwrap().0, "first");
        assert_eq!(q.attributes().len, 0, "nothing after the refused one");
        // A max_frame under the queue's limit is the limit, typed the same way.
        let mut capped = anyipc::connect(format!("mq://{n}?max_frame=8"))
            .await
            .unwrap();
        let err = capped.send(Bytes::from(vec![0; 9])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            frame_error(&err),
            Some(&FrameError::SendTooLarge { len: 9, max: 8 })
        );
        let err = capped
            .send_many(&[b"ok".to_vec(), vec![0; 9]])
            .await
            .unwrap_err();
        assert_eq!(
            frame_error(&err),
            Some(&FrameError::SendTooLarge { len: 9, max: 8 })
        );
        assert_eq!(q.try_recv().unwrap().0, "ok", "sent before the refused one");

        // A refusal that a timed-out flush never reported does not come back from a later
        // send of a good message.
        let mut timed = anyipc::connect(format!("mq://{n}?send_timeout=200ms"))
            .await
            .unwrap();
        for _ in 0..4 {
            q.try_send(b"fill", 0).unwrap();
        }
        let err = timed
            .send_many(&[b"b".to_vec(), long.to_vec()])
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::InvalidInput),
            "{err}"
        );
        while q.try_recv().is_ok() {}
        timed.send(Bytes::from_static(b"c")).await.unwrap();
    })
    .await;
}

/// Overwrites `len` bytes at `offset` of the segment with random bytes, through the file
/// (as another process would).
fn scribble(path: &str, offset: u64, len: usize, seed: u64) {
    let mut state = seed | 1;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(&bytes, offset).unwrap();
}

fn ok_or_invalid_data<T>(result: std::io::Result<T>) {
    if let Err(e) = result {
        assert!(
            matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::WouldBlock),
            "unexpected error on a scribbled queue: {e:?}"
        );
    }
}

#[tokio::test]
async fn random_bytes_over_the_segment_are_invalid_data() {
    watchdog(60, async {
        // Over everything: the magic goes, every operation says InvalidData.
        let name = Name::new();
        let q = MessageQueue::create(&name.0, &small(16, 64)).unwrap();
        q.try_send(b"before", 3).unwrap();
        let size = std::fs::metadata(name.path()).unwrap().len() as usize;
        scribble(&name.path(), 0, size, 42);
        assert_eq!(
            q.try_send(b"x", 0).unwrap_err().kind(),
            ErrorKind::InvalidData
        );
        assert_eq!(q.try_recv().unwrap_err().kind(), ErrorKind::InvalidData);
        let reopened = MessageQueue::open(&name.0).unwrap_err();
        assert_eq!(reopened.kind(), ErrorKind::InvalidData);
        drop(q);

        // Over the lock, index words, undo log or slots with the header intact, in many
        // patterns: every operation works or says InvalidData; nothing panics or hangs.
        for seed in 0..60u64 {
            let name = Name::new();
            let q = MessageQueue::create(&name.0, &small(8, 64)).unwrap();
            for i in 0..5u8 {
                q.try_send(&[i; 40], i).unwrap();
            }
            let (offset, len) = match seed % 4 {
                0 => (64, 4),         // the lock word
                1 => (256, 268),      // the index words
                2 => (576, 68),       // the undo log
                _ => (1024, 8 * 128), // slots
            };
            scribble(&name.path(), offset, len, seed + 1);
            for i in 0..20u8 {
                ok_or_invalid_data(q.try_send(&[i; 10], i % 32));
                ok_or_invalid_data(q.try_recv());
            }
            ok_or_invalid_data(q.recv_timeout(Duration::from_millis(1)).await.or_else(|e| {
                if e.kind() == ErrorKind::TimedOut {
                    Ok((Bytes::new(), 0))
                } else {
                    Err(e)
                }
            }));
        }
    })
    .await;
}

#[tokio::test]
async fn half_created_segment_is_refused_and_removable() {
    watchdog(30, async {
        let name = Name::new();
        // What a creator that died mid-header would leave at the final name (the crate
        // itself never exposes one: it links the segment in only once complete).
        let mut file = std::fs::File::create(name.path()).unwrap();
        let mut header = vec![0u8; 4096];
        header[..8].copy_from_slice(b"anyipcMQ");
        header[8..12].copy_from_slice(&1u32.to_le_bytes());
        header[24..28].copy_from_slice(&12345u32.to_le_bytes());
        file.write_all(&header).unwrap();
        drop(file);
        let err = MessageQueue::open(&name.0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(matches!(
            err.get_ref().and_then(|e| e.downcast_ref::<QueueError>()),
            Some(QueueError::HalfCreated { creator_pid: 12345 })
        ));
        let err = MessageQueue::open_or_create(&name.0, &small(4, 8)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(
            MessageQueue::create(&name.0, &small(4, 8))
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists
        );
        MessageQueue::remove(&name.0).unwrap();
        MessageQueue::create(&name.0, &small(4, 8)).unwrap();

        // A staging file left by a creator that died is swept by the next create.
        let dead = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        let mut dead = dead;
        dead.wait().unwrap();
        let other = Name::new();
        let staging = format!("/dev/shm/.anyipc-mq-{}~{dead_pid}~0", other.0);
        std::fs::write(&staging, b"half").unwrap();
        MessageQueue::create(&other.0, &small(4, 8)).unwrap();
        assert!(!std::path::Path::new(&staging).exists());
    })
    .await;
}

#[tokio::test]
async fn symlink_and_foreign_files_are_refused() {
    let name = Name::new();
    let target = Name::new();
    MessageQueue::create(&target.0, &small(1, 8)).unwrap();
    std::os::unix::fs::symlink(target.path(), name.path()).unwrap();
    assert_eq!(
        MessageQueue::open(&name.0).unwrap_err().kind(),
        ErrorKind::InvalidData
    );
    std::fs::remove_file(name.path()).unwrap();
    std::fs::write(name.path(), b"short").unwrap();
    assert_eq!(
        MessageQueue::open(&name.0).unwrap_err().kind(),
        ErrorKind::InvalidData
    );
}

#[tokio::test]
async fn cli_creates_stats_sends_listens_and_removes() {
    watchdog(60, async {
        let name = Name::new();
        let n = &name.0;
        let run = |args: &[&str]| {
            let out = std::process::Command::new(crate::util::anyipc_bin())
                .args(args)
                .output_bounded();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        };
        let create = [
            "mq",
            "create",
            n,
            "--capacity",
            "8",
            "--max-message-len",
            "128",
        ];
        assert_eq!(run(&create).0, Some(0));
        assert_eq!(run(&create).0, Some(1), "exclusive create");
        let url = format!("mq://{n}");
        assert_eq!(run(&["send", &url, "low"]).0, Some(0));
        assert_eq!(
            run(&["send", &format!("{url}?priority=7"), "high"]).0,
            Some(0)
        );
        let (code, stat) = run(&["mq", "stat", n]);
        assert_eq!(code, Some(0));
        assert!(stat.contains("capacity:        8"), "{stat}");
        assert!(stat.contains("len:             2"), "{stat}");
        let (code, heard) = run(&["listen", &url, "--count", "2"]);
        assert_eq!(code, Some(0));
        let lines: Vec<&str> = heard
            .lines()
            .filter(|l| !l.starts_with("listening"))
            .collect();
        assert_eq!(lines, ["high", "low"]);
        // A message over the queue's max_message_len: the typed error's text names the sizes
        // and the limit.
        let long = "x".repeat(129);
        let refused = std::process::Command::new(crate::util::anyipc_bin())
            .args(["send", &url, &long])
            .output_bounded();
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{said}");
        assert_eq!(
            said.trim_end(),
            format!(
                "anyipc: sending message 1: {url}: a 129-byte message is over the 128-byte \
                 limit (max_frame, or an mq queue's max_message_len)"
            )
        );
        // A stdout that cannot be written is an error (exit 1), not a panic (exit 101).
        let mut full = std::process::Command::new(crate::util::anyipc_bin())
            .args(["mq", "stat", n])
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status = crate::bounded::wait_bounded(&mut full, "anyipc mq stat > /dev/full");
        let mut said = String::new();
        std::io::Read::read_to_string(&mut full.stderr.take().unwrap(), &mut said).unwrap();
        assert_eq!(status.code(), Some(1), "{said}");
        assert!(said.contains("cannot write to stdout"), "{said}");
        assert_eq!(run(&["mq", "rm", n]).0, Some(0));
        assert_eq!(run(&["mq", "stat", n]).0, Some(1));
        assert_eq!(run(&["mq", "create", "no/slash"]).0, Some(2));
    })
    .await;
}

/// `capacity=` in an `mq://` URL counts messages, as `anyipc mq create --capacity` does: a
/// size such as `64KiB` is refused (the URL parser's typed error, exit 2 from the CLI) and
/// makes no queue. It was read as a size, so `capacity=64KiB` made a queue of 65,536
/// messages where the CLI refused the same words. `max_message_len=` stays a size.
#[tokio::test]
async fn url_capacity_is_a_count_of_messages_as_on_the_command_line() {
    watchdog(60, async {
        let name = Name::new();
        let n = &name.0;
        let url = format!("mq://{n}?create=true&capacity=64KiB&max_message_len=64");
        let err = anyipc::connect(&url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let parse = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<anyipc::EndpointParseError>())
            .unwrap_or_else(|| panic!("not an EndpointParseError: {err:?}"));
        match parse.kind() {
            anyipc::endpoint::ParseErrorKind::InvalidOptionValue {
                key,
                value,
                expected,
            } => {
                assert_eq!((key.as_str(), value.as_str()), ("capacity", "64KiB"));
                assert!(expected.contains("number of messages"), "{expected}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            MessageQueue::open(n).unwrap_err().kind(),
            ErrorKind::NotFound,
            "no queue was made"
        );
        // The command line refuses both spellings alike, as bad usage.
        for args in [
            vec!["mq", "create", n.as_str(), "--capacity", "64KiB"],
            vec!["send", url.as_str(), "hi"],
        ] {
            let out = std::process::Command::new(crate::util::anyipc_bin())
                .args(&args)
                .output_bounded();
            let said = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
            assert!(said.contains("64KiB"), "{args:?}: {said}");
        }
        assert_eq!(
            MessageQueue::open(n).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        // A count is a count, and max_message_len takes a size.
        let url = format!("mq://{n}?create=true&capacity=1024&max_message_len=1KiB");
        let conn = anyipc::connect(&url).await.unwrap();
        let attrs = MessageQueue::open(n).unwrap().attributes();
        assert_eq!((attrs.capacity, attrs.max_message_len), (1024, 1024));
        drop(conn);
    })
    .await;
}

/// `send_timeout` on `mq://`: a consumer that keeps taking messages, slowly, is progress, so
/// a flush of gathered messages that waits longer than the timeout in all still succeeds;
/// one that nobody empties times out, keeping what it had gathered for a later flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_timeout_counts_a_slow_consumer_as_progress() {
    watchdog(60, async {
        let name = Name::new();
        let options = QueueOptions {
            capacity: 4,
            ..QueueOptions::default()
        };
        let queue = std::sync::Arc::new(MessageQueue::create(&name.0, &options).unwrap());
        let mut conn = anyipc::connect(format!("mq://{}?send_timeout=300ms", name.0))
            .await
            .unwrap();
        let consumer = {
            let queue = queue.clone();
            tokio::spawn(async move {
                for i in 0..20u8 {
                    tokio::time::sleep(Duration::from_millis(60)).await;
                    let (msg, _) = queue.recv().await.unwrap();
                    assert_eq!(msg[..], [i]);
                }
            })
        };
        let msgs: Vec<[u8; 1]> = (0..20u8).map(|i| [i]).collect();
        // 20 messages through a queue of 4 taken every 60 ms: about 1 s in all.
        conn.send_many(&msgs).await.unwrap();
        consumer.await.unwrap();

        for i in 0..4u8 {
            conn.send(Bytes::from(vec![i])).await.unwrap();
        }
        let err = conn.send(Bytes::from_static(&[4])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        for i in 0..4u8 {
            assert_eq!(queue.recv().await.unwrap().0[..], [i]);
        }
        conn.flush().await.unwrap();
        assert_eq!(queue.recv().await.unwrap().0[..], [4]);
    })
    .await;
}

/// Shrinks the queue's file as another process of the same user may (`truncate -s 0`).
fn truncate_queue_file(name: &Name) {
    let status = std::process::Command::new("truncate")
        .args(["-s", "0"])
        .arg(name.path())
        .status_bounded();
    assert!(status.success(), "truncate: {status:?}");
}

/// `Err(InvalidData)` with [`QueueError::Truncated`] inside, from a call that must not hang.
async fn truncated<T: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = std::io::Result<T>>,
) {
    let result = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result within 5 s on a shrunk queue"));
    assert_truncated(what, result);
}

fn assert_truncated<T: std::fmt::Debug>(what: &str, result: std::io::Result<T>) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{what}: {err}");
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<QueueError>());
    assert_eq!(inner, Some(&QueueError::Truncated), "{what}: {err}");
    assert!(err.to_string().contains("shrank"), "{what}: {err}");
}

/// A queue whose file another process shrinks gives `InvalidData` (`QueueError::Truncated`)
/// on every operation from then on, sync and through a connection, never a SIGBUS that
/// kills the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_file_shrunk_by_another_process_is_an_error_not_a_crash() {
    watchdog(60, async {
        let name = Name::new();
        let creator = MessageQueue::create(&name.0, &small(8, 64)).unwrap();
        let sender = MessageQueue::open(&name.0).unwrap();
        let receiver = MessageQueue::open(&name.0).unwrap();
        let mut conn = anyipc::connect(format!("mq://{}", name.0)).await.unwrap();
        sender.try_send(b"before", 1).unwrap();
        assert_eq!(receiver.recv().await.unwrap(), ("before".into(), 1));
        conn.send(Bytes::from_static(b"conn")).await.unwrap();
        assert_eq!(conn.next().await.unwrap().unwrap(), "conn");
        assert_eq!(creator.attributes().len, 0);

        truncate_queue_file(&name);

        truncated("send", sender.send(b"after", 1)).await;
        truncated("recv", receiver.recv()).await;
        assert_truncated("try_recv", receiver.try_recv());
        assert_truncated("try_send", sender.try_send(b"after", 0));
        assert_truncated("try_send_many", sender.try_send_many(&[b"a", b"b"], 0));
        let mut got = Vec::new();
        assert_truncated("try_recv_many", receiver.try_recv_many(&mut got, 4));
        truncated(
            "recv_timeout",
            receiver.recv_timeout(Duration::from_secs(30)),
        )
        .await;
        truncated(
            "send_timeout",
            sender.send_timeout(b"x", 0, Duration::from_secs(30)),
        )
        .await;
        // The length read without the lock: nothing is left.
        assert_eq!(creator.attributes().len, 0);
        // The connection: its next receive and its next send.
        let next = tokio::time::timeout(Duration::from_secs(5), conn.next())
            .await
            .expect("connection receive: no result within 5 s")
            .expect("the connection's stream ended instead of failing");
        assert_truncated("connection receive", next);
        truncated("connection send", conn.send(Bytes::from_static(b"after"))).await;
        // Opening it again in this process finds the same mapping, shrunk.
        assert_truncated("open", MessageQueue::open(&name.0));
    })
    .await;
}

/// A receiver parked on the futex (no message for far longer than the spin) when the file is
/// shrunk wakes within a park's slice and fails, rather than sleeping on a lost page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_receiver_ends_with_an_error_when_the_file_is_shrunk() {
    watchdog(60, async {
        let name = Name::new();
        let queue = MessageQueue::create(&name.0, &small(4, 64)).unwrap();
        let mut conn = anyipc::connect(format!("mq://{}", name.0)).await.unwrap();
        let parked = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.recv().await })
        };
        let parked_conn = tokio::spawn(async move { conn.next().await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!parked.is_finished() && !parked_conn.is_finished());
        let shrunk = Instant::now();
        truncate_queue_file(&name);
        let ended = tokio::time::timeout(Duration::from_secs(3), parked)
            .await
            .expect("the parked receive did not end within 3 s")
            .unwrap();
        assert_truncated("parked recv", ended);
        let ended = tokio::time::timeout(Duration::from_secs(3), parked_conn)
            .await
            .expect("the parked connection receive did not end within 3 s")
            .unwrap()
            .expect("the connection's stream ended instead of failing");
        assert_truncated("parked connection receive", ended);
        assert!(shrunk.elapsed() < Duration::from_secs(3));
    })
    .await;
}

/// Sending into a queue with room and receiving messages waiting in it let the other tasks
/// on the thread run (a unit of tokio's budget per call of the queue's API; per message
/// received and per send, a flushed batch, of an `mq://` connection).
#[tokio::test]
async fn busy_queue_loops_yield() {
    const N: u32 = 300;
    watchdog(30, async {
        let name = Name::new();
        let queue = MessageQueue::create(&name.0, &small(N, 8)).unwrap();
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 0..N {
                queue.send(&i.to_le_bytes(), 0).await.unwrap();
            }
        })
        .await;
        assert!(yielded, "{N} sends into a queue with room never yielded");
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 0..N {
                assert_eq!(queue.recv().await.unwrap().0, &i.to_le_bytes()[..]);
            }
        })
        .await;
        assert!(yielded, "{N} receives of waiting messages never yielded");

        let mut conn = anyipc::connect(format!("mq://{}", name.0)).await.unwrap();
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 0..N {
                conn.send(Bytes::copy_from_slice(&i.to_le_bytes()))
                    .await
                    .unwrap();
            }
        })
        .await;
        assert!(yielded, "{N} mq:// sends never yielded");
        let (yielded, ()) = crate::util::yields_during(async {
            for i in 0..N {
                assert_eq!(conn.next().await.unwrap().unwrap(), &i.to_le_bytes()[..]);
            }
        })
        .await;
        assert!(
            yielded,
            "{N} mq:// receives of waiting messages never yielded"
        );
    })
    .await
}
