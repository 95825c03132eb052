//! Throughput through a plain echo server (`anyipc listen URL --echo`), which knows nothing of
//! the bench protocol and so cannot acknowledge a one-way run: the client sends its messages
//! while it reads the echoes back, and the run ends with the last echo. Every byte crosses the
//! transport twice, so the figures count echoed messages, not one-way ones.

use anyipc::bench::ThroughputReport;
use bytes::{Bytes, BytesMut};
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::io;
use std::time::{Duration, Instant};

/// With no echo for this long, the missing ones are counted as lost (datagram transports).
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends `count` messages of `size` bytes through `conn` and counts the echoes.
///
/// # Errors
/// I/O errors of the connection; `InvalidData` for an echo of the wrong length;
/// `UnexpectedEof` when the server closes before any echo came back.
pub(crate) async fn echo_throughput<T>(
    conn: T,
    size: usize,
    count: usize,
) -> io::Result<ThroughputReport>
where
    T: Stream<Item = io::Result<Bytes>> + Sink<Bytes, Error = io::Error>,
{
    let (mut sink, mut stream) = conn.split();
    let msg = BytesMut::from(&vec![0xA5u8; size][..]).freeze();
    let start = Instant::now();
    let send = async {
        for _ in 0..count {
            sink.feed(msg.clone()).await?;
        }
        sink.flush().await
    };
    let receive = async {
        let mut received = 0u64;
        let mut last = start;
        while received < count as u64 {
            match tokio::time::timeout(IDLE_TIMEOUT, stream.next()).await {
                Ok(Some(Ok(echo))) if echo.len() == size => {
                    received += 1;
                    last = Instant::now();
                }
                Ok(Some(Ok(echo))) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("echo of {} bytes, sent {size}", echo.len()),
                    ))
                }
                Ok(Some(Err(e))) => return Err(e),
                Ok(None) if received == 0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the echo server closed the connection",
                    ))
                }
                Ok(None) | Err(_) => break,
            }
        }
        Ok((received, last))
    };
    let ((), (received, last)) = tokio::try_join!(send, receive)?;
    let _ = sink.close().await;
    Ok(ThroughputReport {
        size,
        sent: count as u64,
        received,
        elapsed: last.duration_since(start),
    })
}

#[cfg(test)]
mod tests {
    use super::echo_throughput;
    use futures::StreamExt;

    #[tokio::test]
    async fn counts_every_echo() {
        let mut listener = anyipc::bind("mem://cli-echo-throughput").await.unwrap();
        let server = tokio::spawn(async move {
            let mut conn = listener.accept().await.unwrap();
            while let Some(Ok(msg)) = conn.next().await {
                if conn.send(msg).await.is_err() {
                    break;
                }
            }
        });
        let conn = anyipc::connect("mem://cli-echo-throughput").await.unwrap();
        let report = echo_throughput(conn, 100, 500).await.unwrap();
        assert_eq!((report.sent, report.received, report.size), (500, 500, 100));
        assert!(report.msgs_per_sec() > 0.0);
        server.await.unwrap();
    }
}
