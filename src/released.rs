//! Addresses this process let go of lately (a `unix://@name` listener's abstract name, a
//! `udp://` listener's port), and a bind that waits briefly for such an address to be free.
//!
//! A socket's address is free only once the last descriptor of the socket is closed, and two
//! kinds of copy outlive the one a dropped listener closes:
//! - a child process forked by any thread of this process holds a copy of every descriptor
//!   from its fork until it execs (close-on-exec closes it only then): a server bound again
//!   at once was refused (`AddrInUse`: 42 of 200 to 202 of 300 rebinds of an abstract name
//!   while a thread started `/bin/true` in a loop);
//! - a `udp://` listener's socket is also held by the task that receives on it, which ends
//!   just after the listener and its connections are dropped, on a worker thread: a port bound
//!   again at once was refused in 265 of 300 rebinds, with no child started.
//!
//! Nothing in the kernel tells such a copy from a live owner (a TCP listener can be made to
//! stop listening first, see `sys::stop_listening`; an abstract name or a UDP port cannot be
//! let go of but by closing every copy), so a bind refused with `AddrInUse` for an address
//! this process itself released less than [`RELEASE_GRACE`] ago tries again until then.

use std::collections::HashMap;
use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after this process released an address a bind refused for it tries again. A
/// child execs within milliseconds, a receiving task ends within microseconds (the longest
/// wait measured was under 0.5 ms); another process that took the address meanwhile is
/// reported this much later.
pub(crate) const RELEASE_GRACE: Duration = Duration::from_secs(1);

/// An address a listener of this process held.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Released {
    /// A Linux abstract socket, by its socket path (the leading NUL and the name).
    #[cfg(unix)]
    UnixName(PathBuf),
    /// A UDP port (whatever address it was bound with: a rebind on another address of the
    /// same port can meet the old socket too).
    UdpPort(u16),
}

/// When each address was released.
static RELEASED: Mutex<Option<HashMap<Released, Instant>>> = Mutex::new(None);

/// Records that this process just let go of `addr`.
pub(crate) fn record_release(addr: Released) {
    let now = Instant::now();
    let mut released = RELEASED.lock().unwrap_or_else(|p| p.into_inner());
    let released = released.get_or_insert_with(HashMap::new);
    // Past their grace, entries only take room.
    released.retain(|_, at| now.duration_since(*at) < RELEASE_GRACE);
    released.insert(addr, now);
}

/// Until when a bind of `addr` refused with `AddrInUse` should try again: the end of the
/// grace of a release by this process, if it is still to come.
fn retry_until(addr: &Released) -> Option<Instant> {
    let released = RELEASED.lock().unwrap_or_else(|p| p.into_inner());
    let until = *released.as_ref()?.get(addr)? + RELEASE_GRACE;
    (Instant::now() < until).then_some(until)
}

/// Runs `bind` until it succeeds, fails otherwise than `AddrInUse`, or fails with `AddrInUse`
/// after the grace of this process's release of `addr` (at once if it released none lately);
/// pauses of 1 ms doubling to 10 ms between tries. Returns the last result.
pub(crate) async fn bind_retrying<T>(
    addr: &Released,
    mut bind: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let mut pause = Duration::from_millis(1);
    loop {
        match bind() {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                let Some(until) = retry_until(addr) else {
                    return Err(e);
                };
                tokio::time::sleep(pause.min(until.saturating_duration_since(Instant::now())))
                    .await;
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_use() -> io::Error {
        io::Error::from(io::ErrorKind::AddrInUse)
    }

    /// A bind refused for an address released just now is tried again; one this process did
    /// not release is refused at once, and so is one whose grace is over.
    #[tokio::test]
    async fn only_an_address_released_lately_is_tried_again() {
        let mut tries = 0;
        let bound = bind_retrying(&Released::UdpPort(1), || {
            tries += 1;
            Err::<(), _>(in_use())
        })
        .await;
        assert_eq!(
            (bound.unwrap_err().kind(), tries),
            (io::ErrorKind::AddrInUse, 1)
        );

        record_release(Released::UdpPort(2));
        let mut tries = 0;
        let bound = bind_retrying(&Released::UdpPort(2), || {
            tries += 1;
            if tries < 3 {
                Err(in_use())
            } else {
                Ok(tries)
            }
        })
        .await;
        assert_eq!(bound.unwrap(), 3);
        // Other errors are not retried.
        let mut tries = 0;
        let bound = bind_retrying(&Released::UdpPort(2), || {
            tries += 1;
            Err::<(), _>(io::Error::from(io::ErrorKind::PermissionDenied))
        })
        .await;
        assert_eq!(tries, 1);
        assert_eq!(bound.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
    }
}
