//! The command's scratch directories (a tour's or a bench run's sockets, FIFOs and logs).

#[path = "../../sys/private_dir.rs"]
mod private_dir;

use std::io;
use std::path::PathBuf;

/// Creates a fresh directory in the temporary directory, private to this user, named
/// `prefix`, or `prefix-1`, `prefix-2`… when that is taken (left by a killed process whose
/// pid this one has now, or made by someone else: `/tmp` names are predictable, so one that
/// exists is never taken over).
///
/// # Errors
/// OS errors making it.
pub(crate) fn create(prefix: &str) -> io::Result<PathBuf> {
    let base = std::env::temp_dir();
    private_dir::create_fresh_private_dir((0..100).map(|n| match n {
        0 => base.join(prefix),
        n => base.join(format!("{prefix}-{n}")),
    }))
}
