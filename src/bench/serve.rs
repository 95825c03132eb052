//! The peer side of runs over anyipc connections.

use super::responder::{Answer, Responder};
use crate::{Connection, Endpoint, Transport};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::io;

/// Serves bench runs on an accepted connection: each run starts with a control message,
/// which it answers; then it echoes every message (latency) or checks and counts messages up
/// to each end marker, answering each end marker with an acknowledgement (throughput).
/// Several runs may follow one another on the connection. Returns when the client closes.
/// A batch run is served one message at a time; [`serve_connection`] receives it in batches.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::bench::{run_client, serve, Workload};
///
/// let mut listener = anyipc::bind("mem://doc-serve").await?;
/// let mut client = anyipc::connect("mem://doc-serve").await?;
/// let server = tokio::spawn(async move { serve(listener.accept().await?).await });
/// let report = run_client(&mut client, &Workload::throughput(100, 1000)).await?;
/// assert_eq!(report.throughput().unwrap().received, 1000);
/// let report = run_client(&mut client, &Workload::latency(64, 100)).await?;
/// assert_eq!(report.latency().unwrap().count, 100);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// I/O errors of the connection; `InvalidData` when the first message is not a control
/// message, or a control message is malformed.
///
/// # Cancel safety
/// Not cancel safe: the connection is left in the middle of a run.
pub async fn serve<T: Transport<Bytes>>(mut conn: T) -> io::Result<()> {
    let mut responder = Responder::default();
    while let Some(msg) = conn.next().await {
        let msg = msg?;
        if responder.count_payload(&msg) {
            continue;
        }
        if let Some(reply) = responder.answer(msg)?.message() {
            conn.send(reply).await?;
        }
    }
    Ok(())
}

/// [`serve`] on a [`Connection`], which also serves batch runs
/// ([`Workload::with_batch`](super::Workload::with_batch)), receiving their messages with
/// [`recv_batch`](Connection::recv_batch) (`serve` takes them one at a time). The peer side
/// of [`run_connection`](super::run_connection), whose example uses it.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::bench::serve_connection;
///
/// let mut listener = anyipc::bind("mem://doc-serve-connection").await?;
/// let peer = tokio::spawn(async move { serve_connection(&mut listener.accept().await?).await });
/// let mut client = anyipc::connect("mem://doc-serve-connection").await?;
/// // Every run starts with a control message: anything else is refused.
/// client.send("hello").await?;
/// let err = peer.await.unwrap().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// As [`serve`].
///
/// # Cancel safety
/// Not cancel safe: the connection is left in the middle of a run.
pub async fn serve_connection(conn: &mut Connection) -> io::Result<()> {
    let mut responder = Responder::default();
    loop {
        if responder.batched() {
            let Some(batch) = conn.recv_batch().await? else {
                return Ok(());
            };
            for msg in &batch {
                if let Some(reply) = responder.answer_slice(msg)?.message() {
                    conn.send(reply).await?;
                }
            }
            continue;
        }
        let Some(msg) = conn.recv().await? else {
            return Ok(());
        };
        if responder.count_payload(&msg) {
            continue;
        }
        if let Some(reply) = responder.answer(msg)?.message() {
            conn.send(reply).await?;
        }
    }
}

/// Serves bench runs arriving on `inbound` (the peer's end of a
/// [`Target::Pair`](super::Target::Pair)), answering on `from_peer`, which it connects to
/// afresh at each run's control message: the measuring side binds it anew for every run (a
/// FIFO is created again, a log consumer starts at its end).
///
/// A run that fails (the measuring side gave up and its end is gone) does not end the
/// service: the answers are dropped until the next control message. Returns when `inbound`
/// ends.
///
/// # Errors
/// Receive errors of `inbound`.
pub(crate) async fn serve_pair(mut inbound: Connection, from_peer: &Endpoint) -> io::Result<()> {
    let mut responder = Responder::default();
    let mut outbound: Option<Connection> = None;
    while let Some(msg) = inbound.next().await {
        let answer = match responder.answer(msg?) {
            Ok(answer) => answer,
            Err(e) => {
                tracing::debug!(error = %e, "bench peer: message skipped");
                continue;
            }
        };
        if answer == Answer::Ready {
            if let Some(mut old) = outbound.take() {
                // A log's writer lock is released by closing; the rest is best effort.
                let _ = old.close().await;
            }
            match crate::connect(from_peer).await {
                Ok(conn) => outbound = Some(conn),
                Err(e) => tracing::debug!(error = %e, "bench peer: cannot answer on {from_peer}"),
            }
        }
        if let (Some(reply), Some(out)) = (answer.message(), outbound.as_mut()) {
            if let Err(e) = out.send(reply).await {
                tracing::debug!(error = %e, "bench peer: answer lost");
                outbound = None;
            }
        }
    }
    Ok(())
}
