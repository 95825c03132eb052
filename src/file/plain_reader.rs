//! [`PlainReader`]: reads framed messages from an ordinary file, like `tail -f` (`follow`)
//! or `cat` (no `follow`).

use super::tailer::{Batch, TailSource};
use crate::codec::FrameCodec;
use crate::sys;
use bytes::BytesMut;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use tokio_util::codec::Decoder;

/// Most bytes read at once.
const READ_CHUNK: usize = 256 * 1024;

/// An ordinary file read from its start.
#[derive(Debug)]
pub(crate) struct PlainReader {
    path: PathBuf,
    file: Option<File>,
    codec: FrameCodec,
    buf: BytesMut,
    /// Bytes of the file read so far.
    offset: u64,
    follow: bool,
    /// Messages delivered: the "sequence number" of the next one.
    count: u64,
}

impl PlainReader {
    /// A reader of `path`. Without `follow` the file must exist; with it, a missing file is
    /// waited for.
    ///
    /// # Errors
    /// `NotFound` for a missing file without `follow`; OS errors.
    pub(crate) fn open(path: &Path, codec: FrameCodec, follow: bool) -> io::Result<PlainReader> {
        let file = match sys::open_read(path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound && follow => None,
            Err(e) => return Err(e),
        };
        Ok(PlainReader {
            path: path.to_owned(),
            file,
            codec,
            buf: BytesMut::new(),
            offset: 0,
            follow,
            count: 0,
        })
    }
}

impl TailSource for PlainReader {
    fn read_batch(&mut self, _delivered: Option<u64>) -> io::Result<Batch> {
        let mut batch = Batch::default();
        if self.file.is_none() {
            match sys::open_read(&self.path) {
                Ok(file) => self.file = Some(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    batch.caught_up = true;
                    return Ok(batch);
                }
                Err(e) => return Err(e),
            }
        }
        let Some(file) = &mut self.file else {
            batch.caught_up = true;
            return Ok(batch);
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated (log rotation by copy-truncate): start again from the top, as
            // `tail -f` does.
            tracing::info!(path = %self.path.display(), "file truncated; reading from the start");
            file.seek(SeekFrom::Start(0))?;
            self.offset = 0;
            self.buf.clear();
        }
        let start = self.buf.len();
        self.buf.resize(start + READ_CHUNK, 0);
        let mut got = 0;
        let at_eof = loop {
            match file.read(&mut self.buf[start + got..]) {
                Ok(0) => break true,
                Ok(n) => {
                    got += n;
                    if start + got == self.buf.len() {
                        break false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(start + got);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(start + got);
        self.offset += got as u64;
        while let Some(frame) = self.codec.decode(&mut self.buf)? {
            batch.push(self.count, frame);
            self.count += 1;
        }
        if at_eof {
            if !self.follow {
                // The end of the file ends the last message, even a line without its newline.
                while let Some(frame) = self.codec.decode_eof(&mut self.buf)? {
                    batch.push(self.count, frame);
                    self.count += 1;
                }
            }
            batch.caught_up = true;
        }
        Ok(batch)
    }
}
