//! `file://`: a durable, checksummed log that consumers tail, and plain files.
//!
//! # The durable log: `file:///dir`
//!
//! - **Producer: `connect("file:///dir")`.** Sends append records; the connection's stream
//!   ends at once (a producer receives nothing). Records are encoded (CRC included) on the
//!   sending task into a 256 KiB block that a writer thread writes whole: `send` (or a
//!   flush) hands it over at once, `feed` lets records gather until the block is full or
//!   the connection is flushed or closed, as the byte-stream transports batch writes. A
//!   small block (up to 64 KiB) flushed while the writer is idle is written by the sending
//!   task itself, saving the thread's wake-up on the way to the consumers; after a write
//!   slower than 1 ms the thread takes every block for 100 times as long as that write
//!   took (at most 10 s). [`FileProducer::append_many`] and
//!   [`FileConsumer::recv_batch`] are the batch calls. One producer at a time: the writer holds an
//!   `flock` on `dir/writer.lock` (released by the OS when the process dies, even by
//!   SIGKILL); a second producer, in any process, gets `AddrInUse`. Closing the connection
//!   writes and syncs what is pending and releases the lock. On Unix the producer also leaves
//!   a symlink to the log in the user's private runtime directory (`…/anyipc/logs/`), so that
//!   `anyipc ls` lists the log and `anyipc rm file:///dir` can remove it. The directory is
//!   the log's own: an existing one is used whatever else it holds, so `file:///tmp` (a
//!   path cut short, say) puts segments and `writer.lock` in `/tmp`; removing the log
//!   (`anyipc rm`, [`remove`]) deletes only the log's files.
//! - **Consumer: `bind("file:///dir")`, then `accept()`** gives the one consumer connection
//!   (later accepts wait forever). Its stream tails the log: at the end it waits for new
//!   records (inotify on Linux, whose events are read after the record they announce; a
//!   20 ms polling timer elsewhere), or ends with
//!   `follow=false`. A consumer may start before its producer: a missing log directory is
//!   created, except with `follow=false`, where it is `NotFound`. On Linux, fresh records are read from the page cache on the task
//!   (`preadv2(RWF_NOWAIT)`) into a buffer that is reused once the messages returned from it
//!   are dropped; the blocking pool serves the rest: data that must come from the disk,
//!   segment changes and new files, cursor commits, records that fail their checks, and
//!   every read on other systems. With `consumer=NAME` it resumes at `NAME`'s cursor
//!   (`dir/NAME.cursor`; one without a cursor that starts at `from=end` stores that
//!   position when opened, so what is appended while it is away is not skipped);
//!   a connection commits it by itself every 1,000 records or second, at most a second after
//!   it has caught up with the log (a second after its last commit, by tokio's clock; so an
//!   idle consumer's cursor is current), and when closed (flushing commits nothing),
//!   so delivery is at-least-once (a consumer killed or dropped without closing may see up
//!   to that many records again). [`FileConsumer`] is the typed API with an explicit
//!   [`commit`](FileConsumer::commit). Consumers never take the lock, and any number may
//!   read at once. A cursor holds the sequence number of the next record and the CRC of
//!   the record before it, which a resumed consumer checks: if a crash lost records it had
//!   read (written but not yet synced, under `fsync=never|batch`, or read before the
//!   producer's `fdatasync` returned), the log ends before its cursor or new records took
//!   the lost sequence numbers, and it gets `InvalidData` with a [`CursorMismatch`] inside
//!   (naming the consumer, its cursor file and position) instead of waiting for, or
//!   skipping, the new records. The same happens when the log's segments were removed or
//!   replaced, also under a consumer waiting at the end (the log directory deleted or
//!   replaced: `InvalidData`, with a [`CursorMismatch`] for a resumed one).
//!   [`remove_cursor`] resets the consumer: opened again, it starts where `from` says.
//! - **Format.** Segment files `dir/<first seq, 20 digits>.log`, each with a header holding
//!   a random salt; records carry their length and a CRC32C over salt, sequence number,
//!   length and payload ([`SegmentHeader`], [`encode_record`]). A segment is closed at
//!   `segment_size`; with `retention=SIZE` the oldest closed segments are deleted while all
//!   together exceed it. A consumer whose next record was deleted that way (a slow one, or
//!   a cursor left behind) skips to the oldest record kept, with a `tracing` warning naming
//!   the records skipped, not an error (so do oldest segments removed by hand).
//! - **Durability** (`fsync=`, see [`FsyncPolicy`]): `always` acknowledges a send after its
//!   `fdatasync` and fsyncs the directory after each new segment; `batch` (the default)
//!   acknowledges when the writer thread has the record and syncs in groups; `never` leaves
//!   it to the OS. A failed write or sync (disk full, I/O error) stops the producer:
//!   the failing send and every later one return that error (fail-stop), nothing is retried,
//!   and reopening recovers. So does a segment found deleted under the producer at a sync
//!   (the log directory removed: `NotFound`), under `always` before the send it would have
//!   acknowledged returns.
//! - **Recovery.** Opening a producer scans the last segment (as [`scan_segment`] does, but
//!   reading the file 1 MiB at a time, so that its size costs no memory): a torn tail
//!   (an interrupted write) is cut off. An invalid record *followed by a valid one* is
//!   corruption, not a torn tail: the producer refuses to open and a consumer reaching it
//!   gets `InvalidData` (repeatedly; it never skips and never returns a bad payload). The
//!   valid record is looked for at every offset where the next one could start, so a
//!   damaged length field does not hide it (a search bounded to tens of milliseconds of
//!   CRC work; past that, as in a large torn record of random bytes, the record the length
//!   field points to decides). A consumer at a record that runs past the end of the file
//!   takes it for a write under way and waits; it looks for valid records after it when
//!   that is its last read (`follow=false`) or it resumes past that point, and when a
//!   partial record has stayed at one place for 250 ms, appends or not (again after the
//!   file has grown, each wait twice the last, up to 8 s; none while the file stays as it
//!   was checked, so an idle consumer sets no timer after the first check), so a length
//!   field damaged to point past the end gives `InvalidData` too, not a log that seems to
//!   end there.
//! - **A machine crash under `fsync=never`** (power loss, kernel panic) can also cut a
//!   *closed* segment short, or leave it without its header: nothing was synced, and the
//!   OS may not have written its tail when the next segment was created. Under
//!   `always|batch` a segment is synced before the next one is created, so only the last
//!   one can be cut (and recovery cuts it off). Each segment's header says how the one
//!   before it was closed ([`SegmentHeader::previous_unsynced`]), so a consumer that finds
//!   a segment closed without an fsync cut short (records missing before the next segment's
//!   first, a torn record at its end, a header short or zeros) skips to the next segment
//!   with a `tracing` warning naming the records lost, as for retention, instead of
//!   stopping there; a resumed consumer whose cursor lies among them goes on from there too.
//!   Only what a crash leaves is skipped: invalid bytes followed by valid records, a length
//!   over `max_frame`, or a header that is there but wrong stay `InvalidData`, and so does
//!   a segment cut short after a sync. One crash's leftovers look like damage and are
//!   treated as such: storage that wrote a later page of unsynced records but not an
//!   earlier one leaves zeros followed by valid records. Those records had not been
//!   synced (a sync covers every byte before it), so none was acknowledged under
//!   `always`, yet they cannot be told from records behind a zeroed bad sector: the
//!   producer refuses to open until the segment is moved aside or cut at the reported
//!   byte.
//!
//! # Plain files: `file:///path?framing=lines|raw|length`
//!
//! Giving `framing=` makes the path an ordinary file (not a FIFO or socket, which would
//! leave `bind` or `connect` waiting for the other end: those are `InvalidInput`; a device
//! such as `/dev/null` is read and written as a file). It is never opened through a
//! symbolic link: a path that is one is `InvalidInput` (give the path it points to). `connect` appends (creating the file
//! with `mode`, `O_APPEND`, several writers may append); `bind` + `accept` reads it from the
//! start — with `follow=true` (the default) it then waits for more and follows the path
//! like `tail -F`: a missing file is waited for (and so is a plain file while the path
//! names a directory, FIFO, socket or symlink after a rotation), a truncated one (logrotate's
//! `copytruncate`) is read again from the top (seen as shorter than the reader has read:
//! written past that again before the reader looks, as `tail -f` misses it too, the reader
//! goes on from where it was; a file whose size says less than it holds, as Linux's `/proc`
//! files say 0, is not checked for truncation), and when the path names another file
//! (logrotate's `create`: renamed, then created again; or removed and created again) the
//! old file is read to its end (a last line without its newline is then a message) and the
//! new one from its start; with
//! `follow=false` it reads to the end, where a last line without its newline is still a
//! message, and the stream ends. A line over `max_frame` is `InvalidData`, reported once:
//! it is dropped and the lines after it follow. With `framing=length` no frame can be found
//! after a length over `max_frame` (or, with `follow=false`, a file that ends inside a
//! frame): it is reported once and the stream ends, with `follow=true` too.
//!
//! A failed append (disk full, I/O error) stops the appender as for the log (fail-stop),
//! but a plain file has no records to check: a write the disk took only part of leaves
//! that part of a message at the file's end, which readers then see as a message (or as
//! the start of the next writer's first line). It is not cut off, as another writer may
//! have appended after it.
//!
//! # Errors
//! | condition | kind |
//! |---|---|
//! | another producer holds the log | `AddrInUse` |
//! | corrupt record, segment or cursor; record over `max_frame` | `InvalidData` |
//! | a resumed consumer's last record lost or replaced (above) | `InvalidData`, a [`CursorMismatch`] inside |
//! | message over `max_frame` to send | `InvalidInput` |
//! | sending on a consumer connection | `Unsupported` |
//! | a log's path that names a file, a plain file's (`framing=`) that names a directory, a FIFO, a socket or a symbolic link | `InvalidInput` |
//! | disk full, I/O error (then every later send) | the OS error's kind |
//! | the log removed under its producer, found at a sync (then every later send) | `NotFound` |
//! | sending after close | `BrokenPipe` |
//!
//! An OS error from one of the log's files (a segment, a cursor, `writer.lock`, the
//! directory: opening, reading, writing, syncing, renaming) names it and what was done
//! (`cannot open /dir/00000000000000000000.log: Permission denied (os error 13)`), keeps its
//! kind, and keeps the OS's error inside, where [`crate::raw_os_error`] finds the
//! code (also in the error every send gets after a failed write or sync).
//!
//! # Platform-specific behavior
//! Linux waits with inotify (polling every 20 ms once the watched directory is gone or
//! moved away); other systems poll every 20 ms. On Windows the writer lock is an
//! exclusive-share open of `writer.lock`, file modes do not apply, and directories are not
//! fsynced. A followed plain file replaced at its path is told apart by its volume serial
//! number and file index on Windows (its device and inode on Unix); on FAT volumes, whose
//! file index is the directory entry's place, a renamed file also counts as another one.
//!
//! # Listening
//!
//! The [`Listener`](crate::Listener) that [`bind`](crate::bind) returns for `file://` holds
//! one consumer connection, which the first [`accept`](crate::Listener::accept) returns.
//! Later accepts wait forever (a file has no more clients to accept): bind again for another
//! consumer.
//!
//! ```
//! use futures::{FutureExt, SinkExt};
//! # tokio_test::block_on(async {
//! # let dir = std::env::temp_dir().join(format!("anyipc-doc-listener-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let url = format!("file://{}", dir.display());
//! let mut producer = anyipc::connect(&url).await?;
//! producer.send("through a connection").await?;
//! producer.close().await?;
//! let mut listener = anyipc::bind(format!("{url}?follow=false")).await?;
//! let mut consumer = listener.accept().await?;
//! assert_eq!(consumer.recv().await?.as_deref(), Some(&b"through a connection"[..]));
//! assert_eq!(consumer.recv().await?, None); // the end, without `follow`
//! assert!(listener.accept().now_or_never().is_none()); // no second consumer
//! # anyipc::file::remove(&dir)?;
//! # Ok::<(), std::io::Error>(()) }).unwrap();
//! ```

