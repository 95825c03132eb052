//! Linux: reading file data only if it is already in the page cache (`preadv2` with
//! `RWF_NOWAIT`), so an async task can take fresh data without blocking and without a
//! thread hop; anything that would wait for the disk is left to the blocking bridge.

use bytes::{BufMut, BytesMut};
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
    buf.reserve(want);
    let spare = buf.chunk_mut();
    let iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: want.min(spare.len()),
    };
    let offset = libc::off_t::try_from(offset).ok()?;
    // SAFETY: `iov` points into `buf`'s spare capacity, valid for writes of `iov_len` bytes
    // for the duration of the call; the descriptor is borrowed from `file`.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
    let n = usize::try_from(n).ok()?;
    // SAFETY: the kernel initialised the first `n` (at most `iov_len`) bytes of the spare
    // capacity.
    unsafe { buf.advance_mut(n) };
    Some(n)
}
