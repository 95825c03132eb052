use super::peer::READY_PREFIX;
use super::peer_exit::PeerExit;
#[cfg(unix)]
use super::run::batch_needs_a_connection;
use super::run::run_connection;
use super::{measure, Report, Target, Workload};
#[cfg(unix)]
use super::{raw, twin_child::TwinChild};
use crate::Connection;
use std::fmt;
use std::future::Future;
use std::io;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long a peer process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long after a run's failure the peer's exit still counts as its cause.
const EXIT_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// How long [`PeerProcess::stop`] waits for the peer to end by itself.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A peer in another process. [`stop`](PeerProcess::stop) ends it cleanly (it removes its
/// named endpoint); dropped without that, it is killed.
///
/// ```
/// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
/// #     let target = std::env::args().last().unwrap();
/// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
/// # }
/// # tokio_test::block_on(async {
/// use anyipc::bench::{PeerProcess, Workload};
///
/// // A program that runs `peer_main(TARGET)` for `bench-peer TARGET` (here: this example).
/// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
/// cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
/// let mut peer = PeerProcess::spawn(cmd).await?;
/// let report = peer.measure(&Workload::latency(64, 10)).await?;
/// assert_eq!(report.latency().unwrap().count, 10);
/// peer.stop().await?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct PeerProcess {
    /// The peer (for a raw child twin: the child of the last run).
    child: Child,
    /// Closing it asks the peer to end.
    stdin: Option<ChildStdin>,
    /// When the peer exits (not watched for a raw twin, whose runs end with their child).
    exit: Option<PeerExit>,
    target: Target,
    kind: Kind,
}

/// How runs reach the peer.
pub(super) enum Kind {
    /// Each run connects to where the peer listens.
    Listening,
    /// Over the pipes to a child peer (`stdio://`, [`spawn_child`](PeerProcess::spawn_child)).
    Child(Box<Connection>),
    /// A raw twin with a child of its own for every run
    /// ([`spawn_raw_child`](PeerProcess::spawn_raw_child)).
    #[cfg(unix)]
    RawChild(Box<TwinChild>),
}

impl PeerProcess {
    /// Starts `cmd` (a program that runs [`peer_main`](super::peer_main)) and waits for its
    /// ready line. For a `stdio://` peer use [`spawn_child`](PeerProcess::spawn_child).
    ///
    /// ```
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # if std::env::args().nth(1).as_deref() == Some("exit") {
    /// #     return;
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::{PeerProcess, Workload};
    /// use tokio::process::Command;
    ///
    /// // This example runs `peer_main(TARGET)` when started as `bench-peer TARGET`, and
    /// // exits at once when started as `exit`.
    /// let mut cmd = Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
    /// let mut peer = PeerProcess::spawn(cmd).await?;
    /// let report = peer.measure(&Workload::throughput(64, 10)).await?;
    /// assert_eq!(report.throughput().unwrap().received, 10);
    /// peer.stop().await?;
    /// // A program that exits without saying it is ready:
    /// let mut quits = Command::new(std::env::current_exe()?);
    /// quits.arg("exit");
    /// let err = PeerProcess::spawn(quits).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// Spawning errors; `UnexpectedEof` when the process exits before it is ready (its stderr,
    /// inherited, says why); `TimedOut` after 30 s.
    ///
    /// # Cancel safety
    /// Cancel safe: the process is killed.
    pub async fn spawn(mut cmd: Command) -> io::Result<PeerProcess> {
        let child = prepare(&mut cmd)
            .spawn()
            .map_err(|err| not_started(&cmd, err))?;
        PeerProcess::started(child, None).await
    }

    /// Waits for the ready line of a started peer.
    pub(super) async fn started(
        mut child: Child,
        pipes: Option<Connection>,
    ) -> io::Result<PeerProcess> {
        let (target, stdout) = wait_ready(&mut child).await?;
        let mut peer = PeerProcess::ready(
            child,
            target,
            pipes.map_or(Kind::Listening, |pipes| Kind::Child(Box::new(pipes))),
        );
        peer.exit = Some(PeerExit::watch(stdout));
        Ok(peer)
    }

    /// A peer whose process has said it is ready, serving `target`.
    pub(super) fn ready(mut child: Child, target: Target, kind: Kind) -> PeerProcess {
        PeerProcess {
            target,
            stdin: child.stdin.take(),
            exit: None,
            child,
            kind,
        }
    }

