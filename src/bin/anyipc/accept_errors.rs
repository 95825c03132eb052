//! [`AcceptErrors`]: how the server commands (`listen`, `bridge`) treat a failed accept.

use std::io;
use std::time::Duration;

/// Accept failures in a row (other than running out of a resource) after which a server
/// command gives up: the listener is broken.
const MAX_IN_A_ROW: u32 = 50;
/// Pause after a failed accept, so a lasting condition does not spin.
const RETRY_DELAY: Duration = Duration::from_millis(50);
/// Pause while the process or the system is out of file descriptors or memory.
const EXHAUSTED_DELAY: Duration = Duration::from_millis(200);

/// Counts failed accepts in a row. Running out of file descriptors or memory is waited
/// out however long it lasts (connections that end give them back), never a reason to stop
/// serving the clients already connected; any other error, 50 times in a row, is.
///
/// ```ignore
/// let mut errors = AcceptErrors::default();
/// match listener.accept().await {
///     Ok(conn) => errors.accepted(),
///     Err(err) => tokio::time::sleep(errors.failed(&err).ok_or(err)?).await,
/// }
/// ```
#[derive(Debug, Default)]
pub(crate) struct AcceptErrors {
    in_a_row: u32,
}

impl AcceptErrors {
    /// An accept succeeded.
    pub(crate) fn accepted(&mut self) {
        self.in_a_row = 0;
    }

    /// An accept failed with `err`: how long to pause before the next one, or `None` when
    /// the listener looks broken and the command should end.
    pub(crate) fn failed(&mut self, err: &io::Error) -> Option<Duration> {
        if out_of_resources(err) {
            tracing::warn!(error = %err, "accept failed: out of resources; waiting");
            return Some(EXHAUSTED_DELAY);
        }
        self.in_a_row += 1;
        if self.in_a_row >= MAX_IN_A_ROW {
            return None;
        }
        tracing::warn!(error = %err, "accept failed; retrying");
        Some(RETRY_DELAY)
    }

    /// The next connection `listener` accepts: a failed accept is waited out
    /// ([`wait_out`](Self::wait_out)) and tried again, until one succeeds or the listener
    /// looks broken.
    ///
    /// # Errors
    /// The error that ends the command (accepting keeps failing).
    pub(crate) async fn accept(
        &mut self,
        listener: &mut anyipc::Listener,
    ) -> Result<anyipc::Connection, crate::CliError> {
        loop {
            match listener.accept().await {
                Ok(conn) => {
                    self.accepted();
                    return Ok(conn);
                }
                Err(err) => self.wait_out(&err, listener.endpoint()).await?,
            }
        }
    }

    /// An accept on `endpoint` failed with `err`: waits the pause [`failed`](Self::failed)
    /// gives, or returns the error that ends the command.
    pub(crate) async fn wait_out(
        &mut self,
        err: &io::Error,
        endpoint: &anyipc::Endpoint,
    ) -> Result<(), crate::CliError> {
        match self.failed(err) {
            Some(pause) => {
                tokio::time::sleep(pause).await;
                Ok(())
            }
            None => {
                let err = crate::cli_error::detail(endpoint, err);
                Err(crate::CliError::Runtime(format!(
                    "accepting on {endpoint}: {err}"
                )))
            }
        }
    }
}

/// No free file descriptor (for the process or the system), no buffer space, no memory.
fn out_of_resources(err: &io::Error) -> bool {
    if err.kind() == io::ErrorKind::OutOfMemory {
        return true;
    }
    #[cfg(unix)]
    {
        matches!(
            err.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        )
    }
    #[cfg(not(unix))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_never_ends_the_command_other_errors_do() {
        let mut errors = AcceptErrors::default();
        #[cfg(unix)]
        for _ in 0..10 * MAX_IN_A_ROW {
            let emfile = io::Error::from_raw_os_error(libc::EMFILE);
            assert_eq!(errors.failed(&emfile), Some(EXHAUSTED_DELAY));
        }
        let broken = io::Error::other("broken");
        for _ in 1..MAX_IN_A_ROW {
            assert_eq!(errors.failed(&broken), Some(RETRY_DELAY));
        }
        errors.accepted();
        for _ in 1..MAX_IN_A_ROW {
            assert!(errors.failed(&broken).is_some());
        }
        assert_eq!(errors.failed(&broken), None);
    }
}
