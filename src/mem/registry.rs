//! The process-wide table of `mem://` names and the listeners bound to them.

use super::MemChannel;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use tokio::sync::mpsc;

/// Connections a listener holds before `connect` waits for `accept`.
pub(super) const BACKLOG: usize = 128;

struct Binding {
    listener_id: u64,
    incoming: mpsc::Sender<(u64, MemChannel)>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn table() -> MutexGuard<'static, HashMap<String, Binding>> {
    static TABLE: OnceLock<Mutex<HashMap<String, Binding>>> = OnceLock::new();
    // A panic while holding the lock cannot leave the map inconsistent (each operation is a
    // single insert/remove/get), so a poisoned lock is still safe to use.
    TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers `name`; returns the listener id and the receiver of incoming connections.
pub(super) fn register(name: &str) -> io::Result<(u64, mpsc::Receiver<(u64, MemChannel)>)> {
    let mut table = table();
    if let Some(existing) = table.get(name) {
        if !existing.incoming.is_closed() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("mem://{name} is already bound in this process"),
            ));
        }
    }
    let (incoming, rx) = mpsc::channel(BACKLOG);
    let listener_id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    table.insert(
        name.to_owned(),
        Binding {
            listener_id,
            incoming,
        },
    );
    Ok((listener_id, rx))
}

/// Removes `name` if it is still bound by listener `listener_id`.
pub(super) fn unregister(name: &str, listener_id: u64) {
    let mut table = table();
    if table.get(name).map(|b| b.listener_id) == Some(listener_id) {
        table.remove(name);
    }
}

/// Hands the server half of a new connection to the listener bound to `name`; returns the
/// connection's id.
pub(super) async fn deliver(name: &str, server_half: MemChannel) -> io::Result<u64> {
    let not_found = || {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no mem://{name} listener in this process"),
        )
    };
    let incoming = table().get(name).map(|b| b.incoming.clone());
    let incoming = incoming.ok_or_else(not_found)?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    incoming
        .send((id, server_half))
        .await
        .map_err(|_| not_found())?;
    Ok(id)
}
