//! `anyipc clean` (remove what dead owners left) and `anyipc rm URL` (remove one resource).

use crate::output::say;
use crate::resources::{self, Kind, Removed, Resource, Status};
use crate::CliError;
use anyipc::{Endpoint, Scheme};

/// Arguments of `anyipc clean`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Removes pipe:// and shm:// names whose server died, shared-memory regions (anyipc::shm::Region, \
/dev/shm/anyipc-region-<uid>-NAME) whose creator died without keeping them, and queue and \
region files whose creator died before finishing them; prints one line per removal. Names of \
live owners are never touched (each name is removed under its ownership lock, so a server \
binding it at that moment is safe; a region only if it is still the one found dead, under the \
lock region creators take). \
Complete mq:// queues are kept even when no process has them open: their messages may be \
waiting for a consumer; remove one with `anyipc rm mq://NAME`. Likewise file:// logs are never \
removed by clean (only index entries of logs that are gone: the directory removed, the path \
now a plain file, or no segment or writer.lock left in it); remove one with \
`anyipc rm file:///DIR`. A region its creator kept on purpose (Region::keep) for others to \
open is data too: clean keeps it (idle in `anyipc ls`); remove one with `anyipc rm shm://NAME`.

Examples:
  anyipc clean
  anyipc clean --dry-run

Exit codes: 0 done (also when nothing was dead), 1 a removal failed, 2 bad usage.")]
pub(crate) struct CleanArgs {
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Arguments of `anyipc rm`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Removes the files behind one pipe://, shm:// or mq:// name, shared-memory region or file:// \
log (see `anyipc ls`). \
A name whose owner is alive is refused unless --force; forced, the owner keeps running but can \
no longer be found by name. A queue is removed with the messages in it; processes that have it \
open keep using it until they close it. Another user's queue, which `anyipc ls` does not list, \
is found by name too: root may remove it (a live one with --force), anyone else is refused \
by the OS. A log is removed with its records and consumer \
cursors (other files in its directory, and so the directory, are kept); a log with a live \
writer is refused unless --force. A log `anyipc ls` does not list (written under another \
XDG_RUNTIME_DIR, or before a reboot emptied it) is found by its files. shm://NAME is both a connection's rendezvous name and a \
shared-memory region's (shm-region in `anyipc ls`): rm removes each that exists, and refuses \
all of them (removing none) when one has a live owner, unless --force; --kind shm or --kind \
shm-region takes only that one (a kept region beside a live server's name). A region is \
removed with its bytes, also one kept on purpose; processes that have it mapped keep using it.

Examples:
  anyipc rm pipe://orders
  anyipc rm shm://frames          the shm:// name and the region called frames
  anyipc rm shm://frames --kind shm-region   only the region
  anyipc rm mq://jobs --force
  anyipc rm file:///var/tmp/orders-log

Exit codes: 0 removed, 1 not found, owner alive (without --force) or removal failed, 2 bad \
usage or URL.")]
pub(crate) struct RmArgs {
    /// pipe://NAME, shm://NAME (a name and a region), mq://NAME or file:///DIR (a log).
    #[arg(value_name = "URL")]
    url: String,

    /// Remove it even when its owner is alive.
    #[arg(long)]
    force: bool,

    /// With shm://NAME, only the connections' name (shm) or only the region (shm-region),
    /// as `anyipc ls` shows them.
    #[arg(long, value_name = "KIND", value_parser = ["shm", "shm-region"])]
    kind: Option<String>,
}

/// Runs `anyipc clean`.
///
/// # Errors
/// A runtime error when some removal failed (after trying every one).
pub(crate) fn clean(args: CleanArgs) -> Result<(), CliError> {
    let listing = resources::list();
    for warning in &listing.warnings {
        stderr_line!("anyipc: {warning}");
    }
    let mut failed = 0;
    let mut removed = 0;
    for r in listing
        .resources
        .iter()
        .filter(|r| r.status == Status::Dead)
    {
        if args.dry_run {
            say!("would remove {} ({})", r.label(), owner_text(r));
            continue;
        }
        match resources::remove(r, false) {
            Ok(Removed::Yes) => {
                removed += 1;
                say!("removed {} ({})", r.label(), owner_text(r));
            }
            Ok(Removed::OwnerAlive) => {
                say!("kept {}: a live process took the name meanwhile", r.label());
            }
            Err(e) => {
                failed += 1;
                stderr_line!("anyipc: cannot remove {}: {e}", r.label());
            }
        }
    }
    if !args.dry_run && removed == 0 && failed == 0 {
        say!("nothing to clean");
    }
    match failed {
        0 => Ok(()),
        n => Err(CliError::Runtime(format!("{n} removals failed"))),
    }
}

