//! Where everything lives in a queue segment, and the limits every header field is checked
//! against before it is used.
//!
//! The layout is drawn in the [module docs](crate::queue#segment-layout). All offsets are
//! from the start of the segment; every word is a little-endian `u32` read and written
//! through atomics.

use super::QueueError;

/// `b"anyipcMQ"` as a little-endian `u64`: the first eight bytes of every segment.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"anyipcMQ");
/// Layout version; a segment of another version is refused (`InvalidData`).
pub(crate) const VERSION: u32 = 1;
/// The value of the `state` word once the creator has written everything else.
pub(crate) const READY: u32 = u32::from_le_bytes(*b"REDY");

pub(crate) const OFF_MAGIC: usize = 0;
pub(crate) const OFF_VERSION: usize = 8;
pub(crate) const OFF_CAPACITY: usize = 12;
pub(crate) const OFF_MAX_LEN: usize = 16;
pub(crate) const OFF_STRIDE: usize = 20;
pub(crate) const OFF_CREATOR_PID: usize = 24;
pub(crate) const OFF_STATE: usize = 28;
/// The owner lock: the holder's token (process id) and a waiters bit. Own cache line.
pub(crate) const OFF_LOCK: usize = 64;
/// Bumped (and futex-woken) when a message arrives while receivers are parked.
pub(crate) const OFF_NOT_EMPTY_SEQ: usize = 128;
pub(crate) const OFF_RECV_WAITERS: usize = 132;
/// The CPU the last sender ran on: a hint for receivers' spinning, never trusted otherwise.
pub(crate) const OFF_SENDER_CPU: usize = 136;
/// Bumped (and futex-woken) when a slot frees up while senders are parked.
pub(crate) const OFF_NOT_FULL_SEQ: usize = 192;
pub(crate) const OFF_SEND_WAITERS: usize = 196;
/// The CPU the last receiver ran on: a hint for senders' spinning.
pub(crate) const OFF_RECEIVER_CPU: usize = 200;
/// The index words (see [`word`]): free-list head, bitmap, length, list heads and tails.
pub(crate) const OFF_WORDS: usize = 256;
/// The undo log: a count, then [`UNDO_CAPACITY`] pairs of (word index, old value).
pub(crate) const OFF_UNDO: usize = 576;
/// The first slot.
pub(crate) const OFF_SLOTS: usize = 1024;

/// Bytes before a slot's body: `next`, `len`, `priority`, reserved.
pub(crate) const SLOT_HEADER: usize = 16;
pub(crate) const UNDO_CAPACITY: u32 = 8;

/// Priorities are `0..PRIORITIES`; higher is received first.
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use anyipc::queue::{MessageQueue, QueueOptions, PRIORITIES};
/// # let name = format!("doc-mq-priorities-{}", std::process::id());
/// let queue = MessageQueue::create(&name, &QueueOptions::default())?;
/// queue.try_send(b"lowest", 0)?;
/// queue.try_send(b"highest", PRIORITIES - 1)?;
/// let err = queue.try_send(b"over", PRIORITIES).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// assert_eq!(queue.try_recv()?, ("highest".into(), 31));
/// # MessageQueue::remove(&name)?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub const PRIORITIES: u8 = 32;
/// "No slot" in every link word.
pub(crate) const NIL: u32 = u32::MAX;

/// Largest capacity a queue may have (messages).
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use anyipc::queue::{MessageQueue, QueueOptions, MAX_CAPACITY};
/// # let name = format!("doc-mq-max-capacity-{}", std::process::id());
/// let options = QueueOptions { capacity: MAX_CAPACITY + 1, ..Default::default() };
/// let err = MessageQueue::create(&name, &options).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub const MAX_CAPACITY: u32 = 1 << 20;
/// Largest `max_message_len` a queue may have (bytes): 64 MiB.
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use anyipc::queue::{MessageQueue, QueueOptions, MAX_MESSAGE_LEN};
/// # let name = format!("doc-mq-max-message-len-{}", std::process::id());
/// assert_eq!(MAX_MESSAGE_LEN, 64 << 20);
/// let options = QueueOptions { max_message_len: MAX_MESSAGE_LEN + 1, ..Default::default() };
/// let err = MessageQueue::create(&name, &options).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub const MAX_MESSAGE_LEN: u32 = 64 << 20;
/// Largest segment this crate creates or maps: 4 GiB.
const MAX_SEGMENT: u64 = 1 << 32;

