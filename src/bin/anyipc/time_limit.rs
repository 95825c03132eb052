//! [`bounded`]: an I/O future with a time limit, for the commands' own limits (`send
//! --timeout`, the bench's connects and accepts).

use std::future::Future;
use std::io;
use std::time::Duration;

/// `future` within `limit`, or `TimedOut` saying `what`.
pub(crate) async fn bounded<T>(
    limit: Duration,
    future: impl Future<Output = io::Result<T>>,
    what: impl FnOnce() -> String,
) -> io::Result<T> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, what())),
    }
}
