//! Peers that are child processes on pipes to this one: `stdio://` (anyipc's own pipes), and
//! the raw twins of `child` and `fifo` (a child per run, `raw+child://` and `raw+fifo://`).

use super::peer_process::{not_started_program, prepare};
use super::{PeerProcess, Target};
use std::io;
use tokio::process::Command;

impl PeerProcess {
    /// Starts the peer process for `target`, the right way for its kind: a child on pipes for
    /// `stdio://` ([`spawn_child`](PeerProcess::spawn_child)), a child per run for a raw twin
    /// of `child` or `fifo` ([`spawn_raw_child`](PeerProcess::spawn_raw_child)), otherwise a
    /// process that listens ([`spawn`](PeerProcess::spawn)). `make` returns a command that
    /// runs [`peer_main`](super::peer_main) with the target given as its last argument (this
    /// adds it).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// # if std::env::args().nth(1).as_deref() == Some("bench-peer") {
    /// #     let target = std::env::args().last().unwrap();
    /// #     return tokio_test::block_on(anyipc::bench::peer_main(&target)).unwrap();
    /// # }
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::{PeerProcess, Target, Workload};
    ///
    /// // This example runs `peer_main(TARGET)` when started as `bench-peer TARGET`.
    /// let exe = std::env::current_exe()?;
    /// let make = move || {
    ///     let mut cmd = tokio::process::Command::new(&exe);
    ///     cmd.arg("bench-peer");
    ///     cmd
    /// };
    /// for target in ["tcp://127.0.0.1:0", "stdio://", "raw+child://"] {
    ///     let target: Target = target.parse()?;
    ///     let mut peer = PeerProcess::start(make.clone(), &target).await?;
    ///     let report = peer.measure(&Workload::latency(64, 10)).await?;
    ///     assert_eq!(report.latency().unwrap().count, 10);
    ///     peer.stop().await?;
    /// }
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// Those of the way it starts.
    ///
    /// # Cancel safety
    /// Cancel safe: the process is killed.
    pub async fn start(
        make: impl Fn() -> Command + Send + Sync + 'static,
        target: &Target,
    ) -> io::Result<PeerProcess> {
        if target.is_raw_child() {
            return PeerProcess::spawn_raw_child(make, target).await;
        }
        let mut cmd = make();
        cmd.arg(target.to_string());
        if target.is_child() {
            PeerProcess::spawn_child(cmd).await
        } else {
            PeerProcess::spawn(cmd).await
        }
    }

    /// Starts `cmd` (a program that runs [`peer_main`](super::peer_main) with the target
    /// `stdio://`) as a child with pipes to this process ([`anyipc::child::spawn`]), and waits
    /// for its ready line. [`measure`](PeerProcess::measure) then runs over the pipes; every
    /// run follows the previous one on them.
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
    /// // This example runs `peer_main(TARGET)` when started as `bench-peer TARGET`.
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "stdio://"]);
    /// let mut peer = PeerProcess::spawn_child(cmd).await?;
    /// assert_eq!(peer.target().to_string(), "stdio://");
    /// let report = peer.measure(&Workload::throughput(4096, 10)).await?;
    /// assert_eq!(report.throughput().unwrap().received, 10);
    /// peer.stop().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`spawn`](PeerProcess::spawn).
    ///
    /// # Cancel safety
    /// Cancel safe: the process is killed.
    ///
    /// # Platform-specific behavior
    /// Unix only, as [`anyipc::child`](crate::child): elsewhere `Unsupported`.
    ///
    /// [`anyipc::child::spawn`]: crate::child::spawn
    pub async fn spawn_child(mut cmd: Command) -> io::Result<PeerProcess> {
        prepare(&mut cmd);
        let program = cmd.as_std().get_program().to_owned();
        let (child, pipes) = pipes::spawn(cmd).map_err(|err| not_started_program(&program, err))?;
        PeerProcess::started(child, Some(pipes)).await
    }

    /// Starts a raw twin whose peer is a child process of its own for every run:
    /// `raw+child://` (two anonymous pipes the child inherits) or `raw+fifo://PATH` (two
    /// FIFOs, `PATH` and `PATH.reply`, made for each run and removed as soon as both sides
    /// have opened them). A raw run ends with its stream, and anonymous pipes cannot be
    /// reconnected, hence a child per run.
    ///
    /// `make` returns a command that runs [`peer_main`](super::peer_main) with the target
    /// given as its last argument (this adds it). The first child starts now; each
    /// [`measure`](PeerProcess::measure) runs over one child and reaps it, and the next
    /// starts the next one.
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
    /// // This example runs `peer_main(TARGET)` when started as `bench-peer TARGET`.
    /// let exe = std::env::current_exe()?;
    /// let make = move || {
    ///     let mut cmd = tokio::process::Command::new(&exe);
    ///     cmd.arg("bench-peer");
    ///     cmd
    /// };
    /// let mut twin = PeerProcess::spawn_raw_child(make.clone(), &"raw+child://".parse()?).await?;
    /// let report = twin.measure(&Workload::latency(64, 10)).await?;
    /// assert_eq!(report.latency().unwrap().count, 10);
    /// let report = twin.measure(&Workload::throughput(64, 10)).await?; // a new child
    /// assert_eq!(report.throughput().unwrap().received, 10);
    /// twin.stop().await?;
    /// // Other targets have a peer process that serves every run.
    /// let tcp = "tcp://127.0.0.1:0".parse()?;
    /// let err = PeerProcess::spawn_raw_child(make, &tcp).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for another kind of target; otherwise as [`spawn`](PeerProcess::spawn),
    /// and the OS's when the pipes or FIFOs cannot be made (`AlreadyExists` when something
    /// other than a FIFO is at `PATH` or `PATH.reply`).
    ///
    /// # Cancel safety
    /// Cancel safe: the child is killed, the FIFOs are removed.
    ///
    /// # Platform-specific behavior
    /// Unix only: elsewhere `Unsupported` (the targets do not exist there).
    pub async fn spawn_raw_child(
        make: impl Fn() -> Command + Send + Sync + 'static,
        target: &Target,
    ) -> io::Result<PeerProcess> {
        pipes::spawn_raw_child(Box::new(make), target).await
    }
}

/// Starting a child with pipes to it, where the OS has them.
#[cfg(unix)]
mod pipes {
    pub(super) use crate::bench::twin_child::spawn as spawn_raw_child;
    pub(super) use crate::child::spawn;
}

/// Starting a child with pipes to it, where the OS has them: not here.
#[cfg(not(unix))]
mod pipes {
    use crate::Connection;
    use std::io;
    use tokio::process::{Child, Command};

    pub(super) fn spawn(_: Command) -> io::Result<(Child, Connection)> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a child peer on pipes (stdio://) needs a Unix system",
        ))
    }

    pub(super) async fn spawn_raw_child(
        _: Box<dyn Fn() -> Command + Send + Sync>,
        _: &crate::bench::Target,
    ) -> io::Result<crate::bench::PeerProcess> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a raw twin on pipes or FIFOs needs a Unix system",
        ))
    }
}
