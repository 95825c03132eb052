//! How `listen` and `send` write received messages to stdout: one message per line, in one of
//! three formats ([`Format`]).
//!
//! **Text** (the default) shows a message as UTF-8 text with everything that could break the
//! one-message-per-line rule, or hide what was sent, escaped:
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
//!
//! **Hex** (`--hex`) prints the bytes as lowercase hex digits, two per byte, nothing between.
//!
//! **JSON** (`--json`) prints one JSON object per line: `len` (bytes), then `text` (the message
//! as a JSON string) when the message is valid UTF-8, else `base64` (standard alphabet, with
//! padding); `listen` adds `peer`, who sent it.

use base64::Engine as _;
use std::fmt::Write as _;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// How each message is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Format {
    /// Escaped text (see the module docs).
    #[default]
    Text,
    /// Lowercase hex digits.
    Hex,
    /// One JSON object per line.
    Json,
}

/// The `--hex` and `--json` flags of `listen` and `send`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct OutputArgs {
    /// Print each message as lowercase hex digits (two per byte) instead of text.
    #[arg(long, conflicts_with = "json")]
    hex: bool,

    /// Print each message as one JSON object per line: {"len":N,"text":"…"} for UTF-8,
    /// {"len":N,"base64":"…"} for anything else.
    #[arg(long)]
    json: bool,
}

impl OutputArgs {
    /// The format the flags ask for.
    pub(crate) fn format(&self) -> Format {
        match (self.hex, self.json) {
            (true, _) => Format::Hex,
            (_, true) => Format::Json,
            _ => Format::Text,
        }
    }
}

/// Writes messages to an output, one line each, flushing after every line so a reader of a pipe
/// sees each message as soon as it arrives.
#[derive(Debug)]
pub(crate) struct MessageWriter<W> {
    out: W,
    format: Format,
    line: String,
}

impl MessageWriter<tokio::io::Stdout> {
    /// A writer to this process's stdout.
    pub(crate) fn stdout(format: Format) -> Self {
        MessageWriter::new(tokio::io::stdout(), format)
    }
}

impl<W: AsyncWrite + Unpin> MessageWriter<W> {
    /// A writer to `out`.
    pub(crate) fn new(out: W, format: Format) -> Self {
        MessageWriter {
            out,
            format,
            line: String::new(),
        }
    }

    /// Writes `msg` as one line in the writer's format and flushes.
    ///
    /// # Errors
    /// The output's write error (a closed pipe, a full disk).
    pub(crate) async fn write_message(&mut self, msg: &[u8]) -> std::io::Result<()> {
        self.write_message_from(None, msg).await
    }

    /// Writes `msg` as [`write_message`](Self::write_message) does; the JSON format also
    /// names `peer`, who sent it.
    ///
    /// # Errors
    /// The output's write error.
    pub(crate) async fn write_message_from(
        &mut self,
        peer: Option<&str>,
        msg: &[u8],
    ) -> std::io::Result<()> {
        self.line.clear();
        match self.format {
            Format::Text => escape_into(&mut self.line, msg),
            Format::Hex => hex_into(&mut self.line, msg),
            Format::Json => json_into(&mut self.line, peer, msg),
        }
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

/// Prints one line to stdout with [`print_stdout`], returning the error from the calling
/// function when stdout is closed.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::print_stdout(&format!("{}\n", format_args!($($arg)*)))?
    };
}
pub(crate) use say;

/// Writes `text` to stdout and flushes: for commands that print a report. A closed stdout
/// (`anyipc ls | head -1`) is a runtime error, not a panic.
///
/// # Errors
/// A runtime error naming the write error.
pub(crate) fn print_stdout(text: &str) -> Result<(), crate::CliError> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| crate::CliError::Runtime(format!("cannot write to stdout: {e}")))
}

/// Appends `msg` as lowercase hex digits.
pub(crate) fn hex_into(line: &mut String, msg: &[u8]) {
    line.reserve(msg.len() * 2);
    for byte in msg {
        let _ = write!(line, "{byte:02x}");
    }
}

/// Appends `msg` as one JSON object (see the module docs).
fn json_into(line: &mut String, peer: Option<&str>, msg: &[u8]) {
    let mut object = serde_json::Map::new();
    if let Some(peer) = peer {
        object.insert("peer".into(), peer.into());
    }
    object.insert("len".into(), msg.len().into());
    match std::str::from_utf8(msg) {
        Ok(text) => object.insert("text".into(), text.into()),
        Err(_) => object.insert(
            "base64".into(),
            base64::engine::general_purpose::STANDARD.encode(msg).into(),
        ),
    };
    line.push_str(&serde_json::Value::Object(object).to_string());
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
        let mut writer = MessageWriter::new(&mut out, Format::Text);
        writer.write_message(b"one").await.unwrap();
        writer.write_message(b"two\nlines").await.unwrap();
        assert_eq!(out, b"one\ntwo\\nlines\n");
    }

    #[tokio::test]
    async fn hex_is_two_digits_per_byte() {
        let mut out = Vec::new();
        let mut writer = MessageWriter::new(&mut out, Format::Hex);
        writer.write_message(b"\x00\xffA\n").await.unwrap();
        writer.write_message(b"").await.unwrap();
        assert_eq!(out, b"00ff410a\n\n");
    }

    #[tokio::test]
    async fn json_has_text_or_base64() {
        let mut out = Vec::new();
        let mut writer = MessageWriter::new(&mut out, Format::Json);
        writer.write_message(b"say \"hi\"\n").await.unwrap();
        writer
            .write_message_from(Some("peer 1"), b"\xff\x00")
            .await
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"len": 9, "text": "say \"hi\"\n"})
        );
        assert_eq!(
            lines[1],
            serde_json::json!({"peer": "peer 1", "len": 2, "base64": "/wA="})
        );
    }
}
