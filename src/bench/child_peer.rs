//! A peer that is a child process on pipes to this one (`stdio://`).

use super::peer_process::prepare;
use super::PeerProcess;
use std::io;
use tokio::process::Command;

impl PeerProcess {
    /// Starts `cmd` (a program that runs [`peer_main`](super::peer_main) with the target
    /// `stdio://`) as a child with pipes to this process ([`anyipc::child::spawn`]), and waits
    /// for its ready line. [`measure`](PeerProcess::measure) then runs over the pipes; every
    /// run follows the previous one on them.
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// use anyipc::bench::{PeerProcess, Workload};
    ///
    /// let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    /// cmd.args(["bench-peer", "stdio://"]);
    /// let mut peer = PeerProcess::spawn_child(cmd).await?;
    /// let report = peer.measure(&Workload::throughput(4096, 10_000)).await?;
    /// # Ok(()) }
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
        let (child, pipes) = pipes::spawn(cmd)?;
        PeerProcess::started(child, Some(pipes)).await
    }
}

/// Starting a child with pipes to it, where the OS has them.
#[cfg(unix)]
mod pipes {
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
}
