use super::{fifo_path, FifoReader};
use crate::sys::{self, FileIdentity};
use crate::transport::{AnyStream, Connection};
use crate::Endpoint;
use std::io;
use std::path::PathBuf;
use std::task::{Context, Poll};

/// The `fifo://` listener inside the [`Listener`](crate::Listener) that [`bind`](crate::bind)
/// returns; the module documentation says how it behaves.
#[derive(Debug)]
pub(crate) struct FifoListener {
    /// The reading side, until the first accept hands it out.
    reader: Option<FifoReader>,
    file: (PathBuf, FileIdentity),
}

impl FifoListener {
    /// Creates the FIFO (or reclaims a stale one of ours) and opens it for reading, holding
    /// the directory's bind lock (waited for on the tokio timer) meanwhile.
    pub(crate) async fn bind(endpoint: &Endpoint) -> io::Result<FifoListener> {
        let path = fifo_path(endpoint)?;
        let bound = {
            let lock = sys::lock_parent_dir_async(path).await;
            sys::fifo_bind(path, endpoint.mode_option(), &lock)?
        };
        sys::grow_pipe_buffer(std::os::fd::AsFd::as_fd(&bound.reader));
        // The FIFO our reader has open (from its descriptor): the path may name another
        // binder's FIFO by the time we remove ours, and that one must stay.
        let identity = bound.identity;
        // If this fails, the FIFO we created must not stay behind.
        let reader =
            FifoReader::new(bound, endpoint).inspect_err(|_| sys::fifo_unbind(path, identity))?;
        Ok(FifoListener {
            reader: Some(reader),
            file: (path.to_path_buf(), identity),
        })
    }

    /// The first call returns the reading connection; later calls wait forever.
    pub(crate) fn poll_accept(
        &mut self,
        _cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        match self.reader.take() {
            Some(reader) => Poll::Ready(Ok(Connection::from_stream_with(
                AnyStream::Fifo(reader),
                super::reader_codec(endpoint),
                endpoint,
                "fifo writers".to_owned(),
                None,
            ))),
            // A FIFO has a single reading stream; there is no second connection to wait for.
            None => Poll::Pending,
        }
    }
}

impl Drop for FifoListener {
    fn drop(&mut self) {
        let (path, identity) = &self.file;
        sys::fifo_unbind(path, *identity);
    }
}
