//! The command's soft limit on open descriptors, raised to its hard limit at start, as
//! servers do: `listen` and `bridge` hold a descriptor per connection (two for a bridged
//! one), and a login's usual soft limit, 1,024, is far under its usual hard one (524,288
//! under systemd). Processes the command starts (bench peers, the tour's) inherit it. The
//! integration tests include this file (`#[path]`) for their many-client tests.

/// Raises the soft limit on open descriptors to the hard one, at most 1,048,576 (Linux's
/// default ceiling, `fs.nr_open`), or failing that at most 10,240 (macOS's `OPEN_MAX`, the
/// most it takes for an unlimited hard limit). Best effort: the limit stays where no raise
/// is taken.
#[cfg(unix)]
pub(crate) fn raise() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct, which outlives the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    for ceiling in [1 << 20, 10_240] {
        let want = limit.rlim_max.min(ceiling);
        if want <= limit.rlim_cur {
            return;
        }
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct, which outlives the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return;
        }
    }
}

/// Nothing to raise: Windows has no per-process descriptor limit of this kind.
#[cfg(not(unix))]
pub(crate) fn raise() {}
