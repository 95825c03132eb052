//! Shared test utilities: unique resource names, private temp dirs, a watchdog timeout, and
//! the path of the `anyipc` binary for cross-process tests.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (in this or another concurrent test process) uses.
pub(crate) fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, empty directory for this test; removed when the guard drops.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_name(&format!("anyipc-{prefix}")));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// `path` inside the directory, as text for a URL.
    pub(crate) fn join(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `fut`, failing the test if it takes longer than `secs` seconds: no test may hang.
pub(crate) async fn watchdog<F: Future>(secs: u64, fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(out) => out,
        Err(_) => panic!("test watchdog: no result within {secs} s"),
    }
}

/// The `anyipc` binary built for these tests.
pub(crate) fn anyipc_bin() -> &'static str {
    env!("CARGO_BIN_EXE_anyipc")
}

/// The [`FrameError`](anyipc::codec::FrameError) inside an `io::Error`, if any.
pub(crate) fn frame_error(err: &std::io::Error) -> Option<&anyipc::codec::FrameError> {
    err.get_ref()?.downcast_ref()
}

/// `len` bytes of a pattern that shows misplaced or lost bytes (not periodic in 256).
pub(crate) fn pattern(len: usize) -> bytes::Bytes {
    (0..len)
        .map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A frame as `LengthCodec` writes it.
pub(crate) fn length_frame(body: &[u8]) -> Vec<u8> {
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    frame
}
