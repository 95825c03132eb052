use super::Target;
use crate::queue::MessageQueue;
use crate::{Endpoint, Scheme};
use std::io;
use std::path::PathBuf;

/// The resources that outlive the processes of runs over a target and that those runs will
/// create: the `mq://` queues named with `create=true` and the `file://` logs that do not
/// exist yet. Dropping this removes them (a queue or a log outlives its processes, and a log's
/// writer leaves an entry in the index `anyipc ls` reads), however the runs ended; queues and
/// logs that existed before are left alone.
///
/// ```
/// use anyipc::bench::{RunResources, Target};
///
/// let target: Target = "mq://doc-run-resources?create=true".parse()?;
/// let resources = RunResources::new(&target);
/// # #[cfg(target_os = "linux")]
/// assert_eq!(resources.queues(), ["doc-run-resources"]);
/// drop(resources); // removes the queue if a run created it
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct RunResources {
    queues: Vec<String>,
    logs: Vec<PathBuf>,
}

impl RunResources {
    /// Notes the queues and logs of `target` that runs will create.
    pub fn new(target: &Target) -> RunResources {
        let endpoints = match target {
            Target::Anyipc(endpoint) => vec![endpoint],
            Target::Pair { to_peer, from_peer } => vec![to_peer, from_peer],
            _ => Vec::new(),
        };
        RunResources {
            queues: endpoints
                .iter()
                .filter_map(|e| queue_to_create(e))
                .map(str::to_owned)
                .collect(),
            logs: endpoints.iter().filter_map(|e| log_to_create(e)).collect(),
        }
    }

    /// The names of the queues to remove.
    pub fn queues(&self) -> &[String] {
        &self.queues
    }

    /// The directories of the logs to remove.
    pub fn logs(&self) -> &[PathBuf] {
        &self.logs
    }
}

/// The name of the queue `endpoint` creates, if it will create one.
fn queue_to_create(endpoint: &Endpoint) -> Option<&str> {
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

/// The directory of the durable log `endpoint` creates, if it will create one (a plain file,
/// `framing=lines|raw`, is not a log).
fn log_to_create(endpoint: &Endpoint) -> Option<PathBuf> {
    if endpoint.scheme() != Scheme::File || endpoint.has_framing() {
        return None;
    }
    let dir = endpoint.path()?;
    (!dir.exists()).then(|| dir.to_owned())
}

impl Drop for RunResources {
    fn drop(&mut self) {
        for name in &self.queues {
            // NotFound: no run got as far as creating it.
            let _ = MessageQueue::remove(name);
        }
        for dir in &self.logs {
            // Forced: the run created it, and a peer that did not stop may still hold it.
            let _ = crate::file::remove_forced(dir);
        }
    }
}
