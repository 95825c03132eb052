//! [`PlainWriter`]: appends framed messages to an ordinary file (`framing=lines|raw|length`).

use super::appender::AppendTarget;
use crate::codec::FrameCodec;
use crate::sys;
use bytes::{Bytes, BytesMut};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tokio_util::codec::Encoder;

/// An ordinary file opened for appending. Several writers may append at once: the file is
/// opened with `O_APPEND`, and each group of messages is one `write`.
#[derive(Debug)]
pub(crate) struct PlainWriter {
    path: PathBuf,
    file: File,
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
            file: sys::open_append(path, mode)?,
            codec,
            buf: BytesMut::new(),
        })
    }
}

impl AppendTarget for PlainWriter {
    fn append(&mut self, msgs: &[Bytes]) -> io::Result<()> {
        for msg in msgs {
            self.codec.encode(msg.clone(), &mut self.buf)?;
        }
        let result = self.file.write_all(&self.buf);
        self.buf.clear();
        result
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn describe(&self) -> String {
        format!("file://{}", self.path.display())
    }
}
