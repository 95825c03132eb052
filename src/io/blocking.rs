//! The one bridge from blocking calls to futures.
//!
//! Three tools, for three shapes of blocking work:
//!
//! - [`spawn`]: a one-off blocking call (open, read a chunk, write a cursor) on tokio's
//!   blocking pool, awaited as a [`BlockingTask`].
//! - [`spawn_thread`]: a long-lived dedicated thread that owns a blocking resource (a log
//!   writer that writes and fdatasyncs in a loop).
//! - [`Progress`] and [`Doorbell`]: how async tasks and such a thread talk without either
//!   side blocking the other's kind of thread. The thread advances a `Progress` counter, and
//!   tasks await a value of it; tasks ring a `Doorbell`, and the thread parks on it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A blocking call running on tokio's blocking pool; resolves to its result.
///
/// Dropping it does not stop the call: it runs to completion and its result is dropped.
#[derive(Debug)]
pub(crate) struct BlockingTask<T> {
    handle: tokio::task::JoinHandle<T>,
}

/// Runs `f` on tokio's blocking pool.
///
/// Must be called inside a tokio runtime.
pub(crate) fn spawn<T, F>(f: F) -> BlockingTask<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    BlockingTask {
        handle: tokio::task::spawn_blocking(f),
    }
}

/// Runs `f` on tokio's blocking pool and waits for it.
///
/// # Errors
/// `Other` if `f` panicked or the runtime is shutting down; otherwise `f`'s own result.
pub(crate) async fn run<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    spawn(f).await?
}

impl<T> Future for BlockingTask<T> {
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        Pin::new(&mut self.get_mut().handle)
            .poll(cx)
            .map_err(|e| io::Error::other(format!("blocking task failed: {e}")))
    }
}

/// Starts a dedicated OS thread named `name` running `f`.
///
/// # Errors
/// As `std::thread::Builder::spawn`.
pub(crate) fn spawn_thread<F>(name: &str, f: F) -> io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new().name(name.to_owned()).spawn(f)
}

/// A counter that a blocking thread advances and async tasks await; it can also be closed,
/// which releases every waiter.
///
/// Waiters are woken only when the value passes the target they wait for, so a task
/// waiting for value 10 000 is not woken 10 000 times.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    value: AtomicU64,
    closed: AtomicBool,
    waiters: Mutex<Vec<(u64, Waker)>>,
}

impl Progress {
    /// The current value.
    pub(crate) fn get(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }

    /// Raises the value to `to` (never lowers it) and wakes the tasks it satisfies.
    pub(crate) fn advance(&self, to: u64) {
        self.value.fetch_max(to, Ordering::AcqRel);
        let mut ready = Vec::new();
        {
            let mut waiters = self.lock();
            let mut i = 0;
            while i < waiters.len() {
                if waiters[i].0 <= to {
                    ready.push(waiters.swap_remove(i).1);
                } else {
                    i += 1;
                }
            }
        }
        ready.into_iter().for_each(Waker::wake);
    }

    /// Closes the counter: every waiter, now and later, is released with `false`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let waiters = std::mem::take(&mut *self.lock());
        waiters.into_iter().for_each(|(_, w)| w.wake());
    }

    /// `Ready(true)` once the value is at least `target`, `Ready(false)` if the counter was
    /// closed before that.
    pub(crate) fn poll_reached(&self, cx: &mut Context<'_>, target: u64) -> Poll<bool> {
        if self.get() >= target {
            return Poll::Ready(true);
        }
        if self.closed.load(Ordering::Acquire) {
            return Poll::Ready(false);
        }
        {
            let mut waiters = self.lock();
            waiters.retain(|(_, w)| !w.will_wake(cx.waker()));
            waiters.push((target, cx.waker().clone()));
        }
        // Checked again after registering: an `advance` or `close` in between is not lost.
        if self.get() >= target {
            Poll::Ready(true)
        } else if self.closed.load(Ordering::Acquire) {
            Poll::Ready(false)
        } else {
            Poll::Pending
        }
    }

    /// Waits (async) until the value is at least `target`; `false` if closed first.
    pub(crate) async fn reached(&self, target: u64) -> bool {
        std::future::poll_fn(|cx| self.poll_reached(cx, target)).await
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(u64, Waker)>> {
        // Each critical section is a push or a scan: a panic cannot leave the list torn.
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A wake-up for a dedicated thread: async tasks ring it (never blocking), the thread waits on
/// it. Rings are not counted: a ring before the wait makes the wait return at once.
#[derive(Debug, Default)]
pub(crate) struct Doorbell {
    rung: Mutex<bool>,
    cond: Condvar,
}

impl Doorbell {
    /// Wakes the waiting thread, or the next wait if none waits now.
    pub(crate) fn ring(&self) {
        *self.rung.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cond.notify_one();
    }

    /// Blocks the calling (dedicated, non-async) thread until rung or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) {
        let mut rung = self.rung.lock().unwrap_or_else(|p| p.into_inner());
        if !*rung {
            rung = self
                .cond
                .wait_timeout(rung, timeout)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *rung = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn progress_wakes_a_waiter_advanced_from_a_thread() {
        let progress = Arc::new(Progress::default());
        let p = progress.clone();
        let thread = spawn_thread("progress-test", move || {
            for i in 1..=100 {
                p.advance(i);
            }
        })
        .unwrap();
        assert!(progress.reached(100).await);
        thread.join().unwrap();
    }

    #[tokio::test]
    async fn closing_releases_waiters_with_false() {
        let progress = Arc::new(Progress::default());
        let p = progress.clone();
        let waiter = tokio::spawn(async move { p.reached(5).await });
        tokio::task::yield_now().await;
        progress.close();
        assert!(!waiter.await.unwrap());
    }

    #[tokio::test]
    async fn run_returns_the_result_and_reports_a_panic() {
        assert_eq!(run(|| Ok(7)).await.unwrap(), 7);
        let err = run::<(), _>(|| panic!("boom")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
    }

    #[test]
    fn a_ring_before_the_wait_is_kept() {
        let bell = Arc::new(Doorbell::default());
        bell.ring();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let b = bell.clone();
        // A lost ring would park the thread for an hour; the watchdog below fails first.
        spawn_thread("doorbell-test", move || {
            b.wait(Duration::from_secs(3600));
            let _ = done_tx.send(());
        })
        .unwrap();
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the ring before the wait was lost");
    }
}
