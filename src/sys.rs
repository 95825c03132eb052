//! The only place with OS-specific code: socket-file permissions and names.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

// mq://: segment files, futex waits, liveness locks (used as `sys::queue::…`).
#[cfg(target_os = "linux")]
pub(crate) mod linux_queue;
#[cfg(target_os = "linux")]
pub(crate) use linux_queue as queue;
#[cfg(not(target_os = "linux"))]
pub(crate) mod other_queue;
#[cfg(not(target_os = "linux"))]
pub(crate) use other_queue as queue;
