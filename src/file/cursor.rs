//! A consumer's committed position, kept in `NAME.cursor` beside the log.
//!
//! The file is 20 bytes: magic `AIPCCUR1`, the sequence number of the next record to
//! deliver (u64 little-endian), and a CRC32C of the 16 bytes before it. It is replaced
//! atomically: written to a temporary file, optionally fsynced, renamed over the old one.

use super::segment::{corrupt, cursor_path, cursor_temp_path};
use crate::sys;
use std::io::{self, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"AIPCCUR1";
const LEN: usize = 20;

/// The committed position of consumer `name`: `None` if it never committed.
///
/// The file is opened as a segment is (not through a symlink, refused unless a regular
/// file, without blocking on a FIFO) and read only up to one byte past a cursor's length, so
/// a cursor replaced by a link, a FIFO or a large file is refused, not read.
///
/// # Errors
/// `InvalidData` for a damaged cursor file (wrong length or contents, or not a regular
/// file); OS errors reading it.
pub(crate) fn load(dir: &Path, name: &str) -> io::Result<Option<u64>> {
    let path = cursor_path(dir, name);
    let damaged = |what: &str| corrupt(dir, format!("the cursor of consumer `{name}` {what}"));
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.is_file() => return Err(damaged("is not a regular file")),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    // A symlink, FIFO or device put there since is refused by the open (on Unix), which
    // neither follows a link nor blocks on a FIFO.
    let file = match sys::open_segment_read(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bytes = read_limited(file)?;
    decode(&bytes)
        .map(Some)
        .ok_or_else(|| damaged("is damaged"))
}

/// Reads at most one byte more than a cursor holds: enough to tell a cursor that is too long.
fn read_limited(file: impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(LEN + 1);
    file.take(LEN as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Commits `next_seq` as consumer `name`'s position; with `durable`, fsyncs the file and
/// the directory before returning.
///
/// # Errors
/// OS errors writing, syncing or renaming.
pub(crate) fn store(
    dir: &Path,
    name: &str,
    next_seq: u64,
    durable: bool,
    mode: u32,
) -> io::Result<()> {
    let temp = cursor_temp_path(dir, name);
    // A temporary file left by a crash is ours (its name belongs to this consumer).
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = sys::create_new_file(&temp, mode)?;
    file.write_all(&encode(next_seq))?;
    if durable {
        file.sync_data()?;
    }
    drop(file);
    std::fs::rename(&temp, cursor_path(dir, name))?;
    if durable {
        sys::sync_dir(dir)?;
    }
    Ok(())
}

fn encode(next_seq: u64) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[0..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&next_seq.to_le_bytes());
    let crc = crc32c::crc32c(&out[0..16]);
    out[16..20].copy_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != LEN || &bytes[0..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[16..20].try_into().ok()?);
    if crc32c::crc32c(&bytes[0..16]) != crc {
        return None;
    }
    Some(u64::from_le_bytes(bytes[8..16].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_damage() {
        let bytes = encode(123_456);
        assert_eq!(decode(&bytes), Some(123_456));
        for i in 0..LEN {
            let mut bad = bytes;
            bad[i] ^= 0x40;
            assert_eq!(decode(&bad), None, "flip at {i}");
        }
        assert_eq!(decode(&bytes[..LEN - 1]), None);
    }

    /// A cursor is read only so far: an endless file does not fill the memory.
    #[test]
    fn a_cursor_is_read_one_byte_past_its_length_at_most() {
        let bytes = read_limited(io::repeat(7)).unwrap();
        assert_eq!(bytes.len(), LEN + 1);
        assert_eq!(decode(&bytes), None);
        assert_eq!(read_limited(&encode(5)[..]).unwrap(), encode(5));
    }

    /// A cursor that is a symlink (here to a valid cursor elsewhere; to `/dev/zero` it would
    /// be read forever), a FIFO or a directory is damaged, never followed.
    #[cfg(unix)]
    #[test]
    fn a_cursor_that_is_not_a_regular_file_is_invalid_data() {
        let dir = crate::test_support::temp_dir("cursor-link");
        let elsewhere = dir.join("elsewhere");
        std::fs::write(&elsewhere, encode(42)).unwrap();
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

        store(&dir, "plain", 42, false, 0o600).unwrap();
        assert_eq!(load(&dir, "plain").unwrap(), Some(42));
        assert_eq!(load(&dir, "never").unwrap(), None);
        let mut long = encode(42).to_vec();
        long.push(0);
        std::fs::write(cursor_path(&dir, "long"), long).unwrap();
        assert_eq!(
            load(&dir, "long").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
