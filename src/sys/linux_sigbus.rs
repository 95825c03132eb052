//! A fault on a shared mapping whose file another process shrank, turned into an error.
//!
//! A named [`Region`](crate::shm::Region) and an `mq://` queue segment are files in
//! `/dev/shm`, which cannot be sealed against shrinking like a memfd: any process of the same
//! user may truncate one, and touching a mapped page past the file's new end raises SIGBUS,
//! which kills the process. (So does a page a full `/dev/shm` cannot supply.) Every access a
//! region makes to its mapping, and every queue operation that touches its segment, runs
//! inside [`guarded`]: while it runs, this thread's guarded range is recorded, and a SIGBUS
//! the kernel raises at an address inside it marks the mapping as lost (a flag shared by every
//! thread using it) and maps private zero pages over the range from the faulting page to its
//! end (so the faulting copy completes, reading zeros and writing nowhere); `guarded` then
//! reports [`Truncated`], on this thread and on any other whose access overlapped. The pages
//! below the fault stay the file's: a lock word there that the faulting operation held can
//! still be released for other processes ([`guarded_even_if_lost`]); a lost page among them
//! faults in turn when touched. Any other SIGBUS goes to the handler
//! installed before this one, or, if there was none, ends the process as it would have.
//! (The technique is the one Wayland compositors use for clients' shared buffers.)
//!
//! Limits: a library that installs its own SIGBUS handler later without passing faults on
//! takes the protection away; built into a library loaded with `dlopen`, the handler's
//! thread-local read is not async-signal-safe on a thread's first fault.

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

/// A guarded access touched a page its file no longer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated;

/// The range this thread is accessing inside [`guarded`], the mapping's lost flag, and
/// whether this access faulted.
#[derive(Clone, Copy)]
struct Guard {
    start: usize,
    len: usize,
    /// The address of the mapping's `lost` flag (0 when unguarded).
    lost: usize,
    faulted: bool,
}

const UNGUARDED: Guard = Guard {
    start: 0,
    len: 0,
    lost: 0,
    faulted: false,
};

thread_local! {
    // A `const` initialiser and a type without drop glue: a plain thread-local variable, no
    // lazy initialisation or allocation, so reading it in the signal handler is safe (in an
    // executable; see the module docs for `dlopen`).
    static GUARD: Cell<Guard> = const { Cell::new(UNGUARDED) };
}

/// The SIGBUS action that was in place before ours, for faults that are not ours; recorded
/// before ours is installed.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
/// Installs the handler once.
static INSTALL: Once = Once::new();
/// The page size, for the one-page fallback of the handler.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);

/// Runs `access`, which touches only the shared mapping `start..start + len` (the whole of it,
/// as mapped: page-aligned) and memory of this process (not another guarded mapping), and
/// says whether the mapping was lost: its file no longer has a page this access or another
/// thread's touched. Then the mapping holds private zero pages from the first page found
/// lost to its end: what `access` read may be zeros, what it wrote may have gone nowhere, and
/// `lost` (the mapping's own flag, shared by every access to it) stays set, so every later
/// access fails too, without running.
///
/// # Errors
/// [`Truncated`] when `lost` is set, before or by the end of `access`. (A handler that could
/// not be installed, never seen, as `sigaction` fails only for bad arguments, counts as no
/// guard.)
pub(crate) fn guarded<T>(
    start: *mut u8,
    len: usize,
    lost: &AtomicBool,
    access: impl FnOnce() -> T,
) -> Result<T, Truncated> {
    if lost.load(Ordering::SeqCst) {
        return Err(Truncated);
    }
    guarded_even_if_lost(start, len, lost, access)
}

/// As [`guarded`], but runs `access` even on a mapping already lost: for a write that must
/// still reach the pages the file kept, such as the release of a lock word that an operation
/// cut short by the fault held (other processes wait for it). A page past the file's end
/// reads zeros as in `guarded`.
///
/// # Errors
/// [`Truncated`] when `lost` is set, before or by the end of `access`.
pub(crate) fn guarded_even_if_lost<T>(
    start: *mut u8,
    len: usize,
    lost: &AtomicBool,
    access: impl FnOnce() -> T,
) -> Result<T, Truncated> {
    install_handler();
    let outer = GUARD.with(|guard| {
        guard.replace(Guard {
            start: start as usize,
            len,
            lost: lost as *const AtomicBool as usize,
            faulted: false,
        })
    });
    // Put back when this frame ends, also if `access` panics: a stale guard would let the
    // handler take a fault on memory mapped there later for something else.
    let _restore = Restore(outer);
    // The range is recorded before the first touch of the mapping, and read back after the
    // last: the handler runs on this thread, between those instructions.
    compiler_fence(Ordering::SeqCst);
    let value = access();
    compiler_fence(Ordering::SeqCst);
    let faulted = GUARD.with(Cell::get).faulted;
    // Another thread's fault replaced the pages this access used: it read zeros too.
    if faulted || lost.load(Ordering::SeqCst) {
        Err(Truncated)
    } else {
        Ok(value)
    }
}

