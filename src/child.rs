//! Anonymous pipes between a parent and the child process it starts.
//!
//! The parent calls [`spawn`] with a [`tokio::process::Command`] and gets the [`Child`] and a
//! [`Connection`] over two pipes the child inherits. The child calls [`connect_parent`] (or
//! connects to the URL `stdio://`) and gets its end. Framing and typed messages work as on
//! every transport.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use futures::SinkExt;
//! // Parent.
//! let (mut child, mut conn) = anyipc::child::spawn(tokio::process::Command::new("worker"))?;
//! conn.send("job 1").await?;
//! let reply = conn.recv().await?; // `None` once the child has exited
//! child.wait().await?;
//! # Ok(()) }
//! # async fn g() -> std::io::Result<()> {
//! # use futures::SinkExt;
//! // Child ("worker"): it can still print to stdout.
//! let mut parent = anyipc::child::connect_parent().await?;
//! while let Some(job) = parent.recv().await? {
//!     println!("working on {job:?}");
//!     parent.send("done").await?;
//! }
//! # Ok(()) }
//! ```
//!
//! # Which pipes
//! By default the pipes are two extra descriptors (not stdin or stdout, so the child can still
//! read and print), named to the child by the environment variable [`CHILD_FDS_ENV`]
//! (`ANYIPC_CHILD_FDS=<parent pid>:<read fd>,<write fd>`). With
//! [`ChildOptions::stdio`] the child's stdin and stdout are the pipes instead, as in the
//! classic pattern, which also suits children that are not anyipc programs (they read frames
//! from stdin and write them to stdout). In such a child, [`connect_parent`] moves the pipes
//! off fds 0 and 1: stdin then reads `/dev/null` and stdout goes to stderr, so a stray
//! `println!` cannot corrupt the stream (stdout goes to `/dev/null` instead when stderr is the
//! stream's pipe too, as with `2>&1`: what the program writes to stderr then still lands in
//! the stream). Without `ANYIPC_CHILD_FDS`, `stdio://` is the
//! process's own stdin and stdout (both must be pipes); a value that is not UTF-8 or not of
//! that form is an error, never taken for "unset".
//!
//! A process shares its stdin and stdout with whoever started it (`{ prog; cat; } < input`
//! hands `cat` the same open pipe), and reading them asynchronously makes them
//! non-blocking. On Linux anonymous pipes taken from stdio are opened anew through `/proc`,
//! so the shared ones stay as they were (not a named FIFO: opened anew without a writer it
//! would not report its end); elsewhere, or without `/proc`, they are left
//! non-blocking, and a program reading or writing them next may fail with `WouldBlock`
//! ("Resource temporarily unavailable").
//!
//! The child takes the descriptors the variable names only after checking both: open,
//! pipes, the read end open for reading only and the write end for writing only, and not
//! close-on-exec (the parent clears the flag on this pair alone; everything std, tokio and
//! mio open has it set, and taking the pair sets it, so a process that has `exec`ed in place
//! since does not take the numbers again). If a check fails, neither descriptor is touched.
//!
//! # End of the other side
//! The child exiting (or being killed) ends the parent's stream (`None`) and makes its sends
//! fail with `BrokenPipe`: the OS closes the child's pipe ends, so there is no hang. The parent
//! exiting ends the child's stream the same way. A grandchild that the child starts after
//! [`connect_parent`] does not keep the pipes open: taking them makes them close-on-exec. But
//! until then they are inherited, so a grandchild started before it, or by a child that never
//! calls it (a shell script, a program that knows nothing of anyipc), holds them, and the
//! parent's stream ends only once that grandchild exits too; in stdio mode the same goes for
//! any grandchild that inherits the child's stdin or stdout (`sh -c 'sleep 60 & exit'`).
//! Where that matters, have the child close or redirect them for its background work, or
//! end the child's whole process group.
//!
//! # Errors
//! [`spawn`]: those of [`Command::spawn`](tokio::process::Command::spawn), with the program
//! named in the message.
//! [`connect_parent`]: `NotFound` when `ANYIPC_CHILD_FDS` names another parent (the variable
//! was inherited past the child it was meant for, the parent has already exited, or the
//! parent started the program through a wrapper that forks it rather than `exec`s it, such
//! as `timeout` or `sudo`: `exec` in place, as `nice` and `env` do, keeps the pid);
//! `InvalidInput` when the variable is not UTF-8 or malformed, or a named descriptor fails a
//! check above (closed, not a pipe, the ends swapped, close-on-exec, both the same pipe), and
//! in stdio mode when stdin or stdout is not a pipe. Only the first call in a process tries:
//! after it succeeded, later calls get `AddrInUse`; after it failed, an error of the same
//! kind (the variable is not read again, so no call takes a descriptor an earlier one
//! refused).
//!
//! # Platform-specific behavior
//! Unix only: on other systems the module is absent and `stdio://` is `Unsupported`.
//!
//! On Linux each of the two extra pipes asks for a 1 MiB buffer (large messages cross in
//! fewer wake-ups; the default is 64 KiB). The kernel counts pipe buffers against a per-user
//! allowance (`/proc/sys/fs/pipe-user-pages-soft`, 64 MiB by default), and once a user's
//! pipes hold that much, every new pipe of that user, in any program, gets an 8 KiB buffer
//! (root's excepted): about 32 children connected at once reach it. A `fifo://` reader asks
//! for 1 MiB too.
//!
//! [`Child`]: tokio::process::Child
//! [`Connection`]: crate::Connection

