use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::io;

/// A serde format that turns values into messages and back, for
/// [`Connection::typed`](crate::Connection::typed).
///
/// ```
/// # #[cfg(feature = "json")] {
/// use anyipc::codec::{Format, Json};
/// let bytes = Json.encode(&(1, "two")).unwrap();
/// assert_eq!(&bytes[..], br#"[1,"two"]"#);
/// let back: (u32, String) = Json.decode(&bytes).unwrap();
/// assert_eq!(back, (1, "two".to_owned()));
/// # }
/// ```
pub trait Format: Clone + Unpin {
    /// Serializes `value` into one message.
    ///
    /// ```
    /// # #[cfg(feature = "json")] {
    /// use anyipc::codec::{Format, Json};
    /// use std::collections::BTreeMap;
    ///
    /// assert_eq!(&Json.encode(&[1, 2])?[..], b"[1,2]");
    /// // JSON object keys are strings: a map keyed by pairs does not serialize.
    /// let map = BTreeMap::from([((1, 2), "x")]);
    /// assert!(Json.encode(&map).is_err());
    /// # }
    /// # Ok::<(), anyipc::codec::FormatError>(())
    /// ```
    ///
    /// # Errors
    /// [`FormatError`] when serde refuses the value.
    fn encode<T: Serialize>(&self, value: &T) -> Result<Bytes, FormatError>;

    /// Deserializes one message.
    ///
    /// ```
    /// # #[cfg(feature = "json")] {
    /// use anyipc::codec::{Format, Json};
    ///
    /// let n: u32 = Json.decode(b"42")?;
    /// assert_eq!(n, 42);
    /// let err = Json.decode::<u32>(br#""42""#).unwrap_err();
    /// assert!(err.to_string().starts_with("json message: invalid type"));
    /// # }
    /// # Ok::<(), anyipc::codec::FormatError>(())
    /// ```
    ///
    /// # Errors
    /// [`FormatError`] when the bytes are not a `T` in this format.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, FormatError>;

    /// Whether a message may hold any byte, a newline included (`false` unless the format
    /// says so). [`Connection::typed`](crate::Connection::typed) refuses a binary format over
    /// `framing=lines`, where a value whose bytes hold a newline could not be sent: with
    /// [`Postcard`], `10u32` is the one byte `\n`.
    ///
    /// ```
    /// # #[cfg(all(feature = "json", feature = "postcard"))] {
    /// use anyipc::codec::{Format, Json, Postcard};
    /// assert!(Postcard.binary());
    /// assert!(!Json.binary()); // compact JSON escapes a newline inside a string
    /// # }
    /// ```
    fn binary(&self) -> bool {
        false
    }
}

/// A value that would not serialize, or a message that would not deserialize. Inside an
/// `io::Error` it is `InvalidData` when received and `InvalidInput` when sent.
///
/// ```
/// # #[cfg(feature = "json")] {
/// # tokio_test::block_on(async {
/// use anyipc::codec::{FormatError, Json};
///
/// let mut listener = anyipc::bind("mem://doc-format-error").await?;
/// let mut client = anyipc::connect("mem://doc-format-error").await?;
/// let mut server = listener.accept().await?.typed::<u32, u32>(Json);
/// client.send("not a number").await?;
/// let err = server.recv().await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// assert!(err.get_ref().unwrap().is::<FormatError>());
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct FormatError {
    format: &'static str,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl FormatError {
    /// Wraps a serde error of format `format` (`"json"`, `"postcard"`, …).
    ///
    /// For a [`Format`] of your own; its message names the format, then the error.
    ///
    /// ```
    /// use anyipc::codec::FormatError;
    ///
    /// let source = String::from_utf8(vec![0xff]).unwrap_err();
    /// let err = FormatError::new("text", source);
    /// assert!(err.to_string().starts_with("text message: invalid utf-8"));
    /// assert!(std::error::Error::source(&err).is_some());
    /// ```
    pub fn new(
        format: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        FormatError {
            format,
            source: Box::new(source),
        }
    }

    pub(crate) fn into_io(self, kind: io::ErrorKind) -> io::Error {
        io::Error::new(kind, self)
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} message: {}", self.format, self.source)
    }
}

