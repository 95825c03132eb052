//! [`Deadline`]: a connection's `recv_timeout` or `send_timeout`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// What a receive that ran out of `recv_timeout` says.
pub(crate) const RECV_TIMED_OUT: &str = "no message within recv_timeout";
/// What a send that ran out of `send_timeout` says.
pub(crate) const SEND_TIMED_OUT: &str = "the peer took nothing within send_timeout";

/// A timeout option of a connection: armed when an operation first has to wait, re-armed
/// whenever the operation makes progress, disarmed when it completes, and `TimedOut` when
/// it waited the whole timeout without progress. An operation cancelled while it waits
/// (its future dropped) leaves the clock running into the next one: the peer has taken
/// nothing since, so an error then still says what is true.
#[derive(Debug)]
pub(crate) struct Deadline {
    timeout: Option<Duration>,
    /// What its `TimedOut` says.
    what: &'static str,
    sleep: Option<Pin<Box<Sleep>>>,
    /// An operation is waiting and `sleep` is armed for it.
    armed: bool,
    /// The progress count when `sleep` was last armed.
    mark: u64,
}

impl Deadline {
    /// A deadline of `timeout` (none never expires) whose `TimedOut` says `what`.
    pub(crate) fn new(timeout: Option<Duration>, what: &'static str) -> Deadline {
        Deadline {
            timeout,
            what,
            sleep: None,
            armed: false,
            mark: 0,
        }
    }

    /// The operation completed: the next wait starts the clock afresh.
    #[inline]
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }

    /// `step`, the latest poll of an operation, bounded: its result when ready (which
    /// disarms the deadline), or while it is pending the deadline's `TimedOut` once it has
    /// run out. `progress` counts what the operation has moved so far (asked only when a
    /// timeout is set).
    #[inline]
    pub(crate) fn bound<T>(
        &mut self,
        cx: &mut Context<'_>,
        step: Poll<io::Result<T>>,
        progress: impl FnOnce() -> u64,
    ) -> Poll<io::Result<T>> {
        match step {
            Poll::Ready(done) => {
                self.disarm();
                Poll::Ready(done)
            }
            Poll::Pending if self.timeout.is_none() => Poll::Pending,
            Poll::Pending => self.poll_expired(cx, progress()).map(Err),
        }
    }

    /// Polls the deadline of an operation that has to wait, whose progress so far (bytes
    /// written, say; a constant for an operation that has none to show) is `progress`:
    /// the clock starts on the first poll of a wait and again whenever `progress` moved.
    /// `TimedOut` once it has run out; pending without a timeout.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>, progress: u64) -> Poll<io::Error> {
        let Some(timeout) = self.timeout else {
            return Poll::Pending;
        };
        // The clock starts when the operation first has to wait (not when the last one
        // finished: a caller that paused longer than the timeout still gets to wait).
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if !self.armed || progress != self.mark {
            self.armed = true;
            self.mark = progress;
            sleep.as_mut().reset(Instant::now() + timeout);
        }
        ready!(sleep.as_mut().poll(cx));
        self.armed = false;
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{} ({timeout:?})", self.what),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expires_only_after_a_whole_timeout_without_progress() {
        let mut deadline = Deadline::new(Some(Duration::from_millis(100)), "x");
        let poll = |d: &mut Deadline, progress| {
            let waker = futures::task::noop_waker();
            d.poll_expired(&mut Context::from_waker(&waker), progress)
                .is_ready()
        };
        assert!(!poll(&mut deadline, 0));
        tokio::time::advance(Duration::from_millis(60)).await;
        assert!(!poll(&mut deadline, 1), "progress re-arms it");
        tokio::time::advance(Duration::from_millis(60)).await;
        assert!(!poll(&mut deadline, 1));
        tokio::time::advance(Duration::from_millis(60)).await;
        assert!(poll(&mut deadline, 1), "100 ms without progress");
        assert!(!poll(&mut deadline, 1), "a new wait starts afresh");
        deadline.disarm();
        let mut never = Deadline::new(None, "x");
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(!poll(&mut never, 0));
    }
}
