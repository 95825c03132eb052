//! Peers: the side of a run that [`serve`](fn@super::serve)s, in another process or in this one.

use super::serve::{serve_connection, serve_pair};
#[cfg(unix)]
use super::twin_child;
use super::{raw, Target};
use crate::{Connection, Endpoint};
use futures::SinkExt;
use std::io::{self, Write};
use tokio::task::JoinHandle;

/// The line a peer process prints on stdout once it listens: this prefix, then its target.
///
/// ```
/// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
/// #     let target = std::env::args().last().unwrap();
/// #     return tokio_test::block_on(anyipc::bench::peer_main(&target));
/// # }
/// use anyipc::bench::{Target, READY_PREFIX};
/// use std::io::BufRead;
/// use std::process::{Command, Stdio};
///
/// // This example runs `peer_main(TARGET)` when started as `bench-peer TARGET`.
/// let mut peer = Command::new(std::env::current_exe()?)
///     .args(["bench-peer", "tcp://127.0.0.1:0"])
///     .stdin(Stdio::piped())
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let mut line = String::new();
/// std::io::BufReader::new(peer.stdout.take().unwrap()).read_line(&mut line)?;
/// let target: Target = line.trim_end().strip_prefix(READY_PREFIX).unwrap().parse()?;
/// assert!(target.to_string().starts_with("tcp://127.0.0.1:"));
/// drop(peer.stdin.take()); // its stdin closed, the peer ends
/// assert!(peer.wait()?.success());
/// # Ok::<(), std::io::Error>(())
/// ```
pub const READY_PREFIX: &str = "anyipc-bench-peer ready ";

/// A bound bench listener of any target kind.
enum Bound {
    // Boxed: a `Listener` is far larger than the raw listeners.
    Anyipc(Box<crate::Listener>),
    /// A pair's listener on `to_peer`, and `from_peer` to answer on.
    Pair(Box<crate::Listener>, Endpoint),
    /// `stdio://`: the connection to the parent that started this process.
    Parent(Box<Connection>),
    #[cfg(unix)]
    RawUnix(tokio::net::UnixListener),
    RawTcp(tokio::net::TcpListener),
    /// A raw twin's pipes or FIFOs to the parent, for one run.
    #[cfg(unix)]
    RawChild(Box<twin_child::RawPipes>),
}

/// Binds `target`, returning the listener and the target to connect to (with the real port
/// when port 0 was asked for).
async fn bind(target: &Target) -> io::Result<(Bound, Target)> {
    Ok(match target {
        Target::Anyipc(endpoint) if target.is_child() => (
            Bound::Parent(Box::new(crate::connect(endpoint).await?)),
            target.clone(),
        ),
        Target::Anyipc(endpoint) => {
            let listener = crate::bind(endpoint).await?;
            let bound = Target::Anyipc(listener.endpoint().clone());
            (Bound::Anyipc(Box::new(listener)), bound)
        }
        Target::Pair { to_peer, from_peer } => {
            let listener = crate::bind(to_peer).await?;
            let bound = Target::Pair {
                to_peer: listener.endpoint().clone(),
                from_peer: from_peer.clone(),
            };
            (Bound::Pair(Box::new(listener), from_peer.clone()), bound)
        }
        #[cfg(unix)]
        Target::RawUnix(path) => (
            Bound::RawUnix(tokio::net::UnixListener::bind(path)?),
            target.clone(),
        ),
        Target::RawTcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let bound = Target::RawTcp(listener.local_addr()?);
            (Bound::RawTcp(listener), bound)
        }
        #[cfg(unix)]
        Target::RawChild => (
            Bound::RawChild(Box::new(twin_child::inherited_pipes()?)),
            target.clone(),
        ),
        #[cfg(unix)]
        Target::RawFifo(path) => (
            Bound::RawChild(Box::new(twin_child::open_fifos(path)?)),
            target.clone(),
        ),
    })
}

/// Accepts connections forever, serving each in its own task; a pair's one reading
/// connection, the connection to the parent, or a raw twin's one run, is served until it ends.
async fn serve_all(mut bound: Bound) -> io::Result<()> {
    loop {
        let served = match &mut bound {
            Bound::Pair(listener, from_peer) => {
                // fifo://, file:// and mq:// listeners hand out one connection only.
                let inbound = listener.accept().await?;
                return serve_pair(inbound, from_peer).await;
            }
            Bound::Parent(conn) => {
                let result = serve_connection(conn).await;
                // Flush what is pending before the process exits.
                let _ = conn.close().await;
                return result;
            }
            Bound::Anyipc(listener) => {
                let mut conn = listener.accept().await?;
                tokio::spawn(async move { serve_connection(&mut conn).await })
            }
            #[cfg(unix)]
            Bound::RawUnix(listener) => {
                let (stream, _) = listener.accept().await?;
                tokio::spawn(raw::serve(stream))
            }
            Bound::RawTcp(listener) => {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                tokio::spawn(raw::serve(stream))
            }
            #[cfg(unix)]
            Bound::RawChild(stream) => return raw::serve(&mut **stream).await,
        };
        // A failed run is the measuring side's to report; the peer keeps serving.
        drop(tokio::spawn(async move {
            if let Ok(Err(e)) = served.await {
                tracing::debug!(error = %e, "bench run ended with an error");
            }
        }));
    }
}