impl std::error::Error for FormatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// JSON via serde_json: readable, and what other languages speak.
///
/// ```
/// use anyipc::codec::{Format, Json};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Point {
///     x: i32,
///     y: i32,
/// }
/// let bytes = Json.encode(&Point { x: 1, y: -2 })?;
/// assert_eq!(&bytes[..], br#"{"x":1,"y":-2}"#);
/// assert_eq!(Json.decode::<Point>(&bytes)?, Point { x: 1, y: -2 });
/// # Ok::<(), anyipc::codec::FormatError>(())
/// ```
///
/// JSON has no NaN or infinity: serde_json writes a non-finite `f32` or `f64` as `null`,
/// without an error. Such a value is sent, and the receiver gets `InvalidData` where it
/// expects an `f64`, or `None` for an `Option<f64>`. Send them with `Postcard`, which
/// keeps every float, or check them before sending.
///
/// ```
/// use anyipc::codec::{Format, Json};
///
/// let bytes = Json.encode(&f64::NAN)?;
/// assert_eq!(&bytes[..], b"null");
/// assert!(Json.decode::<f64>(&bytes).is_err());
/// assert_eq!(Json.decode::<Option<f64>>(&bytes)?, None);
/// # Ok::<(), anyipc::codec::FormatError>(())
/// ```
#[cfg(feature = "json")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

#[cfg(feature = "json")]
impl Format for Json {
    fn encode<T: Serialize>(&self, value: &T) -> Result<Bytes, FormatError> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| FormatError::new("json", e))
    }

    /// serde_json refuses input nested deeper than 128 arrays and objects, and a message must
    /// hold nothing but whitespace after its value. Beyond that, at most 256 serde levels
    /// (every array, object, option, newtype and enum counts one) are taken, so that a
    /// recursive type whose levels read no `[` or `{` (`struct W(Option<Box<W>>)`, which
    /// the message `1` would send down for ever) cannot let a peer overflow the stack.
    ///
    /// One recursion is beyond any limit here: an `#[serde(untagged)]` enum (or a
    /// `#[serde(flatten)]` field) is decoded from serde's own copy of the value, outside
    /// serde_json, so a variant that holds the enum itself, tried on a value no other
    /// variant takes, recurses until the stack overflows. Give such an enum a tag, or
    /// make its recursive variant read a level (`Wrapped([Box<U>; 1])`, `{"inner": …}`).
    ///
    /// ```
    /// use anyipc::codec::{Format, Json};
    ///
    /// #[derive(serde::Deserialize, Debug)]
    /// struct Wrapped(Option<Box<Wrapped>>);
    ///
    /// let err = Json.decode::<Wrapped>(b"1").unwrap_err();
    /// assert!(err.to_string().contains("nested deeper than 256 levels"));
    /// ```
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, FormatError> {
        use super::nesting_limit::{too_deep, NestingLimit, JSON_SERDE_LEVELS};
        let exceeded = std::cell::Cell::new(false);
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let limited = NestingLimit::new(&mut deserializer, JSON_SERDE_LEVELS, &exceeded);
        let value = T::deserialize(limited).map_err(|e| {
            if exceeded.get() {
                FormatError::new("json", io::Error::other(too_deep(JSON_SERDE_LEVELS)))
            } else {
                FormatError::new("json", e)
            }
        })?;
        deserializer
            .end()
            .map_err(|e| FormatError::new("json", e))?;
        Ok(value)
    }
}

/// postcard: a compact, stable binary format, for anyipc talking to anyipc.
///
/// ```
/// use anyipc::codec::{Format, Postcard};
/// let bytes = Postcard.encode(&300u32).unwrap();
/// assert_eq!(bytes.len(), 2);
/// assert_eq!(Postcard.decode::<u32>(&bytes).unwrap(), 300);
/// ```
#[cfg(feature = "postcard")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Postcard;

#[cfg(feature = "postcard")]
impl Format for Postcard {
    fn encode<T: Serialize>(&self, value: &T) -> Result<Bytes, FormatError> {
        postcard::to_stdvec(value)
            .map(Bytes::from)
            .map_err(|e| FormatError::new("postcard", e))
    }