    /// Runs `workload` against this peer: over the pipes to a child peer; for a raw twin with
    /// a child per run, over the channel to a fresh child (started before the run unless one
    /// is waiting, reaped after it); otherwise as [`measure`] does (a new
    /// connection for the run).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::{PeerProcess, Workload};
    ///
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "stdio://"]);
    /// let mut peer = PeerProcess::spawn_child(cmd).await?;
    /// // Runs follow one another over the pipes to the child; a Connection can batch.
    /// let report = peer.measure(&Workload::throughput(1024, 20).with_batch(5)).await?;
    /// assert_eq!(report.throughput().unwrap().received, 20);
    /// let report = peer.measure(&Workload::latency(64, 10)).await?;
    /// assert_eq!(report.latency().unwrap().count, 10);
    /// peer.stop().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// Those of [`measure`] and [`run_client`](super::run_client); for a raw
    /// twin, those of starting its child ([`spawn_raw_child`](PeerProcess::spawn_raw_child));
    /// [`exit_error`](PeerProcess::exit_error) when the peer exits during the run.
    ///
    /// # Cancel safety
    /// Not cancel safe for a child peer: its pipes are left in the middle of a run. A raw
    /// twin's abandoned child is ended before the next run.
    pub async fn measure(&mut self, workload: &Workload) -> io::Result<Report> {
        let exited = self.exited();
        let run = async {
            match &mut self.kind {
                Kind::Child(pipes) => run_connection(pipes, workload).await,
                Kind::Listening => measure(&self.target, workload).await,
                #[cfg(unix)]
                Kind::RawChild(twin) => {
                    measure_raw_child(twin, &mut self.child, &mut self.stdin, workload).await
                }
            }
        };
        let finished = tokio::select! {
            biased;
            report = run => Some(report),
            () = exited => None,
        };
        match finished {
            Some(Ok(report)) => Ok(report),
            Some(Err(err)) => Err(self.explain_failure(err).await),
            None => Err(self.exit_error().await),
        }
    }

    /// The error to give for a run that failed with `err`: when the peer process exited
    /// during the run or exits within half a second of its failure, the peer's
    /// [`exit_error`](PeerProcess::exit_error), which says why (a run often notices first:
    /// a FIFO's reader gone is `BrokenPipe`, a socket closed is the end of the stream);
    /// otherwise `err`.
    ///
    /// ```
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::PeerProcess;
    /// use std::io;
    ///
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
    /// let mut peer = PeerProcess::spawn(cmd).await?;
    /// // The peer lives on: a run's own error stands.
    /// let err = io::Error::new(io::ErrorKind::InvalidData, "a bad reply");
    /// assert_eq!(peer.explain_failure(err).await.kind(), io::ErrorKind::InvalidData);
    /// peer.stop().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn explain_failure(&mut self, err: io::Error) -> io::Error {
        let Some(exit) = &self.exit else {
            // A raw twin's runs end with their child: nothing to wait for.
            return err;
        };
        match tokio::time::timeout(EXIT_AFTER_FAILURE, exit.exited()).await {
            Ok(()) => {
                tracing::debug!(run_error = %err, "the bench peer exited during a failed run");
                self.exit_error().await
            }
            Err(_) => err,
        }
    }

    /// Resolves once the peer process has exited, however it ended (killed, crashed, or
    /// stopped): a run that waits on a peer that died — the way back of a one-way endpoint
    /// never ends by itself — can be given up. For a raw twin with a child per run it never
    /// resolves: each run's stream ends with its child.
    ///
    /// ```
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::PeerProcess;
    /// use std::time::Duration;
    ///
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
    /// let mut peer = PeerProcess::spawn(cmd).await?;
    /// let exited = peer.exited();
    /// # #[cfg(unix)]
    /// # {
    /// // Killed behind our back:
    /// let pid = peer.id().unwrap() as libc::pid_t;
    /// // SAFETY: kill(2) on our own child, with a valid signal, touches no memory.
    /// assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    /// tokio::time::timeout(Duration::from_secs(10), exited).await.expect("noticed");
    /// let err = peer.exit_error().await;
    /// assert!(err.to_string().contains("SIGKILL"), "{err}");
    /// # }
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn exited(&self) -> impl Future<Output = ()> + Send + 'static {
        let exit = self.exit.as_ref().map(PeerExit::exited);
        async move {
            match exit {
                Some(exited) => exited.await,
                None => std::future::pending().await,
            }
        }
    }

    /// The error for a run the peer did not outlive (after [`exited`](PeerProcess::exited)
    /// resolved): `BrokenPipe`, with the exit status when the process has been reaped within a
    /// second, and the last line the peer printed on its stdout after its ready line (where
    /// [`peer_main`](super::peer_main)'s caller says why it failed).
    ///
    /// See [`exited`](PeerProcess::exited) for an example.
    pub async fn exit_error(&mut self) -> io::Error {
        let status = match tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await {
            Ok(Ok(status)) => format!(" ({status})"),
            _ => String::new(),
        };
        let said = match self.exit.as_ref().and_then(PeerExit::last_words) {
            Some(line) => format!(": {line}"),
            None => String::new(),
        };
        io::Error::new(
            io::ErrorKind::BrokenPipe,
            format!("the peer process exited during the run{status}{said}"),
        )
    }

    /// Where the peer listens (`stdio://` for a child peer).
    ///
    /// ```
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::PeerProcess;
    ///
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
    /// let peer = PeerProcess::spawn(cmd).await?;
    /// // Port 0 was asked for: the target holds the port the peer listens on.
    /// let target = peer.target().to_string();
    /// assert!(target.starts_with("tcp://127.0.0.1:") && !target.ends_with(":0"), "{target}");
    /// peer.stop().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The peer's process id; `None` once it has been reaped (a raw twin's child is, at the
    /// end of every [`measure`](PeerProcess::measure)).
    ///
    /// ```
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::PeerProcess;
    ///
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "tcp://127.0.0.1:0"]);
    /// let peer = PeerProcess::spawn(cmd).await?;
    /// let pid = peer.id().unwrap();
    /// assert_ne!(pid, std::process::id());
    /// # #[cfg(target_os = "linux")]
    /// assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    /// peer.stop().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Ends the peer: closes its stdin (and the pipes to a child peer) so that it drops its
    /// listener — removing a named endpoint such as `pipe://`, `shm://` or a FIFO — and exits;
    /// kills it if it has not exited within 5 s.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::PeerProcess;
    ///
    /// let dir = std::env::temp_dir().join(format!("anyipc-doc-stop-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let socket = dir.join("peer.sock");
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.arg("bench-peer").arg(format!("unix://{}", socket.display()));
    /// let peer = PeerProcess::spawn(cmd).await?;
    /// assert!(socket.exists());
    /// peer.stop().await?;
    /// assert!(!socket.exists()); // the peer removed its socket as it ended
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// Waiting for the process failed.
    ///
    /// # Cancel safety
    /// Cancel safe: dropped, the process is killed.
    pub async fn stop(mut self) -> io::Result<()> {
        // A child peer's pipes; a raw twin child's stream, ending it before any run.
        self.kind = Kind::Listening;
        end(&mut self.child, self.stdin.take()).await
    }

    /// The pipes to a child peer, to run [`run_client`](super::run_client) over your own
    /// wrapper of them; `None` for other peers.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::{run_client, PeerProcess, Workload};
    ///
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "stdio://"]);
    /// let mut peer = PeerProcess::spawn_child(cmd).await?;
    /// let pipes = peer.pipes().expect("a child peer has pipes");
    /// let report = run_client(pipes, &Workload::latency(64, 10)).await?;
    /// assert_eq!(report.latency().unwrap().count, 10);
    /// peer.stop().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn pipes(&mut self) -> Option<&mut Connection> {
        match &mut self.kind {
            Kind::Child(pipes) => Some(&mut **pipes),
            _ => None,
        }
    }
}

