/// Who is at the other end of a local connection, as the OS reports it.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// let mut listener = anyipc::bind("unix:///tmp/app.sock").await?;
/// let conn = listener.accept().await?;
/// if let Some(peer) = conn.peer_credentials() {
///     println!("client uid {} pid {:?}", peer.uid, peer.pid);
/// }
/// # Ok(()) }
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