    /// Any byte: not over `framing=lines`.
    fn binary(&self) -> bool {
        true
    }

    /// Messages nested deeper than 128 serde levels are refused (serde_json's limit), so
    /// that a recursive type cannot let a peer overflow the stack. Every enum, option,
    /// newtype, sequence or map counts one level: an `Option<Box<T>>` chain gets about 64.
    ///
    /// The value must take the whole message: bytes left after it are an error, as trailing
    /// characters are in [`Json`] (postcard's own `from_bytes` ignores them, so a message of
    /// another type that starts like a `T` would be taken for one).
    ///
    /// A sequence or map announces its length, so a message could make an element that takes
    /// no bytes (`()`, a unit struct, `PhantomData`, a `Box` of one) repeat for ever: a
    /// message of `n` bytes holds at most `n` + 1,048,576 sequence elements and map entries
    /// (every element that takes bytes has one of its own, so only those that take none can
    /// come near it). Past that, an error.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, FormatError> {
        use super::nesting_limit::{
            too_deep, too_many_elements, Elements, NestingLimit, MAX_EMPTY_ELEMENTS, MAX_NESTING,
        };
        let exceeded = std::cell::Cell::new(false);
        let elements = Elements::new(bytes.len().saturating_add(MAX_EMPTY_ELEMENTS));
        let mut deserializer = postcard::Deserializer::from_bytes(bytes);
        let limited = NestingLimit::new(&mut deserializer, MAX_NESTING, &exceeded);
        let value = T::deserialize(limited.bounding_elements(&elements)).map_err(|e| {
            // postcard's error would say "Serde Deserialization Error" only.
            if exceeded.get() {
                FormatError::new("postcard", io::Error::other(too_deep(MAX_NESTING)))
            } else if elements.exceeded.get() {
                FormatError::new("postcard", io::Error::other(too_many_elements()))
            } else {
                FormatError::new("postcard", e)
            }
        })?;
        match deserializer.finalize() {
            Ok([]) => Ok(value),
            Ok(rest) => Err(FormatError::new(
                "postcard",
                io::Error::other(match rest.len() {
                    1 => "1 byte left after the value".to_owned(),
                    n => format!("{n} bytes left after the value"),
                }),
            )),
            Err(e) => Err(FormatError::new("postcard", e)),
        }
    }
}

#[cfg(all(test, feature = "postcard"))]
mod tests {
    use super::{Format, Postcard};

    /// A message longer than its value is not a value of that type: postcard's `from_bytes`
    /// would return the value and ignore the rest, so a peer's `(u64, String, u8)` decoded
    /// as a `(u64, String)` without an error.
    #[test]
    fn postcard_refuses_bytes_after_the_value() {
        let msg = Postcard.encode(&(1u64, "tea", 3u8)).unwrap();
        let err = Postcard.decode::<(u64, String)>(&msg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "postcard message: 1 byte left after the value"
        );
        assert!(Postcard.decode::<u8>(&[1, 2, 3]).is_err());
        // The whole message still decodes.
        let whole: (u64, String, u8) = Postcard.decode(&msg).unwrap();
        assert_eq!(whole, (1, "tea".to_owned(), 3));
    }

