//! A consumer's committed position, kept in `NAME.cursor` beside the log.
//!
//! The file is magic `AIPCCUR2`, the sequence number of the next record to deliver (u64
//! little-endian), the stored CRC of the record before it (u32 little-endian) and a CRC32C
//! of the 20 bytes before it: 24 bytes. A position whose record before it is unknown (the
//! start of the log, or a consumer that skipped records deleted by retention) is written in
//! the first format, 20 bytes: magic `AIPCCUR1`, the sequence number and a CRC32C of the 16
//! bytes before it. It is replaced atomically: written to a temporary file of its own
//! (`.NAME.cursor.PID-N.tmp`, so that two consumers of one name storing at once do not
//! meet; a name already taken is skipped, never reused or removed; removed when the store
//! fails, left only by a crash, and removed with the cursor or the log, or by the next
//! consumer of that name to open once it is [`STALE_TEMP_AGE`] old), optionally fsynced,
//! renamed over the old one.
//!
//! The record's CRC lets a resumed consumer check that the log still holds the record it
//! last read: after a crash that lost records the consumer had read (written but not yet
//! synced under `fsync=never|batch`, or read before the producer's `fdatasync` returned), the
//! producer appends new records under the same sequence numbers, and a cursor of sequence
//! numbers alone would skip them.

use super::segment::{
    corrupt, cursor_path, cursor_temp_owner, cursor_temp_path, os_error, sync_dir,
};
use crate::sys;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

