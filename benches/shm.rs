//! shm:// figures the transports bench does not give: the CPU an idle connection uses.
//!
//! ```text
//! cargo bench --bench shm                  # 10 s idle, default mode
//! cargo bench --bench shm -- --secs 30
//! ```
//!
//! Both ends of one connection live in this process (each in its own runtime thread, waiting
//! in `recv`); after a warm-up exchange, the process's user + system CPU time
//! (`/proc/self/stat`, utime + stime) is read before and after the idle period. The default
//! mode must park: the figure should be far below 1% of a core. A `busy_poll=true` connection
//! is measured too, for contrast (it spins by design).

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("shm bench: Linux only (shm://, CPU time from /proc/self/stat)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use futures::StreamExt;
    use std::time::{Duration, Instant};

    /// utime + stime of this process, in seconds.
    fn cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
        // Fields after the command name (which is in parentheses and may hold spaces).
        let after = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        ticks / hz
    }

    fn idle_cpu_percent(options: &str, secs: u64) -> f64 {
        let name = format!("bench-idle-{}-{}", std::process::id(), options.len());
        let url = format!("shm://{name}{options}");
        let server_url = url.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut listener = anyipc::bind(&server_url).await.unwrap();
                ready_tx.send(()).unwrap();
                let mut conn = listener.accept().await.unwrap();
                while let Some(Ok(msg)) = conn.next().await {
                    conn.send(msg).await.unwrap();
                }
            });
        });
        ready_rx.recv().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let percent = rt.block_on(async {
            let mut conn = anyipc::connect(&url).await.unwrap();
            for _ in 0..1000 {
                conn.send(bytes::Bytes::from_static(b"warm-up"))
                    .await
                    .unwrap();
                conn.next().await.unwrap().unwrap();
            }
            let (cpu0, t0) = (cpu_seconds(), Instant::now());
            // Both sides wait in `recv` for the whole period.
            let _ = tokio::time::timeout(Duration::from_secs(secs), conn.next()).await;
            let (cpu1, t1) = (cpu_seconds(), Instant::now());
            drop(conn);
            100.0 * (cpu1 - cpu0) / (t1 - t0).as_secs_f64()
        });
        server.join().unwrap();
        percent
    }

    pub(super) fn main() {
        let mut secs = 10;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--secs" {
                secs = args.next().and_then(|s| s.parse().ok()).expect("--secs N");
            }
        }
        println!("## shm idle connection CPU ({secs} s, both ends in one process)\n");
        println!("| mode | CPU (% of one core) | target |");
        println!("|---|---|---|");
        println!(
            "| default (spin, then park) | {:.3} | < 1 |",
            idle_cpu_percent("", secs)
        );
        println!(
            "| busy_poll=true | {:.1} | (spins by design) |",
            idle_cpu_percent("?busy_poll=true", secs.min(3))
        );
    }
}
