use super::pipe_name;
use crate::sys::{self, PipeServer};
use crate::transport::{AnyStream, Connection};
use crate::Endpoint;
use std::io;
use std::task::{ready, Context, Poll};

/// The `pipe://` listener inside the [`Listener`](crate::Listener) that [`bind`](crate::bind)
/// returns; the module documentation says how it behaves.
#[derive(Debug)]
pub(crate) struct PipeListener {
    server: PipeServer,
    allow_uids: Option<Vec<u32>>,
}

impl PipeListener {
    /// Binds, reclaiming the name of a dead server.
    pub(crate) fn bind(endpoint: &Endpoint) -> io::Result<PipeListener> {
        let name = pipe_name(endpoint)?;
        let allow_uids = endpoint.uid_list_option("allow_uids").map(<[u32]>::to_vec);
        if allow_uids.is_some() && !sys::PIPE_PEER_UIDS {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{endpoint}: allow_uids needs peer user ids, which this OS does not report for pipes"),
            ));
        }
        let server = PipeServer::bind(name, endpoint.mode_option())?;
        Ok(PipeListener { server, allow_uids })
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        endpoint: &Endpoint,
    ) -> Poll<io::Result<Connection>> {
        loop {
            let (stream, credentials) = ready!(self.server.poll_accept(cx))?;
            if let Some(allowed) = &self.allow_uids {
                let uid = credentials.map(|c| c.uid);
                if !uid.is_some_and(|uid| allowed.contains(&uid)) {
                    tracing::warn!(endpoint = %endpoint, uid = %uid.map_or_else(|| "unknown".to_owned(), |u| u.to_string()), "refused a client not in allow_uids");
                    continue;
                }
            }
            let peer = match credentials.and_then(|c| c.pid) {
                Some(pid) => format!("pipe client pid {pid}"),
                None => "pipe client".to_owned(),
            };
            return Poll::Ready(Ok(Connection::from_stream(
                AnyStream::Pipe(stream),
                endpoint,
                peer,
                credentials,
            )));
        }
    }
}
