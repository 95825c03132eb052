//! The single-producer single-consumer byte ring: index math and atomics over raw memory.
//!
//! No mapping, no waking, no system calls: [`Producer`] and [`Consumer`] only read and write
//! the control words and the data bytes they are given pointers to, so this file runs on heap
//! memory in unit tests and under loom.
//!
//! # Words
//!
//! Every index word packs a 32-bit byte index (wrapping; the capacity is a power of two of at
//! most 2^30, so `tail - head` never wraps ambiguously) with a 32-bit tag:
//! `word = index << 32 | tag(key, index, closed)`. The tag is a keyed hash; the key is random
//! per connection and travels over the rendezvous socket, never through shared memory. A word
//! whose tag matches neither `closed = false` nor `closed = true` was not written by the peer:
//! `Corrupt`. So random garbage written over the control words is caught (one chance in 2^31),
//! and a hostile peer that knows the key can still only make us read or write inside the ring:
//! every index read from shared memory is read once and checked against the process-private
//! capacity before use.
//!
//! # Parking (no lost wake-ups)
//!
//! A side that finds nothing to do swaps `PARKED` into its parked word, then looks at the
//! other side's index again with a read-modify-write (`fetch_add(0)`) before it sleeps. The
//! other side publishes its index with a read-modify-write (`swap`), then looks at the parked
//! word and, if it is not idle, swaps it back to idle and rings the doorbell. All four are
//! `AcqRel` read-modify-writes, so the two on the index are ordered in its modification order:
//! either the sleeper's comes last and sees the new index (it does not sleep), or the
//! publisher's comes last, reads from the sleeper's and so synchronises with it, and then must
//! see `PARKED` (it rings). No `SeqCst` reasoning is needed, which is what loom can check
//! (it treats `SeqCst` accesses as `AcqRel`); on x86 a `swap` costs what a release store plus
//! the full fence it would otherwise need costs. Any parked value other than the key-derived idle
//! value counts as parked: garbage costs at most a spurious ring.

#[cfg(anyipc_loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
use std::io::IoSlice;
#[cfg(not(anyipc_loom))]
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest ring capacity: indices are 32-bit, and `tail - head` must stay below 2^31.
pub(crate) const MAX_CAPACITY: u32 = 1 << 30;

/// A value on a cache line of its own, so the producer's and the consumer's words do not
/// share one.
#[repr(C, align(64))]
#[derive(Debug)]
pub(crate) struct Line<T>(pub(crate) T);

/// The control words of one ring as laid out in shared memory (128 bytes).
///
/// Line 1 is written by the producer (`tail`, `writer_parked`), line 2 by the consumer
/// (`head`, `reader_parked`); each side also swaps the other's parked word back to idle when it
/// rings the other's doorbell.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct RingControl {
    producer: Line<[AtomicU64; 2]>,
    consumer: Line<[AtomicU64; 2]>,
}

const TAIL: usize = 0;
const WRITER_PARKED: usize = 1;
const HEAD: usize = 0;
const READER_PARKED: usize = 1;

impl RingControl {
    /// Writes the initial words: both indices at 0 and open, nobody parked.
    pub(crate) fn init(&self, keys: &RingKeys) {
        self.producer.0[TAIL].store(keys.tail.word(0, false), Ordering::Relaxed);
        self.producer.0[WRITER_PARKED].store(keys.idle, Ordering::Relaxed);
        self.consumer.0[HEAD].store(keys.head.word(0, false), Ordering::Relaxed);
        self.consumer.0[READER_PARKED].store(keys.idle, Ordering::Relaxed);
    }
}

/// The keys of one ring's words, derived from the connection key and the ring's number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingKeys {
    tail: IndexKey,
    head: IndexKey,
    idle: u64,
    parked: u64,
}

impl RingKeys {
    /// Keys for ring number `ring` of a connection with secret `key`.
    pub(crate) fn derive(key: u64, ring: u64) -> RingKeys {
        let base = mix(key ^ mix(ring.wrapping_add(1)));
        let idle = mix(base ^ 3);
        let mut parked = mix(base ^ 4);
        if parked == idle {
            parked = !idle;
        }
        RingKeys {
            tail: IndexKey(mix(base ^ 1)),
            head: IndexKey(mix(base ^ 2)),
            idle,
            parked,
        }
    }
}