/// What a peer process runs: binds `target` (a [`Target`] as text; for a pair, the endpoint
/// to the peer; for `stdio://` and `raw+child://`, takes the pipes from the parent instead;
/// for `raw+fifo://PATH`, opens the FIFOs its parent made), prints [`READY_PREFIX`] and the
/// bound target on stdout, and serves bench runs until its stdin closes (its parent stopped
/// it, or has gone), then drops its listener — which removes a named endpoint — and returns.
/// A `stdio://` peer also returns when its parent closes the pipes, and a raw twin's child
/// when its one run ends.
///
/// Run it in a current-thread runtime, as the bench does for every process. The bench binary
/// runs it for `--peer TARGET`, the `anyipc` binary for its hidden `bench-peer TARGET`.
///
/// ```
/// use anyipc::bench::{peer_main, PeerProcess, Workload};
///
/// fn main() -> std::io::Result<()> {
///     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
///     let args: Vec<String> = std::env::args().collect();
///     if args.get(1).map(String::as_str) == Some("bench-peer") {
///         return rt.block_on(peer_main(&args[2])); // the peer: this program re-run
///     }
///     rt.block_on(async {
///         let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
///         cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
///         let mut peer = PeerProcess::spawn(cmd).await?;
///         let report = peer.measure(&Workload::latency(64, 10)).await?;
///         assert_eq!(report.latency().unwrap().count, 10);
///         peer.stop().await
///     })
/// }
/// ```
///
/// # Errors
/// A malformed target; binding or accepting errors.
pub async fn peer_main(target: &str) -> io::Result<()> {
    let target: Target = target.parse()?;
    let (bound, at) = bind(&target).await?;
    {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{READY_PREFIX}{at}")?;
        stdout.flush()?;
    }
    // The parent holds our stdin; end of file means it wants us gone, or has gone itself,
    // whatever way it went. A plain thread: tokio's stdin would hold up the runtime's end.
    let (parent_gone, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        let _ = parent_gone.send(());
    });
    tokio::select! {
        served = serve_all(bound) => served,
        // Dropping the listener in `serve_all` removes a named endpoint (pipe, shm, fifo).
        _ = stdin_closed => Ok(()),
    }
}

/// A peer serving in a task of this process (made for in-process transports, `mem://`, but
/// it serves any target it can bind); the task stops when this is dropped.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::bench::{measure, InProcessPeer, Workload};
///
/// let peer = InProcessPeer::start(&"mem://doc-in-process-peer".parse()?).await?;
/// // The peer serves one run after another, each on a connection of its own.
/// let report = measure(peer.target(), &Workload::throughput(256, 10)).await?;
/// assert_eq!(report.throughput().unwrap().received, 10);
/// let report = measure(peer.target(), &Workload::latency(256, 10)).await?;
/// assert_eq!(report.latency().unwrap().count, 10);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct InProcessPeer {
    task: JoinHandle<io::Result<()>>,
    target: Target,
}

impl InProcessPeer {
    /// Binds `target` and serves it in a task of the current runtime.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::{measure, InProcessPeer, Target, Workload};
    ///
    /// let target: Target = "mem://doc-in-process-peer-start".parse()?;
    /// let peer = InProcessPeer::start(&target).await?;
    /// let report = measure(&target, &Workload::latency(64, 10)).await?;
    /// assert_eq!(report.latency().unwrap().size, 64);
    /// // The name is taken while the peer runs.
    /// let err = InProcessPeer::start(&target).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # drop(peer);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// Binding errors.
    pub async fn start(target: &Target) -> io::Result<InProcessPeer> {
        let (bound, target) = bind(target).await?;
        Ok(InProcessPeer {
            task: tokio::spawn(serve_all(bound)),
            target,
        })
    }

    /// Where the peer listens.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::{measure, InProcessPeer, Workload};
    ///
    /// let peer = InProcessPeer::start(&"tcp://127.0.0.1:0".parse()?).await?;
    /// // Port 0 was asked for: the target holds the port the peer listens on.
    /// let target = peer.target().to_string();
    /// assert!(target.starts_with("tcp://127.0.0.1:") && !target.ends_with(":0"), "{target}");
    /// let report = measure(peer.target(), &Workload::throughput(64, 10)).await?;
    /// assert_eq!(report.throughput().unwrap().sent, 10);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn target(&self) -> &Target {
        &self.target
    }
}

impl Drop for InProcessPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