/// Word indices in the index space that the undo log and [`word`] address.
pub(crate) mod word {
    pub(crate) const FREE_HEAD: u32 = 0;
    pub(crate) const BITMAP: u32 = 1;
    pub(crate) const LEN: u32 = 2;
    pub(crate) const HEADS: u32 = 3;
    pub(crate) const TAILS: u32 = HEADS + super::PRIORITIES as u32;
    /// Slot `i`'s `next` word is index `SLOT_NEXT + i`.
    pub(crate) const SLOT_NEXT: u32 = TAILS + super::PRIORITIES as u32;
}

/// A queue's shape, validated once and kept in process-private memory: nothing read later
/// from the segment can change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) capacity: u32,
    pub(crate) max_message_len: u32,
    pub(crate) slot_stride: usize,
    pub(crate) size: usize,
}

impl Geometry {
    /// The geometry for these attributes, or why they are out of range.
    pub(crate) fn new(capacity: u32, max_message_len: u32) -> Result<Geometry, String> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(format!(
                "capacity {capacity} is outside 1..={MAX_CAPACITY} messages"
            ));
        }
        if max_message_len == 0 || max_message_len > MAX_MESSAGE_LEN {
            return Err(format!(
                "max_message_len {max_message_len} is outside 1..={MAX_MESSAGE_LEN} bytes"
            ));
        }
        let stride = (SLOT_HEADER as u64 + u64::from(max_message_len)).next_multiple_of(64);
        let size = OFF_SLOTS as u64 + stride * u64::from(capacity);
        if size > MAX_SEGMENT {
            return Err(format!(
                "capacity {capacity} × max_message_len {max_message_len} needs a {size}-byte \
                 segment, over the {MAX_SEGMENT}-byte limit"
            ));
        }
        let size = usize::try_from(size).map_err(|_| "segment too large for this platform")?;
        let slot_stride = usize::try_from(stride).map_err(|_| "slot too large")?;
        Ok(Geometry {
            capacity,
            max_message_len,
            slot_stride,
            size,
        })
    }

    /// Validates header fields read from a segment of `file_len` bytes.
    pub(crate) fn from_header(
        capacity: u32,
        max_message_len: u32,
        stride: u32,
        file_len: u64,
    ) -> Result<Geometry, QueueError> {
        let geometry = Geometry::new(capacity, max_message_len)
            .map_err(|detail| QueueError::BadHeader { detail })?;
        if u64::from(stride) != geometry.slot_stride as u64 {
            return Err(QueueError::BadHeader {
                detail: format!("slot stride {stride} does not match the other fields"),
            });
        }
        if file_len < geometry.size as u64 {
            return Err(QueueError::BadHeader {
                detail: format!(
                    "the segment has {file_len} bytes, its header needs {}",
                    geometry.size
                ),
            });
        }
        Ok(geometry)
    }

    /// Number of words in the index space: the fixed words plus one `next` per slot.
    pub(crate) fn word_count(&self) -> u32 {
        word::SLOT_NEXT + self.capacity
    }

    /// Byte offset of index word `index`, if it exists.
    pub(crate) fn word_offset(&self, index: u32) -> Option<usize> {
        if index < word::SLOT_NEXT {
            Some(OFF_WORDS + index as usize * 4)
        } else if index < self.word_count() {
            Some(self.slot_offset(index - word::SLOT_NEXT))
        } else {
            None
        }
    }

    /// Byte offset of slot `slot` (< capacity), where its `next` word is.
    pub(crate) fn slot_offset(&self, slot: u32) -> usize {
        debug_assert!(slot < self.capacity);
        OFF_SLOTS + slot as usize * self.slot_stride
    }
}

const _: () = assert!(OFF_WORDS + (word::SLOT_NEXT as usize) * 4 <= OFF_UNDO);
const _: () = assert!(OFF_UNDO + 4 + UNDO_CAPACITY as usize * 8 <= OFF_SLOTS);
