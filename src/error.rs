//! Errors rebuilt with context (the endpoint, the program) that keep the OS's error inside.
//!
//! The OS's message ("Address already in use") names neither host, port nor path, so the
//! crate puts the endpoint in front of it. `io::Error::new(kind, text)` would lose the OS's
//! error code; [`with_context`] keeps the original error inside the new one, and
//! [`raw_os_error`] finds its code again. The original is not the new error's
//! [`source`](std::error::Error::source): its text is already in the message, and a reporter
//! that prints the chain would print it twice.

use std::error::Error;
use std::fmt;
use std::io;

/// The inner error of an [`io::Error`] rebuilt with context: its text is the whole message
/// (context, then the original's text, as before); it holds the original error.
#[derive(Debug)]
struct Context {
    message: String,
    source: io::Error,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// No [`source`](Error::source): the message already ends with the original's text, and a
/// reporter that walks the chain (anyhow's `{:#}`) would print it twice.
/// [`raw_os_error`] reaches the original through [`Context`] itself.
impl Error for Context {}

/// An error of `kind` whose text is `message`, holding `source`, so that [`raw_os_error`]
/// still finds the OS's code. `message` usually ends with
/// `source`'s own text.
pub(crate) fn with_context(kind: io::ErrorKind, message: String, source: io::Error) -> io::Error {
    io::Error::new(kind, Context { message, source })
}

/// The OS error code of `err`, or of the OS error it was built from.
///
/// An error that names its endpoint or program (`tcp://127.0.0.1:7000: Address already in
/// use (os error 98)`, `cannot start "prog": No such file or directory (os error 2)`) is a
/// new [`io::Error`] with that text, whose own [`raw_os_error`](io::Error::raw_os_error) is
/// `None`; the OS's error is kept inside it (not as its
/// [`source`](std::error::Error::source), whose text the message already ends with). This
/// function returns `err.raw_os_error()` when there is one, and otherwise the first code
/// found down the chain of inner, kept and source errors (`None` when no OS error is in it).
///
/// ```
/// use std::io::{Error, ErrorKind};
/// # tokio_test::block_on(async {
/// let listener = anyipc::bind("tcp://127.0.0.1:0").await?;
/// let err = anyipc::bind(listener.endpoint()).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::AddrInUse);
/// assert!(err.to_string().starts_with(&listener.endpoint().to_string()));
/// assert_eq!(err.raw_os_error(), None); // a new error, naming the endpoint
/// let code = anyipc::raw_os_error(&err).expect("the OS's error is inside");
/// assert_eq!(Error::from_raw_os_error(code).kind(), ErrorKind::AddrInUse); // EADDRINUSE
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub fn raw_os_error(err: &io::Error) -> Option<i32> {
    // Bounded, as a chain of foreign errors could be long.
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    for _ in 0..32 {
        let current = next?;
        if let Some(io) = current.downcast_ref::<io::Error>() {
            if let Some(code) = io.raw_os_error() {
                return Some(code);
            }
            // `io::Error::source` skips its inner error and gives that one's source: look at
            // the inner error itself, which may be an `io::Error` too.
            if let Some(inner) = io.get_ref() {
                next = Some(inner);
                continue;
            }
        }
        if let Some(context) = current.downcast_ref::<Context>() {
            next = Some(&context.source);
            continue;
        }
        next = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_found_through_context_and_nesting() {
        let os = io::Error::from_raw_os_error(98);
        let wrapped = with_context(io::ErrorKind::AddrInUse, format!("tcp://x:1: {os}"), os);
        assert_eq!(wrapped.kind(), io::ErrorKind::AddrInUse);
        assert!(wrapped.to_string().starts_with("tcp://x:1: "));
        assert_eq!(wrapped.raw_os_error(), None);
        assert_eq!(raw_os_error(&wrapped), Some(98));
        // Wrapped again, and inside a plain `io::Error::new`.
        let twice = with_context(io::ErrorKind::NotFound, "outer".to_owned(), wrapped);
        assert_eq!(raw_os_error(&twice), Some(98));
        let nested = io::Error::new(io::ErrorKind::NotFound, io::Error::from_raw_os_error(2));
        assert_eq!(raw_os_error(&nested), Some(2));
        assert_eq!(raw_os_error(&io::Error::other("none")), None);
        assert_eq!(
            raw_os_error(&io::Error::from(io::ErrorKind::NotFound)),
            None
        );
    }
}