mod child_options;
mod child_pipe;

pub use child_options::ChildOptions;
pub(crate) use child_pipe::ChildPipe;

use crate::transport::{AnyStream, Connection};
use crate::{Endpoint, Scheme};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

/// The environment variable that tells a child which inherited descriptors are its pipes to
/// the parent: `<parent pid>:<read fd>,<write fd>`, or `<parent pid>:stdio`.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::child::CHILD_FDS_ENV;
///
/// let mut command = tokio::process::Command::new("printenv");
/// command.arg(CHILD_FDS_ENV).stdout(std::process::Stdio::piped());
/// let (child, _conn) = anyipc::child::spawn(command)?;
/// let printed = String::from_utf8(child.wait_with_output().await?.stdout).unwrap();
/// let (pid, fds) = printed.trim_end().split_once(':').unwrap();
/// assert_eq!(pid, std::process::id().to_string());
/// let (read, write) = fds.split_once(',').unwrap();
/// assert!(read.parse::<i32>().is_ok() && write.parse::<i32>().is_ok());
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub const CHILD_FDS_ENV: &str = "ANYIPC_CHILD_FDS";

/// What became of this process's one attempt to take its pipes to the parent.
enum Taken {
    /// No attempt yet.
    No,
    /// Taken.
    Yes,
    /// The attempt failed with this kind and message; the pipes are given up for good.
    Refused(io::ErrorKind, String),
}

/// Whether this process has tried to take its pipes to the parent already; held across the
/// attempt, so concurrent calls wait for the first one's outcome.
static TAKEN: Mutex<Taken> = Mutex::new(Taken::No);

/// Starts `command` with two pipes to it and returns the child and this side's connection.
///
/// Equivalent to [`spawn_with`]`(command, ChildOptions::new())`: the pipes are extra
/// descriptors, not the child's stdin and stdout.
///
/// ```
/// # tokio_test::block_on(async {
/// # if std::env::var_os(anyipc::child::CHILD_FDS_ENV).is_some() {
/// #     let mut parent = anyipc::child::connect_parent().await?;
/// #     while let Some(msg) = parent.recv().await? {
/// #         parent.send(msg).await?;
/// #     }
/// #     return Ok(());
/// # }
/// // This same program again, as a child that echoes (see `connect_parent`).
/// let command = tokio::process::Command::new(std::env::current_exe()?);
/// let (mut child, mut conn) = anyipc::child::spawn(command)?;
/// conn.send("ping").await?;
/// assert_eq!(conn.recv().await?.unwrap(), "ping");
/// drop(conn); // the child's stream ends: it exits
/// assert!(child.wait().await?.success());
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// Those of [`Command::spawn`](tokio::process::Command::spawn) (`NotFound` for a program that
/// does not exist, `PermissionDenied` for one that is not executable), with the program named
/// in the message; the OS's when pipes cannot be created.
pub fn spawn(command: Command) -> io::Result<(Child, Connection)> {
    spawn_with(command, ChildOptions::new())
}

