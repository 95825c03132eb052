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
//! padding); `listen` puts `peer`, who sent it, first.

use base64::Engine as _;
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
    /// {"len":N,"base64":"…"} for anything else; `listen` adds "peer", who sent it (such as
    /// "127.0.0.1:50312" or "pipe client pid 22035").
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

/// Writes messages to an output, one line each: [`write_message`](Self::write_message)
/// flushes after every line, so a reader of a pipe sees each message as soon as it arrives;
/// [`queue_message_from`](Self::queue_message_from) gathers lines for one write and flush
/// when more messages are already waiting.
#[derive(Debug)]
pub(crate) struct MessageWriter<W> {
    out: W,
    format: Format,
    /// The lines formatted and not yet written (UTF-8 text).
    line: Vec<u8>,
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
            line: Vec::new(),
        }
    }

    /// Writes `msg` as one line in the writer's format and flushes.
    ///
    /// # Errors
    /// The output's write error (a closed pipe, a full disk).
    pub(crate) async fn write_message(&mut self, msg: &[u8]) -> std::io::Result<()> {
        self.queue_message_from(None, msg);
        self.flush_queued().await
    }

    /// Formats `msg` as one line after the lines queued, to be written by
    /// [`flush_queued`](Self::flush_queued); the JSON format also names `peer`, who sent it.
    pub(crate) fn queue_message_from(&mut self, peer: Option<&str>, msg: &[u8]) {
        match self.format {
            Format::Text => escape_into(&mut self.line, msg),
            Format::Hex => hex_into(&mut self.line, msg),
            Format::Json => json_into(&mut self.line, peer, msg),
        }
        self.line.push(b'\n');
    }

    /// Bytes of the lines queued.
    pub(crate) fn queued_len(&self) -> usize {
        self.line.len()
    }

    /// Writes the lines queued and flushes. The lines are gone afterwards, also after an
    /// error or when this future is dropped unfinished (a part may have been written: they
    /// are not written twice).
    ///
    /// # Errors
    /// The output's write error (a closed pipe, a full disk).
    pub(crate) async fn flush_queued(&mut self) -> std::io::Result<()> {
        if !self.line.is_empty() {
            let mut lines = std::mem::take(&mut self.line);
            let written = self.out.write_all(&lines).await;
            lines.clear();
            // Its allocation serves the next lines.
            self.line = lines;
            written?;
        }
        self.out.flush().await
    }
}

/// Tells when the reader of this process's stdout has gone (`anyipc listen … | head -1`
/// after `head` printed its line), without writing to it: a command that waits for messages
/// would otherwise learn it only when the next one came, and wait, holding its endpoint (and
/// taking from a queue a message it cannot print), for ever if none does.
///
/// Watched on Linux when stdout is a pipe, whose writing end reports an error event once its
/// last reader closed; elsewhere (a file, a terminal, another system) it never reports, and a
/// failed write still says so.
#[derive(Debug)]
pub(crate) struct StdoutWatch {
    #[cfg(target_os = "linux")]
    pipe: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
}

impl StdoutWatch {
    /// Starts watching stdout (a pipe's only; nothing to watch is no error).
    pub(crate) fn new() -> StdoutWatch {
        #[cfg(target_os = "linux")]
        {
            StdoutWatch {
                pipe: stdout_pipe(),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            StdoutWatch {}
        }
    }

    /// Waits until stdout's reader has gone; then `BrokenPipe`, as a write would have
    /// failed. Never returns while it reads, nor when stdout is not watched.
    pub(crate) async fn reader_gone(&self) -> std::io::Error {
        #[cfg(target_os = "linux")]
        if let Some(pipe) = &self.pipe {
            // An error event is all a pipe's writing end reports (its last reader closed);
            // a wait that fails (the runtime is going) tells nothing.
            if pipe.ready(tokio::io::Interest::ERROR).await.is_ok() {
                return std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "its reader closed it (Broken pipe)",
                );
            }
        }
        std::future::pending().await
    }
}

/// A copy of stdout's descriptor, registered for its error event, when stdout is a pipe.
#[cfg(target_os = "linux")]
fn stdout_pipe() -> Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::FileTypeExt as _;
    let stdout = std::io::stdout();
    let fd = stdout.as_fd().try_clone_to_owned().ok()?;
    let file = std::fs::File::from(fd);
    if !file.metadata().ok()?.file_type().is_fifo() {
        return None;
    }
    let fd = std::os::fd::OwnedFd::from(file);
    // SAFETY: the AsyncFd owns `fd`, which stays open and the same descriptor (an `OwnedFd`
    // offers no way to close or replace it) until the AsyncFd drops it.
    let registered =
        unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::ERROR) };
    registered.ok()
}

/// Lowercase hex digits.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `byte` as `\xHH`.
fn byte_escape(byte: u8) -> [u8; 4] {
    let [high, low] = hex_digits(byte);
    [b'\\', b'x', high, low]
}

/// `byte` as two lowercase hex digits.
fn hex_digits(byte: u8) -> [u8; 2] {
    [
        HEX_DIGITS[usize::from(byte >> 4)],
        HEX_DIGITS[usize::from(byte & 0xf)],
    ]
}

