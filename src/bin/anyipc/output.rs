//! How `listen` and `send` write received messages to stdout: one message per line.
//!
//! Text is the only format for now; a message is shown as UTF-8 text with everything that could
//! break the one-message-per-line rule, or hide what was sent, escaped:
//!
//! | byte(s) | shown as |
//! |---|---|
//! | newline, carriage return, tab | `\n`, `\r`, `\t` |
//! | backslash | `\\` |
//! | other ASCII control bytes and DEL | `\xHH` (`\x00`, `\x7f`) |
//! | a byte that is not part of valid UTF-8 | `\xHH` |
//! | a C1 control character (U+0080–U+009F) | `\u{HHHH}` |
//!
//! So every line reads back to exactly the bytes received.

use std::fmt::Write as _;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Writes messages to an output, one line each, flushing after every line so a reader of a pipe
/// sees each message as soon as it arrives.
#[derive(Debug)]
pub(crate) struct MessageWriter<W> {
    out: W,
    line: String,
}

impl MessageWriter<tokio::io::Stdout> {
    /// A writer to this process's stdout.
    pub(crate) fn stdout() -> Self {
        MessageWriter::new(tokio::io::stdout())
    }
}

impl<W: AsyncWrite + Unpin> MessageWriter<W> {
    /// A writer to `out`.
    pub(crate) fn new(out: W) -> Self {
        MessageWriter {
            out,
            line: String::new(),
        }
    }

    /// Writes `msg` as one escaped line and flushes.
    ///
    /// # Errors
    /// The output's write error (a closed pipe, a full disk).
    pub(crate) async fn write_message(&mut self, msg: &[u8]) -> std::io::Result<()> {
        self.line.clear();
        escape_into(&mut self.line, msg);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes()).await?;
        self.out.flush().await
    }
}

/// Appends `msg` to `line` as escaped text (see the module docs).
pub(crate) fn escape_into(line: &mut String, msg: &[u8]) {
    for chunk in msg.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => line.push_str("\\n"),
                '\r' => line.push_str("\\r"),
                '\t' => line.push_str("\\t"),
                '\\' => line.push_str("\\\\"),
                c if c.is_ascii_control() => {
                    let _ = write!(line, "\\x{:02x}", c as u32);
                }
                c if c.is_control() => {
                    let _ = write!(line, "\\u{{{:04x}}}", c as u32);
                }
                c => line.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(line, "\\x{byte:02x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(msg: &[u8]) -> String {
        let mut line = String::new();
        escape_into(&mut line, msg);
        line
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(escape(b"hello, world"), "hello, world");
        assert_eq!(escape("grüße ✓".as_bytes()), "grüße ✓");
        assert_eq!(escape(b""), "");
    }

    #[test]
    fn control_bytes_are_escaped() {
        assert_eq!(escape(b"a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(escape(b"\x00\x1b\x7f"), "\\x00\\x1b\\x7f");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape("\u{85}".as_bytes()), "\\u{0085}");
    }

    #[test]
    fn invalid_utf8_is_escaped_byte_by_byte() {
        assert_eq!(escape(b"caf\xe9!"), "caf\\xe9!");
        assert_eq!(escape(b"\xff\xfe"), "\\xff\\xfe");
        // A truncated multi-byte sequence at the end.
        assert_eq!(escape(b"ok\xe2\x9c"), "ok\\xe2\\x9c");
    }

    #[tokio::test]
    async fn writes_one_line_per_message() {
        let mut out = Vec::new();
        let mut writer = MessageWriter::new(&mut out);
        writer.write_message(b"one").await.unwrap();
        writer.write_message(b"two\nlines").await.unwrap();
        assert_eq!(out, b"one\ntwo\\nlines\n");
    }
}