/// The splitmix64 finaliser: a fast bijective mixer.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[derive(Debug, Clone, Copy)]
struct IndexKey(u64);

impl IndexKey {
    fn tag(self, index: u32, closed: bool) -> u32 {
        (mix(self.0 ^ u64::from(index) ^ (u64::from(closed) << 40)) >> 32) as u32
    }

    fn word(self, index: u32, closed: bool) -> u64 {
        (u64::from(index) << 32) | u64::from(self.tag(index, closed))
    }

    /// The index and closed flag in `word`, or `Corrupt` if the tag does not match.
    fn decode(self, word: u64, what: &'static str) -> Result<(u32, bool), Corrupt> {
        let index = (word >> 32) as u32;
        let tag = word as u32;
        if tag == self.tag(index, false) {
            Ok((index, false))
        } else if tag == self.tag(index, true) {
            Ok((index, true))
        } else {
            Err(Corrupt(what))
        }
    }
}

/// Shared memory held a value the peer could not have written: names the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt(pub(crate) &'static str);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shared memory corrupted: invalid {}", self.0)
    }
}

impl std::error::Error for Corrupt {}

/// What a read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// This many bytes were copied out.
    Data(usize),
    /// Nothing to read yet.
    Empty,
    /// Nothing to read, and the producer closed its end.
    Closed,
}

/// What a write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteOutcome {
    /// This many bytes were copied in and published.
    Wrote(usize),
    /// No free space.
    Full,
    /// The consumer closed its end: nobody will read.
    Closed,
}

/// Where a ring lives: its control words, its data bytes and its capacity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingMemory {
    pub(crate) control: *const RingControl,
    pub(crate) data: *mut u8,
    /// A power of two, at most [`MAX_CAPACITY`]. Process-private: never re-read from shared
    /// memory.
    pub(crate) capacity: u32,
}

/// A ring's memory on the heap, for tests: a control block (initialised) and `capacity` data
/// bytes, owned through raw pointers as a mapping is, and freed on drop. (Boxes moved
/// around beside the ends would claim unique access to memory the ends point into: undefined
/// behaviour under Stacked Borrows, which Miri reports.)
#[cfg(test)]
pub(crate) struct TestMemory {
    control: *mut RingControl,
    data: *mut [u8],
}

#[cfg(test)]
impl TestMemory {
    pub(crate) fn new(keys: &RingKeys, capacity: u32) -> TestMemory {
        let control = Box::new(RingControl {
            producer: Line([AtomicU64::new(0), AtomicU64::new(0)]),
            consumer: Line([AtomicU64::new(0), AtomicU64::new(0)]),
        });
        control.init(keys);
        TestMemory {
            control: Box::into_raw(control),
            data: Box::into_raw(vec![0u8; capacity as usize].into_boxed_slice()),
        }
    }

    /// What the ends are given.
    pub(crate) fn ring(&self) -> RingMemory {
        RingMemory {
            control: self.control,
            data: self.data.cast::<u8>(),
            capacity: self.data.len() as u32,
        }
    }

    /// The control words, for a test that writes over them as a peer could.
    #[cfg_attr(anyipc_loom, allow(dead_code))] // the loom model only runs the protocol
    pub(crate) fn control(&self) -> &RingControl {
        // SAFETY: allocated in `new`, freed only on drop; only shared references (to
        // atomics) are made to it.
        unsafe { &*self.control }
    }
}

// SAFETY: the data bytes are only touched through the ring's protocol; the control block holds
// only atomics.
#[cfg(test)]
unsafe impl Send for TestMemory {}
// SAFETY: as for Send.
#[cfg(test)]
unsafe impl Sync for TestMemory {}

#[cfg(test)]
impl Drop for TestMemory {
    fn drop(&mut self) {
        // SAFETY: both came from `Box::into_raw` in `new` and are freed once, here; the ends
        // that point into them are dropped first (their owner's contract).
        unsafe {
            drop(Box::from_raw(self.control));
            drop(Box::from_raw(self.data));
        }
    }
}

