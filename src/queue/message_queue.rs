use super::attachment::Attachment;
use super::geometry::{word, Geometry, PRIORITIES};
use super::priority_index::{self, Refused};
use super::region::Region;
use super::staging::Staging;
use super::waiting::{Backoff, Waiting};
use super::{QueueAttributes, QueueError, QueueOptions};
use crate::codec::FrameError;
use crate::sys::queue as os;
use bytes::Bytes;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A named, bounded priority queue in shared memory, shared by any number of senders and
/// receivers in any number of processes. It lives until [`remove`](MessageQueue::remove)d.
///
/// Cloning gives another handle to the same queue (cheap: the mapping is shared).
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// # tokio_test::block_on(async {
/// use anyipc::queue::{MessageQueue, QueueOptions};
/// # let name = format!("doc-mq-{}", std::process::id());
/// let queue = MessageQueue::create(&name, &QueueOptions { capacity: 8, ..Default::default() })?;
/// queue.send(b"low", 1).await?;
/// queue.send(b"high", 9).await?;
/// assert_eq!(queue.recv().await?, (bytes::Bytes::from_static(b"high"), 9));
/// assert_eq!(queue.try_recv()?.0, "low");
/// assert_eq!(queue.try_recv().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
/// MessageQueue::remove(&name)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MessageQueue {
    attachment: Arc<Attachment>,
    name: Arc<str>,
}

/// Prefix of segment files in the queue directory (`/dev/shm/anyipc-mq-NAME`).
const FILE_PREFIX: &str = "anyipc-mq-";

/// The endpoint name rules (a `?` or `#` is not a name character, as a URL would read it).
fn check_name(name: &str) -> io::Result<()> {
    crate::endpoint::check_bare_name(name, "queue")
}

fn segment_path(name: &str) -> io::Result<PathBuf> {
    check_name(name)?;
    Ok(os::queue_dir()?.join(format!("{FILE_PREFIX}{name}")))
}

fn not_found(name: &str, err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::NotFound {
        io::Error::new(io::ErrorKind::NotFound, format!("no queue named {name:?}"))
    } else {
        err
    }
}

