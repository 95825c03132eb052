//! The measuring side of a run over an anyipc connection.

use super::workload::{self, end_marker, invalid, is_acknowledgement, payloads, READY};
use super::{raw, LatencyReport, LatencySamples, Report, Target, ThroughputReport, Workload};
use crate::{Connection, Duplex, Transport};
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::io;
use std::time::{Duration, Instant};

/// How long the client waits for the peer's answer to the control message.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an unanswered throughput end marker is sent again (datagrams can be lost).
const ACK_RETRY: Duration = Duration::from_millis(250);

/// How long the client waits for a throughput acknowledgement in all.
const ACK_TIMEOUT: Duration = Duration::from_secs(120);

/// Connects to `target`, runs `workload` and closes the connection.
///
/// For a [`Target::Pair`] it binds `from_peer`, connects to `to_peer` and runs over the two
/// joined in a [`Duplex`]. A `stdio://` peer, and a raw twin with a child per run
/// ([`Target::is_raw_child`]), are reached only through the
/// [`PeerProcess`](super::PeerProcess) that started them
/// ([`PeerProcess::measure`](super::PeerProcess::measure)).
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::bench::{measure, InProcessPeer, Target, Workload};
///
/// let peer = InProcessPeer::start(&"tcp://127.0.0.1:0".parse()?).await?;
/// let report = measure(peer.target(), &Workload::throughput(1024, 10)).await?;
/// assert_eq!(report.throughput().unwrap().received, 10);
/// // A child peer is measured through the PeerProcess that started it.
/// let stdio: Target = "stdio://".parse()?;
/// let err = measure(&stdio, &Workload::latency(64, 10)).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// Connecting or binding errors; `InvalidInput` for `stdio://`, `raw+child://` and
/// `raw+fifo://`, and for a [`Target::Pair`] with an end that is not one-way (`fifo://`,
/// `file://`, `mq://`); the errors of [`run_client`].
///
/// # Cancel safety
/// Cancel safe in that dropping it abandons the run; the peer sees the connection close.
pub async fn measure(target: &Target, workload: &Workload) -> io::Result<Report> {
    workload.validate()?;
    if workload.batch() > 1 && !matches!(target, Target::Anyipc(_)) {
        // Refused before any endpoint is bound or connected to.
        return Err(batch_needs_a_connection());
    }
    match target {
        Target::Anyipc(_) if target.is_child() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a stdio:// peer is measured over the pipes of the PeerProcess that started it",
        )),
        #[cfg(unix)]
        Target::RawChild | Target::RawFifo(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{target} is measured through the PeerProcess that starts its children"),
        )),
        Target::Pair { to_peer, from_peer }
            if !to_peer.scheme().is_one_way() || !from_peer.scheme().is_one_way() =>
        {
            // A socket way back is accepted only once the peer has the run's first message,
            // and a peer's pair listener serves one connection: `anyipc bench` handles both.
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{target}: measure joins one-way endpoints (fifo, file, mq) in a pair; \
                     `anyipc bench` runs pairs of any endpoints"
                ),
            ))
        }
        Target::Pair { to_peer, from_peer } => {
            // Bound first, so the peer can answer the run's first message; the listener is
            // kept to the end (dropping a fifo:// listener removes the FIFO).
            let mut listener = crate::bind(from_peer).await?;
            let inbound = listener.accept().await?;
            let mut conn = Duplex::new(inbound, crate::connect(to_peer).await?);
            let report = run_client(&mut conn, workload).await;
            let _ = conn.close().await;
            drop(listener);
            report
        }
        Target::Anyipc(endpoint) => {
            let mut conn = crate::connect(endpoint).await?;
            let report = run_connection(&mut conn, workload).await;
            let _ = conn.close().await;
            report
        }
        #[cfg(unix)]
        Target::RawUnix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await?;
            raw::run(stream, workload).await
        }
        Target::RawTcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            raw::run(stream, workload).await
        }
    }
}

/// Runs `workload` as the measuring side on a connection to a peer running
/// [`serve`](super::serve()) or, for latency runs, to any echo server
/// (`anyipc listen URL --echo`).
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::bench::{run_client, Workload};
///
/// // A plain echo server, not a bench peer: latency runs only.
/// let mut listener = anyipc::bind("mem://doc-run-client").await?;
/// tokio::spawn(async move {
///     let mut conn = listener.accept().await?;
///     while let Some(msg) = conn.recv().await? {
///         conn.send(msg).await?;
///     }
///     Ok::<(), std::io::Error>(())
/// });
/// let mut client = anyipc::connect("mem://doc-run-client").await?;
/// let report = run_client(&mut client, &Workload::latency(64, 10)).await?;
/// assert_eq!(report.latency().unwrap().count, 10);
/// let err = run_client(&mut client, &Workload::throughput(64, 10)).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// I/O errors of the connection; `InvalidData` when an echo or acknowledgement is wrong;
/// `UnexpectedEof` when the peer closes early; `TimedOut` when the peer does not answer the
/// control message within 10 s or a throughput acknowledgement within 120 s; `Unsupported`
/// for a throughput run against a plain echo server, and for a batch run
/// ([`Workload::with_batch`]: use [`run_connection`]).
///
/// # Cancel safety
/// Not cancel safe: the connection is left in the middle of a run.
pub async fn run_client<T: Transport<Bytes>>(
    conn: &mut T,
    workload: &Workload,
) -> io::Result<Report> {
    if workload.batch() > 1 {
        return Err(batch_needs_a_connection());
    }
    let echo_peer = start_run(conn, workload).await?;
    match *workload {
        Workload::Latency {
            size,
            count,
            warmup,
        } => latency(conn, size, count, warmup)
            .await
            .map(Report::Latency),
        Workload::Throughput { .. } if echo_peer => Err(echo_peer_cannot_count()),
        Workload::Throughput { size, count, .. } => {
            throughput(conn, size, count).await.map(Report::Throughput)
        }
    }
}

