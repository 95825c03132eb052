//! `anyipc tour`: every implemented transport between two real processes, in a few seconds.
//! A transport this platform lacks (`shm` off Linux, …) has a row that says so.
//!
//! The transports come from `anyipc::bench::TRANSPORTS` (one list, shared with the bench); for
//! each one the tour spawns this binary as the peer (`anyipc bench-peer URL`; for `child`, as a
//! child on pipes serving `stdio://`), measures a short 64-byte ping-pong and a short 4 KiB
//! one-way stream with the bench engine, and prints a row. One-way transports (fifo, file, mq)
//! run over two endpoints, one each way; the queues and logs the tour creates are removed
//! afterwards. A legend under the table says what the columns mean and why a lossy transport
//! (udp) can be `ok`; a row's notes say how it ran when its name alone does not (`shm-busy`).

use crate::duration_arg::parse_duration;
use crate::output::print_stdout;
use crate::{CliError, StopSignals};
use anyipc::bench::{
    measure, InProcessPeer, Machine, PeerProcess, Report, RunResources, TransportSpec, Workload,
    TRANSPORTS,
};
use futures::FutureExt;
use std::io;
use std::path::Path;
use std::time::Duration;

/// Round trips of the latency probe (after a tenth as many warm-up ones).
const ROUND_TRIPS: usize = 2_000;
/// Round trips of the latency probe where a log's consumer polls (off Linux: each round
/// trip waits for two checks, up to 2 × 20 ms).
const POLLED_ROUND_TRIPS: usize = 100;
/// Size of the latency probe's messages.
const LATENCY_SIZE: usize = 64;
/// Messages of the throughput probe.
const MESSAGES: usize = 16_384;
/// Size of the throughput probe's messages (64 MiB in all).
const THROUGHPUT_SIZE: usize = 4096;

/// Printed under the table: what its columns mean (lines of at most 100 columns).
const LEGEND: &[&str] = &[
    "result: ok when both probes ran to the end. round trip p50: the median time of a 64 B",
    "  message there and back. throughput: what arrived of 4 KiB messages sent one way at full",
    "  speed.",
    "udp can lose messages and still be ok: it never makes a fast sender wait, so datagrams past",
    "  what the receiver holds are dropped, also on one host (README: Transports). The other",
    "  transports lose none.",
];
/// Printed under [`LEGEND`] when some transport is not on this platform.
const NOT_HERE_LEGEND: &str =
    "not on this platform: a transport of other systems (README: Platforms); not a failure.";

/// Arguments of `anyipc tour`.
#[derive(Debug, clap::Args)]
pub(crate) struct TourArgs {
    /// The most one transport may take (starting its peer and both probes) before its row
    /// says it failed; raise it on a slow or emulated machine.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
}

/// What one transport did.
struct Row {
    name: &'static str,
    result: Result<(Report, Report), io::Error>,
    notes: Vec<String>,
}