mod appender;
mod cursor;
mod cursor_mismatch;
mod file_channel;
mod file_consumer;
mod file_listener;
mod file_options;
mod file_producer;
mod log_reader;
mod log_writer;
mod partial_end;
mod plain_reader;
mod plain_writer;
mod record;
mod record_batch;
mod record_encoder;
mod remove_log;
mod scan;
mod scan_window;
mod segment;
mod segment_reader;
mod tailer;
#[cfg(test)]
mod tests;
mod unsynced_tail;
mod writer_thread;

pub use cursor::remove_cursor;
pub use cursor_mismatch::CursorMismatch;
pub(crate) use file_channel::FileChannel;
pub use file_consumer::{FileConsumer, FileRecord};
pub(crate) use file_listener::FileListener;
pub use file_options::{
    FileOptions, FsyncPolicy, StartFrom, DEFAULT_POLL_INTERVAL, DEFAULT_SEGMENT_SIZE,
    WOKEN_ON_GROWTH,
};
pub use file_producer::FileProducer;
pub use record::{
    decode_record, encode_record, Decoded, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
pub use record_batch::{RecordBatch, RecordBatchIter};
pub use remove_log::{remove, remove_forced};
pub use scan::{check_scan_invariants, scan_segment, SegmentScan, Tail};

use crate::codec::FrameCodec;
use crate::io::blocking;
use crate::sys::DirWatcher;
use crate::transport::{AnyChannel, Connection};
use crate::Endpoint;
use appender::Appender;
use log_reader::{CursorSpec, LogReader};
use plain_reader::PlainReader;
use plain_writer::PlainWriter;
use record_encoder::RecordEncoder;
use std::io;
use std::path::{Path, PathBuf};
use tailer::Tailer;

fn endpoint_path(endpoint: &Endpoint) -> io::Result<PathBuf> {
    endpoint.path().map(Path::to_owned).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} has no path"),
        )
    })
}

