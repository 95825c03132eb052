//! Abstract names this process let go of lately, and for how long a bind of one of them
//! waits for a forked child's copy of the old socket to go.
//!
//! An abstract name belongs to its socket until the last descriptor of the socket is closed.
//! A child process forked by any thread of this process holds a copy of every descriptor from
//! its fork until it execs (close-on-exec closes it only then), so a listener dropped while a
//! child is being started keeps its name for that long, and a server bound again at once was
//! refused (`AddrInUse`: 42 of 200 to 202 of 300 rebinds while a thread started `/bin/true` in
//! a loop).
//! Nothing in the kernel tells that copy from a live server, so the bind waits, briefly, only
//! for a name this process itself released just now.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after this process released a name a bind refused for it tries again. A child
/// execs within milliseconds (the longest wait measured was under 0.5 ms); another process
/// that took the name meanwhile is reported this much later.
pub(crate) const RELEASE_GRACE: Duration = Duration::from_secs(1);

/// When each name was released, by its socket path (the leading NUL and the name).
static RELEASED: Mutex<Option<HashMap<PathBuf, Instant>>> = Mutex::new(None);

/// Records that this process just closed its listener of the abstract socket `path`.
pub(crate) fn record_release(path: &Path) {
    let now = Instant::now();
    let mut released = RELEASED.lock().unwrap_or_else(|p| p.into_inner());
    let released = released.get_or_insert_with(HashMap::new);
    // Past their grace, entries only take room.
    released.retain(|_, at| now.duration_since(*at) < RELEASE_GRACE);
    released.insert(path.to_path_buf(), now);
}

/// Until when a bind of `path` refused with `AddrInUse` should try again: the end of the
/// grace of a release by this process, if it is still to come.
pub(crate) fn retry_until(path: &Path) -> Option<Instant> {
    let released = RELEASED.lock().unwrap_or_else(|p| p.into_inner());
    let until = *released.as_ref()?.get(path)? + RELEASE_GRACE;
    (Instant::now() < until).then_some(until)
}
