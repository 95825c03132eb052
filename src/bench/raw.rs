//! The raw baselines, written by hand with no anyipc transport or codec code: a tokio stream
//! (`UnixStream`, or `TcpStream` with TCP_NODELAY) in tokio-util `Framed` with
//! `LengthDelimitedCodec` at its defaults. The client loops mirror `run.rs` step for step,
//! and a throughput run ends with the same `finish_throughput` (end marker, acknowledgement,
//! clock); the serving loop answers as `serve.rs` does, less its `Responder`'s check of each
//! message for a control message (one prefix comparison), so the anyipc side of a ratio does
//! that little more work around the transport.

use super::workload::{self, check_payload, invalid, payloads, READY};
use super::{LatencyReport, LatencySamples, Report, ThroughputReport, Workload};
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

type Raw<S> = Framed<S, LengthDelimitedCodec>;

/// The measuring side over a raw stream.
pub(crate) async fn run<S>(stream: S, workload: &Workload) -> io::Result<Report>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Batch runs were refused by the callers (`measure`, `PeerProcess::measure`).
    debug_assert_eq!(workload.batch(), 1, "a batch run reached a raw twin");
    let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
    framed.send(workload.control_message()).await?;
    let reply = tokio::time::timeout(Duration::from_secs(10), recv(&mut framed))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the raw peer did not answer"))??;
    if reply != READY {
        return Err(invalid("the raw peer answered something else".to_owned()));
    }
    let report = match *workload {
        Workload::Latency {
            size,
            count,
            warmup,
        } => Report::Latency(latency(&mut framed, size, count, warmup).await?),
        Workload::Throughput { size, count, .. } => {
            Report::Throughput(throughput(&mut framed, size, count).await?)
        }
    };
    let _ = SinkExt::<Bytes>::close(&mut framed).await;
    Ok(report)
}

async fn latency<S>(
    framed: &mut Raw<S>,
    size: usize,
    count: usize,
    warmup: usize,
) -> io::Result<LatencyReport>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let msg = payloads(size).swap_remove(0);
    let mut samples = LatencySamples::for_count(count);
    for i in 0..warmup.saturating_add(count) {
        let start = Instant::now();
        framed.send(msg.clone()).await?;
        let echo = recv(framed).await?;
        let took = start.elapsed();
        if echo.len() != size {
            return Err(invalid(format!(
                "echo of {} bytes, sent {size}",
                echo.len()
            )));
        }
        if i >= warmup {
            samples.record(took);
        }
    }
    Ok(samples.report(size))
}

async fn throughput<S>(
    framed: &mut Raw<S>,
    size: usize,
    count: usize,
) -> io::Result<ThroughputReport>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let msgs = payloads(size);
    let start = Instant::now();
    for i in 0..count {
        framed.feed(msgs[i % msgs.len()].clone()).await?;
    }
    super::run::finish_throughput(framed, size, count, start).await
}

/// The peer side over a raw stream: the same protocol as `serve.rs`.
pub(crate) async fn serve<S>(stream: S) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
    let Some(first) = framed.next().await.transpose()? else {
        return Ok(());
    };
    let workload = Workload::parse_control(&first)?;
    framed.send(Bytes::from_static(READY)).await?;
    match workload {
        Workload::Latency { .. } => {
            while let Some(msg) = framed.next().await {
                framed.send(msg?.freeze()).await?;
            }
        }
        Workload::Throughput { size, .. } => {
            let mut received = 0u64;
            let mut error = None;
            while let Some(msg) = framed.next().await {
                let msg = msg?;
                if msg.is_empty() {
                    framed
                        .send(workload::ack(received, error.as_deref()))
                        .await?;
                    continue;
                }
                if error.is_none() {
                    if let Err(e) = check_payload(&msg, size) {
                        error = Some(format!("message {received}: {e}"));
                    }
                }
                received += 1;
            }
        }
    }
    Ok(())
}

async fn recv<S>(framed: &mut Raw<S>) -> io::Result<BytesMut>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match framed.next().await {
        Some(msg) => msg,
        None => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the raw peer closed the connection",
        )),
    }
}
