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
/// let name = format!("doc-run-resources-{}", std::process::id());
/// let target: Target = format!("mq://{name}?create=true").parse()?;
/// let resources = RunResources::new(&target);
/// # #[cfg(target_os = "linux")]
/// assert_eq!(resources.queues(), [name.as_str()]);
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
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::{RunResources, Target};
    /// use futures::SinkExt;
    ///
    /// let dir = std::env::temp_dir().join(format!("anyipc-doc-rr-new-{}", std::process::id()));
    /// let url = format!("file://{}", dir.display());
    /// let resources = RunResources::new(&url.parse::<Target>()?);
    /// let mut producer = anyipc::connect(url.as_str()).await?; // a run creates the log
    /// producer.send("record").await?;
    /// producer.close().await?;
    /// assert!(dir.exists());
    /// drop(resources);
    /// assert!(!dir.exists());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn new(target: &Target) -> RunResources {
        let endpoints = target.endpoints();
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
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// # tokio_test::block_on(async {
    /// use anyipc::bench::{RunResources, Target};
    /// use anyipc::queue::MessageQueue;
    ///
    /// let name = format!("doc-rr-queues-{}", std::process::id());
    /// let url = format!("mq://{name}?create=true");
    /// let resources = RunResources::new(&url.parse::<Target>()?);
    /// assert_eq!(resources.queues(), [name.as_str()]);
    /// drop(anyipc::connect(url.as_str()).await?); // a run creates the queue
    /// drop(resources);
    /// let err = MessageQueue::open(&name).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// # }
    /// ```
    pub fn queues(&self) -> &[String] {
        &self.queues
    }

    /// The directories of the logs to remove.
    ///
    /// ```
    /// use anyipc::bench::{RunResources, Target};
    ///
    /// let dir = std::env::temp_dir().join(format!("anyipc-doc-rr-logs-{}", std::process::id()));
    /// let (to, from) = (dir.join("to-peer"), dir.join("from-peer"));
    /// let pair = format!("file://{} + file://{}", to.display(), from.display());
    /// assert_eq!(RunResources::new(&pair.parse()?).logs(), [to.clone(), from]);
    /// // A plain file (`framing=`) is not a log.
    /// let plain: Target = format!("file://{}?framing=lines", to.display()).parse()?;
    /// assert!(RunResources::new(&plain).logs().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
            if let Err(e) = crate::file::remove_forced(dir) {
                if e.kind() == io::ErrorKind::NotFound {
                    // No log in it yet (a consumer made the directory, and the run ended
                    // before any producer opened it): removed only if empty.
                    let _ = std::fs::remove_dir(dir);
                }
            }
        }
    }
}
