use super::{parse_child_fds, ParentPipes};

#[test]
fn parses_fds_and_stdio() {
    assert_eq!(
        parse_child_fds("42:3,4"),
        Some((42, ParentPipes::Fds(3, 4)))
    );
    assert_eq!(parse_child_fds("42:stdio"), Some((42, ParentPipes::Stdio)));
}

#[test]
fn rejects_malformed_values() {
    for bad in [
        "",
        "3,4",
        "x:3,4",
        "42:3",
        "42:3,3",
        "42:3,four",
        "42:-",
        "42:stdin",
    ] {
        assert_eq!(parse_child_fds(bad), None, "{bad:?}");
    }
}

/// The descriptor flags of `fd`, or `None` when it is not open.
fn fd_flags(fd: i32) -> Option<i32> {
    // SAFETY: F_GETFD only reads the flags of a descriptor number; a closed one is EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags != -1).then_some(flags)
}

/// Two pipes as raw numbers nobody owns, `[read a, write a, read b, write b]`, with
/// close-on-exec cleared as a parent's `pre_exec` leaves them.
fn inheritable_pipes() -> [i32; 4] {
    use std::os::fd::IntoRawFd;
    let (a_read, a_write) = crate::sys::anonymous_pipe().unwrap();
    let (b_read, b_write) = crate::sys::anonymous_pipe().unwrap();
    let fds = [a_read, a_write, b_read, b_write].map(IntoRawFd::into_raw_fd);
    for fd in fds {
        set_cloexec(fd, 0);
    }
    fds
}

/// Sets the descriptor flags of `fd`, a number from `inheritable_pipes` that nobody owns.
fn set_cloexec(fd: i32, flags: i32) {
    // SAFETY: F_SETFD only changes the descriptor flags of `fd`, which nothing owns.
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, flags) }, 0);
}

/// Adopts `read` and `write`, expecting `InvalidInput` and both left as they were.
fn refused(read: i32, write: i32) {
    let before = [fd_flags(read), fd_flags(write)];
    // SAFETY: nothing in this process owns the numbers `inheritable_pipes` returned (and a
    // closed or standard number is refused before anything is taken).
    let err = unsafe { crate::sys::adopt_inherited_fd(read, write) }.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    assert_eq!([fd_flags(read), fd_flags(write)], before, "{err}");
}

#[test]
fn adopting_checks_both_descriptors_before_taking_either() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let [a_read, a_write, b_read, b_write] = inheritable_pipes();
    let closed = crate::sys::anonymous_pipe().unwrap().0.as_raw_fd();
    // Swapped.
    refused(b_write, a_read);
    // Not open.
    refused(a_read, closed);
    // A standard stream.
    refused(a_read, 2);
    // Two ends of one pipe.
    refused(a_read, a_write);
    // Close-on-exec: not inherited.
    set_cloexec(a_read, libc::FD_CLOEXEC);
    refused(a_read, b_write);
    set_cloexec(a_read, 0);
    // SAFETY: as in `refused`.
    let (read, write) = unsafe { crate::sys::adopt_inherited_fd(a_read, b_write) }.unwrap();
    assert_eq!(fd_flags(read.as_raw_fd()), Some(libc::FD_CLOEXEC));
    assert_eq!(fd_flags(write.as_raw_fd()), Some(libc::FD_CLOEXEC));
    // SAFETY: the other two numbers are still open and nobody owns them.
    drop(unsafe { (OwnedFd::from_raw_fd(a_write), OwnedFd::from_raw_fd(b_read)) });
}
