//! [`PlainWriter`]: appends framed messages to an ordinary file (`framing=lines|raw|length`).

use super::appender::{queued_records, AppendTarget, QUEUED_HEADER};
use crate::codec::FrameCodec;
use crate::sys;
use bytes::{Bytes, BytesMut};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::codec::Encoder;

/// An ordinary file opened for appending. Several writers may append at once: the file is
/// opened with `O_APPEND`, and each group of messages is one `write`.
#[derive(Debug)]
pub(crate) struct PlainWriter {
    path: PathBuf,
    file: Arc<File>,
    codec: FrameCodec,
    buf: BytesMut,
}

impl PlainWriter {
    /// Opens `path` for appending, creating it with `mode` when missing.
    ///
    /// # Errors
    /// OS errors; `IsADirectory`-like errors when `path` is a directory.
    pub(crate) fn open(path: &Path, codec: FrameCodec, mode: u32) -> io::Result<PlainWriter> {
        Ok(PlainWriter {
            path: path.to_owned(),
            file: Arc::new(sys::open_append(path, mode)?),
            codec,
            buf: BytesMut::new(),
        })
    }
}

impl AppendTarget for PlainWriter {
    fn append(&mut self, batch: &mut [u8]) -> io::Result<()> {
        for (at, len) in queued_records(batch) {
            let msg = Bytes::copy_from_slice(&batch[at + QUEUED_HEADER..at + len]);
            self.codec.encode(msg, &mut self.buf)?;
        }
        let result = (&*self.file).write_all(&self.buf);
        self.buf.clear();
        result
    }

    fn current_file(&self) -> Arc<File> {
        self.file.clone()
    }

    fn describe(&self) -> String {
        format!("file://{}", self.path.display())
    }
}
