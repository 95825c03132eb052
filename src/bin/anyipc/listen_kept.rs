//! `anyipc listen` on an endpoint that gives one connection (`file://`, `mq://`,
//! `fifo://`): that one source is printed on the main task ([`print_kept`]), so that every
//! message it takes is printed before the next is taken or `listen` ends.
//!
//! A named consumer of a log is read through [`FileConsumer`], whose cursor `listen` commits
//! itself after the records it printed (every 1,000 records or second, and at the end), so
//! that what one read brought is printed together. Through a connection the cursor would be
//! auto-committed at any record taken, printed or not.

use crate::listen::{
    flush_unless_stopped, receive_failed, report_skipped, stdout_failed, Flushed, CLOSE_PATIENCE,
    PRINT_GATHER,
};
use crate::output::{MessageWriter, StdoutWatch};
use crate::{CliError, StopSignals};
use anyipc::file::{FileConsumer, FileOptions};
use anyipc::{Connection, Endpoint, Scheme};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use std::io;
use std::time::Duration;
use tokio::time::Instant;

/// Records printed since the last commit that make the next one due.
const COMMIT_RECORDS: u64 = 1000;
/// Time since the last commit that makes the next one due, when records were printed.
const COMMIT_PERIOD: Duration = Duration::from_secs(1);

/// The one source of messages `listen` prints.
pub(crate) enum Kept {
    /// A queue, a plain file, or a log read without a cursor.
    Connection(Connection),
    /// A named consumer of a log.
    LogConsumer(LogConsumer),
}

/// A named consumer of a log, with its cursor committed after what was printed.
pub(crate) struct LogConsumer {
    consumer: FileConsumer,
    endpoint: Endpoint,
    peer: String,
    /// Records printed and not committed yet.
    uncommitted: u64,
    last_commit: Instant,
}

impl LogConsumer {
    /// Opens consumer `name` of the log at `endpoint`, as `bind` would.
    ///
    /// # Errors
    /// As `bind` of the endpoint: a damaged cursor, a bad name, OS errors.
    pub(crate) async fn open(endpoint: &Endpoint, name: &str) -> io::Result<LogConsumer> {
        let dir = endpoint.path().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a file:// URL without a path")
        })?;
        let opts = FileOptions::from_endpoint(endpoint);
        let consumer = FileConsumer::open(dir, Some(name), opts).await?;
        Ok(LogConsumer {
            consumer,
            peer: format!("file {}", dir.display()),
            endpoint: endpoint.clone(),
            uncommitted: 0,
            last_commit: Instant::now(),
        })
    }

    /// The next record's payload, or, while none comes, that what was printed is a second
    /// old and due to be committed. Only when every record taken is printed: a commit
    /// covers every record taken.
    async fn wait_next(&mut self) -> Waited {
        if self.uncommitted == 0 {
            return Waited::Message(self.next().await);
        }
        tokio::select! {
            biased;
            record = self.consumer.recv() => Waited::Message(payload(record)),
            _ = tokio::time::sleep_until(self.last_commit + COMMIT_PERIOD) => Waited::CommitDue,
        }
    }

    /// The next record's payload.
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        payload(self.consumer.recv().await)
    }

    /// Counts `n` more records printed; commits when that is due.
    async fn printed(&mut self, n: u64) -> io::Result<()> {
        self.uncommitted += n;
        let due = self.uncommitted >= COMMIT_RECORDS || self.last_commit.elapsed() >= COMMIT_PERIOD;
        if due && self.uncommitted > 0 {
            self.commit().await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> io::Result<()> {
        self.consumer.commit().await?;
        self.uncommitted = 0;
        self.last_commit = Instant::now();
        Ok(())
    }
}

/// What waiting for the next message of a [`Kept`] brought.
enum Waited {
    /// The next message, an error, or the end.
    Message(Option<io::Result<Bytes>>),
    /// No message yet, and a log consumer's cursor is due to be committed (not under way
    /// while a stop signal may cut the wait short: a commit cut short would race the next).
    CommitDue,
}

/// A received record as the payload a connection would have given.
fn payload(record: io::Result<Option<anyipc::file::FileRecord>>) -> Option<io::Result<Bytes>> {
    record.map(|r| r.map(|r| r.payload)).transpose()
}

impl Kept {
    fn endpoint(&self) -> &Endpoint {
        match self {
            Kept::Connection(conn) => conn.endpoint(),
            Kept::LogConsumer(log) => &log.endpoint,
        }
    }

    fn peer(&self) -> &str {
        match self {
            Kept::Connection(conn) => conn.peer_addr(),
            Kept::LogConsumer(log) => &log.peer,
        }
    }

    /// Whether messages already there may be taken before those taken are printed: from a
    /// file (a log's named consumer comes as [`Kept::LogConsumer`], whose cursor `listen`
    /// commits itself) or a FIFO (whose bytes are out of the pipe once read, taken or not),
    /// not from a queue, whose message is gone once taken (a `listen` killed then would lose
    /// them).
    fn gathers(&self) -> bool {
        matches!(self.endpoint().scheme(), Scheme::File | Scheme::Fifo)
    }

    /// The next message, when every message taken so far is printed (or a log consumer's
    /// commit is due meanwhile).
    async fn wait_next(&mut self) -> Waited {
        match self {
            Kept::Connection(conn) => Waited::Message(conn.next().await),
            Kept::LogConsumer(log) => log.wait_next().await,
        }
    }

    /// The next message, while messages taken wait to be printed.
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        match self {
            Kept::Connection(conn) => conn.next().await,
            Kept::LogConsumer(log) => log.next().await,
        }
    }

    /// Tells that `n` more messages were printed (a log consumer commits when due).
    ///
    /// # Errors
    /// A log consumer's cursor cannot be committed.
    async fn printed(&mut self, n: u64) -> Result<(), CliError> {
        let committed = match self {
            Kept::Connection(_) => Ok(()),
            Kept::LogConsumer(log) => log.printed(n).await,
        };
        committed.map_err(|err| {
            CliError::Runtime(format!(
                "cannot commit the cursor of {}: {err}",
                self.endpoint()
            ))
        })
    }

    /// Closes the source after everything taken was printed: a log consumer's cursor is
    /// committed after it (at most [`CLOSE_PATIENCE`] is spent).
    ///
    /// # Errors
    /// A log consumer's cursor cannot be committed, or its commit took longer than that: the
    /// records printed since the last commit will be printed again by the next `listen` of
    /// that consumer.
    async fn close(self) -> Result<(), String> {
        match self {
            Kept::Connection(mut conn) => {
                let _ =
                    tokio::time::timeout(CLOSE_PATIENCE, futures::SinkExt::close(&mut conn)).await;
                Ok(())
            }
            Kept::LogConsumer(mut log) if log.uncommitted > 0 => {
                let committed = tokio::time::timeout(CLOSE_PATIENCE, log.commit())
                    .await
                    .unwrap_or_else(|_| {
                        let why = format!("it took longer than {CLOSE_PATIENCE:?}");
                        Err(io::Error::new(io::ErrorKind::TimedOut, why))
                    });
                committed
                    .map_err(|err| format!("cannot commit the cursor of {}: {err}", log.endpoint))
            }
            Kept::LogConsumer(_) => Ok(()),
        }
    }
}

