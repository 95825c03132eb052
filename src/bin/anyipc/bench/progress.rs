//! The progress bar of `anyipc bench`, and the connection wrapper that feeds it.
//!
//! The bar stays hidden for the first second (short runs print nothing extra), then draws on
//! stderr, which indicatif does only when stderr is a terminal. The measured loop only stores
//! its message count into an atomic per message (a plain store: the loop is the one writer,
//! so no read-modify-write and its locked instruction, which the raw baseline does not pay);
//! a separate task copies it to the bar ten times a second, so drawing never sits on the
//! timed path.

use bytes::Bytes;
use futures::{Sink, Stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a run goes before its bar appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);
/// How often the bar is redrawn.
const REDRAW: Duration = Duration::from_millis(100);

/// A progress bar that appears after a second; cleared when dropped.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
    ticker: JoinHandle<()>,
}

impl Progress {
    /// A bar over `total` steps counted in `done`, labelled `label`. With no total it is a
    /// spinner with the elapsed time.
    pub(crate) fn start(label: String, total: Option<u64>, done: Arc<AtomicU64>) -> Progress {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        let style = match total {
            Some(_) => ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} ({elapsed}, about {eta} left)",
            ),
            None => ProgressStyle::with_template("{spinner} {msg} ({elapsed})"),
        };
        if let Ok(style) = style {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label);
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            tokio::time::sleep(SHOW_AFTER).await;
            shown.set_draw_target(ProgressDrawTarget::stderr());
            let mut every = tokio::time::interval(REDRAW);
            loop {
                every.tick().await;
                match total {
                    Some(_) => shown.set_position(done.load(Ordering::Relaxed)),
                    None => shown.tick(),
                }
            }
        });
        Progress { bar, ticker }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// A connection that counts the messages it sends and receives.
#[derive(Debug)]
pub(crate) struct Counted<T> {
    inner: T,
    sent: Counter,
    received: Counter,
}

/// A count with one writer, published for readers on other threads.
#[derive(Debug, Default)]
struct Counter {
    count: u64,
    published: Arc<AtomicU64>,
}

impl Counter {
    /// Counts one more and publishes the count with a plain store.
    #[inline]
    fn bump(&mut self) {
        self.count += 1;
        self.published.store(self.count, Ordering::Relaxed);
    }
}

impl<T> Counted<T> {
    /// Wraps `inner`; the counters start at zero.
    pub(crate) fn new(inner: T) -> Counted<T> {
        Counted {
            inner,
            sent: Counter::default(),
            received: Counter::default(),
        }
    }

    /// Messages handed to the sink so far.
    pub(crate) fn sent(&self) -> Arc<AtomicU64> {
        self.sent.published.clone()
    }

    /// Messages taken from the stream so far.
    pub(crate) fn received(&self) -> Arc<AtomicU64> {
        self.received.published.clone()
    }

    /// The wrapped connection.
    pub(crate) fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: Stream<Item = io::Result<Bytes>> + Unpin> Stream for Counted<T> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(_))) = &item {
            self.received.bump();
        }
        item
    }
}

impl<T: Sink<Bytes, Error = io::Error> + Unpin> Sink<Bytes> for Counted<T> {
    type Error = io::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Bytes) -> io::Result<()> {
        Pin::new(&mut self.inner).start_send(item)?;
        self.sent.bump();
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
