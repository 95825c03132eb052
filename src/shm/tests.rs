//! The listener's side of the handshake against a hostile client: every descriptor and field
//! it is handed is checked before anything is mapped or rung. And how a stream hands a large
//! write to its ring.

use super::handshake::{self, Hello};
use super::segment::Segment;
use super::ShmStream;
use crate::Endpoint;
use std::io;
use std::os::fd::AsFd;
use tokio::net::UnixStream;

fn endpoint() -> Endpoint {
    "shm://unit-handshake".parse().unwrap()
}

async fn accept_with(hello: Hello, fds: &[std::os::fd::BorrowedFd<'_>]) -> io::Result<ShmStream> {
    let (client, server) = UnixStream::pair().unwrap();
    handshake::send(&client, &hello, fds).await.unwrap();
    let accepted = ShmStream::accept_handshake(server, endpoint()).await;
    drop(client);
    accepted
}

#[tokio::test]
async fn a_well_formed_handshake_is_accepted() {
    let segment = Segment::create(4096, 42).unwrap();
    let hello = Hello {
        capacity: 4096,
        key: 42,
    };
    accept_with(hello, &[segment.file().as_fd()]).await.unwrap();
}

#[tokio::test]
async fn an_unsealed_file_is_refused() {
    let path = crate::test_support::temp_path("unit-unsealed");
    let file = crate::test_support::open_read_write(&path);
    std::fs::remove_file(&path).unwrap();
    file.set_len(4096 + 2 * 4096).unwrap();
    let hello = Hello {
        capacity: 4096,
        key: 1,
    };
    let err = accept_with(hello, &[file.as_fd()]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

#[tokio::test]
async fn a_size_other_than_announced_is_refused() {
    let segment = Segment::create(4096, 42).unwrap();
    for capacity in [8192, 4095, 0, u32::MAX] {
        let hello = Hello { capacity, key: 42 };
        let err = accept_with(hello, &[segment.file().as_fd()])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{capacity}: {err}");
    }
}

/// A hello with no descriptor, or with more than the memfd (a client of anyipc before
/// 2026-12-03 also passed two eventfds), is refused, and nothing is mapped.
#[tokio::test]
async fn a_hello_with_other_than_one_descriptor_is_refused() {
    let segment = Segment::create(4096, 42).unwrap();
    let hello = Hello {
        capacity: 4096,
        key: 42,
    };
    let memfd = segment.file().as_fd();
    for fds in [&[][..], &[memfd, memfd, memfd][..]] {
        let err = accept_with(hello, fds).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("expected 1"), "{err}");
    }
}

/// A peer that says its reader sleeps and never takes the doorbell's bytes off its socket
/// (hostile, or stuck) cannot block the writer's thread: once the socket's buffer is full, a
/// ring is a send that would block, and the bell is already ringing. Every write and the
/// drop finish.
#[test]
fn a_peer_that_never_takes_its_rings_cannot_block_a_writer() {
    use super::ring::{Consumer, ReadOutcome, RingKeys};
    use super::segment::SERVER_TO_CLIENT;
    use tokio::io::AsyncWriteExt;

    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rings = rt.block_on(async {
            let key = 42;
            let segment = Segment::create(1 << 20, key).unwrap();
            let (client, server) = UnixStream::pair().unwrap();
            let hello = Hello {
                capacity: 1 << 20,
                key,
            };
            handshake::send(&client, &hello, &[segment.file().as_fd()])
                .await
                .unwrap();
            let mut server = ShmStream::accept_handshake(server, endpoint())
                .await
                .unwrap();
            // SAFETY: the ring lies in `segment`, alive to the end of this block; this test
            // is the ring's only consumer (the server only produces into it).
            let mut reader = unsafe {
                Consumer::new(
                    segment.ring(SERVER_TO_CLIENT),
                    RingKeys::derive(key, SERVER_TO_CLIENT as u64),
                )
            };
            let mut rings = 0;
            for _ in 0..20_000 {
                // Takes what is in the ring and says "asleep": the write rings; the socket
                // is never read.
                assert!(reader.park().unwrap(), "the ring was not empty");
                server.write_all(b"x").await.unwrap();
                let mut byte = 0u8;
                // SAFETY: `byte` is valid for a write of 1 byte.
                let got = unsafe { reader.read(&mut byte, 1) }.unwrap();
                assert!(matches!(got, ReadOutcome::Data(1)) && byte == b'x');
                rings += 1;
            }
            drop(server);
            let mut heard = 0;
            let mut scratch = [0u8; 4096];
            while let Ok(n @ 1..) = client.try_read(&mut scratch) {
                heard += n;
            }
            (rings, heard)
        });
        let _ = done.send(rings);
    });
    let (rings, heard) = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("a write or the drop blocked on a peer that never takes its rings");
    // The socket's buffer filled long before the last ring: most rings found it full.
    assert!(
        heard < rings / 2,
        "{heard} of {rings} rings reached the socket"
    );
}