/// Copies `len` bytes out of the ring's data starting at `index`, wrapping at the end.
///
/// # Safety
/// `mem.data` is valid for reads of `mem.capacity` bytes, `dst` for writes of `len` bytes, and
/// `len <= mem.capacity`.
unsafe fn copy_out(mem: &RingMemory, index: u32, dst: *mut u8, len: usize) {
    let offset = (index & (mem.capacity - 1)) as usize;
    let first = len.min(mem.capacity as usize - offset);
    // SAFETY: `offset + first <= capacity` and `len - first <= capacity`, so both source
    // ranges are inside the data area; `dst` has room for `len` bytes (caller's contract).
    // The producer does not write these bytes until we publish a head past them; a hostile
    // producer that does anyway only changes which bytes we copy.
    unsafe {
        std::ptr::copy_nonoverlapping(mem.data.add(offset), dst, first);
        std::ptr::copy_nonoverlapping(mem.data, dst.add(first), len - first);
    }
}

/// Copies `src` into the ring's data starting at `index`, wrapping at the end.
///
/// # Safety
/// `mem.data` is valid for writes of `mem.capacity` bytes and `src.len() <= mem.capacity`.
unsafe fn copy_in(mem: &RingMemory, index: u32, src: &[u8]) {
    let offset = (index & (mem.capacity - 1)) as usize;
    let first = src.len().min(mem.capacity as usize - offset);
    // SAFETY: both destination ranges are inside the data area (as in `copy_out`); `src`
    // is a live slice of our own memory.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), mem.data.add(offset), first);
        std::ptr::copy_nonoverlapping(src.as_ptr().add(first), mem.data, src.len() - first);
    }
}

/// The writing end of a ring. Keeps its own tail; only publishes it.
#[derive(Debug)]
pub(crate) struct Producer {
    mem: RingMemory,
    keys: RingKeys,
    /// Our tail: everything before it is written; published up to `published`.
    tail: u32,
    /// The tail the consumer has been told of (bytes from it to `tail` are staged).
    published: u32,
    /// Bytes known free after `tail`, from the last look at the consumer's head: staging
    /// within them needs no look at the head (a cache line the consumer writes).
    room: u32,
    closed: bool,
}

// SAFETY: the raw pointers refer to memory the owner of the Producer keeps mapped for its whole
// life (a mapping or a test's heap allocation), accessed only through atomics and raw copies.
unsafe impl Send for Producer {}
// SAFETY: as for Send; `&Producer` methods only read atomics.
unsafe impl Sync for Producer {}

impl Producer {
    /// The producer of the ring in `mem`.
    ///
    /// # Safety
    /// `mem.control` points at an initialised [`RingControl`] and `mem.data` at `mem.capacity`
    /// bytes, both valid for the life of the producer; `mem.capacity` is a power of two of at
    /// most [`MAX_CAPACITY`]; no other producer uses this ring.
    pub(crate) unsafe fn new(mem: RingMemory, keys: RingKeys) -> Producer {
        debug_assert!(mem.capacity.is_power_of_two() && mem.capacity <= MAX_CAPACITY);
        Producer {
            mem,
            keys,
            tail: 0,
            published: 0,
            room: 0,
            closed: false,
        }
    }

    fn control(&self) -> &RingControl {
        // SAFETY: valid for our whole life (constructor's contract); only atomics inside.
        unsafe { &*self.mem.control }
    }

    /// Reads the consumer's head once and validates it: `(bytes in use, consumer closed)`.
    /// `rmw` reads it with a read-modify-write (the parking protocol's recheck).
    fn used(&self, rmw: bool) -> Result<(u32, bool), Corrupt> {
        let head = &self.control().consumer.0[HEAD];
        let word = if rmw {
            head.fetch_add(0, Ordering::AcqRel)
        } else {
            head.load(Ordering::Acquire)
        };
        let (head, closed) = self.keys.head.decode(word, "read index")?;
        let used = self.tail.wrapping_sub(head);
        if used > self.mem.capacity {
            return Err(Corrupt("read index (out of range)"));
        }
        Ok((used, closed))
    }

    /// Copies as much of `src` as fits and publishes it.
    #[cfg(any(test, anyipc_loom))]
    pub(crate) fn write(&mut self, src: &[u8]) -> Result<WriteOutcome, Corrupt> {
        self.write_vectored(&[IoSlice::new(src)], usize::MAX)
    }

