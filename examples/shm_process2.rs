//! The classic shared-memory pair, part 2: open the named block `shm_process1` created, print
//! its message, and signal process 1 that it was read.
//!
//! ```text
//! cargo run --example shm_process1          # creates region "anyipc-example"
//! cargo run --example shm_process2          # in another terminal: prints the message
//! ```
//!
//! Give another region name as the first argument. Linux only.

#[cfg(target_os = "linux")]
mod common;

/// The command line this example takes.
#[cfg(target_os = "linux")]
const USAGE: &str = "shm_process2 [NAME]";

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    common::exit_status("shm_process2", run()).into()
}

#[cfg(target_os = "linux")]
fn run() -> Result<(), Box<dyn std::error::Error>> {
    use anyipc::shm::Region;

    let mut args = std::env::args().skip(1);
    let name = match args.next() {
        Some(name) => common::positional(name, USAGE)?,
        None => "anyipc-example".to_owned(),
    };
    common::nothing_more(args, USAGE)?;
    let region = Region::open(&name)
        .map_err(|err| format!("cannot open the region: {err} (is shm_process1 running?)"))?;
    let mut len = [0u8; 4];
    region.read(0, &mut len)?;
    // The length comes from another process: check it against the region before using it.
    let len = u32::from_le_bytes(len) as usize;
    if len > region.len() - 4 {
        return Err(format!("region {name:?} announces {len} bytes, more than it holds").into());
    }
    let mut message = vec![0u8; len];
    region.read(4, &mut message)?;
    common::say!("process2: {}", String::from_utf8_lossy(&message))?;
    region.signal();
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("shm_process2: shm:// and anyipc::shm are Linux-only");
    std::process::ExitCode::FAILURE
}