/// Starts `command` with two pipes to it, as `options` says.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::child::ChildOptions;
/// use tokio::process::Command;
///
/// // `cat` knows nothing of anyipc: it copies the lines on its stdin to its stdout.
/// let options = ChildOptions::new().stdio(true).endpoint("stdio://?framing=lines".parse()?)?;
/// let (mut child, mut conn) = anyipc::child::spawn_with(Command::new("cat"), options)?;
/// conn.send("2+2").await?;
/// assert_eq!(conn.recv().await?.unwrap(), "2+2");
/// drop(conn); // closes cat's stdin: it exits
/// assert!(child.wait().await?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
///
/// # Errors
/// As [`spawn`].
pub fn spawn_with(mut command: Command, options: ChildOptions) -> io::Result<(Child, Connection)> {
    let (child, receiver, sender) = spawn_piped(&mut command, options.uses_stdio())?;
    let peer = match child.id() {
        Some(pid) => format!("child pid {pid}"),
        None => "child".to_owned(),
    };
    let conn = Connection::from_stream(
        AnyStream::Child(ChildPipe::new(receiver, sender)),
        options.endpoint_ref(),
        peer,
        None,
    );
    Ok((child, conn))
}

/// Starts `command` with two pipes to this process (its stdin and stdout with `stdio`, else
/// two inherited descriptors named in `ANYIPC_CHILD_FDS`, which
/// [`take_parent_pipes`] reads in the child), both with grown buffers; returns this side's
/// ends. The bench's raw twin of `child` starts its children with it too.
pub(crate) fn spawn_piped(
    command: &mut Command,
    stdio: bool,
) -> io::Result<(Child, pipe::Receiver, pipe::Sender)> {
    let parent_pid = std::process::id();
    let (child, receiver, sender) = if stdio {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .env(CHILD_FDS_ENV, format!("{parent_pid}:stdio"));
        let mut child = start(command)?;
        let missing = || io::Error::other("the child's stdio pipes were not created");
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = child.stdout.take().ok_or_else(missing)?;
        let receiver = pipe::Receiver::from_owned_fd(stdout.into_owned_fd()?)?;
        let sender = pipe::Sender::from_owned_fd(stdin.into_owned_fd()?)?;
        (child, receiver, sender)
    } else {
        let (child_read, parent_write) = crate::sys::anonymous_pipe()?;
        let (parent_read, child_write) = crate::sys::anonymous_pipe()?;
        let fds = [child_read.as_raw_fd(), child_write.as_raw_fd()];
        command.env(CHILD_FDS_ENV, format!("{parent_pid}:{},{}", fds[0], fds[1]));
        crate::sys::inherit_in_child(command, fds);
        let child = start(command)?;
        // The child has its copies now; ours must close, or the child's death would never
        // end our stream.
        drop((child_read, child_write));
        let receiver = pipe::Receiver::from_owned_fd(parent_read)?;
        let sender = pipe::Sender::from_owned_fd(parent_write)?;
        (child, receiver, sender)
    };
    crate::sys::grow_pipe_buffer(receiver.as_fd());
    crate::sys::grow_pipe_buffer(sender.as_fd());
    Ok((child, receiver, sender))
}

/// Starts `command`; an error keeps the OS's kind and names the program (the OS's "No such
/// file or directory" alone does not say which file).
fn start(command: &mut Command) -> io::Result<Child> {
    command.spawn().map_err(|e| {
        let program = command.as_std().get_program();
        crate::error::with_context(e.kind(), format!("cannot start {program:?}: {e}"), e)
    })
}

/// In a child started by [`spawn`], returns the connection to the parent (the same as
/// `anyipc::connect("stdio://")`).
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::child::{connect_parent, spawn, CHILD_FDS_ENV};
///
/// if std::env::var_os(CHILD_FDS_ENV).is_some() {
///     // The child: answer each message with its length.
///     let mut parent = connect_parent().await?;
///     while let Some(msg) = parent.recv().await? {
///         parent.send(msg.len().to_string()).await?;
///     }
///     return Ok(());
/// }
/// // The parent: start this same program as the child.
/// let (mut child, mut conn) = spawn(tokio::process::Command::new(std::env::current_exe()?))?;
/// conn.send("four").await?;
/// assert_eq!(conn.recv().await?.unwrap(), "4");
/// # drop(conn);
/// # assert!(child.wait().await?.success());
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// See the [module docs](self#errors).
///
/// # Cancel safety
/// Cancel safe (it completes without waiting).
pub async fn connect_parent() -> io::Result<Connection> {
    let endpoint =
        Endpoint::parse("stdio://").map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    connect(&endpoint).await
}

/// `stdio://`: the pipes to the parent.
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<Connection> {
    debug_assert_eq!(endpoint.scheme(), Scheme::Stdio);
    let (receiver, sender, peer) = take_parent_pipes()?;
    Ok(Connection::from_stream(
        AnyStream::Child(ChildPipe::new(receiver, sender)),
        endpoint,
        peer,
        None,
    ))
}

/// What `ANYIPC_CHILD_FDS` says.
#[derive(Debug, PartialEq, Eq)]
enum ParentPipes {
    /// The process's own stdin and stdout.
    Stdio,
    /// Two inherited descriptors: (read, write).
    Fds(i32, i32),
}