    /// Copies as much of `srcs`, in order, as fits, but at most `limit` bytes (not 0: that
    /// would report a ring with room as full), and publishes it with one index update.
    pub(crate) fn write_vectored(
        &mut self,
        srcs: &[IoSlice<'_>],
        limit: usize,
    ) -> Result<WriteOutcome, Corrupt> {
        debug_assert!(limit > 0, "a write limit of 0 never makes progress");
        let (used, consumer_closed) = self.used(false)?;
        if consumer_closed || self.closed {
            return Ok(WriteOutcome::Closed);
        }
        let free = (self.mem.capacity - used) as usize;
        let total = srcs
            .iter()
            .map(|src| src.len())
            .fold(0, usize::saturating_add);
        let n = free.min(total).min(limit);
        if n == 0 {
            return Ok(if total == 0 {
                WriteOutcome::Wrote(0)
            } else {
                WriteOutcome::Full
            });
        }
        #[cfg(anyipc_loom)]
        if mutation::is(mutation::PUBLISH_BEFORE_COPY) {
            let early = self.tail.wrapping_add(n as u32);
            self.control().producer.0[TAIL]
                .store(self.keys.tail.word(early, false), Ordering::Release);
        }
        let mut at = self.tail;
        let mut left = n;
        for src in srcs {
            let take = src.len().min(left);
            // SAFETY: the pieces add up to `n <= free <= capacity` bytes, and the bytes from
            // `tail` to `tail + n` are free: the consumer has moved its head past them.
            unsafe { copy_in(&self.mem, at, &src[..take]) };
            at = at.wrapping_add(take as u32);
            left -= take;
            if left == 0 {
                break;
            }
        }
        self.tail = at;
        self.room = (free - n) as u32;
        self.publish();
        Ok(WriteOutcome::Wrote(n))
    }

    /// Copies `head` then `body` in after everything written so far without publishing
    /// them, if both fit; `Ok(false)` (nothing copied) if they do not, or the ring is
    /// closed. [`publish_staged`](Producer::publish_staged) (or the next write or close)
    /// hands them to the consumer.
    ///
    /// Looks at the consumer's head (a cache line the consumer writes) only when the room
    /// it saw last is used up, so staging a run of small frames touches no shared line but
    /// the data's.
    #[inline]
    pub(crate) fn stage<const N: usize>(
        &mut self,
        head: [u8; N],
        body: &[u8],
    ) -> Result<bool, Corrupt> {
        let total = N.saturating_add(body.len());
        if self.closed {
            return Ok(false);
        }
        if (self.room as usize) < total && !self.look_for_room(total)? {
            return Ok(false);
        }
        let offset = (self.tail & (self.mem.capacity - 1)) as usize;
        if offset + total <= self.mem.capacity as usize {
            // SAFETY: `offset + total <= capacity`, so both ranges are inside the data area,
            // and the `total <= room` bytes from `tail` on are free: the consumer's head was
            // past them.
            unsafe {
                let at = self.mem.data.add(offset);
                std::ptr::write_unaligned(at.cast::<[u8; N]>(), head);
                std::ptr::copy_nonoverlapping(body.as_ptr(), at.add(N), body.len());
            }
        } else {
            // SAFETY: as above, with `copy_in` wrapping at the end of the data area.
            unsafe {
                copy_in(&self.mem, self.tail, &head);
                copy_in(&self.mem, self.tail.wrapping_add(N as u32), body);
            }
        }
        self.tail = self.tail.wrapping_add(total as u32);
        self.room -= total as u32;
        Ok(true)
    }

    /// Looks at the consumer's head for `wanted` free bytes after `tail`: `Ok(false)` if
    /// there are fewer, or the ring is closed.
    #[cold]
    fn look_for_room(&mut self, wanted: usize) -> Result<bool, Corrupt> {
        let (used, consumer_closed) = self.used(false)?;
        if consumer_closed {
            return Ok(false);
        }
        self.room = self.mem.capacity - used;
        #[cfg(anyipc_loom)]
        if mutation::is(mutation::STAGE_IGNORING_THE_HEAD) {
            self.room = self.mem.capacity;
        }
        Ok(self.room as usize >= wanted)
    }

    /// Whether bytes are staged and not yet published.
    pub(crate) fn has_staged(&self) -> bool {
        self.tail != self.published
    }

    /// Hands the consumer everything [`stage`](Producer::stage) copied in; `Ok(false)` if
    /// the consumer has closed (they will never be read).
    pub(crate) fn publish_staged(&mut self) -> Result<bool, Corrupt> {
        let (used, consumer_closed) = self.used(false)?;
        self.room = self.mem.capacity - used;
        self.publish();
        Ok(!consumer_closed)
    }

    /// Hands the consumer everything written so far.
    fn publish(&mut self) {
        self.published = self.tail;
        let word = self.keys.tail.word(self.tail, self.closed);
        let tail = &self.control().producer.0[TAIL];
        #[cfg(anyipc_loom)]
        if mutation::is(mutation::PLAIN_STORE_PUBLISH) {
            tail.store(word, Ordering::Release);
            return;
        }
        tail.swap(word, Ordering::AcqRel);
    }

    /// Marks the ring closed: the consumer sees end of stream once it has read everything.
    pub(crate) fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.publish();
        }
    }

    /// After a write: whether the consumer is parked and must be woken (and marks it woken).
    pub(crate) fn take_reader_parked(&self) -> bool {
        take_parked(&self.control().consumer.0[READER_PARKED], self.keys.idle)
    }

    /// Says "I am about to sleep until there is space"; `Ok(false)` if there is space (or the
    /// ring closed) after all, and the caller must not sleep.
    pub(crate) fn park(&self) -> Result<bool, Corrupt> {
        let slot = &self.control().producer.0[WRITER_PARKED];
        slot.swap(self.keys.parked, Ordering::AcqRel);
        let (used, closed) = self.used(true)?;
        if closed || used < self.mem.capacity {
            slot.store(self.keys.idle, Ordering::Release);
            return Ok(false);
        }
        Ok(true)
    }

    /// Withdraws a [`park`](Producer::park) after waking.
    pub(crate) fn unpark(&self) {
        self.control().producer.0[WRITER_PARKED].store(self.keys.idle, Ordering::Relaxed);
    }
}

