//! The peer side of a run over an anyipc connection.

use super::workload::{ack, check_payload, READY};
use super::Workload;
use crate::Transport;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::io;

/// Serves one bench run on an accepted connection: reads the control message, answers it,
/// then echoes every message (latency) or checks and counts messages up to each end marker,
/// answering each end marker with an acknowledgement (throughput). Returns when the client
/// closes.
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
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// I/O errors of the connection; `InvalidData` when the first message is not a control
/// message.
///
/// # Cancel safety
/// Not cancel safe: the connection is left in the middle of a run.
pub async fn serve<T: Transport<Bytes>>(mut conn: T) -> io::Result<()> {
    let Some(first) = conn.next().await.transpose()? else {
        return Ok(());
    };
    let workload = Workload::parse_control(&first)?;
    conn.send(Bytes::from_static(READY)).await?;
    match workload {
        Workload::Latency { .. } => {
            while let Some(msg) = conn.next().await {
                conn.send(msg?).await?;
            }
        }
        Workload::Throughput { size, .. } => {
            // Counts are cumulative: a repeated end marker (the client resends it when an
            // acknowledgement is slow or lost) is answered with the same total.
            let mut received = 0u64;
            let mut error = None;
            while let Some(msg) = conn.next().await {
                let msg = msg?;
                if msg.is_empty() {
                    conn.send(ack(received, error.as_deref())).await?;
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