#[tokio::test]
async fn garbage_instead_of_a_hello_is_refused() {
    let (client, server) = UnixStream::pair().unwrap();
    client.try_write(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let err = ShmStream::accept_handshake(server, endpoint())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

/// A client and the server side it was accepted as, on `shm://NAME-PID?query` (the
/// listener is gone by then: accepted connections live on without it).
async fn connected_pair(name: &str, query: &str) -> (ShmStream, ShmStream) {
    let url = format!("shm://{name}-{}?{query}", std::process::id());
    let mut listener = super::ShmListener::bind(url.as_str()).await.unwrap();
    let client = ShmStream::connect(url.as_str()).await.unwrap();
    let server = listener.accept().await.unwrap();
    (client, server)
}

/// One write of 512 KiB into an empty 1 MiB ring takes one piece of `WRITE_CHUNK` (the reader
/// can start on it while the writer copies the next), and the reader gets every byte in order.
#[tokio::test]
async fn a_large_write_is_taken_one_piece_at_a_time() {
    use super::shm_stream::WRITE_CHUNK;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (mut client, mut server) = connected_pair("unit-write-chunk", "capacity=1MiB").await;
    let data: Vec<u8> = (0..512 << 10).map(|i: u32| (i % 251) as u8).collect();
    let taken = client.write(&data).await.unwrap();
    assert_eq!(taken, WRITE_CHUNK);
    client.write_all(&data[taken..]).await.unwrap();
    let mut got = vec![0; data.len()];
    server.read_exact(&mut got).await.unwrap();
    assert!(got == data, "the bytes arrived changed or out of order");
}

/// A peer that rang and then died (its socket closed; its ring, which no one closes, says
/// nothing) is gone at the next write, even with the ring's byte still waiting before the
/// end of its socket: the write takes the ring, looks again and finds the end.
#[tokio::test]
async fn a_write_after_a_ring_from_a_dead_peer_is_broken_pipe() {
    use tokio::io::AsyncWriteExt;

    let segment = Segment::create(4096, 7).unwrap();
    let (peer, server) = UnixStream::pair().unwrap();
    let hello = Hello {
        capacity: 4096,
        key: 7,
    };
    handshake::send(&peer, &hello, &[segment.file().as_fd()])
        .await
        .unwrap();
    let mut stream = ShmStream::accept_handshake(server, endpoint())
        .await
        .unwrap();
    // The peer's last act: a ring. Then it dies.
    peer.try_write(&[1]).unwrap();
    drop(peer);
    // Let the runtime's driver see both events.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let err = stream.write(b"x").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
}

/// Polls `poll` once per wake-up until it is ready, counting the polls; returns the output and
/// how many times it was polled.
async fn counting_polls<T>(
    polls: &std::cell::Cell<u32>,
    mut poll: impl FnMut(&mut std::task::Context<'_>) -> std::task::Poll<T>,
) -> T {
    std::future::poll_fn(|cx| {
        polls.set(polls.get() + 1);
        poll(cx)
    })
    .await
}

/// An idle side costs no spinning: a parked half that its recheck (ten times a second) wakes
/// with nothing to do parks again at once. It spun for `DEFAULT_SPIN` after every such
/// wake-up (an idle connection took 0.40% of a core in `cargo bench --bench shm`, 0.20%
/// after). A half polled between rechecks, or long after a given-up park, still spins.
#[tokio::test(start_paused = true)]
async fn a_parked_half_woken_with_nothing_to_do_parks_again_without_spinning() {
    use super::shm_stream::SPIN_ROUNDS;
    use std::cell::Cell;
    use std::pin::Pin;
    use std::time::Duration;
    use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

    let (mut client, _server) = connected_pair("unit-idle-no-spin", "capacity=4096").await;
    client.write_all(&[1; 4096]).await.unwrap(); // the client's ring is full now
    let spins = || SPIN_ROUNDS.with(Cell::get);

    let (mut rx, mut tx) = tokio::io::split(client);
    let (reads, writes) = (Cell::new(0), Cell::new(0));
    let mut byte = [0u8; 1];
    let read = counting_polls(&reads, |cx| {
        let mut buf = ReadBuf::new(&mut byte);
        Pin::new(&mut rx).poll_read(cx, &mut buf)
    });
    let write = counting_polls(&writes, |cx| Pin::new(&mut tx).poll_write(cx, b"x"));
    let (mut read, mut write) = (Box::pin(read), Box::pin(write));
    // Both halves spin once, then park: one waits for data, the other for room.
    let spun = async {
        tokio::select! {
            _ = &mut read => unreachable!("nothing was sent to the client"),
            _ = &mut write => unreachable!("the ring has no room"),
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
        // Past the recheck they parked under, without polling them: the first poll below is
        // then as late as a recheck's, not a poll between rechecks (which spins; see below).
        tokio::time::sleep(Duration::from_millis(150)).await;
        let parked = spins();
        // Ten seconds of paused time: the rechecks wake both halves about a hundred times.
        // (The timer first: its own wake-up at the end, which is not a recheck's, ends the
        // select without polling the halves, which would spin then; see below.)
        tokio::select! {
            biased;
            () = tokio::time::sleep(Duration::from_secs(10)) => {}
            _ = &mut read => unreachable!("nothing was sent to the client"),
            _ = &mut write => unreachable!("the ring has no room"),
        }
        spins() - parked
    }
    .await;
    assert!(
        reads.get() > 50 && writes.get() > 50,
        "the rechecks woke the halves {} and {} times",
        reads.get(),
        writes.get()
    );
    assert_eq!(spun, 0, "woken halves with nothing to do spun");

    // Polled again before the recheck is due (its task woke for something else, a request
    // it just sent, say), a parked half spins as before: a reply would come in well under
    // the spin budget, sooner than its doorbell.
    // (The first poll here is as late as the recheck the half parked under, which the
    // timer above ended with: it parks again under the next one, and the second is early.)
    let mut poll_read_once = || {
        let before = spins();
        let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
        let polled = futures::FutureExt::poll_unpin(&mut read, &mut cx);
        assert!(polled.is_pending(), "nothing was sent to the client");
        before
    };
    poll_read_once();
    let before = poll_read_once();
    assert!(
        spins() > before,
        "a half polled between rechecks did not spin"
    );

    // A park whose poll was given up (a timeout, a select that took another branch) and
    // that is more than a recheck old is stale: the next poll is new business, and spins.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = poll_read_once();
    assert!(
        spins() > before,
        "a half polled long after a given-up park did not spin"
    );
}
