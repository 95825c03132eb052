//! [`PlainReader`]: reads framed messages from an ordinary file, like `tail -f` (`follow`)
//! or `cat` (no `follow`).
//!
//! A bad frame is reported once, as `InvalidData`, after the messages before it. A line
//! over `max_frame` is dropped (with its end, as it arrives) and the lines after it follow,
//! with `follow` or without. With `framing=length` there is no next frame to find after a
//! length header over `max_frame` (or, without `follow`, a file that ends inside a frame):
//! the error is the last thing read, and the stream ends then, with `follow` too.
//!
//! With `follow` the path is followed, like `tail -F`, not only the file first opened: a
//! missing file is waited for (so is a plain file while the path names something else, a
//! directory or a FIFO), a truncated one (copy-truncate rotation) is read again from
//! its start (truncation is seen as a file shorter than what was read, so a file written
//! back past that point before the next read is not seen as truncated, as with `tail -f`),
//! and at the end of the open file the path is checked (one `lstat`: its device
//! and inode against the open file's, kept from the `fstat` of the first read, which looks
//! for truncation at every read). When it names another file (logrotate's
//! rename-and-create, or a delete and a new file), the old file is first read to its end,
//! after the check, so nothing written to it before the new one took its name is lost; its
//! end ends its last message, as at the end of a file read without `follow` (a last line
//! without its newline is delivered); then the path is read from the start. While the path
//! is missing the old file is still read, and the new one is opened when it appears. The
//! directory watcher wakes the reader on both (a file moved in or created in the file's
//! directory).

use super::cursor::Position;
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
    /// The open file's identity (device and inode on Unix, volume and file index on
    /// Windows), taken at the first read after its open: what the path is compared with at
    /// the file's end. `None` until then.
    identity: Option<sys::FileIdentity>,
    codec: FrameCodec,
    buf: BytesMut,
    /// Bytes of the file read so far.
    offset: u64,
    follow: bool,
    /// Messages delivered: the "sequence number" of the next one.
    count: u64,
    /// A decoding error met after frames of the same read: those are delivered first, and
    /// this is reported by the next read.
    pending: Option<io::Error>,
    /// The framing was lost (a length codec's error): once it is reported, nothing more is
    /// read and the stream ends.
    lost: bool,
    /// With `follow`: the path names another file than the open one (checked at its end).
    /// The open file is read to its end once more, then the path is opened afresh.
    replaced: bool,
    /// With `follow`: the path names something that is not a plain file (a directory, a
    /// FIFO…), which is waited out as a missing file is; warned about once.
    not_plain: bool,
    /// The open file holds more than its size says (Linux's `/proc` files all say 0): a
    /// size below what was read is then no truncation.
    size_understated: bool,
}

