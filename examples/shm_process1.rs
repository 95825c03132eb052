//! The classic shared-memory pair, part 1: create a named block of memory, write a message
//! into it, and keep it alive until `shm_process2` signals that it read it, Enter, Ctrl-C or
//! SIGTERM.
//!
//! ```text
//! cargo run --example shm_process1          # creates region "anyipc-example"
//! cargo run --example shm_process2          # in another terminal: prints the message
//! ```
//!
//! Give another region name as the first argument and the message after it. The region is
//! `/dev/shm/anyipc-region-<uid>-<name>`, mode 0600, removed when this process ends (or, if
//! it is killed, by the next `Region::create` on the machine). Linux only.
//!
//! Started without input (`shm_process1 &` in a script, `< /dev/null`), end of input is not
//! Enter: the region stays until `shm_process2` reads it or a signal (`kill -INT` or
//! `kill -TERM`) ends this process, which then removes it.

#[cfg(target_os = "linux")]
mod common;

/// The command line this example takes.
#[cfg(target_os = "linux")]
const USAGE: &str = "shm_process1 [NAME] [MESSAGE]";

#[cfg(target_os = "linux")]
#[tokio::main]
async fn main() {
    let code = common::exit_status("shm_process1", run().await);
    // Exit at once: a runtime shutting down would wait for the blocking read of stdin.
    std::process::exit(code.into());
}

#[cfg(target_os = "linux")]
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    use anyipc::shm::Region;
    use std::time::Duration;
    use tokio::io::AsyncBufReadExt;

    let mut args = std::env::args().skip(1);
    let name = match args.next() {
        Some(name) => common::positional(name, USAGE)?,
        None => "anyipc-example".to_owned(),
    };
    let message = args.next().unwrap_or_else(|| {
        format!(
            "Hello from shm_process1 (pid {}) through shared memory!",
            std::process::id()
        )
    });
    common::nothing_more(args, USAGE)?;

    // Caught from here on, so that a signal ends this process cleanly: the region is removed.
    let mut stop = std::pin::pin!(common::stop_signal()?);
    let region = Region::create(&name, 4096)?;
    // Count signals from before anyone can know the region exists: a process 2 that reads
    // and signals at once, before this line would run, is then not missed.
    let seen = region.signals();
    // A length prefix, then the text: process 2 knows how much to read.
    let len = u32::try_from(message.len())?;
    region.write(4, message.as_bytes())?;
    region.write(0, &len.to_le_bytes())?;
    common::say!("process1: wrote {message:?} into region {name:?}")?;
    common::say!("process1: run shm_process2 now; press Enter or Ctrl-C to end")?;

    let enter = async {
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        if let Ok(Some(_)) = stdin.next_line().await {
            return Ok(());
        }
        // No terminal: end of input (or none at all) is nobody pressing Enter.
        common::say!("process1: no more input; waiting for shm_process2, Ctrl-C or SIGTERM")?;
        std::future::pending::<std::io::Result<()>>().await
    };
    let ended_by = tokio::select! {
        entered = enter => {
            entered?;
            "Enter"
        }
        () = &mut stop => "stopped by a signal",
        _ = async {
            while region.wait_after(seen, Duration::from_secs(3600)).await.is_err() {}
        } => "process2 read the message",
    };
    common::say!("process1: {ended_by}")?;
    common::say!("process1: removing region {name:?}")?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("shm_process1: shm:// and anyipc::shm are Linux-only");
    std::process::ExitCode::FAILURE
}
