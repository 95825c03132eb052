use crate::sys::BoundFifo;
use crate::Endpoint;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

/// The reading end of a bound FIFO, as a byte stream. Writing is `Unsupported`.
#[derive(Debug)]
pub(crate) struct FifoReader {
    receiver: pipe::Receiver,
    /// A write end held by the reader itself, so that reads never see end of file when the
    /// last writer closes.
    _keep_open: OwnedFd,
    /// The endpoint's URL, which errors name.
    endpoint: String,
}

impl FifoReader {
    pub(crate) fn new(bound: BoundFifo, endpoint: &Endpoint) -> io::Result<FifoReader> {
        Ok(FifoReader {
            receiver: pipe::Receiver::from_owned_fd(bound.reader)?,
            _keep_open: bound.keep_open,
            endpoint: endpoint.to_string(),
        })
    }

    fn write_unsupported(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{}: the side that binds a FIFO only reads; connect to it to write",
                self.endpoint
            ),
        )
    }
}

impl AsyncRead for FifoReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Not the receiver's own `poll_read`: that gives the pipe's readiness up whenever a
        // read fills less than `buf`, taking the pipe as drained, so the next read waits for
        // the reactor (an `epoll_wait`, a trip through the scheduler) even when more bytes
        // came meanwhile. A connection reads into 64 KiB, so with writers keeping the FIFO
        // busy nearly every read is short. `try_read_buf` gives the readiness up only when a
        // read finds nothing. Measured (5 million 4 KiB messages, AMD host, 2026-12-06):
        // 0.43 `epoll_wait`s and 0.03 context switches per message before, 0.03 and 0.007
        // after; throughput 0.83× the raw twin before, 1.02× after (medians of nine
        // alternated runs), round trips level. tcp, unix and child pipes showed no
        // difference and keep tokio's `poll_read`.
        let receiver = &self.get_mut().receiver;
        loop {
            std::task::ready!(receiver.poll_read_ready(cx))?;
            match receiver.try_read_buf(buf) {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for FifoReader {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(self.write_unsupported()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::io::Write;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn bytes_that_came_after_a_short_read_are_read_without_waiting() {
        let dir = crate::test_support::temp_dir("fifo-eager");
        let path = dir.join("f");
        let lock = crate::sys::lock_parent_dir_async(&path).await;
        let bound = crate::sys::fifo_bind(&path, 0o600, &lock).unwrap();
        drop(lock);
        let identity = bound.identity;
        let endpoint = Endpoint::from_path(crate::Scheme::Fifo, &path).unwrap();
        let mut reader = FifoReader::new(bound, &endpoint).unwrap();
        let mut writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        writer.write_all(b"first").unwrap();
        let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf))
            .await
            .expect("the first bytes arrive")
            .unwrap();
        assert_eq!(&buf[..n], b"first");
        // In the pipe before the next read starts: that read must take them at once, not
        // wait for the reactor as though the short read above had emptied the pipe.
        writer.write_all(b"second").unwrap();
        let polled = reader.read(&mut buf).now_or_never();
        assert!(matches!(polled, Some(Ok(6))), "the read waited: {polled:?}");
        assert_eq!(&buf[..6], b"second");
        crate::sys::fifo_unbind(&path, identity);
        std::fs::remove_dir(&dir).unwrap();
    }
}
