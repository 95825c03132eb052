//! The queue algorithm: per-priority FIFO lists of slots, a free list, and a bitmap of
//! non-empty priorities, all in index words of the segment; every change logged for undo.
//!
//! Runs only under the queue lock. Each operation first reads and validates everything it
//! needs (any bad link, length or priority is `Corrupt`, before anything is written), then
//! makes its changes through [`Txn`], which writes the old value of each word to the undo
//! log before changing it. The log is cleared as the last step. If the process dies in
//! between, the next lock holder finds the lock's owner dead and [`rollback`] restores
//! every logged word: an interrupted operation never happened.

use super::geometry::{word, NIL, PRIORITIES, UNDO_CAPACITY};
use super::region::Region;
use super::QueueError;
use std::sync::atomic::Ordering;

/// Why a push or pop did nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
    Empty,
    /// The next message is `len` bytes, over the pop's limit: it stays in the queue.
    TooLarge {
        len: usize,
    },
}

/// Changes to index words with their old values logged first.
struct Txn<'a> {
    region: &'a Region,
    count: u32,
}

impl<'a> Txn<'a> {
    fn begin(region: &'a Region) -> Txn<'a> {
        Txn { region, count: 0 }
    }

    /// Logs `index`'s old value, then stores `value`.
    fn store(&mut self, index: u32, value: u32) {
        assert!(
            self.count < UNDO_CAPACITY,
            "an operation writes at most 6 words"
        );
        let target = self.region.known_word(index);
        let (log_index, log_old) = self.region.undo_entry(self.count);
        log_index.store(index, Ordering::Relaxed);
        log_old.store(target.load(Ordering::Relaxed), Ordering::Relaxed);
        self.count += 1;
        // Release: a process recovering after our death sees the entry before the count.
        self.region
            .undo_count()
            .store(self.count, Ordering::Release);
        target.store(value, Ordering::Release);
    }

    /// Clears the undo log: the operation is done. Not on a region found shrunk during
    /// it: what it read may have been zeros, so its changes are rolled back instead when
    /// the lock is released ([`Locked`](super::attachment::Locked)), and the words the file
    /// kept do not describe messages that were never whole.
    fn commit(self) {
        if !self.region.is_lost() {
            self.region.undo_count().store(0, Ordering::Release);
        }
    }
}

fn load(region: &Region, index: u32) -> u32 {
    region.known_word(index).load(Ordering::Acquire)
}

/// The length word, checked against the private capacity: every walk of a list is bounded
/// by it, so it must never exceed the capacity.
fn queue_len(region: &Region) -> Result<u32, QueueError> {
    let len = load(region, word::LEN);
    if len <= region.geometry().capacity {
        Ok(len)
    } else {
        Err(QueueError::Corrupt("length over the capacity"))
    }
}

/// The slots one walk took, so that a list that loops back on itself is refused: a slot
/// taken twice would be handed out, or written, twice in one operation. A bit per slot, set
/// up when the walk takes its second slot (a single send or receive does nothing more): on
/// the stack for queues of up to [`INLINE_SLOTS`] slots, on the heap beyond.
struct Walked {
    first: u32,
    seen: Seen,
    repeated: bool,
}

/// Queues up to this many slots walk with a bitset on the stack (512 bytes).
const INLINE_SLOTS: usize = 64 * 64;

// The large variant is the point: a walk's bitset stays off the heap, and the value lives
// on the stack for one operation.
#[allow(clippy::large_enum_variant)]
enum Seen {
    /// The walk has taken only its first slot.
    One,
    Inline([u64; INLINE_SLOTS / 64]),
    Heap(Vec<u64>),
}

impl Walked {
    /// A walk that has taken only `first`.
    fn new(first: u32) -> Walked {
        Walked {
            first,
            seen: Seen::One,
            repeated: false,
        }
    }

    /// Notes that the walk went on to `slot` (below `capacity`: every link is checked).
    fn push(&mut self, slot: u32, capacity: u32) {
        if let Seen::One = self.seen {
            let words = (capacity as usize).div_ceil(64);
            self.seen = if words <= INLINE_SLOTS / 64 {
                Seen::Inline([0; INLINE_SLOTS / 64])
            } else {
                Seen::Heap(vec![0; words])
            };
            self.mark(self.first);
        }
        self.mark(slot);
    }