/// Runs `anyipc tour`: one row per transport; fails (exit 1) if any transport failed.
pub(crate) async fn run(args: TourArgs) -> Result<(), CliError> {
    // Installed before anything is printed, so a signal sent once the tour has begun is
    // caught. Stopped, the transport being measured ends: its peer process is stopped
    // cleanly (so it removes its named endpoint) and the queues and logs of the run are
    // removed.
    let mut stop = StopSignals::install()?;
    let prefix = format!("anyipc-tour-{}", std::process::id());
    let dir = crate::scratch_dir::create(&prefix).map_err(|e| {
        CliError::Runtime(format!(
            "cannot create {}: {e}",
            std::env::temp_dir().join(&prefix).display()
        ))
    })?;
    let mut failed = Vec::new();
    // A stdout that cannot be written (`anyipc tour | head -1`) ends the tour with an error
    // (no panic), and the directory below is removed whatever ends it.
    let all_run = async {
        print_stdout(&format!(
            "anyipc tour: each transport between two processes ({LATENCY_SIZE} B round trips, \
             {} KiB one-way messages)\nmachine: {}\n\n\
             | transport | result | round trip p50 | throughput | notes |\n|---|---|---|---|---|\n",
            THROUGHPUT_SIZE / 1024,
            Machine::detect()
        ))?;
        for spec in TRANSPORTS {
            if !spec.is_available() {
                print_stdout(&format!(
                    "| {} | not on this platform ({}) |  |  | {} |\n",
                    spec.name,
                    std::env::consts::OS,
                    spec.note
                ))?;
                continue;
            }
            let Some(row) = tour_one(spec, &dir, args.timeout, &mut stop).await else {
                return Err(CliError::Runtime("interrupted".to_owned()));
            };
            print_stdout(&row_line(&row))?;
            if row.result.is_err() {
                failed.push(row.name);
            }
        }
        // A signal that came while the last peer was stopped.
        if stop.recv().now_or_never().is_some() {
            return Err(CliError::Runtime("interrupted".to_owned()));
        }
        Ok(())
    };
    let ended = all_run.await;
    let _ = std::fs::remove_dir_all(&dir);
    ended?;
    print_stdout(&legend(TRANSPORTS.iter().any(|t| !t.is_available())))?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Runtime(format!(
            "{} of {} transports failed: {}",
            failed.len(),
            TRANSPORTS.iter().filter(|t| t.is_available()).count(),
            failed.join(", ")
        )))
    }
}