impl MessageQueue {
    /// Creates a queue, failing if one of that name exists.
    ///
    /// The segment is built under a private staging name and linked into place only when
    /// complete, so no process ever opens a half-built queue; staging files of creators
    /// that died are removed by the next `create` of that name (also when the creating
    /// process has the dead one's pid now).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// use std::io::ErrorKind;
    /// # let name = format!("doc-mq-create-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// assert_eq!(queue.attributes().capacity, 1024);
    /// let taken = MessageQueue::create(&name, &QueueOptions::default()).unwrap_err();
    /// assert_eq!(taken.kind(), ErrorKind::AlreadyExists);
    /// let bad = MessageQueue::create("no/slash", &QueueOptions::default()).unwrap_err();
    /// assert_eq!(bad.kind(), ErrorKind::InvalidInput);
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// The whole segment (about `capacity` × `max_message_len`) is allocated here, in memory
    /// (see the [module docs](crate::queue#memory)), so that a full `/dev/shm` is an error
    /// of `create` rather than a crash of a later `send`.
    ///
    /// # Errors
    /// `AlreadyExists` if the name is taken; `InvalidInput` for a bad name or options out of
    /// range; `StorageFull` if the queue directory (`/dev/shm`) has no room for the segment
    /// (`FileTooLarge` if it is over the process's file size limit), saying how many bytes it
    /// needed; `Unsupported` off Linux; other OS errors of the queue directory.
    pub fn create(name: &str, options: &QueueOptions) -> io::Result<MessageQueue> {
        let path = segment_path(name)?;
        let geometry = Geometry::new(options.capacity, options.max_message_len)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let dir = os::queue_dir()?;
        let pid = std::process::id();
        let (staging, file) = Staging::create(&dir, FILE_PREFIX, name, options.mode)?;
        let built = (|| {
            reserve_segment(&file, geometry.size as u64, &dir, name)?;
            let map = memmap2::MmapOptions::new()
                .len(geometry.size)
                .map_raw(&file)?;
            let region = Region::from_map(map, geometry)?;
            region.guarded(|| {
                region.initialize(pid);
                region.publish();
            })?;
            std::fs::hard_link(staging.path(), &path)
        })();
        drop(staging);
        match built {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("a queue named {name:?} already exists"),
                ))
            }
            Err(e) => return Err(e),
        }
        Ok(MessageQueue {
            attachment: Attachment::attach(file)?,
            name: name.into(),
        })
    }

    /// Opens an existing queue.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-open-{}", std::process::id());
    /// let creator = MessageQueue::create(&name, &QueueOptions::default())?;
    /// creator.try_send(b"hi", 2)?;
    /// // Usually in another process:
    /// let queue = MessageQueue::open(&name)?;
    /// assert_eq!(queue.try_recv()?, ("hi".into(), 2));
    /// MessageQueue::remove(&name)?;
    /// let err = MessageQueue::open(&name).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `NotFound` if there is none; `InvalidData` (a [`QueueError`] inside) for a segment
    /// that is not a usable queue: foreign, another layout version, or half-created;
    /// `PermissionDenied`; `Unsupported` off Linux.
    pub fn open(name: &str) -> io::Result<MessageQueue> {
        let path = segment_path(name)?;
        let file = os::open_existing(&path).map_err(|e| not_found(name, e))?;
        Ok(MessageQueue {
            attachment: Attachment::attach(file)?,
            name: name.into(),
        })
    }

    /// Opens the queue, creating it if there is none. An existing queue must have the
    /// asked-for capacity and max message length: it is never adopted silently.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueError, QueueOptions};
    /// # let name = format!("doc-mq-open-or-create-{}", std::process::id());
    /// let options = QueueOptions { capacity: 8, ..Default::default() };
    /// let first = MessageQueue::open_or_create(&name, &options)?; // creates it
    /// first.try_send(b"kept", 0)?;
    /// let second = MessageQueue::open_or_create(&name, &options)?; // opens the same queue
    /// assert_eq!(second.try_recv()?.0, "kept");
    /// let bigger = QueueOptions { capacity: 16, ..options };
    /// let err = MessageQueue::open_or_create(&name, &bigger).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// let inner = err.get_ref().and_then(|e| e.downcast_ref::<QueueError>());
    /// let differ = QueueError::AttributesDiffer { found: (8, 8192), wanted: (16, 8192) };
    /// assert_eq!(inner, Some(&differ));
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `AlreadyExists` ([`QueueError::AttributesDiffer`] inside) if the queue exists with
    /// other attributes; otherwise as [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, options: &QueueOptions) -> io::Result<MessageQueue> {
        Self::open_or_create_checking(name, options, true, true)
    }

    /// `open_or_create`, checking only the attributes the caller really chose.
    pub(crate) fn open_or_create_checking(
        name: &str,
        options: &QueueOptions,
        check_capacity: bool,
        check_max_len: bool,
    ) -> io::Result<MessageQueue> {
        // Each round is a race lost: the queue removed between `create`'s refusal and the
        // next `open`. A hundred in a row is not a race, and is reported, not looped on.
        let mut last = None;
        for _ in 0..100 {
            match Self::open_checking(name, options, check_capacity, check_max_len) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => return other,
            }
            match Self::create(name, options) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no attempt made")))
    }

    /// [`open`](Self::open), then `AlreadyExists` ([`QueueError::AttributesDiffer`] inside)
    /// if the queue's capacity or max message length is not the one asked for (each checked
    /// only when `check_capacity` or `check_max_len`).
    pub(crate) fn open_checking(
        name: &str,
        options: &QueueOptions,
        check_capacity: bool,
        check_max_len: bool,
    ) -> io::Result<MessageQueue> {
        let queue = Self::open(name)?;
        let g = *queue.attachment.geometry();
        if (check_capacity && g.capacity != options.capacity)
            || (check_max_len && g.max_message_len != options.max_message_len)
        {
            // What was not asked for is the queue's own, not a default it was compared with.
            let wanted = (
                if check_capacity {
                    options.capacity
                } else {
                    g.capacity
                },
                if check_max_len {
                    options.max_message_len
                } else {
                    g.max_message_len
                },
            );
            return Err(QueueError::AttributesDiffer {
                found: (g.capacity, g.max_message_len),
                wanted,
            }
            .into());
        }
        Ok(queue)
    }

    /// Removes the queue's name. Handles already open keep working on the (now anonymous)
    /// queue until they are dropped, as with `mq_unlink`; a new queue may take the name.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// use std::io::ErrorKind;
    /// # let name = format!("doc-mq-remove-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// MessageQueue::remove(&name)?;
    /// assert_eq!(MessageQueue::open(&name).unwrap_err().kind(), ErrorKind::NotFound);
    /// // The open handle still works on the nameless queue.
    /// queue.try_send(b"still here", 0)?;
    /// assert_eq!(queue.try_recv()?.0, "still here");
    /// assert_eq!(MessageQueue::remove(&name).unwrap_err().kind(), ErrorKind::NotFound);
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `NotFound` if there is no such queue; `InvalidInput` for a bad name.
    pub fn remove(name: &str) -> io::Result<()> {
        let path = segment_path(name)?;
        std::fs::remove_file(path).map_err(|e| not_found(name, e))
    }

    /// The queue's name.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-name-{}", std::process::id());
    /// let _queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// let opened = MessageQueue::open(&name)?;
    /// assert_eq!(opened.name(), name);
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Capacity, max message length and current length.
    ///
    /// The length is read without the lock, so it may be stale by the time it is used. Of a
    /// queue whose file another process shrank it is 0 (the messages are gone); every
    /// operation that uses the queue says so (`InvalidData`, [`QueueError::Truncated`]).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-attributes-{}", std::process::id());
    /// let options = QueueOptions { capacity: 16, ..Default::default() };
    /// let queue = MessageQueue::create(&name, &options)?;
    /// queue.try_send_many(&["a", "b", "c"], 0)?;
    /// queue.try_recv()?;
    /// let attributes = MessageQueue::open(&name)?.attributes();
    /// assert_eq!((attributes.capacity, attributes.max_message_len), (16, 8192));
    /// assert_eq!(attributes.len, 2);
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn attributes(&self) -> QueueAttributes {
        let g = self.attachment.geometry();
        let region = self.attachment.region();
        // A file found shrunk holds no messages (the next operation reports the error).
        let len = region
            .guarded(|| region.known_word(word::LEN).load(Ordering::Acquire))
            .unwrap_or(0);
        QueueAttributes {
            capacity: g.capacity,
            max_message_len: g.max_message_len,
            len: len.min(g.capacity),
        }
    }

    /// Checks the whole queue under its lock, as `anyipc mq stat` does, and returns its
    /// attributes with the exact length: every slot on exactly one list, each list ending at
    /// its tail, the priority bitmap and the length agreeing with the lists, every queued
    /// message within `max_message_len`. An operation a killed process left half done is
    /// rolled back first, as every operation does. It walks every slot: for a health check,
    /// not for every message ([`attributes`](Self::attributes) reads the length without the
    /// lock).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-check-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// queue.try_send_many(&["a", "b"], 3)?;
    /// assert_eq!(queue.check()?.len, 2);
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidData` ([`QueueError::Corrupt`] inside, saying what is wrong) if the segment is
    /// corrupt or was shrunk; `TimedOut` if another process holds the lock too long
    /// ([`QueueError::LockStuck`]).
    pub fn check(&self) -> io::Result<QueueAttributes> {
        let len = self.attachment.with_lock(|region| {
            priority_index::check_structure(region)?;
            Ok(region.known_word(word::LEN).load(Ordering::Acquire))
        })?;
        let g = self.attachment.geometry();
        Ok(QueueAttributes {
            capacity: g.capacity,
            max_message_len: g.max_message_len,
            len,
        })
    }

    /// Sends `msg` with `priority` (0–31, higher is received first) if there is room now.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::codec::FrameError;
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// use std::io::ErrorKind;
    /// # let name = format!("doc-mq-try-send-{}", std::process::id());
    /// let options = QueueOptions { capacity: 1, max_message_len: 4, ..Default::default() };
    /// let queue = MessageQueue::create(&name, &options)?;
    /// queue.try_send(b"ok", 0)?;
    /// assert_eq!(queue.try_send(b"full", 0).unwrap_err().kind(), ErrorKind::WouldBlock);
    /// let long = queue.try_send(b"too long", 0).unwrap_err();
    /// assert_eq!(long.kind(), ErrorKind::InvalidInput);
    /// let inner = long.get_ref().and_then(|e| e.downcast_ref::<FrameError>());
    /// assert_eq!(inner, Some(&FrameError::SendTooLarge { len: 8, max: 4 }));
    /// assert_eq!(queue.try_recv()?.0, "ok");
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `WouldBlock` if the queue is full; `InvalidInput` for a priority over 31, or for a
    /// message over `max_message_len` ([`FrameError::SendTooLarge`] inside, as every
    /// transport refuses a send over its limit); `InvalidData` if the segment is corrupt.
    pub fn try_send(&self, msg: &[u8], priority: u8) -> io::Result<()> {
        self.check_send(msg, priority)?;
        self.try_send_checked(msg, priority)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::WouldBlock, "the queue is full"))
    }

    pub(crate) fn check_send(&self, msg: &[u8], priority: u8) -> io::Result<()> {
        check_priority(priority)?;
        self.check_len(msg)
    }

    fn check_len(&self, msg: &[u8]) -> io::Result<()> {
        let max = self.attachment.geometry().max_message_len as usize;
        if msg.len() > max {
            // Typed as every transport types a send over its limit, so callers match one
            // error whatever the endpoint.
            return Err(FrameError::SendTooLarge {
                len: msg.len(),
                max,
            }
            .into());
        }
        Ok(())
    }

    /// One attempt: `Some(())` if sent, `None` if full.
    fn try_send_checked(&self, msg: &[u8], priority: u8) -> io::Result<Option<()>> {
        let pushed = self
            .attachment
            .with_lock(|region| priority_index::push(region, msg, priority))?;
        match pushed {
            Ok(()) => {
                Waiting::NotEmpty.done(&self.attachment, 1);
                Ok(Some(()))
            }
            Err(Refused::Full) => Ok(None),
            Err(refused @ (Refused::Empty | Refused::TooLarge { .. })) => Err(io::Error::other(
                format!("a push was refused as {refused:?}: a bug in anyipc's queue"),
            )),
        }
    }

    /// Sends the longest prefix of `msgs` that fits now, in order, all with `priority`;
    /// returns how many were sent. Each lock hold moves many messages (about 64 KiB of
    /// bodies) for the cost of one, so this is how to send fast.
    ///
    /// Every message is checked before anything is sent: one that is too large sends none.
    /// An empty `msgs` sends nothing and returns `Ok(0)`.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-many-{}", std::process::id());
    /// let options = QueueOptions { capacity: 3, ..Default::default() };
    /// let queue = MessageQueue::create(&name, &options)?;
    /// assert_eq!(queue.try_send_many(&[b"a", b"b", b"c", b"d"], 0)?, 3); // "d" did not fit
    /// let mut got = Vec::new();
    /// assert_eq!(queue.try_recv_many(&mut got, 10)?, 3);
    /// assert_eq!(got[2], (bytes::Bytes::from_static(b"c"), 0));
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `WouldBlock` if `msgs` is not empty and the queue is full; `InvalidInput` for a
    /// priority over 31 or a message over `max_message_len` ([`FrameError::SendTooLarge`]
    /// inside); `InvalidData` if the segment is corrupt (after some were sent, the error comes
    /// from the next call instead).
    pub fn try_send_many<M: AsRef<[u8]>>(&self, msgs: &[M], priority: u8) -> io::Result<usize> {
        self.check_send_many(msgs, priority)?;
        if msgs.is_empty() {
            return Ok(0);
        }
        self.try_send_many_checked(msgs, priority)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::WouldBlock, "the queue is full"))
    }

    /// Sends the longest prefix of `msgs` that fits, in order, all with `priority`, waiting
    /// until at least one fits; returns how many were sent (like [`Write::write`]: loop for
    /// the rest). One lock hold moves many messages, as in
    /// [`try_send_many`](Self::try_send_many).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// # tokio_test::block_on(async {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-send-many-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// let batch: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 64]).collect();
    /// let mut rest = &batch[..];
    /// while !rest.is_empty() {
    ///     let sent = queue.send_many(rest, 1).await?;
    ///     rest = &rest[sent..];
    /// }
    /// assert_eq!(queue.attributes().len, 100);
    /// # MessageQueue::remove(&name)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// [`Write::write`]: std::io::Write::write
    ///
    /// # Errors
    /// As [`try_send_many`](Self::try_send_many), except that a full queue is waited on.
    ///
    /// # Cancel safety
    /// Cancel safe: messages are sent only in the poll that returns `Ok(n)`; a dropped
    /// future sent none.
    pub async fn send_many<M: AsRef<[u8]>>(&self, msgs: &[M], priority: u8) -> io::Result<usize> {
        self.check_send_many(msgs, priority)?;
        if msgs.is_empty() {
            return Ok(0);
        }
        self.wait_until(Waiting::NotFull, None, || {
            self.try_send_many_checked(msgs, priority)
        })
        .await
    }

    fn check_send_many<M: AsRef<[u8]>>(&self, msgs: &[M], priority: u8) -> io::Result<()> {
        check_priority(priority)?;
        msgs.iter().try_for_each(|m| self.check_len(m.as_ref()))
    }

    /// One attempt over non-empty, checked `msgs`: `Some(n)` if `n > 0` were sent, `None` if
    /// the queue was full.
    pub(crate) fn try_send_many_checked<M: AsRef<[u8]>>(
        &self,
        msgs: &[M],
        priority: u8,
    ) -> io::Result<Option<usize>> {
        let mut sent = 0;
        while sent < msgs.len() {
            let pushed = match self.attachment.with_lock(|region| {
                priority_index::push_many(region, &msgs[sent..], priority, HOLD_BYTES)
            }) {
                Ok(pushed) => pushed,
                // Those sent stay sent; the next call reports the error.
                Err(_) if sent > 0 => break,
                Err(e) => return Err(e.into()),
            };
            if pushed == 0 {
                break;
            }
            // Receivers are woken per hold, so they start while the next hold is written.
            Waiting::NotEmpty.notify(&self.attachment, pushed);
            sent += pushed;
        }
        if sent > 0 {
            Waiting::NotEmpty.record_cpu(&self.attachment);
        }
        Ok((sent > 0).then_some(sent))
    }

    /// Sends `msg` with `priority`, waiting for room.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// # tokio_test::block_on(async {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-send-{}", std::process::id());
    /// let options = QueueOptions { capacity: 1, ..Default::default() };
    /// let queue = MessageQueue::create(&name, &options)?;
    /// queue.send(b"first", 0).await?;
    /// // The queue is full: this send waits until the receive beside it makes room.
    /// let (sent, received) = tokio::join!(queue.send(b"second", 4), queue.recv());
    /// sent?;
    /// assert_eq!(received?.0, "first");
    /// assert_eq!(queue.try_recv()?, ("second".into(), 4));
    /// # MessageQueue::remove(&name)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`try_send`](Self::try_send), except that a full queue is waited on.
    ///
    /// # Cancel safety
    /// Cancel safe: if the future is dropped, the message was sent or it was not, and it is
    /// sent only when the future returns `Ok`.
    pub async fn send(&self, msg: &[u8], priority: u8) -> io::Result<()> {
        self.send_until(msg, priority, None).await
    }

    /// Sends `msg` with `priority`, waiting at most `timeout` for room.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// # tokio_test::block_on(async {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// use std::time::Duration;
    /// # let name = format!("doc-mq-send-timeout-{}", std::process::id());
    /// let options = QueueOptions { capacity: 1, ..Default::default() };
    /// let queue = MessageQueue::create(&name, &options)?;
    /// queue.send_timeout(b"fits", 0, Duration::from_secs(5)).await?;
    /// let full = queue.send_timeout(b"no room", 0, Duration::from_millis(10)).await;
    /// assert_eq!(full.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// assert_eq!(queue.attributes().len, 1);
    /// # MessageQueue::remove(&name)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// `TimedOut` if the queue stayed full; otherwise as [`try_send`](Self::try_send).
    ///
    /// # Cancel safety
    /// As [`send`](Self::send).
    pub async fn send_timeout(
        &self,
        msg: &[u8],
        priority: u8,
        timeout: Duration,
    ) -> io::Result<()> {
        // A timeout past what an `Instant` holds (`Duration::MAX`) never comes.
        self.send_until(msg, priority, Instant::now().checked_add(timeout))
            .await
    }

    async fn send_until(
        &self,
        msg: &[u8],
        priority: u8,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        self.check_send(msg, priority)?;
        self.wait_until(Waiting::NotFull, deadline, || {
            self.try_send_checked(msg, priority)
        })
        .await
    }

    /// Receives the oldest message of the highest priority present, with its priority, if
    /// there is one now.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-try-recv-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// assert_eq!(queue.try_recv().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// queue.try_send(b"a", 0)?;
    /// queue.try_send(b"b", 5)?;
    /// assert_eq!(queue.try_recv()?, ("b".into(), 5));
    /// assert_eq!(queue.try_recv()?, ("a".into(), 0));
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `WouldBlock` if the queue is empty; `InvalidData` if the segment is corrupt.
    pub fn try_recv(&self) -> io::Result<(Bytes, u8)> {
        self.try_recv_checked(usize::MAX)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::WouldBlock, "the queue is empty"))
    }

    /// One attempt: `Some` if a message was received, `None` if the queue was empty. A next
    /// message over `max_len` bytes is left in the queue, and refused with `InvalidData`
    /// ([`FrameError::TooLarge`] inside), as a connection refuses one over its `max_frame`.
    pub(crate) fn try_recv_checked(&self, max_len: usize) -> io::Result<Option<(Bytes, u8)>> {
        let popped = self.attachment.with_lock(|region| {
            priority_index::pop(region, max_len, |slot, len| {
                let mut body = vec![0u8; len];
                region.read_body(slot, &mut body);
                body
            })
        })?;
        match popped {
            Ok((body, priority)) => {
                Waiting::NotFull.done(&self.attachment, 1);
                Ok(Some((Bytes::from(body), priority)))
            }
            Err(Refused::TooLarge { len }) => {
                // The wake-up that brought us here was for this message, which stays: pass
                // it on to another parked receiver, which may take it.
                Waiting::NotEmpty.notify(&self.attachment, 1);
                Err(FrameError::TooLarge {
                    len: len as u64,
                    max: max_len,
                }
                .into())
            }
            Err(Refused::Empty | Refused::Full) => Ok(None),
        }
    }

    /// Receives up to `limit` (and at most the capacity) messages that are in the queue now,
    /// appending them with their priorities to `buffer` in the order repeated
    /// [`try_recv`](Self::try_recv) calls would give them (highest priority first, FIFO
    /// within a priority); returns how many. Each lock hold takes a run of one priority
    /// (about 64 KiB of bodies: the message that crosses that mark is the last) for the cost
    /// of one message; each body gets an allocation of its own.
    ///
    /// Messages taken are the caller's: as with `try_recv`, a process killed before it used
    /// them loses them (all of them, here).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-recv-many-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// queue.try_send_many(&["a", "b"], 1)?;
    /// queue.try_send(b"urgent", 7)?;
    /// let mut got = Vec::new();
    /// assert_eq!(queue.try_recv_many(&mut got, 2)?, 2);
    /// assert_eq!(got, [("urgent".into(), 7), ("a".into(), 1)]);
    /// # MessageQueue::remove(&name)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `WouldBlock` if `limit` is not 0 and the queue is empty; `InvalidData` if the segment
    /// is corrupt (after some were received, the error comes from the next call instead).
    pub fn try_recv_many(&self, buffer: &mut Vec<(Bytes, u8)>, limit: usize) -> io::Result<usize> {
        if limit == 0 {
            return Ok(0);
        }
        self.try_recv_many_checked(buffer, limit)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::WouldBlock, "the queue is empty"))
    }

    /// Waits for at least one message, then receives up to `limit` as
    /// [`try_recv_many`](Self::try_recv_many) does, appending them to `buffer`; returns how
    /// many (0 only for a `limit` of 0). The batch counterpart of [`recv`](Self::recv), as
    /// tokio's `mpsc::Receiver::recv_many` is of its `recv`.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// # tokio_test::block_on(async {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-recv-many-async-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// queue.try_send_many(&[[1u8; 64]; 10], 0)?;
    /// let mut got = Vec::with_capacity(64);
    /// while got.len() < 10 {
    ///     queue.recv_many(&mut got, 64).await?;
    /// }
    /// assert!(got.iter().all(|(msg, _)| msg[..] == [1; 64]));
    /// # MessageQueue::remove(&name)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// `InvalidData` if the segment is corrupt.
    ///
    /// # Cancel safety
    /// Cancel safe: messages are taken from the queue only in the poll that returns them.
    pub async fn recv_many(
        &self,
        buffer: &mut Vec<(Bytes, u8)>,
        limit: usize,
    ) -> io::Result<usize> {
        if limit == 0 {
            return Ok(0);
        }
        self.wait_until(Waiting::NotEmpty, None, || {
            self.try_recv_many_checked(buffer, limit)
        })
        .await
    }

    /// One attempt: `Some(n)` if `n > 0` (at most `limit`, ≥ 1) were appended, `None` if
    /// the queue was empty.
    fn try_recv_many_checked(
        &self,
        buffer: &mut Vec<(Bytes, u8)>,
        limit: usize,
    ) -> io::Result<Option<usize>> {
        // No more than the queue holds at once, as the messages are those "in the queue now":
        // this also bounds the holds one call makes, whatever a peer writes between them.
        let limit = limit.min(self.attachment.geometry().capacity as usize);
        // The length word is a hint read without the lock, used only to size the buffers:
        // nothing queued allocates nothing (`recv_many` calls this again after every wait).
        // The lock is still taken, as by `try_recv`, so a damaged segment or a dead owner's
        // lock is found here too.
        let queued = self.attributes().len as usize;
        let mut got = 0;
        // Bodies are copied into one private buffer under the lock (a memcpy each), and get
        // their own allocations after it is released. The buffer is reserved before the lock
        // is taken, for what the queue seemed to hold (at most a hold and its crossing
        // message); a hold that brings more grows it meanwhile.
        let max_len = self.attachment.geometry().max_message_len as usize;
        let expected = queued.min(limit).saturating_mul(max_len);
        let mut scratch = Vec::with_capacity(expected.min(2 * HOLD_BYTES));
        let mut lens = Vec::with_capacity(queued.min(limit));
        while got < limit {
            scratch.clear();
            lens.clear();
            let popped = self
                .attachment
                .with_lock(|region| {
                    priority_index::pop_many(region, limit - got, HOLD_BYTES, |slot, len| {
                        let at = scratch.len();
                        scratch.resize(at + len, 0);
                        region.read_body(slot, &mut scratch[at..]);
                        lens.push(len);
                        true
                    })
                })
                .map_err(io::Error::from);
            let (count, priority) = match popped {
                Ok(popped) => popped,
                // Those taken are returned; the next call reports the error.
                Err(_) if got > 0 => break,
                Err(e) => return Err(e),
            };
            if count == 0 {
                break;
            }
            Waiting::NotFull.notify(&self.attachment, count);
            // One allocation per message: the bodies are independent (dropping one frees
            // it), with no shared reference count.
            let mut at = 0;
            buffer.extend(lens.iter().map(|&len| {
                let body = Bytes::copy_from_slice(&scratch[at..at + len]);
                at += len;
                (body, priority)
            }));
            got += count;
        }
        if got > 0 {
            Waiting::NotFull.record_cpu(&self.attachment);
        }
        Ok((got > 0).then_some(got))
    }

    /// Receives the next message (highest priority first, FIFO within a priority), waiting
    /// for one.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// # tokio_test::block_on(async {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// # let name = format!("doc-mq-recv-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// let sender = MessageQueue::open(&name)?; // usually in another process
    /// let thread = std::thread::spawn(move || sender.try_send(b"job", 3));
    /// assert_eq!(queue.recv().await?, ("job".into(), 3));
    /// thread.join().unwrap()?;
    /// # MessageQueue::remove(&name)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// `InvalidData` if the segment is corrupt.
    ///
    /// # Cancel safety
    /// Cancel safe: a message is taken from the queue only in the poll that returns it.
    pub async fn recv(&self) -> io::Result<(Bytes, u8)> {
        self.wait_until(Waiting::NotEmpty, None, || {
            self.try_recv_checked(usize::MAX)
        })
        .await
    }

    /// Receives the next message, waiting at most `timeout`.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// # tokio_test::block_on(async {
    /// use anyipc::queue::{MessageQueue, QueueOptions};
    /// use std::time::Duration;
    /// # let name = format!("doc-mq-recv-timeout-{}", std::process::id());
    /// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
    /// queue.try_send(b"ready", 1)?;
    /// assert_eq!(queue.recv_timeout(Duration::from_secs(5)).await?, ("ready".into(), 1));
    /// let empty = queue.recv_timeout(Duration::from_millis(10)).await;
    /// assert_eq!(empty.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # MessageQueue::remove(&name)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// `TimedOut` if none came; otherwise as [`recv`](Self::recv).
    ///
    /// # Cancel safety
    /// As [`recv`](Self::recv).
    pub async fn recv_timeout(&self, timeout: Duration) -> io::Result<(Bytes, u8)> {
        // A timeout past what an `Instant` holds (`Duration::MAX`) never comes.
        let deadline = Instant::now().checked_add(timeout);
        self.wait_until(Waiting::NotEmpty, deadline, || {
            self.try_recv_checked(usize::MAX)
        })
        .await
    }

    /// Retries `attempt` until it gives `Some`, spinning then parking in between. However
    /// often the attempts fail, the loop parks (so yields) and checks the deadline at least
    /// every few attempts (see [`Backoff`]). Each call takes a unit of the task's tokio
    /// budget first, so a loop of calls that always succeed at once still yields now and
    /// then, as one over a tokio socket does.
    pub(super) async fn wait_until<T>(
        &self,
        waiting: Waiting,
        deadline: Option<Instant>,
        mut attempt: impl FnMut() -> io::Result<Option<T>>,
    ) -> io::Result<T> {
        tokio::task::coop::consume_budget().await;
        let mut backoff = Backoff::new(waiting);
        loop {
            if let Some(done) = attempt()? {
                return Ok(done);
            }
            if backoff.spin(&self.attachment) {
                continue;
            }
            let left = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(timed_out(waiting)),
                },
            };
            // A park that found the file shrunk reports it.
            backoff
                .park(&self.attachment, left)
                .await
                .map_err(|e| io::Error::other(format!("queue wait failed: {e}")))??;
        }
    }

    pub(crate) fn attachment(&self) -> &Arc<Attachment> {
        &self.attachment
    }
}

/// Bodies one lock hold copies at most in a batch operation (at least one message is always
/// moved): bounds how long other processes wait for the lock.
const HOLD_BYTES: usize = 64 * 1024;

fn check_priority(priority: u8) -> io::Result<()> {
    if priority >= PRIORITIES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "priority {priority} is over the maximum, {}",
                PRIORITIES - 1
            ),
        ));
    }
    Ok(())
}

pub(crate) fn timed_out(waiting: Waiting) -> io::Error {
    let what = match waiting {
        Waiting::NotEmpty => "no message arrived in time",
        Waiting::NotFull => "the queue stayed full",
    };
    io::Error::new(io::ErrorKind::TimedOut, what)
}

/// Allocates the `size` bytes of the segment being built in `file` (in `dir`, for queue
/// `name`), so that no later write to the mapping can find `dir` full: on tmpfs that would
/// be a SIGBUS, killing the writer (with the queue lock held, in a `send`).
///
/// # Errors
/// The OS error's kind (`StorageFull`, `FileTooLarge`, …) with a message that says how much
/// room the queue needed and where.
pub(super) fn reserve_segment(
    file: &std::fs::File,
    size: u64,
    dir: &std::path::Path,
    name: &str,
) -> io::Result<()> {
    os::reserve(file, size).map_err(|e| {
        crate::error::with_context(
            e.kind(),
            format!(
                "queue {name:?} needs {size} bytes ({:.1} MiB: capacity × max_message_len and \
                 headers) of memory in {}, which could not be reserved: {e}",
                size as f64 / f64::from(1 << 20),
                dir.display()
            ),
            e,
        )
    })
}
