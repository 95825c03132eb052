//! [`PlainWriter`]: appends framed messages to an ordinary file (`framing=lines|raw|length`).

use super::record::SegmentHeader;
use super::writer_thread::{AppendTarget, TargetFile};
use crate::sys;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

/// An ordinary file opened for appending. Several writers may append at once: the file is
/// opened with `O_APPEND`, and each block of messages (framed by the sending task) is one
/// `write`.
#[derive(Debug)]
pub(crate) struct PlainWriter {
    file: Arc<TargetFile>,
}

impl PlainWriter {
    /// Opens `path` for appending, creating it with `mode` when missing.
    ///
    /// # Errors
    /// OS errors; `InvalidInput` when `path` is a directory.
    pub(crate) fn open(path: &Path, mode: u32) -> io::Result<PlainWriter> {
        let file = sys::open_append(path, mode).map_err(|e| match path.is_dir() {
            true => super::a_directory(path),
            false => e,
        })?;
        Ok(PlainWriter {
            file: Arc::new(TargetFile::new(file, path.to_owned())),
        })
    }
}

impl AppendTarget for PlainWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        // The OS's error as it is: the fail-stop message names the file (`describe`).
        (&self.file.file).write_all(data)
    }

    fn start_segment(&mut self, _header: SegmentHeader) -> io::Result<()> {
        // A plain file's encoder never starts segments.
        Ok(())
    }

    fn current_file(&self) -> Arc<TargetFile> {
        self.file.clone()
    }

    fn describe(&self) -> String {
        format!("file://{}", self.file.path.display())
    }

    fn after_failure(&self) -> &'static str {
        "messages not yet written may be lost (under fsync=batch or never, acknowledged ones \
         too), and the file may end with part of one (a plain file has no torn-tail \
         recovery); connect again to append"
    }
}