/// [`PeerProcess::measure`] for a raw twin with a child per run (`child`, `stdin`: the child
/// of the last run).
#[cfg(unix)]
async fn measure_raw_child(
    twin: &mut TwinChild,
    child: &mut Child,
    stdin: &mut Option<ChildStdin>,
    workload: &Workload,
) -> io::Result<Report> {
    if workload.batch() > 1 {
        // Refused before a child is started for the run.
        return Err(batch_needs_a_connection());
    }
    let stream = match twin.take_stream() {
        Some(stream) => stream,
        None => {
            // The child of the last run has gone (or is ended here, if that run was
            // abandoned half way); this run gets one of its own.
            let _ = end(child, stdin.take()).await;
            let (started, stream) = twin.start().await?;
            *child = started;
            *stdin = child.stdin.take();
            stream
        }
    };
    let report = raw::run(stream, workload).await;
    // The stream is gone, so the child's has ended and it exits: reap it.
    let _ = end(child, stdin.take()).await;
    report
}

/// Reads a started peer's ready line and returns the target it gives, and the rest of its
/// stdout.
pub(super) async fn wait_ready(child: &mut Child) -> io::Result<(Target, BufReader<ChildStdout>)> {
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
    Ok((target.parse()?, stdout))
}

/// Ends a peer: closes its stdin, which asks it to end, waits up to 5 s for it to exit, then
/// kills it.
///
/// # Errors
/// Waiting for the process failed.
async fn end(child: &mut Child, stdin: Option<ChildStdin>) -> io::Result<()> {
    drop(stdin);
    match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
        Ok(status) => status.map(drop),
        Err(_) => {
            tracing::debug!(pid = ?child.id(), "bench peer did not stop: killing it");
            child.kill().await
        }
    }
}

/// `err` from starting `cmd`, naming the program that could not be started (a bare
/// `NotFound` does not say what was not found: a binary rebuilt while it ran is "deleted"
/// to its own children), its kind kept.
pub(super) fn not_started(cmd: &Command, err: io::Error) -> io::Error {
    not_started_program(cmd.as_std().get_program(), err)
}

/// [`not_started`] for a command already handed over.
pub(super) fn not_started_program(program: &std::ffi::OsStr, err: io::Error) -> io::Error {
    let program = program.to_string_lossy();
    io::Error::new(
        err.kind(),
        format!("cannot start the peer process {program}: {err}"),
    )
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
