//! Linux: reading file data only if it is already in the page cache (`preadv2` with
//! `RWF_NOWAIT`), so an async task can take fresh data without blocking and without a
//! thread hop; anything that would wait for the disk is left to the blocking bridge.

use super::file_unix::read_into_spare;
use bytes::BytesMut;
use std::fs::File;
use std::os::unix::io::AsRawFd;

/// Appends up to `want` bytes read at `offset` to `buf`, if that needs no disk I/O; returns
/// how many (0 at the end of the file). `None` when it would block, is unsupported, or
/// fails: the caller then reads through the blocking bridge instead, which reports real
/// errors.
pub(crate) fn read_at_nowait(
    file: &File,
    buf: &mut BytesMut,
    want: usize,
    offset: u64,
) -> Option<usize> {
    let offset = libc::off_t::try_from(offset).ok()?;
    // SAFETY: `preadv2` with one iovec of `len` bytes at `ptr` writes only there and returns
    // at most `len` or -1 (read_into_spare's contract); the descriptor is borrowed from
    // `file`.
    let read = unsafe {
        read_into_spare(buf, want, |ptr, len| {
            let iov = libc::iovec {
                iov_base: ptr.cast(),
                iov_len: len,
            };
            libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT)
        })
    };
    read.ok()
}
