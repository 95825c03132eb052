use crate::codec::Format;
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A connection carrying serde values: a `Stream` of `In` and a `Sink` of `Out`, each message
/// one value in format `F`. Made by [`Connection::typed`](crate::Connection::typed); works over
/// any `Stream + Sink` of [`Bytes`].
///
/// A message that does not deserialize is `InvalidData` (with the
/// [`FormatError`](crate::codec::FormatError) inside) and the connection stays usable; a value
/// that does not serialize is `InvalidInput`.
///
/// Values need message boundaries: over a connection with `framing=raw`, whose reads are
/// not messages (the JSON values `1` and `2` would arrive as one `12`),
/// [`Connection::typed`](crate::Connection::typed) gives a `Typed` whose every send is
/// `Unsupported` and sends nothing, and whose stream yields `Unsupported` once, then ends;
/// so it does for a [binary](crate::codec::Format::binary) format (`Postcard`) over
/// `framing=lines`, whose values may hold the newline that ends a line. (`Typed::new` cannot
/// tell what its inner stream keeps: do not give it one that merges or splits messages.)
///
/// ```
/// # #[cfg(feature = "json")] {
/// use anyipc::codec::Json;
/// use futures::SinkExt;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Point { x: i32, y: i32 }
///
/// # tokio_test::block_on(async {
/// let mut listener = anyipc::bind("mem://doc-typed-struct").await?;
/// let mut client = anyipc::connect("mem://doc-typed-struct").await?.typed::<(), Point>(Json);
/// let mut server = listener.accept().await?.typed::<Point, ()>(Json);
/// client.send(Point { x: 1, y: -2 }).await?;
/// assert_eq!(server.recv().await?, Some(Point { x: 1, y: -2 }));
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// # }
/// ```
pub struct Typed<T, In, Out, F> {
    inner: T,
    format: F,
    /// Why every send and receive is refused (`Unsupported`); `None` when they are not.
    refused: Option<&'static str>,
    /// A refused receive has reported why: the stream has ended.
    refusal_reported: bool,
    types: PhantomData<fn(Out) -> In>,
}

impl<T, In, Out, F> Typed<T, In, Out, F> {
    /// Wraps `inner`, a `Stream` + `Sink` of [`Bytes`] messages.
    ///
    /// ```
    /// # #[cfg(feature = "json")] {
    /// use anyipc::{codec::Json, Typed};
    /// use futures::{SinkExt, StreamExt};
    /// # tokio_test::block_on(async {
    /// let mut l = anyipc::bind("mem://doc-typed-new").await?;
    /// let c = anyipc::connect("mem://doc-typed-new").await?;
    /// let mut c: Typed<_, (), Vec<u8>, _> = Typed::new(c, Json);
    /// c.send(vec![1, 2]).await?;
    /// assert_eq!(l.accept().await?.next().await.unwrap()?, "[1,2]");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn new(inner: T, format: F) -> Self {
        Typed {
            inner,
            format,
            refused: None,
            refusal_reported: false,
            types: PhantomData,
        }
    }

    /// Wraps `inner` refusing every send and receive with `Unsupported` and `reason`: for a
    /// connection that keeps no message boundaries, where values would be merged or split.
    pub(crate) fn refusing(inner: T, format: F, reason: &'static str) -> Self {
        Typed {
            refused: Some(reason),
            ..Typed::new(inner, format)
        }
    }

    /// `Unsupported` with the reason this `Typed` refuses everything, if it does.
    fn check_usable(&self) -> io::Result<()> {
        match self.refused {
            Some(reason) => Err(io::Error::new(io::ErrorKind::Unsupported, reason)),
            None => Ok(()),
        }
    }

    /// The untyped connection.
    ///
    /// ```
    /// # #[cfg(feature = "json")] {
    /// # use anyipc::{codec::Json, Typed};
    /// # use futures::SinkExt;
    /// # tokio_test::block_on(async {
    /// let _listener = anyipc::bind("mem://doc-typed-get-ref").await?;
    /// let client = anyipc::connect("mem://doc-typed-get-ref").await?;
    /// let typed: Typed<_, u32, u32, _> = Typed::new(client, Json);
    /// assert_eq!(typed.get_ref().endpoint().to_string(), "mem://doc-typed-get-ref");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The untyped connection, mutably: to send or receive raw messages between values.
    ///
    /// ```
    /// # #[cfg(feature = "json")] {
    /// # use anyipc::{codec::Json, Typed};
    /// # use futures::SinkExt;
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-typed-get-mut").await?;
    /// let client = anyipc::connect("mem://doc-typed-get-mut").await?;
    /// let mut server = listener.accept().await?;
    /// let mut typed: Typed<_, (), u32, _> = Typed::new(client, Json);
    /// typed.get_mut().send("raw").await?;
    /// typed.send(7).await?;
    /// assert_eq!(server.recv().await?.unwrap(), "raw");
    /// assert_eq!(server.recv().await?.unwrap(), "7");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The untyped connection back.
    ///
    /// ```
    /// # #[cfg(feature = "json")] {
    /// # use anyipc::{codec::Json, Typed};
    /// # use futures::SinkExt;
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-typed-into-inner").await?;
    /// let client = anyipc::connect("mem://doc-typed-into-inner").await?;
    /// let mut server = listener.accept().await?;
    /// let mut typed = client.typed::<(), Vec<u8>>(Json);
    /// typed.send(vec![1, 2]).await?;
    /// let mut client = typed.into_inner();
    /// client.send("untyped").await?;
    /// assert_eq!(server.recv().await?.unwrap(), "[1,2]");
    /// assert_eq!(server.recv().await?.unwrap(), "untyped");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T, In, Out, F> Typed<T, In, Out, F>
