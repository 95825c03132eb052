//! [`PartialEndWatch`]: what a log reader knows of a partial record at the end of its open
//! segment, and when to check it.
//!
//! A record that runs past the end of the file is almost always a write under way, which
//! ends before the reader's next look (the producer writes whole records, one `write` at a
//! time). One that stays is a torn tail — or a length field damaged to point past the end,
//! with valid records after it: corruption, which unchecked would hide those records for as
//! long as the producer writes nothing more, or until it has written past the bogus end.
//! So a record that stays at the same place is checked ([`SegmentReader::classify_partial_end`](
//! super::segment_reader::SegmentReader::classify_partial_end)): once it has been there
//! [`PARTIAL_PATIENCE`] (at once for a reader's last read), again after the file has grown
//! if the check found it torn, each wait twice the last up to [`PARTIAL_PATIENCE_MAX`], and
//! never while the file stays as it was checked (an idle reader sets no timer).

use super::record::RECORD_HEADER_LEN;
use super::scan::Tail;
use std::time::Duration;
// Tokio's clock, as the tailer's timer keeps it.
use tokio::time::Instant;

/// How long a partial record stays at one place before the first check.
pub(crate) const PARTIAL_PATIENCE: Duration = Duration::from_millis(250);
/// The longest wait between checks of a partial record that keeps growing.
pub(crate) const PARTIAL_PATIENCE_MAX: Duration = Duration::from_secs(8);

/// A look at the end of the open segment that found a partial record: the record at
/// `offset` of segment `base`, whose first bytes are `head` (zero-padded), goes on past the
/// end of the file, then `file_len` bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartialAt {
    pub(crate) base: u64,
    pub(crate) offset: u64,
    pub(crate) file_len: u64,
    pub(crate) head: [u8; RECORD_HEADER_LEN],
}

impl PartialAt {
    /// Whether `other` is the same record: the same place and first bytes (a record a
    /// restarted producer wrote there instead of a torn one has another length or CRC).
    fn same_record(&self, other: &PartialAt) -> bool {
        (self.base, self.offset, self.head) == (other.base, other.offset, other.head)
    }
}

/// The partial record the last look at the end of the open segment found, if any.
#[derive(Debug, Default)]
pub(crate) struct PartialEndWatch {
    seen: Option<Seen>,
}

#[derive(Debug)]
struct Seen {
    at: PartialAt,
    /// When it was first seen at this place; after a check, when that ran.
    since: Instant,
    /// How long after `since` the next check is due.
    wait: Duration,
    /// The last check: the file's length then, and what it found (never [`Tail::Clean`]).
    checked: Option<(u64, Tail)>,
}

impl PartialEndWatch {
    /// Notes what ended the open segment's data at a look: a partial record `at`, or none
    /// (the last record was whole). The same record in a longer file is the same record,
    /// grown: its clock runs on.
    pub(crate) fn note(&mut self, at: Option<PartialAt>) {
        match (at, &mut self.seen) {
            (Some(at), Some(seen)) if seen.at.same_record(&at) => {
                seen.at.file_len = at.file_len;
            }
            (Some(at), _) => {
                self.seen = Some(Seen {
                    at,
                    since: Instant::now(),
                    wait: PARTIAL_PATIENCE,
                    checked: None,
                });
            }
            (None, _) => self.seen = None,
        }
    }

    /// Forgets what was seen: the reader left that segment.
    pub(crate) fn clear(&mut self) {
        self.seen = None;
    }

    /// Whether the partial record seen last is to be checked now: not since the file last
    /// changed, and either after its wait or `at_once` (the reader's last read); at once
    /// after a change when the last check found damage (so a mended file is read again).
    pub(crate) fn check_due(&self, at_once: bool) -> bool {
        let Some(seen) = &self.seen else {
            return false;
        };
        match seen.checked {
            Some((len, _)) if len == seen.at.file_len => false,
            Some((_, Tail::Corrupt)) => true,
            _ => at_once || seen.since.elapsed() >= seen.wait,
        }
    }

    /// Records what a check found: `None` when the record was whole after all (its write
    /// ended), which forgets it.
    pub(crate) fn checked(&mut self, verdict: Option<Tail>) {
        let (Some(seen), Some(tail)) = (&mut self.seen, verdict) else {
            self.seen = None;
            return;
        };
        seen.checked = Some((seen.at.file_len, tail));
        seen.since = Instant::now();
        if tail != Tail::Corrupt {
            seen.wait = (seen.wait * 2).min(PARTIAL_PATIENCE_MAX);
        }
    }

