//! [`SlowExecChild`]: a child process slow to exec, for tests of what a forked child's copies
//! of this process's descriptors hold. Included by the library's tests and, through
//! `#[path]`, by the integration tests.

/// A child process that holds a copy of each of this process's descriptors for a while
/// before it execs, as any child does from its fork to its exec (which a busy machine, or a
/// sandbox such as gVisor, can make slow).
pub(crate) struct SlowExecChild {
    thread: std::thread::JoinHandle<()>,
}

impl SlowExecChild {
    /// Starts `true`, whose exec waits `hold`; returns once the child has forked.
    pub(crate) fn start(hold: std::time::Duration) -> SlowExecChild {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let (mut forked, tell) = std::os::unix::net::UnixStream::pair().unwrap();
        let thread = std::thread::spawn(move || {
            let mut command = std::process::Command::new("true");
            let fd = tell.as_raw_fd();
            let pause = libc::timespec {
                tv_sec: hold.as_secs() as _,
                tv_nsec: hold.subsec_nanos() as _,
            };
            // SAFETY: write and nanosleep are async-signal-safe; the closure touches only
            // its own copies of a descriptor number (open in the child until it execs) and
            // of a timespec.
            unsafe {
                command.pre_exec(move || {
                    libc::write(fd, b"f".as_ptr().cast(), 1);
                    libc::nanosleep(&pause, std::ptr::null_mut());
                    Ok(())
                });
            }
            assert!(command.status().unwrap().success());
            drop(tell);
        });
        forked.read_exact(&mut [0]).unwrap();
        SlowExecChild { thread }
    }

    /// Waits for the child to exec and end.
    pub(crate) fn wait(self) {
        self.thread.join().unwrap();
    }
}
