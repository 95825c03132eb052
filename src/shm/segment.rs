//! One connection's shared memory: a sealed memfd mapped once, holding the header and two rings
//! (layout in the `shm` module docs).

use super::ring::{RingControl, RingKeys, RingMemory, MAX_CAPACITY};
use crate::sys;
use memmap2::MmapRaw;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// "anyipcS1" read as a little-endian u64.
const MAGIC: u64 = u64::from_le_bytes(*b"anyipcS1");
/// Layout version; a peer with another one is refused with `InvalidData`.
pub(crate) const VERSION: u32 = 1;
/// Where the first ring's data starts: page-aligned.
const DATA_OFFSET: usize = 4096;
/// Where the rings' control blocks start.
const CONTROL_OFFSET: usize = 64;
/// Smallest ring capacity.
pub(crate) const MIN_CAPACITY: u32 = 4096;

/// The header at offset 0 of every segment.
#[repr(C)]
struct Header {
    magic: AtomicU64,
    version: AtomicU32,
    data_offset: AtomicU32,
    capacity: AtomicU64,
    total_len: AtomicU64,
    /// 1 once everything else is written (stored last, with Release).
    initialized: AtomicU32,
}

/// Ring 0 carries client → server bytes, ring 1 server → client.
pub(crate) const CLIENT_TO_SERVER: usize = 0;
/// See [`CLIENT_TO_SERVER`].
pub(crate) const SERVER_TO_CLIENT: usize = 1;

/// The mapped memory of one connection.
#[derive(Debug)]
pub(crate) struct Segment {
    map: MmapRaw,
    capacity: u32,
    /// The sealed memfd, kept open so that tools (and the fault tests) can find the segment
    /// under `/proc/<pid>/fd`; the mapping alone would keep the memory alive.
    file: File,
}

/// The largest ring this process maps: [`MAX_CAPACITY`], or less on a 32-bit target.
const LARGEST_RING: u32 = if sys::shm::MAX_RING.0 < MAX_CAPACITY {
    sys::shm::MAX_RING.0
} else {
    MAX_CAPACITY
};

/// The ring capacity for a requested size: a power of two from 4 KiB to 1 GiB (64 MiB on a
/// 32-bit target).
pub(crate) fn ring_capacity(requested: u64) -> io::Result<u32> {
    if requested > u64::from(LARGEST_RING) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "shm capacity {requested} is over the largest ring, {}",
                sys::shm::MAX_RING.1
            ),
        ));
    }
    Ok((requested as u32).max(MIN_CAPACITY).next_power_of_two())
}

fn total_len(capacity: u32) -> u64 {
    DATA_OFFSET as u64 + 2 * u64::from(capacity)
}

impl Segment {
    /// Creates a sealed segment with two rings of `capacity` bytes and writes the header
    /// (the connecting side does this).
    pub(crate) fn create(capacity: u32, key: u64) -> io::Result<Segment> {
        debug_assert!(
            capacity.is_power_of_two() && (MIN_CAPACITY..=LARGEST_RING).contains(&capacity)
        );
        let total = total_len(capacity);
        let file = sys::shm::create_sealed_memfd("anyipc-shm", total)?;
        let map = MmapRaw::map_raw(&file)?;
        let segment = Segment {
            map,
            capacity,
            file,
        };
        let header = segment.header();
        header.magic.store(MAGIC, Ordering::Relaxed);
        header.version.store(VERSION, Ordering::Relaxed);
        header
            .data_offset
            .store(DATA_OFFSET as u32, Ordering::Relaxed);
        header
            .capacity
            .store(u64::from(capacity), Ordering::Relaxed);
        header.total_len.store(total, Ordering::Relaxed);
        for ring in [CLIENT_TO_SERVER, SERVER_TO_CLIENT] {
            segment
                .control(ring)
                .init(&RingKeys::derive(key, ring as u64));
        }
        header.initialized.store(1, Ordering::Release);
        Ok(segment)
    }