/// `InvalidInput` for a plain file's path (`framing=`) that names a directory.
fn a_directory(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "file://{} is a directory, not a plain file (framing=); without framing= a \
             directory is a log",
            path.display()
        ),
    )
}

/// The watcher for changes under `dir`, as the options ask.
fn watcher_for(dir: &Path, opts: &FileOptions) -> DirWatcher {
    match opts.poll_interval {
        Some(period) => DirWatcher::polling(period),
        None => DirWatcher::new(dir, DEFAULT_POLL_INTERVAL),
    }
}

/// `connect`: a producer of the log, or an appender to the plain file.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    let path = endpoint_path(endpoint)?;
    let opts = FileOptions::from_endpoint(endpoint);
    let appender = if endpoint.has_framing() {
        let codec = FrameCodec::new(endpoint.framing(), opts.max_frame);
        let (p, mode) = (path.clone(), opts.mode);
        let writer = blocking::run(move || PlainWriter::open(&p, mode)).await?;
        let encoder = RecordEncoder::Plain(codec);
        Appender::start(writer, encoder, opts.fsync, opts.max_frame, 0)?
    } else {
        FileProducer::open(&path, opts).await?.into_appender()
    };
    Ok(Connection::from_channel(
        AnyChannel::File(FileChannel::Producer(appender)),
        endpoint,
        format!("file {}", path.display()),
    ))
}

/// `bind`: the consumer of the log or reader of the plain file, handed out by the first
/// `accept`.
pub(crate) async fn bind(endpoint: &Endpoint) -> io::Result<FileListener> {
    let path = endpoint_path(endpoint)?;
    let opts = FileOptions::from_endpoint(endpoint);
    let channel = if endpoint.has_framing() {
        let codec = FrameCodec::new(endpoint.framing(), opts.max_frame);
        let (p, follow) = (path.clone(), opts.follow);
        let reader = blocking::run(move || PlainReader::open(&p, codec, follow)).await?;
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        FileChannel::PlainConsumer(Tailer::new(reader, watcher_for(&dir, &opts), opts.follow))
    } else {
        let cursor = endpoint
            .option("consumer")
            .map(|name| CursorSpec { name, auto: true });
        let (p, o) = (path.clone(), opts.clone());
        let reader = blocking::run(move || LogReader::open(&p, &o, cursor)).await?;
        FileChannel::LogConsumer {
            tailer: Tailer::new(reader, watcher_for(&path, &opts), opts.follow),
            committing: false,
        }
    };
    Ok(FileListener::new(
        channel,
        format!("file {}", path.display()),
    ))
}
