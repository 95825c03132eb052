//! The listener's side of the handshake against a hostile client: every descriptor and field
//! it is handed is checked before anything is mapped or rung. And how a stream hands a large
//! write to its ring.

use super::handshake::{self, Hello};
use super::segment::Segment;
use super::ShmStream;
use crate::{sys, Endpoint};
use std::io;
use std::os::fd::AsFd;
use tokio::net::UnixStream;

fn endpoint() -> Endpoint {
    "shm://unit-handshake".parse().unwrap()
}

async fn accept_with(
    hello: Hello,
    memfd: std::os::fd::BorrowedFd<'_>,
    bell: std::os::fd::BorrowedFd<'_>,
) -> io::Result<ShmStream> {
    let (client, server) = UnixStream::pair().unwrap();
    handshake::send(&client, &hello, &[memfd, bell, bell])
        .await
        .unwrap();
    let accepted = ShmStream::accept_handshake(server, endpoint()).await;
    drop(client);
    accepted
}

#[tokio::test]
async fn a_well_formed_handshake_is_accepted() {
    let segment = Segment::create(4096, 42).unwrap();
    let bell = sys::shm::eventfd().unwrap();
    let hello = Hello {
        capacity: 4096,
        key: 42,
    };
    accept_with(hello, segment.file().as_fd(), bell.as_fd())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unsealed_file_is_refused() {
    let path = crate::test_support::temp_path("unit-unsealed");
    let file = crate::test_support::open_read_write(&path);
    std::fs::remove_file(&path).unwrap();
    file.set_len(4096 + 2 * 4096).unwrap();
    let bell = sys::shm::eventfd().unwrap();
    let hello = Hello {
        capacity: 4096,
        key: 1,
    };
    let err = accept_with(hello, file.as_fd(), bell.as_fd())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

#[tokio::test]
async fn a_size_other_than_announced_is_refused() {
    let segment = Segment::create(4096, 42).unwrap();
    let bell = sys::shm::eventfd().unwrap();
    for capacity in [8192, 4095, 0, u32::MAX] {
        let hello = Hello { capacity, key: 42 };
        let err = accept_with(hello, segment.file().as_fd(), bell.as_fd())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{capacity}: {err}");
    }
}

#[tokio::test]
async fn a_doorbell_that_is_not_an_eventfd_is_refused() {
    let segment = Segment::create(4096, 42).unwrap();
    let (not_a_bell, _other) = std::os::unix::net::UnixStream::pair().unwrap();
    let hello = Hello {
        capacity: 4096,
        key: 42,
    };
    let err = accept_with(hello, segment.file().as_fd(), not_a_bell.as_fd())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
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

/// One write of 512 KiB into an empty 1 MiB ring takes one piece of `WRITE_CHUNK` (the reader
/// can start on it while the writer copies the next), and the reader gets every byte in order.
#[tokio::test]
async fn a_large_write_is_taken_one_piece_at_a_time() {
    use super::shm_stream::WRITE_CHUNK;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let url = format!(
        "shm://unit-write-chunk-{}?capacity=1MiB",
        std::process::id()
    );
    let mut listener = super::ShmListener::bind(url.as_str()).await.unwrap();
    let mut client = ShmStream::connect(url.as_str()).await.unwrap();
    let mut server = listener.accept().await.unwrap();
    let data: Vec<u8> = (0..512 << 10).map(|i: u32| (i % 251) as u8).collect();
    let taken = client.write(&data).await.unwrap();
    assert_eq!(taken, WRITE_CHUNK);
    client.write_all(&data[taken..]).await.unwrap();
    let mut got = vec![0; data.len()];
    server.read_exact(&mut got).await.unwrap();
    assert!(got == data, "the bytes arrived changed or out of order");
}
