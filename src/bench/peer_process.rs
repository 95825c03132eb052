use super::peer::READY_PREFIX;
use super::{measure, run_client, Report, Target, Workload};
use crate::Connection;
use std::fmt;
use std::io;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// How long a peer process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`PeerProcess::stop`] waits for the peer to end by itself.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A peer in another process. [`stop`](PeerProcess::stop) ends it cleanly (it removes its
/// named endpoint); dropped without that, it is killed.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use anyipc::bench::{PeerProcess, Workload};
///
/// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
/// cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
/// let mut peer = PeerProcess::spawn(cmd).await?;
/// let report = peer.measure(&Workload::latency(64, 1000)).await?;
/// println!("p50 {:?}", report.latency().unwrap().p50);
/// # Ok(()) }
/// ```
pub struct PeerProcess {
    child: Child,
    /// Closing it asks the peer to end.
    stdin: Option<ChildStdin>,
    target: Target,
    /// The pipes to a child peer (`stdio://`, [`spawn_child`](PeerProcess::spawn_child)).
    pipes: Option<Connection>,
}

impl PeerProcess {
    /// Starts `cmd` (a program that runs [`peer_main`](super::peer_main)) and waits for its
    /// ready line. For a `stdio://` peer use [`spawn_child`](PeerProcess::spawn_child).
    ///
    /// # Errors
    /// Spawning errors; `UnexpectedEof` when the process exits before it is ready (its stderr,
    /// inherited, says why); `TimedOut` after 30 s.
    ///
    /// # Cancel safety
    /// Cancel safe: the process is killed.
    pub async fn spawn(mut cmd: Command) -> io::Result<PeerProcess> {
        let child = prepare(&mut cmd).spawn()?;
        PeerProcess::started(child, None).await
    }

    /// Waits for the ready line of a started peer.
    pub(super) async fn started(
        mut child: Child,
        pipes: Option<Connection>,
    ) -> io::Result<PeerProcess> {
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
            stdin,
            pipes,
        })
    }

    /// Runs `workload` against this peer: over the pipes to a child peer, otherwise as
    /// [`measure`](super::measure) does (a new connection for the run).
    ///
    /// # Errors
    /// Those of [`measure`](super::measure) and [`run_client`](super::run_client).
    ///
    /// # Cancel safety
    /// Not cancel safe for a child peer: its pipes are left in the middle of a run.
    pub async fn measure(&mut self, workload: &Workload) -> io::Result<Report> {
        match &mut self.pipes {
            Some(pipes) => run_client(pipes, workload).await,
            None => measure(&self.target, workload).await,
        }
    }

    /// Where the peer listens (`stdio://` for a child peer).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The peer's process id.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Ends the peer: closes its stdin (and the pipes to a child peer) so that it drops its
    /// listener — removing a named endpoint such as `pipe://`, `shm://` or a FIFO — and exits;
    /// kills it if it has not exited within 5 s.
    ///
    /// # Errors
    /// Waiting for the process failed.
    ///
    /// # Cancel safety
    /// Cancel safe: dropped, the process is killed.
    pub async fn stop(mut self) -> io::Result<()> {
        drop(self.stdin.take());
        drop(self.pipes.take());
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.map(drop),
            Err(_) => {
                tracing::debug!(pid = ?self.child.id(), "bench peer did not stop: killing it");
                self.child.kill().await
            }
        }
    }

    /// The pipes to a child peer, to run [`run_client`](super::run_client) over your own
    /// wrapper of them; `None` for other peers.
    pub fn pipes(&mut self) -> Option<&mut Connection> {
        self.pipes.as_mut()
    }
}

/// Sets up a peer's command: stdin piped (its end tells the peer we have gone), stdout piped
/// (its ready line), stderr inherited, killed when dropped.
pub(super) fn prepare(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
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
