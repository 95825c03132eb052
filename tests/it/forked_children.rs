//! Listeners closed and bound again at once while another thread of the process starts
//! children ([`ChildStarter`]): a child's copy of the old socket, held from its fork until it
//! execs, must not refuse the new bind. And resources reopened while a child that is slow to
//! exec ([`SlowExecChild`]) holds copies of the old ones.

use crate::util::*;
use std::time::Duration;

#[path = "../../src/test_support/slow_exec_child.rs"]
mod slow_exec_child;
use slow_exec_child::SlowExecChild;

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
        crate::util::assert_none_refused(&refused, 300);
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
        crate::util::assert_none_refused(&refused, 300);
        // A live server's name is still refused.
        let _live = anyipc::bind(url.as_str()).await.unwrap();
        let err = anyipc::bind(url.as_str()).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    })
    .await
}

/// A udp port bound again at once after its listener was dropped: the task that received on
/// the socket closes it a moment later, and a child's copy holds it until the child execs.
/// Before a bind waited for a port this process released just now, 265 rebinds of 300 were
/// refused (`AddrInUse`) with no child started at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_port_bound_again_at_once_is_not_refused() {
    watchdog(60, async {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("udp://127.0.0.1:{port}");
        let alone = rebind(&url, 300).await;
        let starter = ChildStarter::start();
        let with_children = rebind(&url, 300).await;
        starter.stop();
        crate::util::assert_none_refused(&alone, 300);
        crate::util::assert_none_refused(&with_children, 300);
        // A live listener's port is still refused.
        let _live = anyipc::bind(url.as_str()).await.unwrap();
        let err = anyipc::bind(url.as_str()).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    })
    .await
}

/// A queue dropped and opened again in this process while a child holds the old description:
/// its liveness lock went with the child's copy until it execs, and the open waited for it,
/// then failed (`WouldBlock`, "Resource temporarily unavailable") after 200 ms.
#[test]
fn a_queue_opened_again_while_a_child_is_slow_to_exec_is_not_refused() {
    use anyipc::queue::{MessageQueue, QueueOptions};
    let name = unique_name("anyipc-fork-mq");
    let queue = MessageQueue::create(&name, &QueueOptions::default()).unwrap();
    queue.try_send(b"kept", 0).unwrap();
    let child = SlowExecChild::start(Duration::from_millis(600));
    drop(queue);
    let again = MessageQueue::open(&name);
    child.wait();
    MessageQueue::remove(&name).unwrap();
    let (msg, _) = again.unwrap().try_recv().unwrap();
    assert_eq!(&msg[..], b"kept");
}
