//! `anyipc::Duplex`: two one-way connections as one `Stream` + `Sink`.

#[cfg(unix)]
use crate::process::{Helper, Role};
#[cfg(unix)]
use crate::util::TempDir;
use crate::util::{unique_name, watchdog};
#[cfg(unix)]
use anyipc::codec::Json;
use anyipc::Duplex;
#[cfg(unix)]
use anyipc::Typed;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
#[cfg(unix)]
use serde::{Deserialize, Serialize};

#[tokio::test]
async fn receives_from_one_half_and_sends_into_the_other() {
    watchdog(30, async {
        let (a, b) = (unique_name("duplex-a"), unique_name("duplex-b"));
        let mut a_listener = anyipc::bind(format!("mem://{a}")).await.unwrap();
        let mut b_listener = anyipc::bind(format!("mem://{b}")).await.unwrap();
        let a_client = anyipc::connect(format!("mem://{a}")).await.unwrap();
        let b_client = anyipc::connect(format!("mem://{b}")).await.unwrap();
        let mut a_server = a_listener.accept().await.unwrap();
        let mut b_server = b_listener.accept().await.unwrap();
        let mut duplex = Duplex::new(a_client, b_client);

        duplex.send(Bytes::from_static(b"out")).await.unwrap();
        assert_eq!(b_server.recv().await.unwrap().unwrap(), "out");
        a_server.send("in").await.unwrap();
        assert_eq!(duplex.next().await.unwrap().unwrap(), "in");

        // Nothing sent through the duplex reaches the receiver's peer, nor the other way.
        b_server.send("stray").await.unwrap();
        a_server.send("in 2").await.unwrap();
        assert_eq!(duplex.next().await.unwrap().unwrap(), "in 2");

        // Closing closes the sender only: its peer's stream ends, the receiver still works.
        duplex.close().await.unwrap();
        assert!(b_server.recv().await.unwrap().is_none());
        a_server.send("after close").await.unwrap();
        assert_eq!(duplex.next().await.unwrap().unwrap(), "after close");

        let (mut receiver, mut sender) = duplex.into_parts();
        a_server.send("parts").await.unwrap();
        assert_eq!(receiver.recv().await.unwrap().unwrap(), "parts");
        // The sender's own stream was never read: the stray message is still there.
        assert_eq!(sender.recv().await.unwrap().unwrap(), "stray");
    })
    .await;
}

#[cfg(unix)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Job {
    id: u32,
    payload: Vec<u8>,
}

/// The classic pair of FIFOs between two processes: each binds the FIFO it reads, then
/// connects to the one it writes.
#[cfg(unix)]
#[tokio::test]
async fn two_fifos_are_a_duplex_channel_to_another_process() {
    watchdog(60, async {
        let dir = TempDir::new("duplex");
        let to_helper = format!("fifo://{}", dir.join("to-helper"));
        let from_helper = format!("fifo://{}", dir.join("from-helper"));
        let mut inbox = anyipc::bind(&from_helper).await.unwrap();
        let inbound = inbox.accept().await.unwrap();
        let helper = Helper::spawn(Role::DuplexEcho, &format!("{to_helper} + {from_helper}")).await;
        assert_ne!(helper.pid(), std::process::id());
        let outbound = anyipc::connect(&to_helper).await.unwrap();
        let duplex = Duplex::new(inbound, outbound);

        // Many messages in flight at once (more than the FIFOs hold: sending and receiving
        // run together), every size up to the FIFO's largest, all back in order.
        let msgs: Vec<Bytes> = (0..2000u32)
            .map(|i| crate::util::pattern((i as usize * 41) % 4092 + 1))
            .collect();
        let (mut receiver, mut sender) = duplex.into_parts();
        let send_all = async {
            for m in &msgs {
                sender.feed(m.clone()).await.unwrap();
            }
            sender.flush().await.unwrap();
        };
        let receive_all = async {
            for (i, m) in msgs.iter().enumerate() {
                let echo = receiver.next().await.unwrap().unwrap();
                assert_eq!(&echo, m, "message {i}");
            }
        };
        tokio::join!(send_all, receive_all);

        // Typed values ride on it like on any connection.
        let mut typed: Typed<_, Job, Job, Json> = Typed::new(Duplex::new(receiver, sender), Json);
        let job = Job {
            id: 7,
            payload: vec![1, 2, 3],
        };
        typed.send(job.clone()).await.unwrap();
        assert_eq!(typed.recv().await.unwrap().unwrap(), job);
        drop(helper);
    })
    .await;
}