/// Parses `<parent pid>:stdio` or `<parent pid>:<read fd>,<write fd>`; returns the pid too.
fn parse_child_fds(value: &str) -> Option<(u32, ParentPipes)> {
    let (pid, rest) = value.split_once(':')?;
    let pid = pid.parse().ok()?;
    if rest == "stdio" {
        return Some((pid, ParentPipes::Stdio));
    }
    let (read, write) = rest.split_once(',')?;
    let (read, write) = (read.parse().ok()?, write.parse().ok()?);
    (read != write).then_some((pid, ParentPipes::Fds(read, write)))
}

/// In a child started by [`spawn_piped`]: the pipes to the parent, once per process, with a
/// description of the parent. The first call decides, whatever its outcome: later calls get
/// `AddrInUse` after a success, and an error of the first one's kind after a failure, so no
/// call takes a descriptor an earlier one refused (its number may since hold something else).
pub(crate) fn take_parent_pipes() -> io::Result<(pipe::Receiver, pipe::Sender, String)> {
    let mut state = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
    match &*state {
        Taken::No => {}
        Taken::Yes => {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "stdio://: the pipes to the parent were taken already (connect_parent is once \
                 per process)",
            ))
        }
        Taken::Refused(kind, why) => {
            return Err(io::Error::new(
                *kind,
                format!(
                    "stdio://: the first attempt to take the pipes to the parent failed, and \
                     there is no second (connect_parent is once per process): {why}"
                ),
            ))
        }
    }
    // Should the attempt panic, it still counts.
    *state = Taken::Refused(io::ErrorKind::Other, "it panicked".to_owned());
    let taken = take_parent_pipes_once();
    *state = match &taken {
        Ok(_) => Taken::Yes,
        Err(e) => Taken::Refused(e.kind(), e.to_string()),
    };
    taken
}

/// [`take_parent_pipes`]'s one attempt.
fn take_parent_pipes_once() -> io::Result<(pipe::Receiver, pipe::Sender, String)> {
    let var = std::env::var_os(CHILD_FDS_ENV);
    let (read, write) = match var {
        None => crate::sys::take_stdio()?,
        Some(value) => {
            let invalid = |why: &str| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{CHILD_FDS_ENV}={value:?} {why}"),
                )
            };
            let text = value
                .to_str()
                .ok_or_else(|| invalid("is not valid UTF-8"))?;
            let (pid, pipes) = parse_child_fds(text)
                .ok_or_else(|| invalid("is not <pid>:<fd>,<fd> or <pid>:stdio"))?;
            let parent = std::os::unix::process::parent_id();
            if parent != pid {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "{CHILD_FDS_ENV} names pipes from pid {pid}, but our parent is pid \
                         {parent}: the variable was inherited from further up, the parent has \
                         exited, or this program was started through a wrapper that forks \
                         (`timeout`, `sudo`, a shell running more than this one command) \
                         rather than `exec`s it"
                    ),
                ));
            }
            match pipes {
                ParentPipes::Stdio => crate::sys::take_stdio()?,
                ParentPipes::Fds(read, write) => {
                    // SAFETY: the parent (our parent: the pid matches) named these numbers,
                    // and `adopt_inherited_fd` takes them only once both pass its checks: open
                    // pipes, the right way round, and not close-on-exec. The parent's pre_exec
                    // cleared that flag on this pair, while every descriptor std, tokio, mio and
                    // anyipc open has it set (and the pair gets it when taken, so a process that
                    // took it and then ran exec in place is refused now), so descriptors that
                    // pass came through exec rather than from this process's own code; a pipe
                    // that code made without close-on-exec and placed at the number the parent
                    // named is the one case the checks cannot tell apart. `TAKEN` makes this
                    // the only attempt in the process, so anyipc does not own them already.
                    unsafe { crate::sys::adopt_inherited_fd(read, write) }.map_err(|e| {
                        let message = format!(
                            "{CHILD_FDS_ENV}={text:?} does not name the parent's pipes: {e}"
                        );
                        crate::error::with_context(e.kind(), message, e)
                    })?
                }
            }
        }
    };
    // From here on the descriptors are ours: a failure closes them.
    let peer = format!("parent pid {}", std::os::unix::process::parent_id());
    Ok((
        pipe::Receiver::from_owned_fd(read)?,
        pipe::Sender::from_owned_fd(write)?,
        peer,
    ))
}

#[cfg(test)]
mod tests;
