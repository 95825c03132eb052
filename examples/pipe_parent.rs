//! A parent process talking to the child it starts, over anonymous pipes.
//!
//! ```text
//! cargo build --examples && cargo run --example pipe_parent
//! cargo run --example pipe_parent -- --stdio       # the child's stdin/stdout are the pipes
//! ```
//!
//! It starts `pipe_child` (built beside it), sends it typed jobs (JSON), prints the answers,
//! closes its side, and waits for the child to exit. By default the pipes are two extra
//! descriptors, so the child can still print to the terminal; with `--stdio` they are the
//! child's stdin and stdout, as in the classic pattern.

mod common;

/// The command line this example takes.
#[cfg(unix)]
const USAGE: &str = "pipe_parent [--stdio]";

#[cfg(unix)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    if let Err(usage) = common::only(std::env::args().skip(1), &["--stdio"], USAGE) {
        return common::exit_status("pipe_parent", Err(usage.into())).into();
    }
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pipe_parent: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A job for the child: add these numbers.
#[cfg(unix)]
#[derive(serde::Serialize)]
struct Job {
    id: u32,
    numbers: Vec<i64>,
}

/// The child's answer.
#[cfg(unix)]
#[derive(serde::Deserialize, Debug)]
struct Answer {
    id: u32,
    sum: i64,
}

#[cfg(unix)]
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    use anyipc::child::ChildOptions;
    use futures::{SinkExt, StreamExt};

    let stdio = std::env::args().skip(1).any(|arg| arg == "--stdio");
    // pipe_child is built next to this example.
    let child_exe = std::env::current_exe()?.with_file_name("pipe_child");
    let mut command = tokio::process::Command::new(&child_exe);
    command.kill_on_drop(true);
    let (mut child, conn) = anyipc::child::spawn_with(command, ChildOptions::new().stdio(stdio))
        // The error names the program.
        .map_err(|err| format!("{err} (run `cargo build --examples`)"))?;
    common::say!(
        "parent: started {} ({})",
        conn.peer_addr(),
        if stdio { "stdio" } else { "extra pipes" }
    )?;

    let mut conn = conn.typed::<Answer, Job>(anyipc::codec::Json);
    for id in 1..=3 {
        let numbers: Vec<i64> = (1..=id as i64 * 10).collect();
        conn.send(Job { id, numbers }).await?;
        match conn.next().await {
            Some(answer) => {
                let answer = answer?;
                common::say!("parent: job {} summed to {}", answer.id, answer.sum)?;
            }
            None => return Err("the child exited early".into()),
        }
    }
    // Closing our side ends the child's stream; it then exits.
    conn.close().await?;
    let status = child.wait().await?;
    common::say!("parent: child exited with {status}")?;
    Ok(())
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("pipe_parent needs Unix anonymous pipes for now; try named_pipe_server");
    std::process::ExitCode::FAILURE
}
