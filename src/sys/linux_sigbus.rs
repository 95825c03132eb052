//! A fault on a shared mapping whose file another process shrank, turned into an error.
//!
//! A named [`Region`](crate::shm::Region) and an `mq://` queue segment are files in
//! `/dev/shm`, which cannot be sealed against shrinking like a memfd: any process of the same
//! user may truncate one, and touching a mapped page past the file's new end raises SIGBUS,
//! which kills the process. Every access a region makes to its mapping, and every queue
//! operation that touches its segment, runs inside [`guarded`]: while it runs, this thread's guarded
//! range is recorded, and a SIGBUS at an address inside it maps private zero pages over the
//! whole range (so the faulting copy completes, reading zeros and writing nowhere) and marks
//! the access as faulted; `guarded` then reports [`Truncated`]. A SIGBUS anywhere else goes
//! to the handler installed before this one, or, if there was none, kills the process as it
//! would have. (The technique is the one Wayland compositors use for clients' shared
//! buffers.)

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, Ordering};
use std::sync::OnceLock;

/// A guarded access touched a page its file no longer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated;

/// The range this thread is accessing inside [`guarded`], and whether it faulted.
#[derive(Clone, Copy)]
struct Guard {
    start: usize,
    len: usize,
    faulted: bool,
}

const UNGUARDED: Guard = Guard {
    start: 0,
    len: 0,
    faulted: false,
};

thread_local! {
    // A `const` initialiser and a type without drop glue: a plain thread-local variable, no
    // lazy initialisation or allocation, so reading it in the signal handler is safe.
    static GUARD: Cell<Guard> = const { Cell::new(UNGUARDED) };
}

/// The SIGBUS action that was in place before ours, for faults that are not ours.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Runs `access`, which touches only the shared mapping `start..start + len` (the whole of it,
/// as mapped: page-aligned) and memory of this process, and says whether it touched a page
/// its file no longer has. If so, the mapping now holds private zero pages: what `access`
/// read is zeros, what it wrote went nowhere, and so it is for every later access too.
///
/// # Errors
/// [`Truncated`] when `access` faulted; the handler could not be installed (never seen:
/// `sigaction` fails only for bad arguments) counts as no guard.
pub(crate) fn guarded<T>(
    start: *mut u8,
    len: usize,
    access: impl FnOnce() -> T,
) -> Result<T, Truncated> {
    install_handler();
    let outer = GUARD.with(|guard| {
        guard.replace(Guard {
            start: start as usize,
            len,
            faulted: false,
        })
    });
    // The range is recorded before the first touch of the mapping, and read back after the
    // last: the handler runs on this thread, between those instructions.
    compiler_fence(Ordering::SeqCst);
    let value = access();
    compiler_fence(Ordering::SeqCst);
    let faulted = GUARD.with(|guard| guard.replace(outer)).faulted;
    if faulted {
        Err(Truncated)
    } else {
        Ok(value)
    }
}

/// Installs [`on_sigbus`] once per process, keeping the action it replaces.
fn install_handler() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: zeroed is a valid `sigaction` (no handler, empty mask, no flags) to fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `action.sa_mask` is a live sigset_t owned by this frame.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: zeroed is a valid `sigaction` for the kernel to write the old action into.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live `sigaction`s; `on_sigbus` has the SA_SIGINFO
        // signature and only does what a signal handler may (see it).
        let installed = unsafe { libc::sigaction(libc::SIGBUS, &action, &mut previous) };
        if installed != 0 {
            // Nothing was replaced: chaining to the default action is what happens anyway.
            previous.sa_sigaction = libc::SIG_DFL;
        }
        previous
    });
}

/// The SIGBUS handler: a fault inside this thread's guarded range maps zero pages over the
/// range and marks the guard; any other is passed on.
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for a handler installed with SA_SIGINFO; for
    // SIGBUS `si_addr` is the faulting address.
    let address = unsafe { (*info).si_addr() } as usize;
    let guard = GUARD.with(Cell::get);
    if guard.len > 0 && address >= guard.start && address - guard.start < guard.len {
        // SAFETY: `start..start + len` is a mapping of this process (the guard's contract)
        // that the interrupted access was using; replacing it in place with private
        // anonymous pages leaves every pointer into it valid. mmap is a plain system call.
        let zeros = unsafe {
            libc::mmap(
                guard.start as *mut libc::c_void,
                guard.len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            GUARD.with(|cell| {
                cell.set(Guard {
                    faulted: true,
                    ..guard
                })
            });
            return; // the faulting instruction runs again, on a zero page
        }
    }
    pass_on(signal, info, context);
}

/// Hands a SIGBUS that is not ours to the action before ours: its handler, or, for the
/// default or ignore, the default action (restored here; the faulting instruction runs
/// again, faults again, and the process ends with SIGBUS as it would have).
fn pass_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // Not yet recorded (a fault in the moment between installing and recording): default.
    let previous_handler = PREVIOUS.get().map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    let siginfo = PREVIOUS
        .get()
        .is_some_and(|p| p.sa_flags & libc::SA_SIGINFO != 0);
    match previous_handler {
        libc::SIG_DFL | libc::SIG_IGN => {
            // SAFETY: zeroed is a valid `sigaction`; SIG_DFL (0) is its handler.
            let default: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: a pointer to a live `sigaction`; sigaction is async-signal-safe.
            unsafe { libc::sigaction(signal, &default, std::ptr::null_mut()) };
        }
        handler if siginfo => {
            // SAFETY: the previous action was installed with SA_SIGINFO, so its handler has
            // this signature; the arguments are the ones the kernel gave us.
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(handler) };
            handler(signal, info, context);
        }
        handler => {
            // SAFETY: without SA_SIGINFO the previous handler takes the signal number only.
            let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
            handler(signal);
        }
    }
}
