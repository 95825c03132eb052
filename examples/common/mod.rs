//! What the example servers share: stopping on a signal. (A directory without `main.rs`, so
//! Cargo does not take it for an example of its own.)

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM. The handlers are installed when this is
/// called, so a signal that comes before the first `.await` is not lost.
pub(crate) fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(windows)]
    {
        let mut ctrl_c = tokio::signal::windows::ctrl_c()?;
        Ok(async move {
            ctrl_c.recv().await;
        })
    }
}
