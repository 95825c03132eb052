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

// Shared with the integration tests (`tests/it/forked_children.rs` includes the file).
#[cfg(target_os = "linux")]
#[path = "test_support/slow_exec_child.rs"]
mod slow_exec_child;
#[cfg(target_os = "linux")]
pub(crate) use slow_exec_child::SlowExecChild;

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

/// The address space [`limit_address_space`] leaves a process: far less than the files of
/// the tests that run under it, so that reading one whole fails at once (the allocation
/// aborts the child) instead of filling the machine's memory.
#[cfg(target_os = "linux")]
pub(crate) const ADDRESS_LIMIT: u64 = 512 << 20;

/// Limits this process's address space to [`ADDRESS_LIMIT`]: for a child started by
/// [`run_child_test`], which runs that one test alone.
#[cfg(target_os = "linux")]
pub(crate) fn limit_address_space() {
    let limit = libc::rlimit {
        rlim_cur: ADDRESS_LIMIT as libc::rlim_t,
        rlim_max: ADDRESS_LIMIT as libc::rlim_t,
    };
    // SAFETY: setrlimit with a valid limit; this process runs this test alone.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
}

/// Runs the unit test `test` (its full path) of this test binary alone in a child process,
/// with the variable `var` set to `value`, and returns what it printed; panics unless it
/// passed. The child test is a no-op without the variable.
#[cfg(target_os = "linux")]
pub(crate) fn run_child_test(test: &str, var: &str, value: &std::path::Path) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(var, value)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// How long the huge files of the tests under [`ADDRESS_LIMIT`] are: 8 times the limit, a
/// size every file system the tests run on allows (ext4 with 1 KiB blocks stops at 16 GiB).
#[cfg(target_os = "linux")]
pub(crate) const HUGE_FILE: u64 = 8 * ADDRESS_LIMIT;

/// Makes the file at `path` `len` bytes long, sparse past its contents.
#[cfg(target_os = "linux")]
pub(crate) fn extend_sparse(path: &std::path::Path, len: u64) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(len).unwrap();
}
