//! [`Region`]: typed access to a queue segment's memory, which other processes write at any
//! time. Only atomics and raw copies touch it; no `&[u8]` or `&mut` is ever made over it.
//!
//! Another process of the same user may also shrink the segment's file, and touching a lost
//! page raises SIGBUS. So every operation that touches the memory runs its whole body inside
//! [`Region::guarded`], which makes that fault an error of the operation (the lost pages
//! read zeros from then on) and every later operation an error too.

use super::geometry::{self, Geometry};
use super::QueueError;
use crate::sys::queue as os;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// The memory a [`Region`] views: a shared mapping, or heap memory in unit tests.
#[derive(Debug)]
enum Backing {
    Map(memmap2::MmapRaw),
    // Only held, to keep the memory alive; built in unit tests only.
    #[allow(dead_code)]
    Heap(HeapWords),
}

/// Heap memory for a test region, owned through a raw pointer as a mapping is, and freed on
/// drop. (A `Box` moved into the region after `base` was taken from it would claim unique
/// access to memory `base` points into: undefined behaviour under Stacked Borrows, which
/// Miri reports.)
#[derive(Debug)]
struct HeapWords(*mut [AtomicU64]);

impl Drop for HeapWords {
    fn drop(&mut self) {
        // SAFETY: made by `Box::into_raw` in `Region::heap` and freed once, here, with the
        // region that views it.
        unsafe { drop(Box::from_raw(self.0)) }
    }
}

/// A queue segment, with its geometry fixed in private memory.
///
/// Invariant: `base` points to `geometry.size` bytes, 8-byte aligned, that live as long as
/// `backing`, and are only accessed through atomics and raw byte copies.
#[derive(Debug)]
pub(crate) struct Region {
    base: NonNull<u8>,
    geometry: Geometry,
    backing: Backing,
    /// Set once an access (or a park's length check) found the file shrunk by another
    /// process: every access is refused from then on. A caught fault has replaced the pages
    /// from the faulting one on with private zero pages; the pages below stay the file's.
    truncated: AtomicBool,
}

