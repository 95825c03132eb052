//! The raw twins of `child` and `fifo`, with no anyipc transport or codec code in the data
//! path: a child process joined to this one by two anonymous pipes it inherits
//! (`raw+child://`), or by two FIFOs, one each way (`raw+fifo://PATH`: `PATH` towards the peer,
//! `PATH.reply` back). Each end is a tokio `pipe::Receiver` or `pipe::Sender`; the two ends of
//! a side are joined with `tokio::io::join` and run through the loops of `raw.rs` (tokio-util
//! `Framed` + `LengthDelimitedCodec` at its defaults).
//!
//! A raw run ends with its stream (`raw::serve` returns at end of stream, as a raw Unix-socket
//! peer does when the client disconnects), and pipes can be neither reconnected nor, when
//! anonymous, named: so every run has a child of its own, started before the run and reaped
//! after it, outside the timed part. (`child` and `fifo` serve every run in one peer process,
//! telling runs apart by their control messages.)
//!
//! As `child` and `fifo` do, every pipe asks Linux for a 1 MiB buffer (`F_SETPIPE_SZ`; the
//! default is 64 KiB), the way `tcp-twin` sets TCP_NODELAY as `tcp` does: the twins share the
//! kernel settings of the transports they are compared with, so a ratio shows what anyipc's
//! code costs. What the twins do not copy is `fifo://`'s rule that a frame is one atomic write
//! of at most `PIPE_BUF` bytes (so frames of several writers never interleave): `Framed`
//! writes its whole buffer at a time (8 KiB or more once it batches) and lets the pipe split
//! frames anywhere.

use super::peer_process::{not_started, prepare, wait_ready, Kind};
use super::{PeerProcess, Target};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use tokio::io::Join;
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

/// One side of a raw twin's channel: what it reads, joined with what it writes.
pub(super) type RawPipes = Join<pipe::Receiver, pipe::Sender>;

/// Makes the command that starts a raw twin's child (its target is added as the last
/// argument).
pub(super) type MakeCommand = Box<dyn Fn() -> Command + Send + Sync>;

/// The measuring side of a raw twin: starts a child for each run.
pub(super) struct TwinChild {
    make: MakeCommand,
    target: Target,
    /// This side of the channel to a started child whose run has not begun.
    next: Option<RawPipes>,
}

impl TwinChild {
    /// This side of the channel to a child that is ready, if one is waiting for its run.
    pub(super) fn take_stream(&mut self) -> Option<RawPipes> {
        self.next.take()
    }

    /// Starts a child for the next run and waits for its ready line: returns it and this
    /// side of the channel to it.
    pub(super) async fn start(&mut self) -> io::Result<(Child, RawPipes)> {
        let mut cmd = (self.make)();
        cmd.arg(self.target.to_string());
        prepare(&mut cmd);
        match &self.target {
            Target::RawFifo(path) => {
                // Both sides open their ends before anyone writes; then the names go, so a
                // run leaves nothing behind however it ends.
                let (fifos, stream) = Fifos::create(path).await?;
                let mut child = cmd.spawn().map_err(|err| not_started(&cmd, err))?;
                // Its stdout is not watched: the run's stream ends with the child.
                wait_ready(&mut child).await?;
                drop(fifos);
                Ok((child, stream))
            }
            _ => {
                // The pipes `child` uses, set up the same way (1 MiB buffers).
                let (mut child, receiver, sender) = crate::child::spawn_piped(&mut cmd, false)
                    .map_err(|err| not_started(&cmd, err))?;
                let stream = tokio::io::join(receiver, sender);
                // Its stdout is not watched: the run's stream ends with the child.
                wait_ready(&mut child).await?;
                Ok((child, stream))
            }
        }
    }
}

/// Starts the first child of a raw twin ([`PeerProcess::spawn_raw_child`]).
pub(super) async fn spawn(make: MakeCommand, target: &Target) -> io::Result<PeerProcess> {
    if !target.is_raw_child() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{target} is not a raw twin with a child per run"),
        ));
    }
    let mut twin = TwinChild {
        make,
        target: target.clone(),
        next: None,
    };
    let (child, stream) = twin.start().await?;
    twin.next = Some(stream);
    Ok(PeerProcess::ready(
        child,
        target.clone(),
        Kind::RawChild(Box::new(twin)),
    ))
}

/// In a `raw+child://` peer: the pipes from the parent (as `stdio://` takes them), as this
/// side's stream.
///
/// # Errors
/// As `stdio://`'s: see the `anyipc::child` module docs.
pub(super) fn inherited_pipes() -> io::Result<RawPipes> {
    let (receiver, sender, _parent) = crate::child::take_parent_pipes()?;
    Ok(tokio::io::join(receiver, sender))
}

