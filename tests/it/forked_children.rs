//! Listeners closed and bound again at once while another thread of the process starts
//! children ([`ChildStarter`]): a child's copy of the old socket, held from its fork until it
//! execs, must not refuse the new bind.

use crate::util::*;

/// Binds `url` `rounds` times, dropping each listener at once; the refusals.
async fn rebind(url: &str, rounds: usize) -> Vec<String> {
    let mut refused = Vec::new();
    for round in 0..rounds {
        match anyipc::bind(url).await {
            Ok(listener) => drop(listener),
            Err(e) => refused.push(format!("round {round}: {e}")),
        }
    }
    refused
}

/// Before the listener stopped listening on drop, 81 and 126 rebinds of 300 were refused
/// (`AddrInUse`) in two runs: the child's copy of the socket kept the port listening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_server_bound_again_while_children_are_started_is_not_refused() {
    watchdog(60, async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let starter = ChildStarter::start();
        let refused = rebind(&format!("tcp://127.0.0.1:{port}"), 300).await;
        starter.stop();
        assert!(
            refused.is_empty(),
            "{} of 300 refused: {:?}",
            refused.len(),
            &refused[..refused.len().min(3)]
        );
    })
    .await
}

/// An abstract name belongs to its socket until the child's copy is closed too: before a bind
/// waited for that (for names this process released just now), 202 rebinds of 300 were
/// refused (`AddrInUse`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abstract_unix_name_bound_again_while_children_are_started_is_not_refused() {
    watchdog(60, async {
        let url = format!("unix://@{}", unique_name("anyipc-fork-rebind"));
        let starter = ChildStarter::start();
        let refused = rebind(&url, 300).await;
        starter.stop();
        assert!(
            refused.is_empty(),
            "{} of 300 refused: {:?}",
            refused.len(),
            &refused[..refused.len().min(3)]
        );
        // A live server's name is still refused.
        let _live = anyipc::bind(url.as_str()).await.unwrap();
        let err = anyipc::bind(url.as_str()).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    })
    .await
}