/// [`run_client`] over a [`Connection`], which can also run a batch throughput workload
/// ([`Workload::with_batch`]): [`Connection::send_many`] calls of `batch` messages here,
/// [`Connection::recv_batch`] at a peer running [`serve_connection`](super::serve_connection)
/// (what `anyipc bench-peer` and the bench peers run).
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::bench::{run_connection, serve_connection, Workload};
///
/// let mut listener = anyipc::bind("mem://doc-run-connection").await?;
/// let peer = tokio::spawn(async move {
///     let mut conn = listener.accept().await?;
///     serve_connection(&mut conn).await
/// });
/// let mut conn = anyipc::connect("mem://doc-run-connection").await?;
/// let report = run_connection(&mut conn, &Workload::throughput(64, 1000).with_batch(100)).await?;
/// assert_eq!(report.throughput().unwrap().received, 1000);
/// drop(conn);
/// peer.await.unwrap()?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// Those of [`run_client`], except that batch runs are carried out.
///
/// # Cancel safety
/// Not cancel safe: the connection is left in the middle of a run.
pub async fn run_connection(conn: &mut Connection, workload: &Workload) -> io::Result<Report> {
    let (size, count, batch) = match *workload {
        Workload::Throughput { size, count, batch } if batch > 1 => (size, count, batch),
        _ => return run_client(conn, workload).await,
    };
    if start_run(conn, workload).await? {
        return Err(echo_peer_cannot_count());
    }
    let msgs = payloads(size);
    let start = Instant::now();
    let mut call: Vec<&[u8]> = Vec::with_capacity(batch);
    let mut sent = 0;
    while sent < count {
        call.clear();
        call.extend((sent..count.min(sent + batch)).map(|i| &msgs[i % msgs.len()][..]));
        conn.send_many(&call).await?;
        sent += call.len();
    }
    finish_throughput(conn, size, count, start)
        .await
        .map(Report::Throughput)
}

pub(super) fn batch_needs_a_connection() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "a batch run (send_many/recv_batch) needs one anyipc Connection; raw twins and \
         pairs of one-way endpoints move one message per call",
    )
}

fn echo_peer_cannot_count() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the peer is a plain echo server: throughput runs need an anyipc bench peer",
    )
}

/// Sends the run's control message and waits for the answer: `true` when the peer is a
/// plain echo server (it echoed the control message), `false` for a bench peer.
async fn start_run<T: Transport<Bytes>>(conn: &mut T, workload: &Workload) -> io::Result<bool> {
    workload.validate()?;
    let control = workload.control_message();
    conn.send(control.clone()).await?;
    let reply = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            let reply = recv(conn).await?;
            // Over a channel that outlives runs (a queue, a log, a child's pipes), repeated
            // end markers of the previous run may have been acknowledged after it ended.
            if !is_acknowledgement(&reply) {
                return Ok::<_, io::Error>(reply);
            }
        }
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the bench peer did not answer"))??;
    let echo_peer = reply == control;
    if reply != READY && !echo_peer {
        return Err(invalid(format!(
            "the peer is not a bench peer (it answered {:?})",
            String::from_utf8_lossy(&reply)
        )));
    }
    Ok(echo_peer)
}

async fn latency<T: Transport<Bytes>>(
    conn: &mut T,
    size: usize,
    count: usize,
    warmup: usize,
) -> io::Result<LatencyReport> {
    let msg = payloads(size).swap_remove(0);
    let mut samples = LatencySamples::for_count(count);
    for i in 0..warmup.saturating_add(count) {
        let start = Instant::now();
        conn.send(msg.clone()).await?;
        let echo = recv(conn).await?;
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

async fn throughput<T: Transport<Bytes>>(
    conn: &mut T,
    size: usize,
    count: usize,
) -> io::Result<ThroughputReport> {
    let msgs = payloads(size);
    let start = Instant::now();
    for i in 0..count {
        conn.feed(msgs[i % msgs.len()].clone()).await?;
    }
    finish_throughput(conn, size, count, start).await
}

/// Ends a throughput run of `count` messages of `size` bytes that started at `start`: sends
/// the end marker (again while no acknowledgement comes), and reports the count the peer
/// acknowledges and the time until its acknowledgement arrived. The raw baselines end their
/// runs with it too, so both sides of a ratio stop their clocks the same way.
pub(super) async fn finish_throughput<T, M>(
    conn: &mut T,
    size: usize,
    count: usize,
    start: Instant,
) -> io::Result<ThroughputReport>
where
    T: Stream<Item = io::Result<M>> + Sink<Bytes, Error = io::Error> + Unpin,
    M: AsRef<[u8]>,
{
    conn.send(end_marker()).await?;
    let give_up = start + ACK_TIMEOUT;
    let ack = loop {
        match tokio::time::timeout(ACK_RETRY, recv(conn)).await {
            Ok(ack) => break ack?,
            Err(_) if Instant::now() < give_up => conn.send(end_marker()).await?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no acknowledgement from the bench peer",
                ))
            }
        }
    };
    let elapsed = start.elapsed();
    Ok(ThroughputReport {
        size,
        sent: count as u64,
        received: workload::parse_ack(ack.as_ref())?,
        elapsed,
    })
}

async fn recv<T, M>(conn: &mut T) -> io::Result<M>
where
    T: Stream<Item = io::Result<M>> + Unpin,
{
    match conn.next().await {
        Some(msg) => msg,
        None => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the bench peer closed the connection",
        )),
    }
}
