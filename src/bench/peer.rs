//! Peers: the side of a run that [`serve`](super::serve)s, in another process or in this one.

use super::serve::{serve_connection, serve_pair};
#[cfg(unix)]
use super::twin_child;
use super::{raw, Target};
use crate::{Connection, Endpoint};
use futures::SinkExt;
use std::io::{self, Write};
use tokio::task::JoinHandle;

/// The line a peer process prints on stdout once it listens: this prefix, then its target.
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

/// A peer serving in a task of this process (for in-process transports: `mem://`); the task
/// stops when this is dropped.
#[derive(Debug)]
pub struct InProcessPeer {
    task: JoinHandle<io::Result<()>>,
    target: Target,
}

impl InProcessPeer {
    /// Binds `target` and serves it in a task of the current runtime.
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
    pub fn target(&self) -> &Target {
        &self.target
    }
}

impl Drop for InProcessPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