/// The reading end of a ring. Keeps its own head; only publishes it.
#[derive(Debug)]
pub(crate) struct Consumer {
    mem: RingMemory,
    keys: RingKeys,
    head: u32,
    closed: bool,
}

// SAFETY: as for Producer.
unsafe impl Send for Consumer {}
// SAFETY: as for Producer.
unsafe impl Sync for Consumer {}

impl Consumer {
    /// The consumer of the ring in `mem`.
    ///
    /// # Safety
    /// As [`Producer::new`], with "no other consumer".
    pub(crate) unsafe fn new(mem: RingMemory, keys: RingKeys) -> Consumer {
        debug_assert!(mem.capacity.is_power_of_two() && mem.capacity <= MAX_CAPACITY);
        Consumer {
            mem,
            keys,
            head: 0,
            closed: false,
        }
    }

    fn control(&self) -> &RingControl {
        // SAFETY: valid for our whole life (constructor's contract); only atomics inside.
        unsafe { &*self.mem.control }
    }

    /// Reads the producer's tail once and validates it: `(bytes available, producer closed)`.
    /// `rmw` reads it with a read-modify-write (the parking protocol's recheck).
    fn available(&self, rmw: bool) -> Result<(u32, bool), Corrupt> {
        let tail = &self.control().producer.0[TAIL];
        let word = if rmw {
            tail.fetch_add(0, Ordering::AcqRel)
        } else {
            tail.load(Ordering::Acquire)
        };
        let (tail, closed) = self.keys.tail.decode(word, "write index")?;
        let available = tail.wrapping_sub(self.head);
        if available > self.mem.capacity {
            return Err(Corrupt("write index (out of range)"));
        }
        Ok((available, closed))
    }

