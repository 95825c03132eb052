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
    // 64-bit offsets: 32-bit glibc's `preadv2` takes a 32-bit `off_t` (musl's is 64-bit).
    #[cfg(not(target_env = "gnu"))]
    use libc::preadv2;
    #[cfg(target_env = "gnu")]
    use libc::preadv64v2 as preadv2;
    let offset = i64::try_from(offset).ok()?;
    // SAFETY: `preadv2` with one iovec of `len` bytes at `ptr` writes only there and returns
    // at most `len` or -1 (read_into_spare's contract); the descriptor is borrowed from
    // `file`.
    let read = unsafe {
        read_into_spare(buf, want, |ptr, len| {
            let iov = libc::iovec {
                iov_base: ptr.cast(),
                iov_len: len,
            };
            preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT)
        })
    };
    read.ok()
}