/// How old a temporary cursor file must be before a consumer opening under that name
/// removes it as left by a crash: a store writes 24 bytes, syncs and renames them, which
/// takes milliseconds, or seconds on a stalled disk, never this long.
pub(crate) const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Removes consumer `name`'s cursor from the log in `dir` (`dir/NAME.cursor`, and the
/// temporary files of commits a crash interrupted), so that the consumer, opened again,
/// starts where `from` says: the way out of a [`CursorMismatch`](super::CursorMismatch), or
/// to read a log again from the start. The log itself is untouched.
///
/// A consumer that is still open commits again (a connection by itself, every 1,000 records
/// or second and when closed), writing its cursor back: drop it first. Removed under a
/// running consumer of that name, the temporary file of a commit it has under way goes
/// too, and that commit fails (`NotFound`).
///
/// A cursor that is not there is not an error: after this call there is none, whether
/// there was one or not (so two processes resetting the same consumer both succeed).
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
/// # let dir = std::env::temp_dir().join(format!("anyipc-doc-rm-cursor-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let opts = FileOptions { follow: false, ..FileOptions::default() };
/// let mut log = FileProducer::open(&dir, opts.clone()).await?;
/// log.append_many(&["a", "b", "c"]).await?;
/// log.close().await?;
/// let mut audit = FileConsumer::open(&dir, Some("audit"), opts.clone()).await?;
/// while audit.recv().await?.is_some() {}
/// audit.commit().await?;
/// drop(audit);
/// assert!(dir.join("audit.cursor").exists());
///
/// anyipc::file::remove_cursor(&dir, "audit")?;
/// assert!(!dir.join("audit.cursor").exists());
/// let mut audit = FileConsumer::open(&dir, Some("audit"), opts).await?;
/// assert_eq!(audit.recv().await?.unwrap().seq, 0); // from the start again
/// anyipc::file::remove_cursor(&dir, "never-committed")?; // nothing to remove: Ok
/// let bad = anyipc::file::remove_cursor(&dir, "../audit").unwrap_err();
/// assert_eq!(bad.kind(), std::io::ErrorKind::InvalidInput);
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// `InvalidInput` when `name` breaks the consumer name rules (those of the `consumer=`
/// option: it becomes a file name, so no `/`); OS errors removing the files (a directory in
/// the cursor's place, for one, is an error: it is not removed).
pub fn remove_cursor(dir: impl AsRef<Path>, name: &str) -> io::Result<()> {
    let dir = dir.as_ref();
    check_name(name)?;
    let mut paths = vec![cursor_path(dir, name)];
    match temp_files(dir, name) {
        Ok(temps) => paths.extend(temps),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    for path in paths {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(os_error("cannot remove", &path, e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Removes consumer `name`'s temporary cursor files in `dir` that were last written
/// [`STALE_TEMP_AGE`] ago or earlier: what stores that a crash interrupted left. A younger one
/// may be a store under way in another process, and is left alone. Best effort: a file
/// that cannot be looked at or removed stays, for the next open.
pub(crate) fn remove_stale_temps(dir: &Path, name: &str) {
    for path in temp_files(dir, name).unwrap_or_default() {
        let stale = std::fs::symlink_metadata(&path)
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|written| written.elapsed().ok())
            .is_some_and(|age| age >= STALE_TEMP_AGE);
        if stale && std::fs::remove_file(&path).is_ok() {
            tracing::debug!(file = %path.display(), "removed a crashed store's temporary cursor file");
        }
    }
}

/// The temporary cursor files of consumer `name` in `dir` ([`cursor_temp_owner`]).
///
/// # Errors
/// Reading the directory fails (`NotFound` when it is missing).
fn temp_files(dir: &Path, name: &str) -> io::Result<Vec<std::path::PathBuf>> {
    let mut temps = Vec::new();
    let unreadable = |e| os_error("cannot read the log directory", dir, e);
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let file = entry.map_err(unreadable)?.file_name();
        if file.to_str().and_then(cursor_temp_owner) == Some(name) {
            temps.push(dir.join(file));
        }
    }
    Ok(temps)
}

/// `InvalidInput` unless `name` is a consumer name (the `consumer=` option's rules: it
/// becomes a file name beside the log).
pub(crate) fn check_name(name: &str) -> io::Result<()> {
    crate::Endpoint::parse("file:///log")?.with_option("consumer", name)?;
    Ok(())
}

const MAGIC_SEQ: &[u8; 8] = b"AIPCCUR1";
const LEN_SEQ: usize = 20;
const MAGIC_CHECKED: &[u8; 8] = b"AIPCCUR2";
const LEN_CHECKED: usize = 24;

/// Where a consumer stands: the next record to deliver and, when known, the stored CRC of
/// the record before it, which a consumer resuming there checks the log against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) next_seq: u64,
    /// The CRC field of record `next_seq - 1`.
    pub(crate) last_crc: Option<u32>,
}

impl Position {
    /// A position with nothing known about the record before it.
    pub(crate) fn at(next_seq: u64) -> Position {
        Position {
            next_seq,
            last_crc: None,
        }
    }

    /// The record the log must still hold for a consumer to resume here, and its CRC field.
    pub(crate) fn check(self) -> Option<(u64, u32)> {
        Some((self.next_seq.checked_sub(1)?, self.last_crc?))
    }
}

/// The committed position of consumer `name`: `None` if it never committed.
///
/// The file is opened as a segment is (not through a symlink, refused unless a regular
/// file, without blocking on a FIFO) and read only up to one byte past a cursor's length, so
/// a cursor replaced by a link, a FIFO or a large file is refused, not read.
///
/// # Errors
/// `InvalidData` for a damaged cursor file (wrong length or contents, or not a regular
/// file); OS errors reading it.
pub(crate) fn load(dir: &Path, name: &str) -> io::Result<Option<Position>> {
    let path = cursor_path(dir, name);
    let damaged = |what: &str| corrupt(dir, format!("the cursor of consumer `{name}` {what}"));
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.is_file() => return Err(damaged("is not a regular file")),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(os_error("cannot look at", &path, e)),
    }
    // A symlink, FIFO or device put there since is refused by the open (on Unix), which
    // neither follows a link nor blocks on a FIFO.
    let file = match sys::open_segment_read(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(os_error("cannot open", &path, e)),
    };
    let bytes = read_limited(file).map_err(|e| os_error("cannot read", &path, e))?;
    decode(&bytes)
        .map(Some)
        .ok_or_else(|| damaged("is damaged"))
}

/// Reads at most one byte more than a cursor holds: enough to tell a cursor that is too long.
fn read_limited(file: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(LEN_CHECKED + 1);
    file.take(LEN_CHECKED as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// How many taken temporary file names a store skips before it gives up (`AlreadyExists`).
const TEMP_ATTEMPTS: u32 = 64;

/// Commits `position` as consumer `name`'s; with `durable`, fsyncs the file and the
/// directory before returning.
///
/// # Errors
/// OS errors writing, syncing or renaming.
pub(crate) fn store(
    dir: &Path,
    name: &str,
    position: Position,
    durable: bool,
    mode: u32,
) -> io::Result<()> {
    // A file of this store's own: another consumer of the same name (another process)
    // may be storing at the same time. A name already taken (by a process of the same id
    // in another PID namespace sharing the directory, or left by a crashed one whose id
    // this process reuses) is not this store's: it takes the next one, and never removes
    // a file it did not create.
    let mut attempts = 0;
    let (temp, mut file) = loop {
        let temp = cursor_temp_path(dir, name);
        match sys::create_new_file(&temp, mode) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < TEMP_ATTEMPTS => {
                attempts += 1;
            }
            Err(e) => return Err(os_error("cannot create", &temp, e)),
            Ok(file) => break (temp, file),
        }
    };
    let written = (|| {
        file.write_all(&encode(position))
            .map_err(|e| os_error("cannot write", &temp, e))?;
        if durable {
            file.sync_data()
                .map_err(|e| os_error("cannot sync", &temp, e))?;
        }
        drop(file);
        let path = cursor_path(dir, name);
        sys::replace_file(&temp, &path).map_err(|e| {
            let what = format!("cannot rename {} to", temp.display());
            os_error(&what, &path, e)
        })
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

fn encode(position: Position) -> Vec<u8> {
    let mut out = Vec::with_capacity(LEN_CHECKED);
    match position.last_crc {
        Some(crc) => {
            out.extend_from_slice(MAGIC_CHECKED);
            out.extend_from_slice(&position.next_seq.to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
        }
        None => {
            out.extend_from_slice(MAGIC_SEQ);
            out.extend_from_slice(&position.next_seq.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<Position> {
    let checked = match bytes.len() {
        LEN_SEQ if bytes.starts_with(MAGIC_SEQ) => false,
        LEN_CHECKED if bytes.starts_with(MAGIC_CHECKED) => true,
        _ => return None,
    };
    let (covered, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(covered) != le_u32(crc)? {
        return None;
    }
    let next_seq = u64::from_le_bytes(covered.get(8..16)?.try_into().ok()?);
    let last_crc = match checked {
        true => Some(le_u32(covered.get(16..20)?)?),
        false => None,
    };
    Some(Position { next_seq, last_crc })
}

fn le_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_damage() {
        let checked = Position {
            next_seq: 123_456,
            last_crc: Some(0xDEAD_BEEF),
        };
        for position in [checked, Position::at(123_456), Position::at(0)] {
            let bytes = encode(position);
            let len = if position.last_crc.is_some() {
                LEN_CHECKED
            } else {
                LEN_SEQ
            };
            assert_eq!(bytes.len(), len);
            assert_eq!(decode(&bytes), Some(position));
            for i in 0..bytes.len() {
                let mut bad = bytes.clone();
                bad[i] ^= 0x40;
                assert_eq!(decode(&bad), None, "flip at {i} of {position:?}");
            }
            assert_eq!(decode(&bytes[..len - 1]), None);
            let mut long = bytes.clone();
            long.push(0);
            assert_eq!(decode(&long), None);
        }
        assert_eq!(checked.check(), Some((123_455, 0xDEAD_BEEF)));
        assert_eq!(Position::at(5).check(), None);
        let at_start = Position {
            next_seq: 0,
            last_crc: Some(1),
        };
        assert_eq!(at_start.check(), None);
    }

    /// A temporary file already at the name a store picks (left by a crashed process
    /// whose id this one reuses, or another container's process of the same id storing
    /// now) is neither used nor removed: the store takes another name.
    #[test]
    fn a_store_leaves_a_temporary_file_it_did_not_create_alone() {
        let dir = crate::test_support::temp_dir("cursor-temp-taken");
        let taken = super::super::segment::next_cursor_temp_paths(&dir, "c", 4);
        for (i, path) in taken.iter().enumerate() {
            std::fs::write(path, format!("someone else's {i}")).unwrap();
        }
        store(&dir, "c", Position::at(7), false, 0o600).unwrap();
        assert_eq!(load(&dir, "c").unwrap(), Some(Position::at(7)));
        for (i, path) in taken.iter().enumerate() {
            let kept = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{i}: {e}"));
            assert_eq!(kept, format!("someone else's {i}"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A cursor is read only so far: an endless file does not fill the memory.
    #[test]
    fn a_cursor_is_read_one_byte_past_its_length_at_most() {
        let bytes = read_limited(io::repeat(7)).unwrap();
        assert_eq!(bytes.len(), LEN_CHECKED + 1);
        assert_eq!(decode(&bytes), None);
        let five = encode(Position {
            next_seq: 5,
            last_crc: Some(9),
        });
        assert_eq!(read_limited(&five[..]).unwrap(), five);
    }

    /// A cursor that is a symlink (here to a valid cursor elsewhere; to `/dev/zero` it would
    /// be read forever), a FIFO or a directory is damaged, never followed.
    #[cfg(unix)]
    #[test]
    fn a_cursor_that_is_not_a_regular_file_is_invalid_data() {
        let dir = crate::test_support::temp_dir("cursor-link");
        let elsewhere = dir.join("elsewhere");
        std::fs::write(&elsewhere, encode(Position::at(42))).unwrap();
        std::os::unix::fs::symlink(&elsewhere, cursor_path(&dir, "linked")).unwrap();
        let err = load(&dir, "linked").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("`linked`"), "{err}");
        let fifo = std::process::Command::new("mkfifo")
            .arg(cursor_path(&dir, "fifo"))
            .status()
            .unwrap();
        assert!(fifo.success());
        assert_eq!(
            load(&dir, "fifo").unwrap_err().kind(),
            io::ErrorKind::InvalidData,
            "a FIFO is refused, not read (a read would block for ever)"
        );
        std::fs::create_dir(cursor_path(&dir, "dir")).unwrap();
        assert_eq!(
            load(&dir, "dir").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );

        store(&dir, "plain", Position::at(42), false, 0o600).unwrap();
        assert_eq!(load(&dir, "plain").unwrap(), Some(Position::at(42)));
        assert_eq!(load(&dir, "never").unwrap(), None);
        let mut long = encode(Position::at(42));
        long.push(0);
        std::fs::write(cursor_path(&dir, "long"), long).unwrap();
        assert_eq!(
            load(&dir, "long").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
