//! Peers: the side of a run that [`serve`](super::serve)s, in another process or in this one.

use super::{raw, serve, Target};
use std::fmt;
use std::io::{self, Write};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

/// The line a peer process prints on stdout once it listens: this prefix, then its target.
pub const READY_PREFIX: &str = "anyipc-bench-peer ready ";

/// How long a peer process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A bound bench listener of any target kind.
enum Bound {
    // Boxed: a `Listener` is far larger than the raw listeners.
    Anyipc(Box<crate::Listener>),
    #[cfg(unix)]
    RawUnix(tokio::net::UnixListener),
    RawTcp(tokio::net::TcpListener),
}

/// Binds `target`, returning the listener and the target to connect to (with the real port
/// when port 0 was asked for).
async fn bind(target: &Target) -> io::Result<(Bound, Target)> {
    Ok(match target {
        Target::Anyipc(endpoint) => {
            let listener = crate::bind(endpoint).await?;
            let bound = Target::Anyipc(listener.endpoint().clone());
            (Bound::Anyipc(Box::new(listener)), bound)
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
    })
}

/// Accepts connections forever, serving each in its own task.
async fn serve_all(mut bound: Bound) -> io::Result<()> {
    loop {
        let served = match &mut bound {
            Bound::Anyipc(listener) => {
                let conn = listener.accept().await?;
                tokio::spawn(serve(conn))
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
        };
        // A failed run is the measuring side's to report; the peer keeps serving.
        drop(tokio::spawn(async move {
            if let Ok(Err(e)) = served.await {
                tracing::debug!(error = %e, "bench run ended with an error");
            }
        }));
    }
}

/// What a peer process runs: binds `target` (a [`Target`] as text), prints
/// [`READY_PREFIX`] and the bound target on stdout, and serves bench runs until its stdin
/// closes (its parent has gone), then exits the process.
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
    // The parent holds our stdin; end of file means it has gone, whatever way it went.
    std::thread::spawn(|| {
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        std::process::exit(0);
    });
    serve_all(bound).await
}

/// A peer in another process, killed when dropped.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use anyipc::bench::{measure, PeerProcess, Workload};
///
/// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
/// cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
/// let peer = PeerProcess::spawn(cmd).await?;
/// let report = measure(peer.target(), &Workload::latency(64, 1000)).await?;
/// println!("p50 {:?}", report.latency().unwrap().p50);
/// # Ok(()) }
/// ```
pub struct PeerProcess {
    child: Child,
    _stdin: Option<ChildStdin>,
    target: Target,
}

impl PeerProcess {
    /// Starts `cmd` (a program that runs [`peer_main`]) and waits for its ready line.
    ///
    /// # Errors
    /// Spawning errors; `UnexpectedEof` when the process exits before it is ready (its stderr,
    /// inherited, says why); `TimedOut` after 30 s.
    ///
    /// # Cancel safety
    /// Cancel safe: the process is killed.
    pub async fn spawn(mut cmd: Command) -> io::Result<PeerProcess> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        match tokio::time::timeout(START_TIMEOUT, stdout.read_line(&mut line)).await {
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer did not start",
                ))
            }
            Ok(read) => read?,
        };
        let Some(target) = line.trim_end().strip_prefix(READY_PREFIX) else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the peer process did not start (it said {:?})",
                    line.trim_end()
                ),
            ));
        };
        Ok(PeerProcess {
            target: target.parse()?,
            child,
            _stdin: stdin,
        })
    }

    /// Where the peer listens.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The peer's process id.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }
}

impl fmt::Debug for PeerProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerProcess")
            .field("pid", &self.child.id())
            .field("target", &self.target.to_string())
            .finish()
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
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
