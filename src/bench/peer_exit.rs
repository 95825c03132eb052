//! [`PeerExit`]: tells when a peer process has exited, so that a run waiting on a peer that
//! died (a one-way endpoint's way back never ends by itself) fails instead of waiting for
//! ever.

use std::future::Future;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

/// Watches a peer process's stdout after its ready line: the peer prints nothing more, so
/// the end of its stdout is the end of the process (the kernel closes it as the process
/// exits, however it dies).
#[derive(Debug)]
pub(super) struct PeerExit(watch::Receiver<bool>);

impl PeerExit {
    /// Starts a task that reads `stdout` to its end (discarding anything printed).
    pub(super) fn watch(mut stdout: impl AsyncRead + Send + Unpin + 'static) -> PeerExit {
        let (exited, watching) = watch::channel(false);
        tokio::spawn(async move {
            let mut discard = [0u8; 256];
            while matches!(stdout.read(&mut discard).await, Ok(n) if n > 0) {}
            let _ = exited.send(true);
        });
        PeerExit(watching)
    }

    /// Resolves once the process has exited.
    pub(super) fn exited(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut watching = self.0.clone();
        async move {
            // An error means the watching task was dropped with its runtime: nobody polls
            // this any more.
            let _ = watching.wait_for(|exited| *exited).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn resolves_at_the_end_of_the_stream_and_not_before() {
        let (ours, theirs) = tokio::io::duplex(64);
        let exit = PeerExit::watch(ours);
        let exited = exit.exited();
        tokio::pin!(exited);
        let mut theirs = theirs;
        tokio::io::AsyncWriteExt::write_all(&mut theirs, b"more output\n")
            .await
            .unwrap();
        let early = tokio::time::timeout(Duration::from_millis(100), &mut exited).await;
        assert!(early.is_err(), "resolved while the stream was open");
        drop(theirs);
        tokio::time::timeout(Duration::from_secs(10), exited)
            .await
            .expect("resolved at the end of the stream");
        // A later call resolves at once.
        tokio::time::timeout(Duration::from_secs(10), exit.exited())
            .await
            .unwrap();
    }
}
