//! The only place with OS-specific code: socket-file permissions and names.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
#[cfg(windows)]
mod pipe_stream_windows;

/// An `accept`'s result with one waiting client's failure (`is_one_clients_failure`, per OS)
/// turned into `Ok(None)`, logged: the listener's accept loop goes on to the next client.
///
/// # Errors
/// The listener's own failures.
pub(crate) fn skip_one_clients_failure<T>(
    accepted: std::io::Result<T>,
) -> std::io::Result<Option<T>> {
    match accepted {
        Ok(accepted) => Ok(Some(accepted)),
        Err(e) if is_one_clients_failure(&e) => {
            tracing::debug!(error = %e, "a client went away before it was accepted");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
#[cfg(windows)]
pub(crate) use pipe_stream_windows::PipeStream;

// mq://: segment files, futex waits, liveness locks (used as `sys::queue::…`).
#[cfg(target_os = "linux")]
pub(crate) mod linux_queue;
#[cfg(target_os = "linux")]
pub(crate) use linux_queue as queue;
#[cfg(not(target_os = "linux"))]
pub(crate) mod other_queue;
#[cfg(not(target_os = "linux"))]
pub(crate) use other_queue as queue;

// file://: exclusive writer locks, owner-only files, durable directories, change watching.
mod locked_file;
pub(crate) use locked_file::LockedFile;
mod private_dir;
#[cfg(unix)]
pub(crate) use private_dir::create_fresh_private_dir;
pub(crate) use private_dir::create_private_dir;
#[cfg(unix)]
pub(crate) use private_dir::restore_owner_access;
#[cfg(unix)]
mod file_unix;
#[cfg(unix)]
pub(crate) use file_unix::*;
#[cfg(windows)]
mod file_windows;
#[cfg(windows)]
pub(crate) use file_windows::*;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod dir_watcher_inotify;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use dir_watcher_inotify::{DirWatcher, NOTIFIES as DIR_WATCHER_NOTIFIES};
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod dir_watcher_poll;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use dir_watcher_poll::{DirWatcher, NOTIFIES as DIR_WATCHER_NOTIFIES};
#[cfg(target_os = "linux")]
mod read_nowait_linux;
#[cfg(target_os = "linux")]
pub(crate) use read_nowait_linux::read_at_nowait;
#[cfg(not(target_os = "linux"))]
mod read_nowait_other;
#[cfg(not(target_os = "linux"))]
pub(crate) use read_nowait_other::read_at_nowait;
// udp://: the local address each datagram came to, for a wildcard listener's replies.
#[cfg(target_os = "linux")]
pub(crate) mod udp_local_linux;
#[cfg(target_os = "linux")]
pub(crate) use udp_local_linux as udp_local;
#[cfg(not(target_os = "linux"))]
pub(crate) mod udp_local_other;
#[cfg(not(target_os = "linux"))]
pub(crate) use udp_local_other as udp_local;
// udp://: the address a multicast listener binds (Windows cannot bind the group itself).
#[cfg(unix)]
mod udp_group_unix;
#[cfg(unix)]
pub(crate) use udp_group_unix::udp_group_bind_addr;
#[cfg(windows)]
mod udp_group_windows;
#[cfg(windows)]
pub(crate) use udp_group_windows::udp_group_bind_addr;
#[cfg(target_arch = "x86_64")]
mod crc32c_x86_64;
#[cfg(target_arch = "x86_64")]
pub(crate) use crc32c_x86_64::crc32c_with_head;
#[cfg(not(target_arch = "x86_64"))]
mod crc32c_other;
#[cfg(not(target_arch = "x86_64"))]
pub(crate) use crc32c_other::crc32c_with_head;

// shm://: sealed memfds, socket doorbells, descriptor passing, futexes, owner locks
// (used as `sys::shm::…`).
#[cfg(target_os = "linux")]
pub(crate) mod linux_shm;
// Futex waits and wakes on words in shared mappings (mq:// queues, named regions).
#[cfg(target_os = "linux")]
mod linux_futex;
// Named regions and mq:// segments: a fault on a file another process shrank becomes an
// error.
#[cfg(target_os = "linux")]
pub(crate) mod linux_sigbus;
#[cfg(target_os = "linux")]
pub(crate) use linux_shm as shm;
