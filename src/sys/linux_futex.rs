//! Linux futexes on words in shared mappings (`mq://` queues, named regions): the one way
//! this crate sleeps until another process changes a word.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, for at most `timeout`. Returns early on a wake, a
/// changed value, a signal or a spurious wake-up; callers re-check their condition.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        // At most i32::MAX seconds (68 years), which every `time_t` holds; `as _` takes the
        // field's type, 32 or 64 bits by target.
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as _,
        // Always < 1e9, so the kernel never refuses it (the raw_sync defect).
        tv_nsec: timeout.subsec_nanos() as _,
    };
    // SAFETY: `word` is a live, aligned u32 (in a shared mapping: no FUTEX_PRIVATE_FLAG);
    // FUTEX_WAIT reads it atomically, and reads `ts`, which outlives the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes up to `count` threads of any process sleeping in [`futex_wait`] on `word`.
pub(crate) fn futex_wake(word: &AtomicU32, count: u32) {
    let count = libc::c_int::try_from(count).unwrap_or(libc::c_int::MAX);
    // SAFETY: FUTEX_WAKE only uses the address of the live, aligned u32 `word` as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            count,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}
