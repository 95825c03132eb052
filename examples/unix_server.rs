//! A Unix-socket server: accept local clients, show who they are, answer every message.
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run --example unix_server                  # listens on unix://$TMPDIR/anyipc-example.sock
//! cargo run --example unix_client                  # talks to it
//! ```
//!
//! Give another socket path or any endpoint URL as the first argument
//! (`-- /run/user/1000/app.sock`, `-- unix://@app` for a Linux abstract name). `--once` serves
//! one client and exits; otherwise the server runs until stopped. Ctrl-C (or SIGTERM) stops it
//! at any time, also while a client is connected, and removes the socket file.
//!
//! The socket file is created owner-only (0600) and removed when the server stops; a stale one
//! left by a crashed server is reclaimed. Unlike TCP, the OS tells the server which process and
//! user is at the other end.

#[cfg(unix)]
mod common;

#[cfg(unix)]
use anyipc::{Endpoint, Scheme};

/// The command line this example takes.
#[cfg(unix)]
const USAGE: &str = "unix_server [PATH|URL] [--once]";

#[cfg(unix)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit_status("unix_server", run().await).into()
}

#[cfg(unix)]
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut url = default_url()?;
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
            // A path as it is: `?`, `%` or `#` in it are escaped, not read as URL syntax.
            path => {
                url = Endpoint::from_path(Scheme::Unix, std::path::absolute(path)?)?.to_string()
            }
        }
    }

    let mut listener = anyipc::bind(&url).await?;
    let mut stop = std::pin::pin!(common::stop_signal()?);
    common::say!("server: listening on {}", listener.endpoint())?;
    loop {
        let conn = tokio::select! {
            conn = listener.accept() => conn?,
            // Returning drops the listener, which removes the socket file.
            () = &mut stop => break,
        };
        match conn.peer_credentials() {
            Some(who) => common::say!(
                "server: client connected: pid {}, uid {}, gid {}",
                who.pid.map_or("unknown".to_owned(), |pid| pid.to_string()),
                who.uid,
                who.gid
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
#[cfg(unix)]
async fn serve(mut conn: anyipc::Connection) -> std::io::Result<()> {
    use futures::StreamExt;

    while let Some(msg) = conn.next().await {
        let msg = msg?;
        common::say!("server: got {:?}", String::from_utf8_lossy(&msg))?;
        let mut reply = b"echo: ".to_vec();
        reply.extend_from_slice(&msg);
        conn.send(reply).await?;
    }
    common::say!("server: client left")?;
    Ok(())
}

/// `unix://` and the socket path both examples use by default.
#[cfg(unix)]
fn default_url() -> Result<String, anyipc::EndpointParseError> {
    let path = std::env::temp_dir().join("anyipc-example.sock");
    Ok(Endpoint::from_path(Scheme::Unix, path)?.to_string())
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("unix_server needs Unix sockets; try socket_server");
    std::process::ExitCode::FAILURE
}