    /// Copies up to `len` available bytes to `dst` and frees their space.
    ///
    /// # Safety
    /// `dst` is valid for writes of `len` bytes.
    pub(crate) unsafe fn read(&mut self, dst: *mut u8, len: usize) -> Result<ReadOutcome, Corrupt> {
        let (available, closed) = self.available(false)?;
        if available == 0 {
            return Ok(if closed {
                ReadOutcome::Closed
            } else {
                ReadOutcome::Empty
            });
        }
        let n = (available as usize).min(len);
        // SAFETY: `n <= available <= capacity`: these bytes were published by the producer;
        // `dst` has room for `n <= len` bytes (our contract).
        unsafe { copy_out(&self.mem, self.head, dst, n) };
        self.head = self.head.wrapping_add(n as u32);
        self.publish();
        Ok(ReadOutcome::Data(n))
    }

    fn publish(&self) {
        let word = self.keys.head.word(self.head, self.closed);
        self.control().consumer.0[HEAD].swap(word, Ordering::AcqRel);
    }

    /// Marks the ring closed from the reading side: the producer's writes fail from now on.
    pub(crate) fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.publish();
        }
    }

    /// After a read: whether the producer is parked waiting for space and must be woken.
    pub(crate) fn take_writer_parked(&self) -> bool {
        take_parked(&self.control().producer.0[WRITER_PARKED], self.keys.idle)
    }

    /// Says "I am about to sleep until there is data"; `Ok(false)` if there is data (or the
    /// ring closed) after all, and the caller must not sleep.
    pub(crate) fn park(&self) -> Result<bool, Corrupt> {
        let slot = &self.control().consumer.0[READER_PARKED];
        slot.swap(self.keys.parked, Ordering::AcqRel);
        #[cfg(anyipc_loom)]
        if mutation::is(mutation::NO_RECHECK_AFTER_PARK) {
            return Ok(true);
        }
        let (available, closed) = self.available(true)?;
        if closed || available > 0 {
            slot.store(self.keys.idle, Ordering::Release);
            return Ok(false);
        }
        Ok(true)
    }

    /// Withdraws a [`park`](Consumer::park) after waking.
    pub(crate) fn unpark(&self) {
        self.control().consumer.0[READER_PARKED].store(self.keys.idle, Ordering::Relaxed);
    }
}

/// The waker's half of the parking protocol, after publishing with a `swap`: swaps the other
/// side's parked word back to idle; true if it was anything else.
fn take_parked(slot: &AtomicU64, idle: u64) -> bool {
    // A plain load first keeps the common case (peer busy, not parked) free of a locked
    // read-modify-write on a line the peer owns. It sees `PARKED` whenever it must: the publish
    // synchronised with the sleeper's recheck, which came after its swap to `PARKED`.
    slot.load(Ordering::Acquire) != idle && slot.swap(idle, Ordering::AcqRel) != idle
}

/// Deliberate bugs the loom model must catch, switched on one at a time by the loom tests.
/// Compiled only under `--cfg anyipc_loom`.
#[cfg(anyipc_loom)]
pub(crate) mod mutation {
    use std::sync::atomic::{AtomicU8, Ordering};

    /// The producer publishes its tail before copying the bytes in.
    pub(crate) const PUBLISH_BEFORE_COPY: u8 = 1;
    /// The consumer sleeps without looking at the ring again after saying it is parked.
    pub(crate) const NO_RECHECK_AFTER_PARK: u8 = 2;
    /// The producer publishes its tail with a plain release store, not a read-modify-write.
    pub(crate) const PLAIN_STORE_PUBLISH: u8 = 3;
    /// The producer stages frames as if the consumer had read everything (it takes the
    /// whole capacity for room, whatever the consumer's head says).
    pub(crate) const STAGE_IGNORING_THE_HEAD: u8 = 4;
    /// The writer waits for room while frames it staged, unpublished, fill the ring (the
    /// model's writer, standing for `ShmStream::poll_write_ring`).
    pub(crate) const WAIT_WITH_FRAMES_STAGED: u8 = 5;

    static ACTIVE: AtomicU8 = AtomicU8::new(0);

    pub(crate) fn set(mutation: u8) {
        ACTIVE.store(mutation, Ordering::SeqCst);
    }

    pub(crate) fn is(mutation: u8) -> bool {
        ACTIVE.load(Ordering::SeqCst) == mutation
    }
}

#[cfg(all(test, anyipc_loom))]
mod loom_tests;
#[cfg(all(test, not(anyipc_loom)))]
mod tests;
