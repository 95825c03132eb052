//! A consumer's committed position, kept in `NAME.cursor` beside the log.
//!
//! The file is 20 bytes: magic `AIPCCUR1`, the sequence number of the next record to
//! deliver (u64 little-endian), and a CRC32C of the 16 bytes before it. It is replaced
//! atomically: written to a temporary file, optionally fsynced, renamed over the old one.

use super::segment::{corrupt, cursor_path, cursor_temp_path};
use crate::sys;
use std::io::{self, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"AIPCCUR1";
const LEN: usize = 20;

/// The committed position of consumer `name`: `None` if it never committed.
///
/// # Errors
/// `InvalidData` for a damaged cursor file; OS errors reading it.
pub(crate) fn load(dir: &Path, name: &str) -> io::Result<Option<u64>> {
    let bytes = match std::fs::read(cursor_path(dir, name)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    decode(&bytes)
        .map(Some)
        .ok_or_else(|| corrupt(dir, format!("the cursor of consumer `{name}` is damaged")))
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
}