    /// Maps a segment received from the peer after checking that it is sealed, of the size the
    /// handshake announced, and that its header agrees. `InvalidData` otherwise.
    pub(crate) fn open(file: File, capacity: u32) -> io::Result<Segment> {
        if !capacity.is_power_of_two() || !(MIN_CAPACITY..=LARGEST_RING).contains(&capacity) {
            return Err(invalid(format!(
                "ring capacity {capacity} is not allowed (a power of two from {MIN_CAPACITY} \
                 to {LARGEST_RING} here)"
            )));
        }
        let total = total_len(capacity);
        // Sealed: the peer can never shrink it under our mapping (no SIGBUS).
        sys::shm::check_sealed(&file, total)?;
        let map = MmapRaw::map_raw(&file)?;
        if map.len() as u64 != total {
            return Err(invalid(format!(
                "mapped {} bytes, expected {total}",
                map.len()
            )));
        }
        let segment = Segment {
            map,
            capacity,
            file,
        };
        let header = segment.header();
        if header.initialized.load(Ordering::Acquire) != 1 {
            return Err(invalid("the segment is not initialised".to_owned()));
        }
        let magic = header.magic.load(Ordering::Relaxed);
        if magic != MAGIC {
            return Err(invalid(format!("bad magic {magic:#x}")));
        }
        let version = header.version.load(Ordering::Relaxed);
        if version != VERSION {
            return Err(invalid(format!(
                "layout version {version}, this build speaks {VERSION}"
            )));
        }
        let fields = (
            header.data_offset.load(Ordering::Relaxed),
            header.capacity.load(Ordering::Relaxed),
            header.total_len.load(Ordering::Relaxed),
        );
        if fields != (DATA_OFFSET as u32, u64::from(capacity), total) {
            return Err(invalid(format!(
                "header sizes {fields:?} disagree with the handshake"
            )));
        }
        Ok(segment)
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping is at least DATA_OFFSET bytes, page-aligned, and lives as long as
        // `self`; Header holds only atomics, which may be changed by the peer at any time.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    fn control(&self, ring: usize) -> &RingControl {
        // SAFETY: both control blocks (128 bytes each, 64-aligned) lie between CONTROL_OFFSET
        // and DATA_OFFSET of a mapping that lives as long as `self`; only atomics inside.
        unsafe { &*self.control_ptr(ring) }
    }

    fn control_ptr(&self, ring: usize) -> *const RingControl {
        debug_assert!(ring < 2);
        let offset = CONTROL_OFFSET + ring * std::mem::size_of::<RingControl>();
        // SAFETY: offset + 128 <= DATA_OFFSET < mapping length.
        unsafe { self.map.as_ptr().add(offset).cast() }
    }

    /// Where ring `ring` lives. Valid while `self` lives.
    pub(crate) fn ring(&self, ring: usize) -> RingMemory {
        let offset = DATA_OFFSET + ring * self.capacity as usize;
        RingMemory {
            control: self.control_ptr(ring),
            // SAFETY: offset + capacity <= total length of the mapping.
            data: unsafe { self.map.as_mut_ptr().add(offset) },
            capacity: self.capacity,
        }
    }

    /// The memfd, to hand to the peer.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Ring capacity in bytes.
    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("shm: {msg}"))
}

const _: () = assert!(std::mem::size_of::<Header>() <= CONTROL_OFFSET);
const _: () = assert!(CONTROL_OFFSET + 2 * std::mem::size_of::<RingControl>() <= DATA_OFFSET);

#[cfg(test)]
mod tests {
    use super::*;

    /// A requested size rounds up to a power of two from 4 KiB; past the largest ring this
    /// target maps (1 GiB, 64 MiB on 32-bit ones) it is refused when asked for and when a
    /// peer's segment announces it.
    #[test]
    fn ring_sizes_stop_at_the_largest_ring_this_target_maps() {
        assert_eq!(ring_capacity(0).unwrap(), MIN_CAPACITY);
        assert_eq!(ring_capacity(5000).unwrap(), 8192);
        assert_eq!(
            ring_capacity(u64::from(LARGEST_RING)).unwrap(),
            LARGEST_RING
        );
        let over = ring_capacity(u64::from(LARGEST_RING) + 1).unwrap_err();
        assert_eq!(over.kind(), io::ErrorKind::InvalidInput);
        assert!(over.to_string().contains(sys::shm::MAX_RING.1), "{over}");
        let small = Segment::create(MIN_CAPACITY, 7).unwrap();
        let file = small.file().try_clone().unwrap();
        let Err(err) = Segment::open(file, LARGEST_RING.wrapping_mul(2).max(MIN_CAPACITY * 2))
        else {
            panic!("a ring over the largest was mapped");
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("is not allowed"), "{err}");
    }
}
