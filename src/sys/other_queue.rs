//! `mq://` queues need futexes and open-file-description locks: Linux only for now. Elsewhere
//! every entry point reports `Unsupported`, and the rest of the crate builds unchanged.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "mq:// queues are available on Linux only",
    )
}

pub(crate) fn queue_dir() -> io::Result<PathBuf> {
    Err(unsupported())
}

pub(crate) fn create_exclusive(_path: &Path, _mode: u32) -> io::Result<File> {
    Err(unsupported())
}

pub(crate) fn reserve(_file: &File, _len: u64) -> io::Result<()> {
    Err(unsupported())
}

pub(crate) fn open_existing(_path: &Path) -> io::Result<File> {
    Err(unsupported())
}

pub(crate) fn hold_liveness(_file: &File, _token: u32) -> io::Result<()> {
    Err(unsupported())
}

pub(crate) fn release_liveness(_file: &File, _token: u32) {}

pub(crate) fn liveness_held(_file: &File, _token: u32) -> io::Result<bool> {
    Err(unsupported())
}

pub(crate) fn futex_wait(_word: &AtomicU32, _expected: u32, timeout: Duration) {
    std::thread::sleep(timeout.min(Duration::from_millis(1)));
}

pub(crate) fn futex_wake(_word: &AtomicU32, _count: u32) {}

pub(crate) fn current_cpu() -> u32 {
    u32::MAX
}

pub(crate) fn process_exists(_pid: u32) -> bool {
    true
}

pub(crate) fn file_key(_file: &File) -> io::Result<(u64, u64)> {
    Err(unsupported())
}

/// A guarded access found the segment file shrunk (never here: nothing maps one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated;

/// Runs `access`: without segments there is no shrunk file to guard against.
pub(crate) fn guarded_even_if_lost<T>(
    _start: *mut u8,
    _len: usize,
    _lost: &std::sync::atomic::AtomicBool,
    access: impl FnOnce() -> T,
) -> Result<T, Truncated> {
    Ok(access())
}