// SAFETY: the region is only accessed through atomics and raw copies, which any thread may
// do; the mapping or heap block it points to is owned by `backing` and moves with it.
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` gives no access beyond atomics and raw copies.
unsafe impl Sync for Region {}

impl Region {
    /// Views a mapping whose header has been validated into `geometry`.
    ///
    /// # Errors
    /// `BadHeader` if the mapping is smaller than the geometry needs or misaligned.
    pub(crate) fn from_map(
        map: memmap2::MmapRaw,
        geometry: Geometry,
    ) -> Result<Region, QueueError> {
        let base = NonNull::new(map.as_mut_ptr()).ok_or_else(|| QueueError::BadHeader {
            detail: "empty mapping".to_owned(),
        })?;
        if map.len() < geometry.size || base.as_ptr() as usize % 8 != 0 {
            return Err(QueueError::BadHeader {
                detail: format!("mapping of {} bytes is too small", map.len()),
            });
        }
        Ok(Region {
            base,
            geometry,
            backing: Backing::Map(map),
            truncated: AtomicBool::new(false),
        })
    }

    /// A zeroed region on the heap, for tests of the queue algorithm.
    #[cfg(test)]
    pub(crate) fn heap(geometry: Geometry) -> Region {
        let words: Box<[AtomicU64]> = (0..geometry.size.div_ceil(8))
            .map(|_| AtomicU64::new(0))
            .collect();
        let words = Box::into_raw(words);
        let base = NonNull::new(words.cast::<u8>()).expect("boxed slice is non-null");
        Region {
            base,
            geometry,
            backing: Backing::Heap(HeapWords(words)),
            truncated: AtomicBool::new(false),
        }
    }

    /// Whether the file was found shrunk: every access fails from then on.
    pub(crate) fn is_lost(&self) -> bool {
        self.truncated.load(Ordering::Relaxed)
    }

    /// Makes the region behave as one whose file was found shrunk: every later access fails.
    pub(crate) fn mark_truncated(&self) {
        self.truncated.store(true, Ordering::Relaxed);
    }

    /// Runs `access`, which touches this region's memory (and private memory), so that a
    /// file another process shrank is an error rather than a SIGBUS that kills the process
    /// (see [`crate::sys::linux_sigbus`]). Once a fault was caught, the lost pages read as
    /// zeros, writes to them go nowhere, and every later call refuses at once: code that
    /// reads the zeros must still end (no loop waits for a word to change without a time
    /// limit), and its result is discarded.
    ///
    /// Calls may nest (the inner one guards the same range again); an outer call whose inner
    /// one faulted fails too.
    ///
    /// # Errors
    /// [`QueueError::Truncated`] if this access or an earlier one found the file shrunk.
    pub(crate) fn guarded<T>(&self, access: impl FnOnce() -> T) -> Result<T, QueueError> {
        if self.truncated.load(Ordering::Relaxed) {
            return Err(QueueError::Truncated);
        }
        self.guarded_even_if_lost(access)
    }

    /// As [`guarded`](Self::guarded), but runs `access` even when the file was found shrunk
    /// before: for the release of the queue lock, whose word in the header may still be the
    /// file's (only the pages from the first lost one on read as zeros), so that other
    /// processes are not left waiting for a lock no operation holds.
    ///
    /// # Errors
    /// [`QueueError::Truncated`] if this access or an earlier one found the file shrunk.
    pub(crate) fn guarded_even_if_lost<T>(
        &self,
        access: impl FnOnce() -> T,
    ) -> Result<T, QueueError> {
        let found = match &self.backing {
            Backing::Map(map) => {
                os::guarded_even_if_lost(map.as_mut_ptr(), map.len(), &self.truncated, access)
            }
            // Private heap memory cannot be shrunk.
            Backing::Heap(_) => Ok(access()),
        };
        // A nested call, or another thread's, may have found the file shrunk meanwhile: what
        // this one read after that was zeros.
        match found {
            Ok(value) if !self.truncated.load(Ordering::Relaxed) => Ok(value),
            _ => {
                self.truncated.store(true, Ordering::Relaxed);
                Err(QueueError::Truncated)
            }
        }
    }

    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The `u32` at byte `offset`.
    fn u32_at(&self, offset: usize) -> &AtomicU32 {
        assert!(offset % 4 == 0 && offset + 4 <= self.geometry.size);
        // SAFETY: in bounds and aligned (checked above; `base` is 8-aligned); the memory lives
        // as long as `self` (type invariant) and is only ever accessed atomically or by raw
        // copies, so an `AtomicU32` view is sound even while other processes write it.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset).cast::<u32>()) }
    }

    /// The `u64` at byte `offset`.
    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        assert!(offset % 8 == 0 && offset + 8 <= self.geometry.size);
        // SAFETY: as in `u32_at`, with 8-byte alignment checked.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(offset).cast::<u64>()) }
    }

    pub(crate) fn magic(&self) -> &AtomicU64 {
        self.u64_at(geometry::OFF_MAGIC)
    }
    pub(crate) fn header_word(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset < geometry::OFF_WORDS);
        self.u32_at(offset)
    }
    pub(crate) fn lock_word(&self) -> &AtomicU32 {
        self.u32_at(geometry::OFF_LOCK)
    }

    /// Index word `index` (see [`geometry::word`]), or `Corrupt` if there is none.
    pub(crate) fn word(&self, index: u32) -> Result<&AtomicU32, QueueError> {
        let offset = self
            .geometry
            .word_offset(index)
            .ok_or(QueueError::Corrupt("index word out of range"))?;
        Ok(self.u32_at(offset))
    }

    /// Index word `index`, for indices this code computed itself from validated values.
    pub(crate) fn known_word(&self, index: u32) -> &AtomicU32 {
        self.word(index)
            .unwrap_or_else(|_| unreachable!("word index {index} computed from validated values"))
    }

    pub(crate) fn undo_count(&self) -> &AtomicU32 {
        self.u32_at(geometry::OFF_UNDO)
    }

    /// Undo-log entry `i` (< [`geometry::UNDO_CAPACITY`]): (word index, old value).
    pub(crate) fn undo_entry(&self, i: u32) -> (&AtomicU32, &AtomicU32) {
        assert!(i < geometry::UNDO_CAPACITY);
        let at = geometry::OFF_UNDO + 4 + i as usize * 8;
        (self.u32_at(at), self.u32_at(at + 4))
    }

    /// Slot `slot`'s `len` and `priority` words. `slot` must be < capacity.
    pub(crate) fn slot_meta(&self, slot: u32) -> (&AtomicU32, &AtomicU32) {
        assert!(slot < self.geometry.capacity);
        let at = self.geometry.slot_offset(slot);
        (self.u32_at(at + 4), self.u32_at(at + 8))
    }

    /// Copies `data` into slot `slot`'s body.
    pub(crate) fn write_body(&self, slot: u32, data: &[u8]) {
        assert!(
            slot < self.geometry.capacity && data.len() <= self.geometry.max_message_len as usize
        );
        let at = self.geometry.slot_offset(slot) + geometry::SLOT_HEADER;
        // SAFETY: `at + data.len()` is within the slot (checked above against the private
        // geometry), so within the region; the source is private memory, so the two do not
        // overlap. Writers of a body hold the queue lock, the slot is free, and no reader
        // looks at a free slot.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.as_ptr().add(at), data.len());
        }
    }

    /// Copies the first `out.len()` bytes of slot `slot`'s body into `out`.
    pub(crate) fn read_body(&self, slot: u32, out: &mut [u8]) {
        assert!(
            slot < self.geometry.capacity && out.len() <= self.geometry.max_message_len as usize
        );
        let at = self.geometry.slot_offset(slot) + geometry::SLOT_HEADER;
        // SAFETY: in bounds as in `write_body`; `out` is private memory. A hostile process
        // may write the body meanwhile: the copy then holds garbage, never more or fewer bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.as_ptr().add(at), out.as_mut_ptr(), out.len());
        }
    }

    /// Writes a fresh header and an empty index: every slot on the free list. The `state`
    /// word is left as it is; [`publish`](Region::publish) sets it last.
    pub(crate) fn initialize(&self, creator_pid: u32) {
        let g = self.geometry;
        self.magic().store(geometry::MAGIC, Ordering::Relaxed);
        self.u32_at(geometry::OFF_VERSION)
            .store(geometry::VERSION, Ordering::Relaxed);
        self.u32_at(geometry::OFF_CAPACITY)
            .store(g.capacity, Ordering::Relaxed);
        self.u32_at(geometry::OFF_MAX_LEN)
            .store(g.max_message_len, Ordering::Relaxed);
        let stride = u32::try_from(g.slot_stride).unwrap_or(u32::MAX);
        self.u32_at(geometry::OFF_STRIDE)
            .store(stride, Ordering::Relaxed);
        self.u32_at(geometry::OFF_CREATOR_PID)
            .store(creator_pid, Ordering::Relaxed);
        for offset in [
            geometry::OFF_LOCK,
            geometry::OFF_NOT_EMPTY_SEQ,
            geometry::OFF_RECV_WAITERS,
            geometry::OFF_NOT_FULL_SEQ,
            geometry::OFF_SEND_WAITERS,
            geometry::OFF_UNDO,
        ] {
            self.u32_at(offset).store(0, Ordering::Relaxed);
        }
        for offset in [geometry::OFF_SENDER_CPU, geometry::OFF_RECEIVER_CPU] {
            self.u32_at(offset).store(u32::MAX, Ordering::Relaxed);
        }
        use geometry::word;
        self.known_word(word::FREE_HEAD).store(0, Ordering::Relaxed);
        self.known_word(word::BITMAP).store(0, Ordering::Relaxed);
        self.known_word(word::LEN).store(0, Ordering::Relaxed);
        for p in 0..u32::from(geometry::PRIORITIES) {
            self.known_word(word::HEADS + p)
                .store(geometry::NIL, Ordering::Relaxed);
            self.known_word(word::TAILS + p)
                .store(geometry::NIL, Ordering::Relaxed);
        }
        for slot in 0..g.capacity {
            let next = if slot + 1 < g.capacity {
                slot + 1
            } else {
                geometry::NIL
            };
            self.known_word(word::SLOT_NEXT + slot)
                .store(next, Ordering::Relaxed);
        }
    }

    /// Marks the segment ready: the last write of creation.
    pub(crate) fn publish(&self) {
        self.u32_at(geometry::OFF_STATE)
            .store(geometry::READY, Ordering::Release);
    }
}

impl Region {
    /// Validates the header of a freshly mapped segment and views it.
    ///
    /// Every field is read once, checked, and kept privately in the returned geometry.
    ///
    /// # Errors
    /// `BadHeader` for a foreign, truncated, incompatible or inconsistent header;
    /// `HalfCreated` if the creator never finished (`state` is not ready).
    pub(crate) fn open_map(map: memmap2::MmapRaw) -> Result<Region, QueueError> {
        let len = map.len();
        if len < geometry::OFF_SLOTS {
            return Err(QueueError::BadHeader {
                detail: format!("the segment has only {len} bytes"),
            });
        }
        let probe = Geometry {
            capacity: 0,
            max_message_len: 0,
            slot_stride: 0,
            size: geometry::OFF_SLOTS,
        };
        let header = Region::from_map(map, probe)?;
        // Every field is copied out in one guarded access: the file may be shrunk already.
        let fields = header.guarded(|| {
            let field = |offset| header.u32_at(offset).load(Ordering::Acquire);
            (
                header.magic().load(Ordering::Acquire),
                field(geometry::OFF_STATE),
                field(geometry::OFF_CREATOR_PID),
                field(geometry::OFF_VERSION),
                field(geometry::OFF_CAPACITY),
                field(geometry::OFF_MAX_LEN),
                field(geometry::OFF_STRIDE),
            )
        })?;
        let (magic, state, creator_pid, version, capacity, max_len, stride) = fields;
        if magic != geometry::MAGIC {
            return Err(QueueError::BadHeader {
                detail: "wrong magic number: not an anyipc queue".to_owned(),
            });
        }
        if state != geometry::READY {
            return Err(QueueError::HalfCreated { creator_pid });
        }
        if version != geometry::VERSION {
            return Err(QueueError::BadHeader {
                detail: format!(
                    "layout version {version}, this build reads {}",
                    geometry::VERSION
                ),
            });
        }
        let geometry = Geometry::from_header(capacity, max_len, stride, len as u64)?;
        let Backing::Map(map) = header.backing else {
            unreachable!("from_map makes a mapped region")
        };
        Region::from_map(map, geometry)
    }
}

impl Region {
    /// Checks that the header still describes this region's geometry (another process may
    /// have overwritten it since it was mapped).
    ///
    /// # Errors
    /// `BadHeader` if anything changed; `Truncated` if the file was found shrunk.
    pub(crate) fn recheck_header(&self) -> Result<(), QueueError> {
        let g = &self.geometry;
        let field = |offset| self.u32_at(offset).load(Ordering::Acquire);
        let same = self.guarded(|| {
            self.magic().load(Ordering::Acquire) == geometry::MAGIC
                && field(geometry::OFF_STATE) == geometry::READY
                && field(geometry::OFF_VERSION) == geometry::VERSION
                && field(geometry::OFF_CAPACITY) == g.capacity
                && field(geometry::OFF_MAX_LEN) == g.max_message_len
                && field(geometry::OFF_STRIDE) as usize == g.slot_stride
        })?;
        if same {
            Ok(())
        } else {
            Err(QueueError::BadHeader {
                detail: "the header was overwritten".to_owned(),
            })
        }
    }
}