    fn mark(&mut self, slot: u32) {
        let bits: &mut [u64] = match &mut self.seen {
            Seen::One => return,
            Seen::Inline(words) => words,
            Seen::Heap(words) => words,
        };
        let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
        // Links are checked against the capacity before they are walked; one that is not
        // would be corrupt too.
        match bits.get_mut(word) {
            Some(w) if *w & bit == 0 => *w |= bit,
            _ => self.repeated = true,
        }
    }

    /// Whether the walk took any slot twice.
    fn repeats(&self) -> bool {
        self.repeated
    }
}

/// A link read from the segment: `NIL` or a slot index below capacity.
fn link(region: &Region, index: u32, what: &'static str) -> Result<u32, QueueError> {
    let value = load(region, index);
    if value == NIL || value < region.geometry().capacity {
        Ok(value)
    } else {
        Err(QueueError::Corrupt(what))
    }
}

/// Appends `data` at priority `priority` (< 32, `data` within the max length: the caller
/// checked both against private limits).
pub(crate) fn push(
    region: &Region,
    data: &[u8],
    priority: u8,
) -> Result<Result<(), Refused>, QueueError> {
    match push_many(region, &[data], priority, usize::MAX)? {
        0 => Ok(Err(Refused::Full)),
        _ => Ok(Ok(())),
    }
}

/// Appends the longest prefix of `msgs` that fits, all at priority `priority` (< 32, every
/// message within the max length: the caller checked both against private limits), in one
/// operation; returns how many. Stops early once the bodies copied reach `byte_budget`
/// (always taking at least one message), to bound the time the lock is held.
///
/// The free list is already a chain of slots, so `k` messages take its first `k` slots as
/// they are linked: the operation writes the same six index words whatever `k` is.
///
/// `Ok(0)` (full) only when the length agrees: a free list that disagrees with the length,
/// or loops, is `Corrupt`, so no waiter retries a state that can never change, and the walk
/// stays within the capacity.
pub(crate) fn push_many<M: AsRef<[u8]>>(
    region: &Region,
    msgs: &[M],
    priority: u8,
    byte_budget: usize,
) -> Result<usize, QueueError> {
    debug_assert!(priority < PRIORITIES);
    if msgs.is_empty() {
        return Ok(0);
    }
    let p = u32::from(priority);
    let len = queue_len(region)?;
    // The free list holds exactly the slots the length leaves: its walk never goes further.
    let room = region.geometry().capacity - len;
    let first = link(region, word::FREE_HEAD, "free-list head out of range")?;
    if first == NIL {
        // "Full" only if the length agrees: otherwise waiters would retry forever.
        return match room {
            0 => Ok(0),
            _ => Err(QueueError::Corrupt(
                "room below capacity without a free slot",
            )),
        };
    }
    // Walk the free list for as many slots as there are messages (and budget), filling
    // each: free slots are read by nobody, so the bodies and metadata need no undo entries.
    let mut last = first;
    let mut walked = Walked::new(first);
    let mut count = 0u32;
    let mut bytes = 0usize;
    let rest = loop {
        if count == room {
            return Err(QueueError::Corrupt(
                "free list longer than the length leaves room for",
            ));
        }
        let data = msgs[count as usize].as_ref();
        debug_assert!(data.len() <= region.geometry().max_message_len as usize);
        region.write_body(last, data);
        let (slot_len, slot_priority) = region.slot_meta(last);
        slot_len.store(data.len() as u32, Ordering::Relaxed);
        slot_priority.store(p, Ordering::Relaxed);
        count += 1;
        bytes += data.len();
        let next = link(
            region,
            word::SLOT_NEXT + last,
            "free-list link out of range",
        )?;
        if next == NIL && count < room {
            return Err(QueueError::Corrupt(
                "free list shorter than the length leaves room for",
            ));
        }
        if next == NIL || count as usize == msgs.len() || bytes >= byte_budget {
            break next;
        }
        last = next;
        walked.push(last, region.geometry().capacity);
    };
    if walked.repeats() {
        return Err(QueueError::Corrupt("the free list loops"));
    }
    let tail = link(region, word::TAILS + p, "list tail out of range")?;
    let bitmap = load(region, word::BITMAP);

    let mut txn = Txn::begin(region);
    txn.store(word::FREE_HEAD, rest);
    txn.store(word::SLOT_NEXT + last, NIL);
    if tail == NIL {
        txn.store(word::HEADS + p, first);
    } else {
        txn.store(word::SLOT_NEXT + tail, first);
    }
    txn.store(word::TAILS + p, last);
    txn.store(word::BITMAP, bitmap | (1 << p));
    txn.store(word::LEN, len + count);
    txn.commit();
    Ok(count as usize)
}

/// Removes the oldest message of the highest non-empty priority, handing its body to
/// `take(slot, len)` before anything changes. A message over `max_len` bytes is not taken:
/// it stays in the queue, nothing changes, and the result is [`Refused::TooLarge`].
pub(crate) fn pop<T>(
    region: &Region,
    max_len: usize,
    take: impl FnOnce(u32, usize) -> T,
) -> Result<Result<(T, u8), Refused>, QueueError> {
    let mut take = Some(take);
    let mut taken = None;
    let mut too_large = None;
    let (count, p) = pop_many(region, 1, usize::MAX, |slot, len| {
        if len > max_len {
            too_large = Some(len);
            return false;
        }
        if let Some(take) = take.take() {
            taken = Some(take(slot, len));
        }
        true
    })?;
    match (count, taken, too_large) {
        (_, _, Some(len)) => Ok(Err(Refused::TooLarge { len })),
        (1, Some(taken), None) => Ok(Ok((taken, p))),
        _ => Ok(Err(Refused::Empty)),
    }
}

/// Removes up to `limit` (≥ 1) of the oldest messages of the highest non-empty priority in
/// one operation, handing each body to `take(slot, len)`, in order, before anything changes;
/// returns how many and their priority (0 messages: the queue is empty, or `take` refused).
/// Stops early once the bodies reach `byte_budget` (always taking at least one message).
/// Lower priorities are left for the next call: each call is one logged operation of at
/// most six words.
///
/// `take` returns whether the message may be taken: on `false` the call returns at once
/// with 0 taken and nothing changed, as on `Err` (the caller discards what it was given).
///
/// `Ok` of 0 (empty) only when the length agrees: a length over the capacity or counting
/// messages on no list, and a list that loops, are `Corrupt`, so no waiter retries a state
/// that can never change, the walk stays within the capacity, and no slot is taken twice.
///
/// On `Err`, nothing changed: the caller discards what `take` was given.
pub(crate) fn pop_many(
    region: &Region,
    limit: usize,
    byte_budget: usize,
    mut take: impl FnMut(u32, usize) -> bool,
) -> Result<(usize, u8), QueueError> {
    debug_assert!(limit >= 1);
    let bitmap = load(region, word::BITMAP);
    // Bounds the walk below (at most `len` slots) by the capacity.
    let len = queue_len(region)?;
    if bitmap == 0 {
        // "Empty" only if the length agrees: otherwise waiters would retry forever.
        return match len {
            0 => Ok((0, 0)),
            _ => Err(QueueError::Corrupt("length counts messages on no list")),
        };
    }
    let p = 31 - bitmap.leading_zeros();
    let head = link(region, word::HEADS + p, "list head out of range")?;
    if head == NIL {
        return Err(QueueError::Corrupt(
            "priority marked non-empty without a head",
        ));
    }
    let max_len = region.geometry().max_message_len;
    let mut last = head;
    let mut walked = Walked::new(head);
    let mut count = 0u32;
    let mut bytes = 0usize;
    let rest = loop {
        let (slot_len, slot_priority) = region.slot_meta(last);
        let body_len = slot_len.load(Ordering::Acquire);
        if body_len > max_len {
            return Err(QueueError::Corrupt(
                "message length over the queue's maximum",
            ));
        }
        if slot_priority.load(Ordering::Acquire) != p {
            return Err(QueueError::Corrupt("message on another priority's list"));
        }
        count += 1;
        if count > len {
            return Err(QueueError::Corrupt("more messages listed than the length"));
        }
        if !take(last, body_len as usize) {
            return Ok((0, p as u8));
        }
        bytes += body_len as usize;
        let next = link(region, word::SLOT_NEXT + last, "list link out of range")?;
        if next == NIL || count as usize >= limit || bytes >= byte_budget {
            break next;
        }
        last = next;
        walked.push(last, region.geometry().capacity);
    };
    if walked.repeats() {
        return Err(QueueError::Corrupt("a list loops"));
    }
    let free = link(region, word::FREE_HEAD, "free-list head out of range")?;

    let mut txn = Txn::begin(region);
    txn.store(word::HEADS + p, rest);
    if rest == NIL {
        txn.store(word::TAILS + p, NIL);
        txn.store(word::BITMAP, bitmap & !(1 << p));
    }
    txn.store(word::SLOT_NEXT + last, free);
    txn.store(word::FREE_HEAD, head);
    txn.store(word::LEN, len - count);
    txn.commit();
    Ok((count as usize, p as u8))
}

/// Checks that no operation is half done: the undo log is empty.
pub(crate) fn check_idle(region: &Region) -> Result<(), QueueError> {
    if region.undo_count().load(Ordering::Acquire) == 0 {
        Ok(())
    } else {
        Err(QueueError::Corrupt(
            "undo log not empty under a released lock",
        ))
    }
}

/// Undoes the operation a dead lock holder left half done, then checks the whole index.
pub(crate) fn rollback(region: &Region) -> Result<(), QueueError> {
    let count = region.undo_count().load(Ordering::Acquire);
    if count > UNDO_CAPACITY {
        return Err(QueueError::Corrupt("undo log longer than its capacity"));
    }
    let mut restores = Vec::with_capacity(count as usize);
    for i in 0..count {
        let (index, old) = region.undo_entry(i);
        let target = region.word(index.load(Ordering::Relaxed))?;
        restores.push((target, old.load(Ordering::Relaxed)));
    }
    // Newest first: a word written twice gets its oldest value back.
    for (target, old) in restores.into_iter().rev() {
        target.store(old, Ordering::Release);
    }
    region.undo_count().store(0, Ordering::Release);
    check_structure(region)
}

/// Walks the whole index: every slot is on exactly one list, each list ends at its tail,
/// the bitmap names exactly the non-empty lists, and the length counts the queued slots.
pub(crate) fn check_structure(region: &Region) -> Result<(), QueueError> {
    let capacity = region.geometry().capacity;
    let mut seen = vec![false; capacity as usize];
    let mut visit = |slot: u32| -> Result<(), QueueError> {
        let seen = seen
            .get_mut(slot as usize)
            .ok_or(QueueError::Corrupt("link out of range"))?;
        if std::mem::replace(seen, true) {
            return Err(QueueError::Corrupt(
                "a slot is on two lists, or a list loops",
            ));
        }
        Ok(())
    };
    let mut at = link(region, word::FREE_HEAD, "free-list head out of range")?;
    while at != NIL {
        visit(at)?;
        at = link(region, word::SLOT_NEXT + at, "free-list link out of range")?;
    }
    let bitmap = load(region, word::BITMAP);
    let mut queued = 0u32;
    for p in 0..u32::from(PRIORITIES) {
        let head = link(region, word::HEADS + p, "list head out of range")?;
        let tail = link(region, word::TAILS + p, "list tail out of range")?;
        if (bitmap & (1 << p) != 0) != (head != NIL) || (head == NIL) != (tail == NIL) {
            return Err(QueueError::Corrupt("bitmap, heads and tails disagree"));
        }
        let mut at = head;
        let mut last = NIL;
        while at != NIL {
            visit(at)?;
            let (len, priority) = region.slot_meta(at);
            if priority.load(Ordering::Acquire) != p
                || len.load(Ordering::Acquire) > region.geometry().max_message_len
            {
                return Err(QueueError::Corrupt(
                    "queued slot with a bad priority or length",
                ));
            }
            queued += 1;
            last = at;
            at = link(region, word::SLOT_NEXT + at, "list link out of range")?;
        }
        if last != tail {
            return Err(QueueError::Corrupt("a list does not end at its tail"));
        }
    }
    if seen.iter().any(|s| !s) {
        return Err(QueueError::Corrupt("a slot is on no list"));
    }
    if load(region, word::LEN) != queued {
        return Err(QueueError::Corrupt("length disagrees with the lists"));
    }
    Ok(())
}