/// Appends `msg` to `line` as escaped text (see the module docs): valid UTF-8 whatever
/// `msg` holds.
pub(crate) fn escape_into(line: &mut Vec<u8>, msg: &[u8]) {
    line.reserve(msg.len());
    // Printable ASCII and whole characters from `plain` to `at` go in as they are.
    let (mut plain, mut at) = (0, 0);
    while let Some(&byte) = msg.get(at) {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b' '..=b'~' => {
                at += 1;
                continue;
            }
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            // Other ASCII controls and DEL.
            0..=0x7f => &byte_escape(byte),
            _ => match char_at(msg, at) {
                Some(c) if !c.is_control() => {
                    at += c.len_utf8();
                    continue;
                }
                // C1 controls, U+0080–U+009F: two bytes, the second the code point.
                Some(c) => {
                    line.extend_from_slice(&msg[plain..at]);
                    line.extend_from_slice(b"\\u{00");
                    line.extend_from_slice(&hex_digits(c as u8));
                    line.push(b'}');
                    at += c.len_utf8();
                    plain = at;
                    continue;
                }
                // A byte that starts no character.
                None => &byte_escape(byte),
            },
        };
        line.extend_from_slice(&msg[plain..at]);
        line.extend_from_slice(escaped);
        at += 1;
        plain = at;
    }
    line.extend_from_slice(&msg[plain..]);
}

/// The character whose UTF-8 encoding starts at `msg[at]`, if a whole, valid one does.
#[inline]
fn char_at(msg: &[u8], at: usize) -> Option<char> {
    let width = match msg.get(at)? {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let bytes = msg.get(at..at + width)?;
    std::str::from_utf8(bytes).ok()?.chars().next()
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
pub(crate) fn hex_into(line: &mut Vec<u8>, msg: &[u8]) {
    line.reserve(msg.len() * 2);
    for &byte in msg {
        line.extend_from_slice(&hex_digits(byte));
    }
}

/// One `--json` line, serialised in this field order.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    peer: Option<&'a str>,
    len: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

/// Appends `msg` as one JSON object (see the module docs), written straight into `line`.
fn json_into(line: &mut Vec<u8>, peer: Option<&str>, msg: &[u8]) {
    let text = std::str::from_utf8(msg).ok();
    let base64 = match text {
        Some(_) => None,
        None => Some(base64::engine::general_purpose::STANDARD.encode(msg)),
    };
    let object = JsonLine {
        peer,
        len: msg.len(),
        text,
        base64,
    };
    serde_json::to_writer(line, &object).expect("a JSON line of strings and a number");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(msg: &[u8]) -> String {
        let mut line = Vec::new();
        escape_into(&mut line, msg);
        String::from_utf8(line).expect("escaped text is UTF-8")
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

    /// The escaping as first written, with `format!` per escape: the fast one must agree.
    fn reference_escape(msg: &[u8]) -> String {
        use std::fmt::Write as _;
        let mut line = String::new();
        for chunk in msg.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\n' => line.push_str("\\n"),
                    '\r' => line.push_str("\\r"),
                    '\t' => line.push_str("\\t"),
                    '\\' => line.push_str("\\\\"),
                    c if c.is_ascii_control() => write!(line, "\\x{:02x}", c as u32).unwrap(),
                    c if c.is_control() => write!(line, "\\u{{{:04x}}}", c as u32).unwrap(),
                    c => line.push(c),
                }
            }
            for byte in chunk.invalid() {
                write!(line, "\\x{byte:02x}").unwrap();
            }
        }
        line
    }

    #[test]
    fn escaping_agrees_with_the_reference_on_every_byte_pair_and_mixed_text() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let msg = [b'x', a, b, b'y'];
                assert_eq!(escape(&msg), reference_escape(&msg), "{msg:?}");
            }
        }
        let mixed = "caf\u{e9} \u{85}\u{9f}\u{a0}\u{2028}\\ \t\u{7f}✓\u{1f600}".as_bytes();
        let mut msg = mixed.to_vec();
        msg.extend_from_slice(b"\xf0\x9f\x98 end\xc3");
        assert_eq!(escape(&msg), reference_escape(&msg));
        // Random bytes, and random bytes where most are UTF-8 lead and continuation bytes.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        };
        let random: Vec<u8> = (0..100_000).map(|_| next()).collect();
        assert_eq!(escape(&random), reference_escape(&random));
        let high: Vec<u8> = (0..100_000).map(|_| next() | 0x80).collect();
        assert_eq!(escape(&high), reference_escape(&high));
        let mut hex = Vec::new();
        hex_into(&mut hex, &(0..=255u8).collect::<Vec<_>>());
        let hex = String::from_utf8(hex).unwrap();
        let reference: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, reference);
    }

    /// Queued lines are held until `flush_queued` writes them all, in order.
    #[tokio::test]
    async fn queued_lines_wait_for_flush_queued() {
        let mut out = Vec::new();
        let mut writer = MessageWriter::new(&mut out, Format::Text);
        writer.queue_message_from(None, b"one");
        writer.queue_message_from(None, b"two");
        assert_eq!(writer.queued_len(), 8);
        writer.flush_queued().await.unwrap();
        assert_eq!(writer.queued_len(), 0);
        assert_eq!(out, b"one\ntwo\n");
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
        writer.queue_message_from(Some("peer 1"), b"\xff\x00");
        writer.flush_queued().await.unwrap();
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
        // Fields in the documented order: peer, len, then text or base64.
        assert_eq!(
            text,
            "{\"len\":9,\"text\":\"say \\\"hi\\\"\\n\"}\n\
             {\"peer\":\"peer 1\",\"len\":2,\"base64\":\"/wA=\"}\n"
        );
    }
}