/// Runs `anyipc rm URL`.
///
/// # Errors
/// Usage errors for a URL of another kind; runtime errors when nothing has that name, its
/// owner is alive (without `--force`) or removal fails.
pub(crate) fn rm(args: RmArgs) -> Result<(), CliError> {
    let endpoint = Endpoint::parse(&args.url)?;
    let kinds: &[Kind] = match endpoint.scheme() {
        Scheme::Pipe => &[Kind::Pipe],
        // The connections' rendezvous name and the region of that name: both, if both exist.
        Scheme::Shm => &[Kind::Shm, Kind::Region],
        Scheme::Mq => &[Kind::Mq],
        Scheme::File if !endpoint.has_framing() => &[Kind::File],
        Scheme::File => {
            return Err(CliError::Usage(format!(
                "rm: {endpoint} is a plain file (framing=), not a log; remove it as any file"
            )))
        }
        other => {
            return Err(CliError::Usage(format!(
                "rm: {other}:// resources are not registered anywhere; rm takes pipe://, shm:// \
                 or mq:// names and file:// logs"
            )))
        }
    };
    let kinds: &[Kind] = match (args.kind.as_deref(), endpoint.scheme()) {
        (None, _) => kinds,
        (Some("shm"), Scheme::Shm) => &[Kind::Shm],
        (Some(_), Scheme::Shm) => &[Kind::Region],
        (Some(kind), _) => {
            return Err(CliError::Usage(format!(
                "rm: --kind {kind} is for shm:// URLs, which name two things"
            )))
        }
    };
    let name = match (endpoint.name(), endpoint.path()) {
        (Some(name), _) => name.to_owned(),
        // Logs are listed under their canonical path.
        (None, Some(path)) => std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_owned())
            .display()
            .to_string(),
        (None, None) => return Err(CliError::Usage(format!("rm: {endpoint} has no name"))),
    };
    let name = name.as_str();
    let mut listing = resources::list();
    if kinds == [Kind::Mq]
        && !listing
            .resources
            .iter()
            .any(|r| r.kind == Kind::Mq && r.name == name)
    {
        // Another user's queue (ls shows only this user's): root may remove it.
        listing.resources.extend(resources::queue_of_any_user(name));
    }
    let found: Vec<&Resource> = listing
        .resources
        .iter()
        .filter(|r| kinds.contains(&r.kind) && r.name == name)
        .collect();
    if found.is_empty() {
        if endpoint.scheme() == Scheme::File {
            return rm_unlisted_log(std::path::Path::new(name), args.force);
        }
        return Err(CliError::Runtime(format!(
            "no {}://{name} on this machine",
            kinds[0].scheme()
        )));
    }
    // All or nothing: a live owner of one of them (a shm:// name and a region) keeps both.
    if let Some(r) = found
        .iter()
        .find(|r| r.status == Status::Alive && !args.force)
    {
        return Err(CliError::Runtime(format!(
            "{} belongs to a live process ({}); use --force to remove it anyway",
            r.label(),
            owner_text(r)
        )));
    }
    for r in found {
        match resources::remove(r, args.force) {
            Ok(Removed::Yes) => say!("removed {} ({})", r.label(), owner_text(r)),
            Ok(Removed::OwnerAlive) => {
                return Err(CliError::Runtime(format!(
                    "{} was taken by a live process meanwhile; use --force to remove it anyway",
                    r.label()
                )))
            }
            Err(e) => {
                return Err(CliError::Runtime(format!(
                    "cannot remove {}: {e}",
                    r.label()
                )))
            }
        }
    }
    Ok(())
}

/// Removes the log in `dir` that the index of this runtime directory does not list (its
/// writer had another `XDG_RUNTIME_DIR`: a service's, or one a reboot emptied): the library
/// finds it by its own files, under its writer lock.
///
/// # Errors
/// Runtime errors when `dir` holds no log, a live writer holds it (without `force`) or
/// removal fails.
fn rm_unlisted_log(dir: &std::path::Path, force: bool) -> Result<(), CliError> {
    let url = format!("file://{}", dir.display());
    let removed = if force {
        anyipc::file::remove_forced(dir)
    } else {
        anyipc::file::remove(dir)
    };
    match removed {
        Ok(()) => {
            say!("removed {url} (not in this user's index of logs)");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::Runtime(format!(
            "no {url} on this machine (no log in that directory)"
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(CliError::Runtime(format!(
            "{url} belongs to a live process (its writer); use --force to remove it anyway"
        ))),
        Err(e) => Err(CliError::Runtime(format!("cannot remove {url}: {e}"))),
    }
}

/// `owner pid 123, dead`.
fn owner_text(r: &Resource) -> String {
    match r.owner {
        // A dead owner's pid may belong to another process by now.
        Some(pid) if r.status == Status::Dead => format!("last owner pid {pid}, dead"),
        Some(pid) => format!("owner pid {pid}, {}", r.status),
        None => format!("owner unknown, {}", r.status),
    }
}
