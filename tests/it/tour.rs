//! `anyipc tour` runs every transport between two processes and says `ok` for each.

use crate::util::{anyipc_bin, watchdog};

#[tokio::test]
async fn tour_reports_ok_for_every_transport() {
    let output = watchdog(
        120,
        tokio::process::Command::new(anyipc_bin())
            .arg("tour")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run anyipc tour");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "anyipc tour failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Table rows: `| transport | result | p50 | throughput | notes |`, after the header rows.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| transport"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    // Every implemented transport (README: "runs every transport between two real
    // processes"), and whatever else the catalog lists.
    let every = [
        "tcp", "unix", "pipe", "fifo", "child", "udp", "shm", "shm-busy", "mq", "file", "mem",
    ];
    for expected in every
        .into_iter()
        .chain(anyipc::bench::TRANSPORTS.iter().map(|t| t.name))
    {
        assert!(
            names.contains(&expected),
            "no row for {expected}:\n{stdout}"
        );
    }
    assert_eq!(names.len(), anyipc::bench::TRANSPORTS.len(), "{stdout}");
    for row in &rows {
        assert_eq!(row[2], "ok", "transport {} failed:\n{stdout}", row[1]);
        assert!(
            row[3].ends_with("µs"),
            "no round-trip time for {}:\n{stdout}",
            row[1]
        );
        assert!(
            row[4].contains("MiB/s"),
            "no throughput for {}:\n{stdout}",
            row[1]
        );
    }
}