    /// A sequence's length is the peer's to announce, and an element that takes no bytes
    /// repeats as often as it says: ten bytes announcing 2^64 − 1 units used to keep the
    /// decode (and the task receiving) busy for ever, and as many `Box<()>` to take memory
    /// until the process was killed. Past the bound, an error.
    #[test]
    fn postcard_refuses_endless_elements_that_take_no_bytes() {
        let too_many = "postcard message: more elements than its bytes can hold (elements \
                        that take no bytes)";
        // The bound: 1 Mi more elements than the message has bytes.
        let units = super::super::nesting_limit::MAX_EMPTY_ELEMENTS;
        let at_most = Postcard.encode(&vec![(); units + 3]).unwrap();
        assert_eq!(at_most.len(), 3);
        assert_eq!(
            Postcard.decode::<Vec<()>>(&at_most).unwrap().len(),
            units + 3
        );
        let over = Postcard.encode(&vec![(); units + 4]).unwrap();
        assert_eq!(
            Postcard.decode::<Vec<()>>(&over).unwrap_err().to_string(),
            too_many
        );
        // Elements that take bytes never come near it, nor do tuple and struct fields that
        // take none.
        let bytes = vec![(7u8, ()); units + 100];
        let msg = Postcard.encode(&bytes).unwrap();
        assert_eq!(Postcard.decode::<Vec<(u8, ())>>(&msg).unwrap(), bytes);

        // The largest count a `usize` holds (a larger one fails as not a `usize`).
        let endless = Postcard.encode(&usize::MAX).unwrap();
        let err = Postcard.decode::<Vec<()>>(&endless).unwrap_err();
        assert_eq!(err.to_string(), too_many);
        let err = Postcard.decode::<Vec<Box<()>>>(&endless).unwrap_err();
        assert_eq!(err.to_string(), too_many);
        let err = Postcard
            .decode::<std::collections::BTreeMap<(), ()>>(&endless)
            .unwrap_err();
        assert_eq!(err.to_string(), too_many);
        let err = Postcard
            .decode::<Vec<Vec<std::marker::PhantomData<u8>>>>(&[2, 0, 0xff, 0xff, 0xff, 0x7f])
            .unwrap_err();
        assert_eq!(err.to_string(), too_many);
    }
}

#[cfg(all(test, feature = "json"))]
mod json_tests {
    use super::{Format, Json};
    use serde::{Deserialize, Serialize};

    /// A type whose recursion passes through no JSON array or object: each level reads
    /// nothing, so serde_json's own limit (it counts `[` and `{`) never stops it.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Wrapped(Option<Box<Wrapped>>);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Node {
        value: u32,
        next: Option<Box<Node>>,
    }

    fn chain(depth: u32) -> Node {
        (1..depth).fold(
            Node {
                value: 0,
                next: None,
            },
            |next, value| Node {
                value,
                next: Some(Box::new(next)),
            },
        )
    }

    /// One byte from a peer (`1`) made `Json.decode::<Wrapped>` recurse until the stack
    /// overflowed, aborting the receiving process. Now an error, as for postcard.
    #[test]
    fn json_refuses_a_recursion_that_reads_nothing() {
        let err = Json.decode::<Wrapped>(b"1").unwrap_err();
        assert!(err.to_string().contains("nested deeper than"), "{err}");
        assert_eq!(Json.decode::<Wrapped>(b"null").unwrap(), Wrapped(None));
    }

    /// What serde_json took before still decodes: a list as deep as its own limit of 128
    /// objects, each behind an `Option`, two serde levels apiece.
    #[test]
    fn json_keeps_its_own_depth_for_real_messages() {
        let deep = chain(127);
        assert_eq!(
            Json.decode::<Node>(&Json.encode(&deep).unwrap()).unwrap(),
            deep
        );
        // serde_json's limit still stands beyond it.
        let deeper = Json.encode(&chain(130)).unwrap();
        assert!(Json.decode::<Node>(&deeper).is_err());
        let value: serde_json::Value = Json.decode(&Json.encode(&chain(127)).unwrap()).unwrap();
        assert!(value.is_object());
    }

    /// The untagged enum the docs advise: its recursive variant reads an array, so serde's
    /// copy of the value bounds it, and a value no variant takes is an error.
    #[test]
    fn an_untagged_enum_whose_recursion_reads_a_level_is_bounded() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(untagged)]
        enum U {
            Num(i64),
            Wrapped([Box<U>; 1]),
        }
        assert!(Json.decode::<U>(br#""x""#).is_err());
        let deep = format!("{}5{}", "[".repeat(127), "]".repeat(127));
        let mut value = Json.decode::<U>(deep.as_bytes()).unwrap();
        for _ in 0..127 {
            let U::Wrapped([inner]) = value else {
                panic!("not wrapped");
            };
            value = *inner;
        }
        assert_eq!(value, U::Num(5));
    }
}
