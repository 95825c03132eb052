//! The child that `pipe_parent` starts: answer jobs from the parent until it closes.
//!
//! ```text
//! cargo build --examples && cargo run --example pipe_parent
//! ```
//!
//! Run by hand it has no parent pipes: `stdio://` is then its own stdin and stdout, which
//! must be pipes. `anyipc::child::connect_parent()` finds whichever pipes the parent passed.

mod common;

/// The command line this example takes.
#[cfg(unix)]
const USAGE: &str = "pipe_child (started by pipe_parent)";

#[cfg(unix)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    if let Err(usage) = common::only(std::env::args().skip(1), &[], USAGE) {
        return common::exit_status("pipe_child", Err(usage.into())).into();
    }
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pipe_child: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A job from the parent.
#[cfg(unix)]
#[derive(serde::Deserialize)]
struct Job {
    id: u32,
    numbers: Vec<i64>,
}

/// The answer.
#[cfg(unix)]
#[derive(serde::Serialize)]
struct Answer {
    id: u32,
    sum: i64,
}

#[cfg(unix)]
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    use futures::StreamExt;

    let parent = anyipc::child::connect_parent().await?;
    let mut parent = parent.typed::<Job, Answer>(anyipc::codec::Json);
    // With extra pipes this is the terminal; in --stdio mode it goes to stderr.
    common::say!("child: ready (pid {})", std::process::id())?;
    while let Some(job) = parent.next().await {
        let job = job?;
        let sum = job.numbers.iter().sum();
        common::say!("child: job {} -> {sum}", job.id)?;
        parent.send(Answer { id: job.id, sum }).await?;
    }
    common::say!("child: the parent closed; bye")?;
    Ok(())
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("pipe_child needs Unix anonymous pipes for now");
    std::process::ExitCode::FAILURE
}