    /// Whether the last check of the partial record seen last found damage.
    pub(crate) fn damaged(&self) -> bool {
        self.seen
            .as_ref()
            .is_some_and(|seen| matches!(seen.checked, Some((_, Tail::Corrupt))))
    }

    /// When a check of the partial record at `open` (the open segment's base and offset)
    /// becomes due without a look that changes anything, for the timer of a reader waiting
    /// at the end: never for a record checked at the file's present length, nor for one
    /// seen elsewhere (the reader has moved on).
    pub(crate) fn deadline(&self, open: Option<(u64, u64)>) -> Option<Instant> {
        let seen = self.seen.as_ref()?;
        let unchanged = seen.checked.is_some_and(|(len, _)| len == seen.at.file_len);
        let here = open == Some((seen.at.base, seen.at.offset));
        (here && !unchanged).then(|| seen.since + seen.wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64, file_len: u64) -> Option<PartialAt> {
        Some(PartialAt {
            base: 0,
            offset,
            file_len,
            head: [1; RECORD_HEADER_LEN],
        })
    }

    #[test]
    fn a_partial_record_is_due_after_its_wait_and_not_again_until_the_file_changes() {
        let mut watch = PartialEndWatch::default();
        let before = Instant::now();
        watch.note(at(100, 150));
        assert!(!watch.check_due(false));
        assert!(watch.check_due(true), "a last read checks at once");
        let due = watch
            .deadline(Some((0, 100)))
            .expect("a check is due later");
        assert!(due >= before + PARTIAL_PATIENCE);
        assert_eq!(watch.deadline(Some((0, 120))), None, "the reader moved on");
        assert_eq!(watch.deadline(None), None);

        let checked = Instant::now();
        watch.checked(Some(Tail::Torn));
        assert!(!watch.check_due(true), "checked at this length");
        assert_eq!(watch.deadline(Some((0, 100))), None, "idle: no timer");
        assert!(!watch.damaged());

        // Grown: due again, twice the wait after the check.
        watch.note(at(100, 160));
        let due = watch
            .deadline(Some((0, 100)))
            .expect("due again once grown");
        assert!(due >= checked + 2 * PARTIAL_PATIENCE, "the wait doubles");
        assert!(watch.check_due(true));
    }

    #[test]
    fn growth_does_not_restart_the_clock_and_damage_is_rechecked_after_a_change() {
        let mut watch = PartialEndWatch::default();
        watch.note(at(100, 150));
        let first = watch.deadline(Some((0, 100))).unwrap();
        watch.note(at(100, 151));
        assert_eq!(watch.deadline(Some((0, 100))), Some(first));

        watch.checked(Some(Tail::Corrupt));
        assert!(watch.damaged());
        assert!(!watch.check_due(false));
        watch.note(at(100, 152));
        assert!(
            watch.check_due(false),
            "damage is looked at again after a change"
        );

        // Another record at the same place (a restarted producer's): its own clock.
        let mut other = at(100, 152).unwrap();
        other.head[0] = 2;
        watch.note(Some(other));
        assert!(!watch.damaged() && !watch.check_due(false));
        assert!(watch.check_due(true));

        // Whole after all, or another place, or no partial record: forgotten.
        watch.checked(None);
        assert!(!watch.damaged() && watch.deadline(Some((0, 100))).is_none());
        watch.note(at(100, 150));
        watch.note(at(200, 250));
        assert!(watch.deadline(Some((0, 100))).is_none());
        watch.note(None);
        assert!(watch.deadline(Some((0, 200))).is_none());
    }

    #[test]
    fn the_wait_doubles_up_to_its_limit() {
        let mut watch = PartialEndWatch::default();
        for len in 0..20 {
            watch.note(at(0, 10 + len));
            watch.checked(Some(Tail::Torn));
        }
        watch.note(at(0, 100));
        let due = watch.deadline(Some((0, 0))).unwrap();
        assert!(due <= Instant::now() + PARTIAL_PATIENCE_MAX);
        assert!(due + Duration::from_secs(1) >= Instant::now() + PARTIAL_PATIENCE_MAX);
    }
}
