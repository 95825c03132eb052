//! The listener's side of the handshake against a hostile client: every descriptor and field
//! it is handed is checked before anything is mapped or rung.

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
    let path = std::env::temp_dir().join(format!("anyipc-unit-unsealed-{}", std::process::id()));
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
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