impl PlainReader {
    /// A reader of `path`. Without `follow` the file must exist; with it, a missing file is
    /// waited for.
    ///
    /// # Errors
    /// `NotFound` for a missing file without `follow`; OS errors.
    pub(crate) fn open(path: &Path, codec: FrameCodec, follow: bool) -> io::Result<PlainReader> {
        let file = match open_plain(path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound && follow => None,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(crate::error::with_context(
                    io::ErrorKind::NotFound,
                    format!(
                        "file://{}: no file there (follow=false reads what a file holds and \
                         ends; with follow, the default, a missing file is waited for): {e}",
                        path.display()
                    ),
                    e,
                ))
            }
            Err(e) => return Err(e),
        };
        Ok(PlainReader {
            path: path.to_owned(),
            file,
            identity: None,
            codec,
            buf: BytesMut::new(),
            offset: 0,
            follow,
            count: 0,
            pending: None,
            lost: false,
            replaced: false,
            not_plain: false,
            size_understated: false,
        })
    }

    /// With `follow`, at the end of the open file: whether the path now names another file.
    /// A missing path (or one that cannot be looked at) is not yet another file: the open
    /// one is kept and read, and the path is checked again at its next end.
    fn path_replaced(&self) -> bool {
        let Some(identity) = self.identity else {
            return false;
        };
        match sys::names_file(&self.path, identity) {
            Ok(same) => !same,
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::debug!(path = %self.path.display(), error = %e, "cannot check the followed path");
                }
                false
            }
        }
    }

    /// Closes the open file, finished after its path was given to another file, so that the
    /// next read opens the path from its start.
    fn forget_replaced_file(&mut self) {
        tracing::info!(path = %self.path.display(), "file replaced (rotated); reading the new one");
        self.file = None;
        self.identity = None;
        self.size_understated = false;
        self.offset = 0;
        self.buf.clear();
        // Nothing of the old file's bytes carries over to the new one.
        self.codec.reset();
        self.replaced = false;
    }

    /// Cuts the frames in the buffer into `batch`, the last one ended by the end of the data
    /// (`decode_eof`) when `eof`.
    ///
    /// # Errors
    /// The codec's (`InvalidData`); the frames cut before it are in `batch`.
    fn decode_into(&mut self, batch: &mut Batch, eof: bool) -> io::Result<()> {
        loop {
            let frame = if eof {
                self.codec.decode_eof(&mut self.buf)?
            } else {
                self.codec.decode(&mut self.buf)?
            };
            let Some(frame) = frame else {
                return Ok(());
            };
            batch.push(self.count, frame);
            self.count += 1;
        }
    }
}

/// Opens `path` for reading as a plain file.
///
/// # Errors
/// `InvalidInput` for a directory, FIFO, socket or symlink; OS errors (`NotFound`).
fn open_plain(path: &Path) -> io::Result<File> {
    match sys::open_read(path) {
        Ok(file) if file.metadata()?.is_dir() => Err(super::a_directory(path)),
        // Windows refuses to open a directory as a file.
        Err(_) if path.is_dir() => Err(super::a_directory(path)),
        opened => opened,
    }
}

