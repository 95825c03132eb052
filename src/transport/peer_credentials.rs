/// Who is at the other end of a local connection, as the OS reports it.
///
/// ```
/// # #[cfg(unix)] {
/// use std::os::unix::fs::MetadataExt;
/// # tokio_test::block_on(async {
/// let dir = std::env::temp_dir().join(format!("anyipc-doc-peer-cred-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let url = format!("unix://{}", dir.join("app.sock").display());
/// let mut listener = anyipc::bind(&url).await?;
/// let _client = anyipc::connect(&url).await?;
/// let peer = listener.accept().await?.peer_credentials().expect("unix:// reports its peer");
/// // The client is this process, running as the user who made `dir`.
/// assert_eq!(peer.pid, Some(std::process::id()));
/// assert_eq!(peer.uid, std::fs::metadata(&dir)?.uid());
/// # drop(listener);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    /// The peer process id, where the OS gives it (Linux, macOS).
    pub pid: Option<u32>,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}
