//! A closed segment cut short by a machine crash under `fsync=never`. Under
//! `fsync=always|batch` a segment is synced before the next one is created, so a machine
//! crash can cut records off the last segment only (the producer's recovery cuts its torn
//! tail off). Under `fsync=never` nothing is synced, and a closed segment can lose its
//! tail, or its header, too. The segment after it says so in its header
//! ([`SegmentHeader::previous_unsynced`]): a consumer that finds a closed segment cut short
//! skips to that segment, with a warning, instead of stopping there as at damage.

use super::record::{SegmentHeader, SEGMENT_HEADER_LEN};
use super::segment::{check_base, list_segments, os_error, segment_path};
use super::segment_reader::read_up_to;
use crate::sys;
use std::io;
use std::path::Path;

/// What the start of segment `base`'s file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderRead {
    /// This segment's header.
    Valid(SegmentHeader),
    /// Fewer bytes than a header (this many): being created, or cut by a crash.
    Short(usize),
    /// A header's worth of zeros: not written yet when the machine stopped.
    Zeros,
    /// A header's worth of bytes that are not this segment's header: damage, never a crash's
    /// doing.
    Invalid,
}

impl HeaderRead {
    /// Reads the header at the start of `file`, segment `base`'s.
    ///
    /// # Errors
    /// The read's.
    pub(crate) fn of(file: &mut impl std::io::Read, base: u64) -> io::Result<HeaderRead> {
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        let got = read_up_to(file, &mut header)?;
        Ok(if got < SEGMENT_HEADER_LEN {
            HeaderRead::Short(got)
        } else if header.iter().all(|&b| b == 0) {
            HeaderRead::Zeros
        } else {
            match SegmentHeader::decode(&header).filter(|h| h.base_seq == base) {
                Some(valid) => HeaderRead::Valid(valid),
                None => HeaderRead::Invalid,
            }
        })
    }

    /// What a machine crash can leave of a header: short, or zeros.
    pub(crate) fn lost_in_a_crash(self) -> bool {
        matches!(self, HeaderRead::Short(_) | HeaderRead::Zeros)
    }
}

/// The base of the first segment after segment `base`, if that segment says `base` was
/// closed without an fsync, so that a machine crash may have cut records off `base`'s end
/// or left it without its header: what is missing there is lost, not damaged.
///
/// A segment after `base` without a whole header (short, or zeros where the OS had not
/// written it) says so too: only one created without an fsync can lose its header (under
/// `fsync=always|batch` a new segment's header is synced before anything is appended to
/// it), or one being created at this moment, when the segment before it is whole.
///
/// # Errors
/// OS errors listing the directory or reading the segment's header.
pub(crate) fn unsynced_successor(dir: &Path, base: u64) -> io::Result<Option<u64>> {
    let Some(next) = list_segments(dir)?.into_iter().find(|&b| b > base) else {
        return Ok(None);
    };
    check_base(dir, next)?;
    let path = segment_path(dir, next);
    let mut file = match sys::open_segment_read(&path) {
        Ok(file) => file,
        // Deleted since listed (retention, by hand): it says nothing.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(os_error("cannot open", &path, e)),
    };
    let says_so = match HeaderRead::of(&mut file, next) {
        Ok(HeaderRead::Valid(header)) => header.previous_unsynced,
        Ok(read) => read.lost_in_a_crash(),
        Err(e) => return Err(os_error("cannot read", &path, e)),
    };
    Ok(says_so.then_some(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::temp_dir;

    fn segment(dir: &Path, base: u64, previous_unsynced: bool) {
        let header = SegmentHeader {
            salt: 5,
            base_seq: base,
            previous_unsynced,
        };
        std::fs::write(segment_path(dir, base), header.encode()).unwrap();
    }

    #[test]
    fn the_next_segments_header_says_whether_the_one_before_was_synced() {
        let dir = temp_dir("unsynced-successor");
        segment(&dir, 0, false);
        assert_eq!(
            unsynced_successor(&dir, 0).unwrap(),
            None,
            "no next segment"
        );
        segment(&dir, 10, false);
        assert_eq!(
            unsynced_successor(&dir, 0).unwrap(),
            None,
            "closed with an fsync"
        );
        segment(&dir, 10, true);
        assert_eq!(unsynced_successor(&dir, 0).unwrap(), Some(10));
        // Only the first segment after `base` speaks for it.
        segment(&dir, 20, true);
        segment(&dir, 10, false);
        assert_eq!(unsynced_successor(&dir, 0).unwrap(), None);
        assert_eq!(unsynced_successor(&dir, 10).unwrap(), Some(20));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_next_segment_without_a_whole_header_says_it_too_a_damaged_one_does_not() {
        let dir = temp_dir("unsynced-successor-short");
        segment(&dir, 0, false);
        std::fs::write(segment_path(&dir, 7), [0u8; 5]).unwrap();
        assert_eq!(unsynced_successor(&dir, 0).unwrap(), Some(7));
        // Zeros where the OS had not written the header yet.
        std::fs::write(segment_path(&dir, 7), [0u8; 4096]).unwrap();
        assert_eq!(unsynced_successor(&dir, 0).unwrap(), Some(7));
        let mut damaged = SegmentHeader {
            salt: 5,
            base_seq: 7,
            previous_unsynced: true,
        }
        .encode();
        damaged[12] ^= 1;
        std::fs::write(segment_path(&dir, 7), damaged).unwrap();
        assert_eq!(unsynced_successor(&dir, 0).unwrap(), None);
        // A header that names another segment is not this one's.
        segment(&dir, 7, true);
        std::fs::rename(segment_path(&dir, 7), segment_path(&dir, 8)).unwrap();
        assert_eq!(unsynced_successor(&dir, 0).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
