use super::appender::Appender;
use super::cursor::Position;
use super::log_reader::LogReader;
use super::plain_reader::PlainReader;
use super::tailer::{Batch, Tailer};
use crate::transport::{RecvMessage, SendMessage};
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A `file://` connection: the producer side (sends append, the stream ends at once) or a
/// consumer side (the stream tails, sends fail).
#[derive(Debug)]
pub(crate) enum FileChannel {
    /// `connect`: appends to the log or plain file.
    Producer(Appender),
    /// `bind` + `accept` on a log directory.
    LogConsumer {
        tailer: Tailer<LogReader>,
        /// The position of a cursor commit under way, started by `poll_flush` or `poll_close`.
        committing: Option<Position>,
        /// Where the last commit of `poll_flush` or `poll_close` put the cursor.
        committed: Option<Position>,
    },
    /// `bind` + `accept` on a plain file.
    PlainConsumer(Tailer<PlainReader>),
}

fn read_only() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "a file:// consumer only receives; connect to the same URL to append",
    )
}

impl RecvMessage for FileChannel {
    #[inline]
    fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        match self.get_mut() {
            FileChannel::Producer(_) => Poll::Ready(Ok(None)),
            FileChannel::LogConsumer { tailer, .. } => payload(tailer.poll_next(cx)),
            FileChannel::PlainConsumer(tailer) => payload(tailer.poll_next(cx)),
        }
    }
}

impl SendMessage for FileChannel {
    #[inline]
    fn poll_send(self: Pin<&mut Self>, cx: &mut Context<'_>, msg: &Bytes) -> Poll<io::Result<()>> {
        match self.get_mut() {
            FileChannel::Producer(appender) => appender.poll_append(cx, msg).map_ok(|_| ()),
            _ => Poll::Ready(Err(read_only())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            FileChannel::Producer(appender) => appender.poll_flush(cx),
            FileChannel::LogConsumer {
                tailer,
                committing,
                committed,
            } => poll_commit(tailer, committing, committed, cx),
            FileChannel::PlainConsumer(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            FileChannel::Producer(appender) => appender.poll_close(cx),
            FileChannel::LogConsumer {
                tailer,
                committing,
                committed,
            } => poll_commit(tailer, committing, committed, cx),
            FileChannel::PlainConsumer(_) => Poll::Ready(Ok(())),
        }
    }
}

/// Commits a log consumer's cursor (with `consumer=NAME`) after the last record returned —
/// records read ahead are not committed — unless `committed` already says so: waits for a
/// read in flight, then writes the cursor on the blocking pool.
fn poll_commit(
    tailer: &mut Tailer<LogReader>,
    committing: &mut Option<Position>,
    committed: &mut Option<Position>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    if committing.is_none() {
        let Some(returned) = tailer.returned() else {
            return Poll::Ready(Ok(()));
        };
        if Some(returned) == *committed {
            return Poll::Ready(Ok(()));
        }
        ready!(tailer.poll_idle(cx))?;
        *committing = Some(returned);
        tailer.start_job(move |reader: &mut LogReader| {
            reader.commit_at(returned)?;
            Ok(Batch::default())
        });
    }
    let done = ready!(tailer.poll_idle(cx));
    let position = committing.take();
    if done.is_ok() {
        *committed = position;
    }
    Poll::Ready(done)
}

/// A polled record without its sequence number: what a connection returns.
#[inline]
fn payload(polled: Poll<io::Result<Option<(u64, Bytes)>>>) -> Poll<io::Result<Option<Bytes>>> {
    polled.map_ok(|record| record.map(|(_, payload)| payload))
}