/// In a `raw+fifo://PATH` peer: `PATH` opened for reading and `PATH.reply` for writing. The
/// measuring side has opened its ends already, so neither open waits nor fails for want of
/// a partner.
///
/// # Errors
/// The OS's; `InvalidInput` when a path is not a FIFO.
pub(super) fn open_fifos(path: &Path) -> io::Result<RawPipes> {
    let open = pipe::OpenOptions::new();
    Ok(tokio::io::join(
        open.open_receiver(path)?,
        open.open_sender(reply_path(path))?,
    ))
}

/// Where a `raw+fifo://PATH` peer answers: `PATH.reply`.
fn reply_path(path: &Path) -> PathBuf {
    let mut reply = path.as_os_str().to_owned();
    reply.push(".reply");
    PathBuf::from(reply)
}

/// This side's stream over two pipe ends, each asking for a 1 MiB buffer as `child` and
/// `fifo` do.
fn joined(receiver: pipe::Receiver, sender: pipe::Sender) -> RawPipes {
    crate::sys::grow_pipe_buffer(receiver.as_fd());
    crate::sys::grow_pipe_buffer(sender.as_fd());
    tokio::io::join(receiver, sender)
}

/// The two FIFOs of one `raw+fifo://` run, removed when dropped.
struct Fifos {
    /// The ones made so far, each with the identity of the FIFO made (all that is removed).
    made: Vec<(PathBuf, crate::sys::FileIdentity)>,
    /// A write end of `PATH.reply`, held until the peer has opened its own. Without it the
    /// reply FIFO has no writer for a while; the reactor then sees this side's reader hang up,
    /// and tokio keeps a hang-up for good: the reader stays ready, and every wait for a reply
    /// is a busy loop of reads (the fifo twin's round trips came from a spinning measuring
    /// process: 12–28 µs against the 42 µs of a side that sleeps, on the AMD host).
    reply_writer: Option<OwnedFd>,
}

impl Fifos {
    /// Makes both FIFOs as `fifo://` binds them (owner-only; a stale one of ours is
    /// reclaimed, a live reader's refused) and opens this side's ends: `PATH` for writing,
    /// `PATH.reply` for reading. Because a writer holds `PATH` before the peer's reader
    /// opens, the peer never reads an end of file before the run; and this side keeps a
    /// write end of `PATH.reply` only until the peer is ready (dropped with the `Fifos`), so
    /// the peer closing it is an end of file here.
    async fn create(path: &Path) -> io::Result<(Fifos, RawPipes)> {
        let mut fifos = Fifos {
            made: Vec::new(),
            reply_writer: None,
        };
        let lock = crate::sys::lock_parent_dir_async(path).await;
        let to_peer = crate::sys::fifo_bind(path, 0o600, &lock)?;
        fifos.made.push((path.to_path_buf(), to_peer.identity));
        let reply = reply_path(path);
        // The same directory: the lock held covers this bind too.
        let from_peer = crate::sys::fifo_bind(&reply, 0o600, &lock)?;
        drop(lock);
        fifos.made.push((reply, from_peer.identity));
        fifos.reply_writer = Some(from_peer.keep_open);
        let sender = pipe::Sender::from_owned_fd(to_peer.keep_open)?;
        let receiver = pipe::Receiver::from_owned_fd(from_peer.reader)?;
        Ok((fifos, joined(receiver, sender)))
    }
}

impl Drop for Fifos {
    fn drop(&mut self) {
        for (path, identity) in &self.made {
            crate::sys::fifo_unbind(path, *identity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_fifo_twin_waits_for_its_reply_asleep() {
        let dir = crate::test_support::temp_dir("twin-fifos");
        let path = dir.join("run");
        let (fifos, mut ours) = Fifos::create(&path).await.unwrap();
        // The child starts a while later: the reactor looks at the reply FIFO meanwhile.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut peers = open_fifos(&path).unwrap();
        drop(fifos);
        // Nothing written back: the reply end must not be ready (a reader that saw a
        // hang-up would be, for good, and waiting on it would spin).
        let early = tokio::time::timeout(Duration::from_millis(200), ours.reader().readable());
        assert!(
            early.await.is_err(),
            "the reply end is ready with nothing in it"
        );
        peers.write_all(b"reply").await.unwrap();
        let mut got = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(10), ours.read_exact(&mut got))
            .await
            .expect("the reply arrives")
            .unwrap();
        assert_eq!(&got, b"reply");
        // The names are gone with the `Fifos`; the directory is ours alone.
        std::fs::remove_dir(&dir).unwrap();
    }
}
