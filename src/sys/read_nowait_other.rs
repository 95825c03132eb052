//! Systems without `RWF_NOWAIT`: every read goes through the blocking bridge.

use std::fs::File;

/// Always `None`: no non-blocking file read here.
pub(crate) fn read_at_nowait(
    _file: &File,
    _buf: &mut Vec<u8>,
    _want: usize,
    _offset: u64,
) -> Option<usize> {
    None
}
