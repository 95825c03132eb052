//! Helpers for the unit tests: fresh paths under the temporary directory, unique to the
//! process and thread, so that tests running side by side never share one.

#[cfg(target_os = "linux")]
use std::fs::File;
use std::path::PathBuf;

/// A path under the temporary directory named after `name`, this process and this thread.
pub(crate) fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "anyipc-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ))
}

/// An empty directory at [`temp_path`]`(name)`, whatever was there before.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = temp_path(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens `path` for reading and writing, creating it if missing (its contents kept).
#[cfg(target_os = "linux")]
pub(crate) fn open_read_write(path: &std::path::Path) -> File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap()
}
