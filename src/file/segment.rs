//! Where things live in a log directory: segment files, the writer lock, consumer cursors.
//!
//! ```text
//! dir/
//!   00000000000000000000.log   segment whose first record has sequence number 0
//!   00000000000000052817.log   the next segment, starting at 52817
//!   writer.lock                flock-ed by the one live writer
//!   NAME.cursor                consumer NAME's committed position
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// The file the live writer holds an exclusive lock on.
pub(crate) const LOCK_FILE: &str = "writer.lock";
const SEGMENT_SUFFIX: &str = ".log";
const CURSOR_SUFFIX: &str = ".cursor";

/// The path of the segment whose first record has sequence number `base`.
pub(crate) fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}{SEGMENT_SUFFIX}"))
}

/// The path of consumer `name`'s cursor.
pub(crate) fn cursor_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{CURSOR_SUFFIX}"))
}

/// The temporary file a cursor is written to before it is renamed into place.
pub(crate) fn cursor_temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}{CURSOR_SUFFIX}.tmp"))
}

/// Whether `name` is a segment's file name.
pub(crate) fn is_segment_file(name: &str) -> bool {
    parse_segment_name(name).is_some()
}

/// Whether `name` is a consumer's cursor file or the temporary one it is written to.
pub(crate) fn is_cursor_file(name: &str) -> bool {
    name.ends_with(CURSOR_SUFFIX)
        || (name.starts_with('.') && name.ends_with(&format!("{CURSOR_SUFFIX}.tmp")))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The base sequence numbers of the segments in `dir`, ascending. Other files are ignored.
///
/// # Errors
/// OS errors reading the directory (`NotFound` when it does not exist).
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(base) = entry.file_name().to_str().and_then(parse_segment_name) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// An `InvalidData` error about the log in `dir`.
pub(crate) fn corrupt(dir: &Path, what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("file://{}: {what}", dir.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_sort() {
        let path = segment_path(Path::new("/d"), 52_817);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "00000000000000052817.log");
        assert_eq!(parse_segment_name(name), Some(52_817));
        assert_eq!(parse_segment_name("1.log"), None);
        assert_eq!(parse_segment_name("0000000000000005281x.log"), None);
    }
}