/// Puts this thread's outer guard back when dropped.
struct Restore(Guard);

impl Drop for Restore {
    fn drop(&mut self) {
        GUARD.with(|guard| guard.set(self.0));
    }
}

/// Records the current SIGBUS action, then installs [`on_sigbus`], once per process.
fn install_handler() {
    INSTALL.call_once(|| {
        // SAFETY: zeroed is a valid `sigaction` for the kernel to write the current one into.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the current one into a live `sigaction`.
        if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) } != 0 {
            previous.sa_sigaction = libc::SIG_DFL;
        }
        let _ = PREVIOUS.set(previous);
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if let Ok(page) = usize::try_from(page) {
            PAGE_SIZE.store(page.max(1), Ordering::Relaxed);
        }
        // SAFETY: zeroed is a valid `sigaction` (no handler, empty mask, no flags) to fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `action.sa_mask` is a live sigset_t owned by this frame.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: a pointer to a live `sigaction`; `on_sigbus` has the SA_SIGINFO signature
        // and only does what a signal handler may (see it). On failure nothing changed.
        unsafe { libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) };
    });
}

/// The SIGBUS handler: a fault the kernel raised inside this thread's guarded range marks the
/// mapping lost and maps zero pages over it from the faulting page on; any other is passed
/// on.
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // The interrupted code's errno, put back before returning to it (mmap may set it).
    // SAFETY: __errno_location returns this thread's errno, valid for the thread's life.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved_errno = unsafe { *errno };
    // SAFETY: the kernel passes a valid siginfo for a handler installed with SA_SIGINFO.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    let guard = GUARD.with(Cell::get);
    // `si_code > 0`: raised by the kernel for a fault, so `si_addr` is the faulting address
    // (a SIGBUS sent with kill carries a sender there instead).
    let ours = code > 0 && guard.len > 0 && address >= guard.start;
    if ours && address - guard.start < guard.len {
        // SAFETY: `lost` is the address of the mapping's flag, which outlives the guarded
        // access that recorded it (a borrow held across `guarded`).
        let lost = unsafe { &*(guard.lost as *const AtomicBool) };
        lost.store(true, Ordering::SeqCst);
        if replace_with_zeros(guard.start, guard.len, address) {
            GUARD.with(|cell| {
                cell.set(Guard {
                    faulted: true,
                    ..guard
                })
            });
            // SAFETY: as above.
            unsafe { *errno = saved_errno };
            return; // the faulting instruction runs again, on a zero page
        }
    }
    pass_on(signal, info, context);
}

/// Maps private zero pages over `start..start + len` from the page holding `address` to the
/// end (reserving no swap: a region may be far larger than memory), or, if that is refused,
/// over all of it, or over that one page (a later fault on another lost page comes back
/// here). The pages below
/// stay the file's: it was shrunk to below `address` but maybe not below them, and a lock
/// word there may still need its release. Whether it worked.
fn replace_with_zeros(start: usize, len: usize, address: usize) -> bool {
    let map = |at: usize, len: usize| {
        // SAFETY: `at..at + len` lies inside `start..start + len`, a mapping of this process
        // (the guard's contract) that the interrupted access was using; replacing it in place
        // with private anonymous pages leaves every pointer into it valid. mmap is a plain
        // system call.
        let zeros = unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        zeros != libc::MAP_FAILED
    };
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    // `start` is page-aligned and `address` inside the range, so `from` is too. Replacing
    // part of the mapping splits it in two: at `vm.max_map_count` that is refused, and the
    // whole of it is replaced instead (the old way: the header's lock is then not released
    // for other processes) before the one page, which splits it too.
    let from = address - address % page;
    map(from, start + len - from) || map(start, len) || map(from, page)
}

/// Hands a SIGBUS that is not ours to the action before ours, which does what it would have
/// done: its handler runs; a sent signal that was ignored stays ignored; otherwise the
/// default action is restored here (a fault's instruction runs again and faults again, a
/// signal sent with kill is raised again, delivered once this handler returns), and the
/// process ends with SIGBUS.
fn pass_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = PREVIOUS.get();
    let previous_handler = previous.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    let siginfo = previous.is_some_and(|p| p.sa_flags & libc::SA_SIGINFO != 0);
    // SAFETY: the kernel passes a valid siginfo.
    let sent = unsafe { (*info).si_code } <= 0;
    match previous_handler {
        // A sent SIGBUS that was ignored before stays ignored.
        libc::SIG_IGN if sent => {}
        libc::SIG_DFL | libc::SIG_IGN => {
            // SAFETY: zeroed is a valid `sigaction`; SIG_DFL (0) is its handler.
            let default: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: a pointer to a live `sigaction`; sigaction is async-signal-safe.
            unsafe { libc::sigaction(signal, &default, std::ptr::null_mut()) };
            if sent {
                // SAFETY: raise is async-signal-safe; the signal is blocked in this handler,
                // so it is delivered, with the default action, when the handler returns.
                unsafe { libc::raise(signal) };
            }
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
