//! Systems without `RWF_NOWAIT`: every read goes through the blocking bridge.

use bytes::BytesMut;
use std::fs::File;

/// Always `None`: no non-blocking file read here.
pub(crate) fn read_at_nowait(
    _file: &File,
    _buf: &mut BytesMut,
    _want: usize,
    _offset: u64,
) -> Option<usize> {
    None
}
