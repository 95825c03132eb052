//! `anyipc ls`: the anyipc resources of this user on this machine, one line each.

use crate::output::print_stdout;
use crate::resources::{self, Resource};
use crate::CliError;
use std::fmt::Write as _;

/// Arguments of `anyipc ls`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Lists pipe:// and shm:// names (in $XDG_RUNTIME_DIR/anyipc, else /tmp/anyipc-<uid>), named \
shared-memory regions (anyipc::shm::Region, /dev/shm/anyipc-region-<uid>-NAME; kind \
shm-region, URL shm://NAME: a region and a shm:// connection name are separate and may share \
a name), mq:// queues (/dev/shm/anyipc-mq-*) and file:// logs (their writers leave a link in \
$XDG_RUNTIME_DIR/anyipc/logs), with the owner's pid (a dead owner's: the pid it had, which \
another process may have now) and whether it is alive:
  alive  the owner (a pipe or shm server; a region's creator; a log's writer; for a queue,
         any process that has it open) runs
  dead   the owner died (killed, crashed; a region's creator without keeping it), or a log is
         gone (its directory removed, its path now a file, or no log left in the directory):
         `anyipc clean` removes the name (for a log, only its index entry)
  idle   a queue no process has open, a log without a writer, or a region its creator kept
         (Region::keep) and left; they outlive processes by design, so they are kept until
         `anyipc rm mq://NAME` / `anyipc rm file:///DIR` / `anyipc rm shm://NAME`
unix:// socket files and plain files (file://…?framing=) live wherever their URLs put them \
and are not registered anywhere, so they are not listed.

Examples:
  anyipc ls
  anyipc ls --json | jq 'select(.status == \"dead\")'
  anyipc ls --json | jq 'select(.kind == \"shm-region\")'

Exit codes: 0 listed, 1 runtime failure, 2 bad usage.")]
pub(crate) struct LsArgs {
    /// One JSON object per resource and line: kind (pipe, shm, shm-region, mq, file), name, url,
    /// owner_pid, status, size, detail.
    #[arg(long)]
    json: bool,
}

/// Runs `anyipc ls`.
///
/// # Errors
/// None beyond usage: places that cannot be read are reported on stderr.
pub(crate) fn run(args: LsArgs) -> Result<(), CliError> {
    let listing = resources::list();
    for warning in &listing.warnings {
        stderr_line!("anyipc: {warning}");
    }
    let mut out = String::new();
    if args.json {
        for r in &listing.resources {
            let _ = writeln!(out, "{}", json(r));
        }
        return print_stdout(&out);
    }
    if listing.resources.is_empty() {
        return print_stdout("no anyipc resources\n");
    }
    let rows: Vec<[String; 6]> = listing
        .resources
        .iter()
        .map(|r| {
            [
                r.kind.to_string(),
                r.name.clone(),
                r.owner.map_or_else(|| "-".to_owned(), |p| p.to_string()),
                r.status.to_string(),
                r.size.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                r.detail.clone(),
            ]
        })
        .collect();
    let header = ["KIND", "NAME", "OWNER", "STATUS", "SIZE", "DETAIL"].map(str::to_owned);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    print_stdout(&out)
}

/// One resource as JSON.
fn json(r: &Resource) -> serde_json::Value {
    serde_json::json!({
        "kind": r.kind.to_string(),
        "name": r.name,
        "url": r.url(),
        "owner_pid": r.owner,
        "status": r.status.to_string(),
        "size": r.size,
        "detail": r.detail,
    })
}
