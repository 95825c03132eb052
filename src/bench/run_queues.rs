use super::Target;
use crate::queue::MessageQueue;
use crate::{Endpoint, Scheme};
use std::io;

/// The `mq://` queues that runs over a target will create: those it names with
/// `create=true` that do not exist yet. Dropping this removes them (a queue outlives its
/// processes), however the runs ended; queues that existed before are left alone.
///
/// ```
/// use anyipc::bench::{RunQueues, Target};
///
/// let target: Target = "mq://doc-run-queues?create=true".parse()?;
/// let queues = RunQueues::new(&target);
/// # #[cfg(target_os = "linux")]
/// assert_eq!(queues.names(), ["doc-run-queues"]);
/// drop(queues); // removes the queue if a run created it
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct RunQueues {
    names: Vec<String>,
}

impl RunQueues {
    /// Notes the queues of `target` that runs will create.
    pub fn new(target: &Target) -> RunQueues {
        let endpoints = match target {
            Target::Anyipc(endpoint) => vec![endpoint],
            Target::Pair { to_peer, from_peer } => vec![to_peer, from_peer],
            _ => Vec::new(),
        };
        RunQueues {
            names: endpoints
                .into_iter()
                .filter_map(to_create)
                .map(str::to_owned)
                .collect(),
        }
    }

    /// The names of the queues to remove.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// The name of the queue `endpoint` creates, if it will create one.
fn to_create(endpoint: &Endpoint) -> Option<&str> {
    if endpoint.scheme() != Scheme::Mq || endpoint.option("create").as_deref() != Some("true") {
        return None;
    }
    let name = endpoint.name()?;
    // Anything but "there is none" (a queue we cannot open is still someone's) keeps it.
    match MessageQueue::open(name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(name),
        _ => None,
    }
}

impl Drop for RunQueues {
    fn drop(&mut self) {
        for name in &self.names {
            // NotFound: no run got as far as creating it.
            let _ = MessageQueue::remove(name);
        }
    }
}