/// Measures one transport; `None` when a stop signal came meanwhile (or before, while the
/// previous row was printed or its peer stopped). A peer process, once started, is always
/// stopped cleanly (told to end, so that it removes its named endpoint), also when a signal
/// or the time limit cuts its probes short: killed, it would leave its `pipe://` or `shm://`
/// name behind. A signal does not cut its start short (it is answered as soon as the peer
/// has started); the time limit does, killing a peer that took that long to start, which
/// may then leave its name for the next `bind` to reclaim.
async fn tour_one(
    spec: &TransportSpec,
    dir: &Path,
    timeout: Duration,
    stop: &mut StopSignals,
) -> Option<Row> {
    if stop.recv().now_or_never().is_some() {
        return None;
    }
    let mut notes = Vec::new();
    if spec.in_process {
        notes.push("in-process: two tasks in one process".to_owned());
    }
    if !spec.note.is_empty() {
        notes.push(spec.note.to_owned());
    }
    let polled = !anyipc::file::WOKEN_ON_GROWTH && spec.url.starts_with("file://");
    let round_trips = if polled {
        notes.push(format!(
            "{POLLED_ROUND_TRIPS} round trips: consumers check every {} ms here (no inotify)",
            anyipc::file::DEFAULT_POLL_INTERVAL.as_millis()
        ));
        POLLED_ROUND_TRIPS
    } else {
        ROUND_TRIPS
    };
    let unique = format!("tour-{}-{}", std::process::id(), spec.name);
    let throughput_size = spec.message_size(THROUGHPUT_SIZE);
    if let Ok(size) = throughput_size {
        if size != THROUGHPUT_SIZE {
            notes.push(format!(
                "{size} B one-way messages (the largest it carries)"
            ));
        }
    }
    // Removes the queues and logs the probes create, however they end (dropped after the peer).
    let mut _resources = RunResources::default();
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no result within {timeout:?} (--timeout)"),
        )
    };
    let mut peer: Option<PeerProcess> = None;
    let mut in_process: Option<InProcessPeer> = None;
    // Set up, the peer started: not raced with the stop signals (one that comes meanwhile is
    // kept for `recv`), so that a peer process is never killed halfway.
    let set_up = async {
        // Sized for its messages: an mq queue reserves a slot of the largest one per message.
        let largest = LATENCY_SIZE.max(throughput_size.clone().unwrap_or(THROUGHPUT_SIZE));
        let target = spec.target_for(&unique, dir, largest)?;
        _resources = RunResources::new(&target);
        let latency = Workload::latency(LATENCY_SIZE, round_trips).with_warmup(round_trips / 10);
        let throughput = Workload::throughput(
            throughput_size.map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?,
            MESSAGES,
        );
        if spec.in_process {
            // Kept alive until both probes are done.
            in_process = Some(InProcessPeer::start(&target).await?);
        } else {
            let start = PeerProcess::start(crate::bench::peer_command()?, &target);
            let started = tokio::time::timeout_at(deadline, start).await;
            peer = Some(started.map_err(|_| timed_out())??);
        }
        Ok::<_, io::Error>((latency, throughput))
    }
    .await;
    let measured = match set_up {
        Err(e) => Some(Err(e)),
        Ok((latency, throughput)) => {
            let probes = async {
                match (&mut peer, &in_process) {
                    (Some(peer), _) => {
                        let l = peer.measure(&latency).await?;
                        let t = peer.measure(&throughput).await?;
                        Ok((l, t))
                    }
                    (None, Some(in_process)) => {
                        let l = measure(in_process.target(), &latency).await?;
                        let t = measure(in_process.target(), &throughput).await?;
                        Ok((l, t))
                    }
                    (None, None) => unreachable!("a peer was started"),
                }
            };
            tokio::select! {
                biased;
                _ = stop.recv() => None,
                probed = tokio::time::timeout_at(deadline, probes) => {
                    Some(probed.unwrap_or_else(|_| Err(timed_out())))
                }
            }
        }
    };
    if let Some(peer) = peer.take() {
        // Ended cleanly, the peer removes its named endpoint.
        if let Err(e) = peer.stop().await {
            tracing::debug!(error = %e, "stopping the tour peer");
        }
    }
    drop(in_process);
    let measured: io::Result<(Report, Report)> = measured?;
    // A signal sent to the whole process group (Ctrl-C) may end the peer process first, as
    // it starts or while it is measured: a row that failed because its peer died of it was
    // interrupted, which the signal arriving here a moment later tells.
    if !spec.in_process
        && measured.is_err()
        && tokio::time::timeout(crate::bench::SIGNAL_GRACE, stop.recv())
            .await
            .is_ok()
    {
        return None;
    }
    if let Ok((_, Report::Throughput(t))) = &measured {
        if t.lost() > 0 {
            notes.push(format!(
                "{:.1}% of messages lost: datagrams the receiver had no room for were dropped \
                 (expected: see the legend)",
                t.lost() as f64 * 100.0 / t.sent as f64
            ));
        }
    }
    Some(Row {
        name: spec.name,
        result: measured,
        notes,
    })
}

/// One row of the table, newline included.
fn row_line(row: &Row) -> String {
    let (result, p50, throughput) = match &row.result {
        Ok((l, t)) => {
            let p50 = l.latency().map_or_else(String::new, |l| {
                format!("{:.1} µs", l.p50.as_secs_f64() * 1e6)
            });
            let throughput = t.throughput().map_or_else(String::new, |t| {
                format!(
                    "{:.0} MiB/s ({:.0}k msg/s)",
                    t.gib_per_sec() * 1024.0,
                    t.msgs_per_sec() / 1e3
                )
            });
            ("ok".to_owned(), p50, throughput)
        }
        Err(e) => (
            format!("error: {}", e.to_string().replace('|', "/")),
            String::new(),
            String::new(),
        ),
    };
    format!(
        "| {} | {result} | {p50} | {throughput} | {} |\n",
        row.name,
        row.notes.join("; ")
    )
}

/// The legend under the table, after an empty line; `not_here` when a row says a
/// transport is not on this platform.
fn legend(not_here: bool) -> String {
    let mut text = String::from("\n");
    for line in LEGEND.iter().chain(not_here.then_some(&NOT_HERE_LEGEND)) {
        text.push_str(line);
        text.push('\n');
    }
    text
}
