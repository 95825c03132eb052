//! Linux: reading file data only if it is already in the page cache (`preadv2` with
//! `RWF_NOWAIT`), so an async task can take fresh data without blocking and without a
//! thread hop; anything that would wait for the disk is left to the blocking bridge.

use std::fs::File;
use std::os::unix::io::AsRawFd;

/// Reads up to `want` bytes at `offset` into `buf`'s spare capacity if that needs no disk
/// I/O. `None` when it would block, is unsupported, or fails: the caller then reads through
/// the blocking bridge instead, which reports real errors.
pub(crate) fn read_at_nowait(
    file: &File,
    buf: &mut Vec<u8>,
    want: usize,
    offset: u64,
) -> Option<usize> {
    buf.reserve(want);
    let spare = buf.spare_capacity_mut();
    let iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: want.min(spare.len()),
    };
    let offset = libc::off_t::try_from(offset).ok()?;
    // SAFETY: `iov` points into `buf`'s spare capacity, valid for writes of `iov_len` bytes
    // for the duration of the call; the descriptor is borrowed from `file`.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
    let n = usize::try_from(n).ok()?;
    // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Some(n)
}