where
    T: Stream<Item = io::Result<Bytes>> + Unpin,
    In: DeserializeOwned,
    F: Format,
{
    /// Receives the next value; `Ok(None)` once the peer has closed.
    ///
    /// ```
    /// # #[cfg(feature = "json")] {
    /// use anyipc::codec::Json;
    /// use std::io::ErrorKind;
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-typed-recv").await?;
    /// let mut client = anyipc::connect("mem://doc-typed-recv").await?;
    /// let mut server = listener.accept().await?.typed::<u32, ()>(Json);
    /// client.send("not a number").await?;
    /// client.send("42").await?;
    /// drop(client);
    /// // A message that is not a `u32` is an error, and the connection goes on.
    /// assert_eq!(server.recv().await.unwrap_err().kind(), ErrorKind::InvalidData);
    /// assert_eq!(server.recv().await?, Some(42));
    /// assert_eq!(server.recv().await?, None);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// `InvalidData` for a message that is not an `In`; `Unsupported` on a connection with
    /// `framing=raw` (see [`Typed`]); otherwise as the connection's.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn recv(&mut self) -> io::Result<Option<In>> {
        self.next().await.transpose()
    }
}

impl<In, Out, F> Typed<crate::Connection, In, Out, F>
where
    Out: Serialize,
    F: Format,
{
    /// Sends one value and flushes it: [`Connection::send`](crate::Connection::send) for
    /// values, with its promise that a `TimedOut` value stays queued and goes out later
    /// (through the `Sink` trait, `SinkExt::send` drops a value whose wait for room timed
    /// out).
    ///
    /// ```
    /// # #[cfg(feature = "json")] {
    /// use anyipc::codec::Json;
    /// # tokio_test::block_on(async {
    /// let mut listener = anyipc::bind("mem://doc-typed-send").await?;
    /// let mut client = anyipc::connect("mem://doc-typed-send").await?.typed::<(), u32>(Json);
    /// let mut server = listener.accept().await?.typed::<u32, ()>(Json);
    /// client.send(7).await?;
    /// assert_eq!(server.recv().await?, Some(7));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for a value that does not serialize (nothing is sent); `Unsupported`
    /// on a connection with `framing=raw` (see [`Typed`]); otherwise as
    /// [`Connection::send`](crate::Connection::send)'s.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped before completion, the value may or may not have been sent.
    pub async fn send(&mut self, value: Out) -> io::Result<()> {
        self.check_usable()?;
        let msg = self
            .format
            .encode(&value)
            .map_err(|e| e.into_io(io::ErrorKind::InvalidInput))?;
        self.inner.send(msg).await
    }
}

impl<T, In, Out, F> Stream for Typed<T, In, Out, F>
where
    T: Stream<Item = io::Result<Bytes>> + Unpin,
    In: DeserializeOwned,
    F: Format,
{
    type Item = io::Result<In>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Err(e) = this.check_usable() {
            // Once: a loop that goes on after an error would otherwise spin on it for ever.
            if this.refusal_reported {
                return Poll::Ready(None);
            }
            this.refusal_reported = true;
            return Poll::Ready(Some(Err(e)));
        }
        let item = ready!(this.inner.poll_next_unpin(cx));
        Poll::Ready(item.map(|msg| {
            this.format
                .decode(&msg?)
                .map_err(|e| e.into_io(io::ErrorKind::InvalidData))
        }))
    }
}

impl<T, In, Out, F> Sink<Out> for Typed<T, In, Out, F>
where
    T: Sink<Bytes, Error = io::Error> + Unpin,
    Out: Serialize,
    F: Format,
{
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_ready_unpin(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Out) -> io::Result<()> {
        let this = self.get_mut();
        this.check_usable()?;
        let msg = this
            .format
            .encode(&item)
            .map_err(|e| e.into_io(io::ErrorKind::InvalidInput))?;
        this.inner.start_send_unpin(msg)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_flush_unpin(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_close_unpin(cx)
    }
}

impl<T: fmt::Debug, In, Out, F: fmt::Debug> fmt::Debug for Typed<T, In, Out, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Typed")
            .field("inner", &self.inner)
            .field("format", &self.format)
            .finish()
    }
}
