//! A shared-memory server: the `shm://` transport, the fastest way between two local processes.
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run --example shm_server            # listens on shm://anyipc-example
//! cargo run --example shm_client            # talks to it
//! ```
//!
//! Give another name or endpoint URL as the first argument (`-- orders`,
//! `-- "shm://orders?busy_poll=true"`). `--once` serves one client and exits; otherwise the
//! server runs until stopped. Ctrl-C (or SIGTERM) stops it at any time, also while a client
//! is connected, and releases the name.
//!
//! Each client brings its own sealed shared memory (two rings, `capacity=` each, default
//! 1 MiB) through a Unix socket in a private runtime directory; the messages never touch the
//! socket. A name left by a crashed server is reclaimed; a live server's name is refused.
//! Linux only.

mod common;

/// The command line this example takes.
const USAGE: &str = "shm_server [NAME|URL] [--once]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("shm_server", run().await).into()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut url = "shm://anyipc-example".to_owned();
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
            name => url = format!("shm://{name}"),
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
        common::say!("server: client connected ({})", conn.peer_addr())?;
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
