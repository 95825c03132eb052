//! [`PeerExit`]: tells when a peer process has exited, so that a run waiting on a peer that
//! died (a one-way endpoint's way back never ends by itself) fails instead of waiting for
//! ever, and what the peer last said: a peer that fails after its ready line says why on a
//! line of its stdout.

use std::future::Future;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

/// The most of a peer's last line that is kept; the rest of a longer line is cut off.
const MAX_LAST_LINE: usize = 1024;

/// Watches a peer process's stdout after its ready line: the end of its stdout is the end of
/// the process (the kernel closes it as the process exits, however it dies).
#[derive(Debug)]
pub(super) struct PeerExit(watch::Receiver<Option<LastLine>>);

impl PeerExit {
    /// Starts a task that reads `stdout` to its end, keeping its last line.
    pub(super) fn watch(mut stdout: impl AsyncRead + Send + Unpin + 'static) -> PeerExit {
        let (exited, watching) = watch::channel(None);
        tokio::spawn(async move {
            let mut last_line = LastLine::default();
            let mut chunk = [0u8; 256];
            while let Ok(n @ 1..) = stdout.read(&mut chunk).await {
                last_line.push(&chunk[..n]);
            }
            let _ = exited.send(Some(last_line));
        });
        PeerExit(watching)
    }

    /// Resolves once the process has exited.
    pub(super) fn exited(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut watching = self.0.clone();
        async move {
            // An error means the watching task was dropped with its runtime: nobody polls
            // this any more.
            let _ = watching.wait_for(Option::is_some).await;
        }
    }

    /// The last line the process printed after its ready line (at most 1 KiB of it), once it
    /// has exited; `None` while it runs or when it printed nothing.
    pub(super) fn last_words(&self) -> Option<String> {
        self.0.borrow().as_ref().and_then(LastLine::text)
    }
}

/// The last non-empty line of a stream, fed in chunks.
#[derive(Debug, Default)]
struct LastLine {
    /// The last complete non-empty line.
    done: Vec<u8>,
    /// The line being read (its first [`MAX_LAST_LINE`] bytes).
    current: Vec<u8>,
}

impl LastLine {
    /// Takes the next bytes of the stream.
    fn push(&mut self, bytes: &[u8]) {
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            let (text, ended) = match line.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (line, false),
            };
            let room = MAX_LAST_LINE.saturating_sub(self.current.len());
            self.current
                .extend_from_slice(&text[..text.len().min(room)]);
            if ended && !self.current.trim_ascii().is_empty() {
                self.done = std::mem::take(&mut self.current);
            } else if ended {
                self.current.clear();
            }
        }
    }

    /// The last non-empty line, an unfinished one included, as text.
    fn text(&self) -> Option<String> {
        let line = match self.current.trim_ascii() {
            [] => self.done.trim_ascii(),
            unfinished => unfinished,
        };
        (!line.is_empty()).then(|| {
            // A character cut at the cap becomes U+FFFD (three bytes for up to three): cut
            // again at a character boundary so that the text stays within the cap.
            let mut text = String::from_utf8_lossy(line).into_owned();
            let mut end = text.len().min(MAX_LAST_LINE);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn resolves_at_the_end_of_the_stream_and_not_before() {
        let (ours, theirs) = tokio::io::duplex(64);
        let exit = PeerExit::watch(ours);
        let exited = exit.exited();
        tokio::pin!(exited);
        let mut theirs = theirs;
        tokio::io::AsyncWriteExt::write_all(&mut theirs, b"more output\nlast words\n")
            .await
            .unwrap();
        let early = tokio::time::timeout(Duration::from_millis(100), &mut exited).await;
        assert!(early.is_err(), "resolved while the stream was open");
        assert_eq!(exit.last_words(), None, "known before the end");
        drop(theirs);
        tokio::time::timeout(Duration::from_secs(10), exited)
            .await
            .expect("resolved at the end of the stream");
        assert_eq!(exit.last_words().as_deref(), Some("last words"));
        // A later call resolves at once.
        tokio::time::timeout(Duration::from_secs(10), exit.exited())
            .await
            .unwrap();
    }

    fn last_of(chunks: &[&[u8]]) -> Option<String> {
        let mut last = LastLine::default();
        chunks.iter().for_each(|chunk| last.push(chunk));
        last.text()
    }

    #[test]
    fn keeps_the_last_non_empty_line_across_chunks() {
        assert_eq!(last_of(&[]), None);
        assert_eq!(last_of(&[b"\n\n  \n"]), None);
        assert_eq!(last_of(&[b"one\ntw", b"o\n\n"]).as_deref(), Some("two"));
        assert_eq!(
            last_of(&[b"one\n", b"unfinished"]).as_deref(),
            Some("unfinished")
        );
        assert_eq!(last_of(&[b"one\r\n", b"  \n"]).as_deref(), Some("one"));
        assert_eq!(
            last_of(&[b"bad \xff byte\n"]).as_deref(),
            Some("bad \u{fffd} byte")
        );
    }

    #[test]
    fn a_line_cut_inside_a_character_stays_within_the_cap() {
        // 1,023 ASCII bytes, then a four-byte character: the cap cuts it after its first byte.
        let mut line = vec![b'x'; MAX_LAST_LINE - 1];
        line.extend_from_slice("🦀 and more\n".as_bytes());
        let text = last_of(&[&line]).unwrap();
        assert!(text.len() <= MAX_LAST_LINE, "{} bytes", text.len());
        assert!(text.starts_with(&"x".repeat(MAX_LAST_LINE - 3)));
    }

    #[test]
    fn a_long_line_is_cut_at_the_cap() {
        let long = vec![b'x'; 3 * MAX_LAST_LINE];
        let text = last_of(&[&long, &long, b"\n"]).unwrap();
        assert_eq!(text.len(), MAX_LAST_LINE);
        assert_eq!(last_of(&[&long, b"\nshort"]).as_deref(), Some("short"));
    }
}