impl TailSource for PlainReader {
    fn read_batch(&mut self, _returned: Option<Position>) -> io::Result<Batch> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let mut batch = Batch::default();
        if self.lost {
            batch.caught_up = true;
            batch.ended = true;
            return Ok(batch);
        }
        if self.file.is_none() {
            // Only a followed path is opened again (after a rotation, or while missing).
            match open_plain(&self.path) {
                Ok(file) => {
                    self.file = Some(file);
                    self.identity = None;
                    self.size_understated = false;
                    self.not_plain = false;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    batch.caught_up = true;
                    return Ok(batch);
                }
                // A directory, FIFO, socket or symlink at the path for now (refused when
                // bound): waited out as a missing file is, as `tail -F` does, rather than
                // failing every read until a plain file is back.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                    if !self.not_plain {
                        tracing::warn!(path = %self.path.display(), error = %e, "the followed path names no plain file; waiting for one");
                        self.not_plain = true;
                    }
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
        let meta = file.metadata()?;
        if self.identity.is_none() {
            self.identity = Some(sys::FileIdentity::of_file(file)?);
        }
        if meta.len() < self.offset && !self.size_understated {
            // Truncated (log rotation by copy-truncate): start again from the top, as
            // `tail -f` does.
            tracing::info!(path = %self.path.display(), "file truncated; reading from the start");
            file.seek(SeekFrom::Start(0))?;
            self.offset = 0;
            self.buf.clear();
            // What the codec knew of the old bytes (a line codec's scan) is no longer true.
            self.codec.reset();
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
        if meta.len() < self.offset && !self.size_understated {
            // Read past the size just looked at: a writer appended meanwhile, unless the size
            // is still short of what was read and unchanged, as for a `/proc` file (whose
            // size would make every read look like a truncation and read it again for ever).
            // A size that changed (a copy-truncate right after the read) keeps the check.
            let now = file.metadata()?.len();
            self.size_understated = now < self.offset && now == meta.len();
            if self.size_understated {
                tracing::debug!(path = %self.path.display(), "the file holds more than its size says; truncations are not looked for");
            }
        }
        // A replaced file is finished once a read begun after the check finds its end.
        let finished = at_eof && (!self.follow || self.replaced);
        let mut decoded = self.decode_into(&mut batch, false);
        if decoded.is_ok() && finished {
            // The end of the file ends the last message, even a line without its newline.
            decoded = self.decode_into(&mut batch, true);
        }
        let switched = finished && self.replaced;
        if switched {
            self.forget_replaced_file();
        }
        // Not caught up after a switch (the new file is read next) or once the path names
        // another file (the old one is read to its end first: a writer may have added to it
        // between this read and the check).
        let mut caught_up = at_eof && !switched;
        if caught_up && self.follow && self.path_replaced() {
            self.replaced = true;
            caught_up = false;
        }
        if let Err(e) = decoded {
            // The line codec dropped the bad line and reads on after it; a length codec's
            // bad header (or truncated last frame) stays where the next frame should start,
            // unless that was the end of a replaced file: the new one starts with a frame.
            self.lost = !matches!(self.codec, FrameCodec::Lines(_)) && !switched;
            if batch.chunks.is_empty() {
                return Err(e);
            }
            // The frames cut before the bad one are delivered; the next read (at once: the
            // batch is not `caught_up`) reports the error.
            self.pending = Some(e);
            return Ok(batch);
        }
        batch.caught_up = caught_up;
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Framing;
    use crate::file::tailer::Chunk;
    use bytes::Bytes;

    /// A fresh file `name` in the temporary directory, holding `bytes`.
    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let path = crate::test_support::temp_path(&format!("plain-{name}"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn payloads(batch: &Batch) -> Vec<Bytes> {
        batch
            .chunks
            .iter()
            .map(|chunk| match chunk {
                Chunk::One { payload, .. } => payload.clone(),
                Chunk::Records { .. } => panic!("the plain reader returns single messages"),
            })
            .collect()
    }

    /// Copy-truncate while a line without its newline was buffered: the line codec's scan
    /// position must not outlive the buffer (a panic), nor skip newlines of the new content
    /// (lines merged).
    #[test]
    fn a_truncated_file_is_read_afresh_by_the_line_codec() {
        let path = temp_file("truncate-short", b"abcdefghij");
        let codec = FrameCodec::new(Framing::Lines, 1024);
        let mut reader = PlainReader::open(&path, codec, true).unwrap();
        let batch = reader.read_batch(None).unwrap();
        assert!(batch.chunks.is_empty() && batch.caught_up);
        std::fs::write(&path, b"x\n").unwrap();
        let batch = reader.read_batch(None).unwrap();
        assert_eq!(payloads(&batch), [Bytes::from_static(b"x")]);

        // New content longer than what was scanned of the old: every newline is seen.
        let path2 = temp_file("truncate-long", b"line1\nabcdefghij");
        let codec = FrameCodec::new(Framing::Lines, 1024);
        let mut reader = PlainReader::open(&path2, codec, true).unwrap();
        let batch = reader.read_batch(None).unwrap();
        assert_eq!(payloads(&batch), [Bytes::from_static(b"line1")]);
        std::fs::write(&path2, b"a\nb\nc\nd\ne\nf\n").unwrap();
        let batch = reader.read_batch(None).unwrap();
        let want: Vec<Bytes> = [b"a", b"b", b"c", b"d", b"e", b"f"]
            .iter()
            .map(|l| Bytes::copy_from_slice(&l[..]))
            .collect();
        assert_eq!(payloads(&batch), want);
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&path2).unwrap();
    }

    /// Linux's `/proc` files say they are empty: that is not taken for a truncation after
    /// each read, which delivered the file again and again (for ever with `follow=false`).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_proc_file_that_says_it_is_empty_is_read_once() {
        let path = Path::new("/proc/version");
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        let lines = std::fs::read(path).unwrap().split(|&b| b == b'\n').count() - 1;
        assert!(lines > 0);
        for follow in [false, true] {
            let codec = FrameCodec::new(Framing::Lines, 1 << 16);
            let mut reader = PlainReader::open(path, codec, follow).unwrap();
            let mut got = 0;
            for _ in 0..5 {
                got += payloads(&reader.read_batch(None).unwrap()).len();
            }
            assert_eq!(got, lines, "follow={follow}");
        }
    }

    /// logrotate's `create` mode renames the followed file and creates a new one at its
    /// path. The reader follows the path (as `tail -F` does), not only the file it opened:
    /// what was written to the old file before the new one appeared comes first, its last
    /// line without a newline included (the old file is finished), then the new file from
    /// its start. It used to read the old file for ever and never see the new one.
    #[test]
    fn a_renamed_file_is_finished_then_the_new_file_at_its_path_is_read() {
        let path = temp_file("rename-create", b"a\n");
        let rotated = path.with_extension("1");
        let codec = FrameCodec::new(Framing::Lines, 1024);
        let mut reader = PlainReader::open(&path, codec, true).unwrap();
        let (got, errors, _) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"a")]);
        assert!(errors.is_empty(), "{errors:?}");
        let mut old = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut old, b"b\npart").unwrap();
        std::fs::rename(&path, &rotated).unwrap();
        std::fs::write(&path, b"c\n").unwrap();
        let (got, errors, ended) = read_to_end(&mut reader);
        let want: Vec<Bytes> = [&b"b"[..], b"part", b"c"]
            .iter()
            .map(|l| Bytes::copy_from_slice(l))
            .collect();
        assert_eq!(got, want);
        assert!(errors.is_empty() && !ended, "{errors:?}");
        // The reader is on the new file now: what is appended to it follows.
        let mut new = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut new, b"d\n").unwrap();
        std::io::Write::write_all(&mut old, b"lost\n").unwrap();
        let (got, _, _) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"d")]);
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&rotated).unwrap();
    }

    /// The path compared at the end is compared with the file opened, not with what the
    /// path names at the first read: a file replaced between the open and the first read is
    /// still finished, then the new one is read.
    #[test]
    fn a_file_replaced_before_the_first_read_is_finished_then_the_new_one_is_read() {
        let path = temp_file("rename-before-read", b"a\nold");
        let rotated = path.with_extension("1");
        let codec = FrameCodec::new(Framing::Lines, 1024);
        let mut reader = PlainReader::open(&path, codec, true).unwrap();
        std::fs::rename(&path, &rotated).unwrap();
        std::fs::write(&path, b"new\n").unwrap();
        let (got, errors, ended) = read_to_end(&mut reader);
        let want: Vec<Bytes> = [&b"a"[..], b"old", b"new"]
            .iter()
            .map(|l| Bytes::copy_from_slice(l))
            .collect();
        assert_eq!(got, want);
        assert!(errors.is_empty() && !ended, "{errors:?}");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&rotated).unwrap();
    }

    /// A followed file removed: its path is waited for, and the open file is still read
    /// meanwhile (a writer may hold it); a new file at the path is read from its start. It
    /// used to be missed for ever.
    #[test]
    fn a_removed_file_is_read_to_its_end_and_a_new_one_at_its_path_is_read() {
        let path = temp_file("remove-recreate", b"a\n");
        let codec = FrameCodec::new(Framing::Lines, 1024);
        let mut reader = PlainReader::open(&path, codec, true).unwrap();
        let mut old = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let (got, _, _) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"a")]);
        std::fs::remove_file(&path).unwrap();
        let (got, errors, ended) = read_to_end(&mut reader);
        assert!(got.is_empty() && errors.is_empty() && !ended, "{errors:?}");
        std::io::Write::write_all(&mut old, b"b\n").unwrap();
        let (got, _, _) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"b")]);
        std::fs::write(&path, b"c\n").unwrap();
        let (got, errors, ended) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"c")]);
        assert!(errors.is_empty() && !ended, "{errors:?}");
        std::fs::remove_file(&path).unwrap();
    }

    /// A followed path that names a directory (or a FIFO) for a while after its file was
    /// rotated away: waited out as a missing path is, without an error, and the plain file
    /// that takes the path next is read. Every read used to fail ("Is a directory") until
    /// then, which ended `anyipc listen`.
    #[cfg(unix)]
    #[test]
    fn a_followed_path_that_names_a_directory_for_a_while_is_waited_out() {
        let path = temp_file("replaced-by-dir", b"a\n");
        let rotated = path.with_extension("1");
        let codec = FrameCodec::new(Framing::Lines, 1024);
        let mut reader = PlainReader::open(&path, codec, true).unwrap();
        let (got, _, _) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"a")]);
        std::fs::rename(&path, &rotated).unwrap();
        std::fs::create_dir(&path).unwrap();
        for _ in 0..2 {
            let (got, errors, ended) = read_to_end(&mut reader);
            assert!(got.is_empty() && errors.is_empty() && !ended, "{errors:?}");
        }
        std::fs::remove_dir(&path).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(fifo.success());
        #[cfg(target_os = "linux")]
        let mut opens = {
            let opens = inotify::Inotify::init().unwrap();
            opens
                .watches()
                .add(&path, inotify::WatchMask::OPEN)
                .unwrap();
            opens
        };
        let (got, errors, ended) = read_to_end(&mut reader);
        assert!(got.is_empty() && errors.is_empty() && !ended, "{errors:?}");
        // The FIFO is looked at, never opened: a process at its other end would see each
        // open, as a reader that comes and goes.
        #[cfg(target_os = "linux")]
        match opens.read_events(&mut [0; 256]) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => panic!("the FIFO was opened: {:?}", other.map(|e| e.count())),
        }
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"b\n").unwrap();
        let (got, errors, ended) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"b")]);
        assert!(errors.is_empty() && !ended, "{errors:?}");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&rotated).unwrap();
    }

    /// Without `follow` the file opened is read to its end and the stream ends, whatever
    /// its path names by then.
    #[test]
    fn without_follow_the_file_opened_is_read_even_if_replaced() {
        let path = temp_file("rename-no-follow", b"a\nb");
        let codec = FrameCodec::new(Framing::Lines, 1024);
        let mut reader = PlainReader::open(&path, codec, false).unwrap();
        std::fs::rename(&path, path.with_extension("1")).unwrap();
        std::fs::write(&path, b"new\n").unwrap();
        let (got, errors, _) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
        assert!(errors.is_empty(), "{errors:?}");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(path.with_extension("1")).unwrap();
    }

    /// Reads until `InvalidData`, returning the payloads delivered before it.
    fn read_until_error(reader: &mut PlainReader) -> Vec<Bytes> {
        let mut got = Vec::new();
        for _ in 0..4 {
            match reader.read_batch(None) {
                Ok(batch) => got.extend(payloads(&batch)),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                    return got;
                }
            }
        }
        panic!("no error reported; delivered {got:?}");
    }

    /// A bad frame after good ones in the same chunk: the good ones are delivered, then the
    /// error is reported.
    #[test]
    fn frames_before_a_bad_one_are_delivered_before_its_error() {
        let want = [Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        for follow in [true, false] {
            let path = temp_file("bad-line", b"a\nb\n0123456789ABCDEF\nc\n");
            let codec = FrameCodec::new(Framing::Lines, 10);
            let mut reader = PlainReader::open(&path, codec, follow).unwrap();
            assert_eq!(
                read_until_error(&mut reader),
                want,
                "lines, follow {follow}"
            );
            // The long line was dropped with its error; the lines after it follow.
            let batch = reader.read_batch(None).unwrap();
            assert_eq!(payloads(&batch), [Bytes::from_static(b"c")]);
            std::fs::remove_file(&path).unwrap();

            let mut bytes = Vec::new();
            for frame in [&b"a"[..], b"b"] {
                bytes.extend_from_slice(&(frame.len() as u32).to_be_bytes());
                bytes.extend_from_slice(frame);
            }
            bytes.extend_from_slice(&11u32.to_be_bytes());
            bytes.extend_from_slice(b"0123456789A");
            let path = temp_file("bad-length", &bytes);
            let codec = FrameCodec::new(Framing::Length, 10);
            let mut reader = PlainReader::open(&path, codec, follow).unwrap();
            assert_eq!(
                read_until_error(&mut reader),
                want,
                "length, follow {follow}"
            );
            std::fs::remove_file(&path).unwrap();
        }
    }

    /// Reads until a read is caught up (20 reads at most): the payloads delivered, the
    /// errors reported, and whether the last read said the stream ended.
    fn read_to_end(reader: &mut PlainReader) -> (Vec<Bytes>, Vec<io::Error>, bool) {
        let (mut got, mut errors) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            match reader.read_batch(None) {
                Ok(batch) if batch.caught_up => {
                    got.extend(payloads(&batch));
                    return (got, errors, batch.ended);
                }
                Ok(batch) => got.extend(payloads(&batch)),
                Err(e) => errors.push(e),
            }
        }
        panic!(
            "never caught up; delivered {got:?}, {} errors",
            errors.len()
        );
    }

    /// A last line over `max_frame` without its newline is reported once and dropped, as a
    /// long line with its newline is: without `follow` the file then ends (it used to be
    /// reported again at every read, for ever).
    #[test]
    fn a_long_last_line_without_its_newline_is_reported_once_then_the_file_ends() {
        let mut bytes = b"ok\n".to_vec();
        bytes.extend([b'x'; 2000]);
        let path = temp_file("long-last-line", &bytes);
        let codec = FrameCodec::new(Framing::Lines, 1000);
        let mut reader = PlainReader::open(&path, codec, false).unwrap();
        let (got, errors, _) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"ok")]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].kind(), io::ErrorKind::InvalidData);
        std::fs::remove_file(&path).unwrap();
    }

    /// Following a file, a line reported over `max_frame` before its newline arrived is
    /// dropped as the rest of it arrives, without another error; the lines after it follow.
    #[test]
    fn a_long_line_reported_before_its_newline_is_dropped_as_it_arrives() {
        let path = temp_file("long-line-follow", b"a\n0123456789ABCDEF");
        let codec = FrameCodec::new(Framing::Lines, 10);
        let mut reader = PlainReader::open(&path, codec, true).unwrap();
        let (got, errors, ended) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"a")]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(!ended);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut file, b"GHIJ").unwrap();
        let (got, errors, _) = read_to_end(&mut reader);
        assert!(got.is_empty() && errors.is_empty(), "{got:?} {errors:?}");
        std::io::Write::write_all(&mut file, b"KLMN\nb\nc").unwrap();
        let (got, errors, _) = read_to_end(&mut reader);
        assert_eq!(got, [Bytes::from_static(b"b")]);
        assert!(errors.is_empty(), "{errors:?}");
        std::fs::remove_file(&path).unwrap();
    }

    /// With length framing, after a header over `max_frame` (or a file that ends inside a
    /// frame) there is no next frame to find: the error is reported once, then the stream
    /// ends, with `follow` too (it used to be reported again at every read, for ever).
    #[test]
    fn a_lost_length_framing_is_reported_once_then_the_stream_ends() {
        let mut frame = 2u32.to_be_bytes().to_vec();
        frame.extend_from_slice(b"ok");
        let mut too_large = frame.clone();
        too_large.extend_from_slice(&11u32.to_be_bytes());
        too_large.extend_from_slice(b"0123456789A");
        let mut truncated = frame.clone();
        truncated.extend_from_slice(&8u32.to_be_bytes());
        truncated.extend_from_slice(b"0123");
        for (bytes, follow) in [(&too_large, false), (&too_large, true), (&truncated, false)] {
            let path = temp_file("lost-length", bytes);
            let codec = FrameCodec::new(Framing::Length, 10);
            let mut reader = PlainReader::open(&path, codec, follow).unwrap();
            let (got, errors, ended) = read_to_end(&mut reader);
            assert_eq!(got, [Bytes::from_static(b"ok")], "follow {follow}");
            assert_eq!(errors.len(), 1, "follow {follow}: {errors:?}");
            assert!(ended, "follow {follow}");
            std::fs::remove_file(&path).unwrap();
        }
    }
}