/// Prints `kept`, at most `count` messages, until it ends or a stop signal; then closes it.
/// Ending `listen` loses nothing (but see the module docs of `listen` for a stdout that takes
/// nothing): every message taken is printed before the next is taken or `listen` ends. A queue's message is gone once taken, so a queue's are written out one at
/// a time, each before the next is taken; from a file what one read brought is written
/// together (up to [`PRINT_GATHER`] bytes), a log consumer's cursor committed after it.
///
/// # Errors
/// The receive error that ended the source (the messages before it printed), stdout cannot
/// be written, or a log consumer's cursor cannot be committed.
pub(crate) async fn print_kept(
    mut kept: Kept,
    out: &mut MessageWriter<tokio::io::Stdout>,
    stop: &mut StopSignals,
    watch: &StdoutWatch,
    count: Option<u64>,
) -> Result<(), CliError> {
    let peer = kept.peer().to_owned();
    let gather = kept.gathers();
    let mut printed: u64 = 0;
    let ended = loop {
        if count == Some(printed) {
            break Ok(());
        }
        let waited = tokio::select! {
            biased;
            _ = stop.recv() => break Ok(()),
            err = watch.reader_gone() => break Err(stdout_failed(err)),
            waited = kept.wait_next() => waited,
        };
        let item = match waited {
            Waited::Message(item) => item,
            Waited::CommitDue => match kept.printed(0).await {
                Ok(()) => continue,
                Err(err) => break Err(err),
            },
        };
        let mut end = None;
        let mut next = Some(item);
        let mut queued = 0;
        while let Some(item) = next.take() {
            match item {
                Some(Ok(msg)) => {
                    out.queue_message_from(Some(&peer), &msg);
                    queued += 1;
                }
                Some(Err(err)) if kept.endpoint().drops_bad_message(&err) => {
                    report_skipped(kept.endpoint(), &peer, &err)
                }
                Some(Err(err)) => end = Some(Err(receive_failed(kept.endpoint(), &peer, &err))),
                None => end = Some(Ok(())),
            }
            let room = count.is_none_or(|count| printed + queued < count);
            if gather && end.is_none() && room && out.queued_len() < PRINT_GATHER {
                next = kept.next().now_or_never();
            }
        }
        // A reader of stdout that holds a stopped `listen` up ends it without a commit
        // (`?`): the records being printed are read again by the next consumer.
        let flushed = flush_unless_stopped(out, stop).await?;
        printed += queued;
        if let Err(err) = kept.printed(queued).await {
            break Err(err);
        }
        if flushed == Flushed::Stopped {
            break end.map_or(Ok(()), |end| end.map_err(CliError::Runtime));
        }
        if let Some(end) = end {
            break end.map_err(CliError::Runtime);
        }
    };
    // Everything taken is printed: closing commits a log's cursor after it. The error that
    // ended the loop comes first; else a final commit that failed is the error (exit 1).
    match (ended, kept.close().await) {
        (Err(ended), Err(closed)) => {
            stderr_line!("anyipc: {closed}");
            Err(ended)
        }
        (ended, closed) => ended.and(closed.map_err(CliError::Runtime)),
    }
}
