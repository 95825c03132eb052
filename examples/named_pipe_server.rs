//! A named-pipe server: clients reach it by name, on Unix and Windows alike.
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run --example named_pipe_server            # listens on pipe://anyipc-example
//! cargo run --example named_pipe_client            # talks to it
//! ```
//!
//! Give another name or endpoint URL as the first argument (`-- orders`,
//! `-- "pipe://orders?allow_uids=1000"`: a client of another user is refused, and the warning
//! printed on stderr). `--once` serves one client and exits; otherwise the
//! server runs until stopped. Ctrl-C (or SIGTERM) stops it at any time, also while a client
//! is connected, and releases the name.
//!
//! On Unix the name is a socket in a private runtime directory (`$XDG_RUNTIME_DIR/anyipc/`, or
//! `/tmp/anyipc-<uid>/`), created 0700 with the socket 0600; on Windows it is the named pipe
//! `\\.\pipe\<name>`. A name left by a crashed server is reclaimed; a live server's name is
//! refused.

mod common;

/// The command line this example takes.
const USAGE: &str = "named_pipe_server [NAME|URL] [--once]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("named_pipe_server", run().await).into()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    common::log_warnings();
    let mut url = "pipe://anyipc-example".to_owned();
    let mut once = false;
    let mut positional_seen = false;
    for arg in std::env::args().skip(1) {
        common::no_second_positional(&mut positional_seen, &arg, USAGE)?;
        match arg.as_str() {
            "--once" => once = true,
            other if common::is_option(other) => {
                return Err(common::Usage::unknown_option(other, USAGE).into())
            }
            other if other.contains("://") => url = other.to_owned(),
            name => url = format!("pipe://{name}"),
        }
    }

    let mut listener = anyipc::bind(&url).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    common::say!("server: listening on {}", listener.endpoint())?;
    loop {
        let conn = tokio::select! {
            conn = listener.accept() => conn?,
            // Returning drops the listener, which releases the name.
            () = &mut stop => break,
        };
        match conn.peer_credentials() {
            Some(who) => common::say!(
                "server: client connected: pid {}, uid {}",
                who.pid.map_or("unknown".to_owned(), |pid| pid.to_string()),
                who.uid
            )?,
            None => common::say!("server: client connected")?,
        }
        let serving = tokio::spawn(async move {
            if let Err(err) = serve(conn).await {
                eprintln!("server: {err}");
            }
        });
        if once {
            // Still listening for Ctrl-C while the one client is served.
            tokio::select! {
                served = serving => served?,
                () = &mut stop => common::say!("server: stopping")?,
            }
            break;
        }
    }
    common::say!("server: bye")?;
    Ok(())
}

/// Answers every message of one client with `echo: <message>` until it leaves.
async fn serve(mut conn: anyipc::Connection) -> std::io::Result<()> {
    while let Some(msg) = conn.recv().await? {
        common::say!("server: got {:?}", String::from_utf8_lossy(&msg))?;
        let mut reply = b"echo: ".to_vec();
        reply.extend_from_slice(&msg);
        conn.send(reply).await?;
    }
    common::say!("server: client left")?;
    Ok(())
}
