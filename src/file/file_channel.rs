use super::appender::Appender;
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
        /// `poll_close` has started the final cursor commit.
        committing: bool,
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

impl FileChannel {
    /// A consumer's next record that has been read already, without reading
    /// ([`Tailer::next_ready`]); `None` for the producer side.
    #[inline(always)]
    pub(crate) fn next_ready(&mut self) -> Option<Bytes> {
        match self {
            FileChannel::Producer(_) => None,
            FileChannel::LogConsumer { tailer, .. } => tailer.next_ready(),
            FileChannel::PlainConsumer(tailer) => tailer.next_ready(),
        }
    }
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
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            FileChannel::Producer(appender) => appender.poll_close(cx),
            FileChannel::LogConsumer { tailer, committing } => {
                ready!(tailer.poll_idle(cx))?;
                if !*committing {
                    *committing = true;
                    // After the last record returned: records read ahead are not committed.
                    let returned = tailer.returned();
                    tailer.start_job(move |reader: &mut LogReader| {
                        if let Some(returned) = returned {
                            reader.commit_at(returned)?;
                        }
                        Ok(Batch::default())
                    });
                    ready!(tailer.poll_idle(cx))?;
                }
                Poll::Ready(Ok(()))
            }
            FileChannel::PlainConsumer(_) => Poll::Ready(Ok(())),
        }
    }
}

/// A polled record without its sequence number: what a connection returns.
#[inline]
fn payload(polled: Poll<io::Result<Option<(u64, Bytes)>>>) -> Poll<io::Result<Option<Bytes>>> {
    polled.map_ok(|record| record.map(|(_, payload)| payload))
}
