//! Many concurrent clients against one echo server: nothing lost, duplicated, reordered or
//! corrupted. Each message carries its client id, sequence number and a checksum, and both
//! the server and the clients check every one.

#[cfg(unix)]
use crate::util::TempDir;
use crate::util::{unique_name, watchdog};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const CLIENTS: u32 = 200;
const MESSAGES: u32 = 100;

/// FNV-1a: enough to catch any corruption a framing bug would cause.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `[client u32][seq u32][payload of varying length][checksum u64 of all before it]`.
fn message(client: u32, seq: u32) -> Bytes {
    let mut msg = Vec::new();
    msg.extend_from_slice(&client.to_be_bytes());
    msg.extend_from_slice(&seq.to_be_bytes());
    let len = ((client * 7919 + seq * 104_729) % 2000) as usize;
    msg.extend((0..len).map(|i| (i as u32 ^ client ^ seq.rotate_left(8)) as u8));
    let sum = checksum(&msg);
    msg.extend_from_slice(&sum.to_be_bytes());
    Bytes::from(msg)
}

/// Checks a message's checksum and returns its `(client, seq)`.
fn parse(msg: &[u8]) -> (u32, u32) {
    assert!(msg.len() >= 16, "message too short: {} bytes", msg.len());
    let (body, sum) = msg.split_at(msg.len() - 8);
    assert_eq!(
        checksum(body),
        u64::from_be_bytes(sum.try_into().unwrap()),
        "corrupt message"
    );
    let client = u32::from_be_bytes(body[..4].try_into().unwrap());
    let seq = u32::from_be_bytes(body[4..8].try_into().unwrap());
    (client, seq)
}

async fn many_clients(url: &str) {
    // Both ends of 200 connections in this process.
    crate::util::raise_fd_limit();
    let mut listener = anyipc::bind(url).await.unwrap();
    let url = listener.endpoint().to_string();
    let served = Arc::new(AtomicUsize::new(0));
    let server = {
        let served = served.clone();
        tokio::spawn(async move {
            let mut connections = Vec::new();
            for _ in 0..CLIENTS {
                let mut conn = listener.accept().await.unwrap();
                let served = served.clone();
                connections.push(tokio::spawn(async move {
                    // Per connection: one client, its messages in order, each once.
                    let mut expected: HashMap<u32, u32> = HashMap::new();
                    let mut owner = None;
                    while let Some(msg) = conn.next().await {
                        let msg = msg.unwrap();
                        let (client, seq) = parse(&msg);
                        assert_eq!(*owner.get_or_insert(client), client, "mixed clients");
                        let next = expected.entry(client).or_default();
                        assert_eq!(seq, *next, "client {client}: lost or duplicated message");
                        *next += 1;
                        conn.send(msg).await.unwrap();
                    }
                    assert_eq!(expected.values().sum::<u32>(), MESSAGES);
                    served.fetch_add(1, Ordering::Relaxed);
                }));
            }
            for connection in connections {
                connection.await.unwrap();
            }
        })
    };

    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let url = url.clone();
            tokio::spawn(async move {
                let conn = anyipc::connect(&url).await.unwrap();
                let (mut tx, mut rx) = conn.split();
                // Sending and receiving at once: the echoes pile up while the client sends.
                let send = async move {
                    for seq in 0..MESSAGES {
                        tx.feed(message(client, seq)).await.unwrap();
                    }
                    tx.close().await.unwrap();
                };
                let receive = async move {
                    for seq in 0..MESSAGES {
                        let msg = rx.next().await.expect("echo stream ended").unwrap();
                        assert_eq!(parse(&msg), (client, seq));
                        assert_eq!(msg, message(client, seq));
                    }
                    assert!(rx.next().await.is_none(), "more echoes than messages");
                };
                tokio::join!(send, receive);
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    server.await.unwrap();
    assert_eq!(served.load(Ordering::Relaxed), CLIENTS as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_200_clients_100_messages_each() {
    watchdog(120, many_clients("tcp://127.0.0.1:0")).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_200_clients_100_messages_each() {
    let dir = TempDir::new("stress");
    watchdog(120, many_clients(&format!("unix://{}", dir.join("s")))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mem_200_clients_100_messages_each() {
    watchdog(
        120,
        many_clients(&format!("mem://{}", unique_name("stress"))),
    )
    .await;
}

/// UDP: one listener demultiplexes many clients into their own connections; every client
/// gets its own echoes and nobody else's. Lockstep (one datagram in flight per client), so
/// no receive buffer overflows on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_50_clients_are_demultiplexed() {
    const UDP_CLIENTS: u32 = 50;
    const ROUNDS: u32 = 20;
    watchdog(60, async {
        let mut listener = anyipc::bind("udp://127.0.0.1:0").await.unwrap();
        let url = listener.endpoint().to_string();
        let server = tokio::spawn(async move {
            let mut connections = Vec::new();
            for _ in 0..UDP_CLIENTS {
                let mut conn = listener.accept().await.unwrap();
                connections.push(tokio::spawn(async move {
                    let mut owner = None;
                    for seq in 0..ROUNDS {
                        let msg = conn.next().await.unwrap().unwrap();
                        let (client, got) = parse(&msg);
                        assert_eq!(*owner.get_or_insert(client), client, "mixed clients");
                        assert_eq!(got, seq);
                        conn.send(msg).await.unwrap();
                    }
                }));
            }
            for connection in connections {
                connection.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..UDP_CLIENTS)
            .map(|client| {
                let url = url.clone();
                tokio::spawn(async move {
                    let mut conn = anyipc::connect(&url).await.unwrap();
                    for seq in 0..ROUNDS {
                        let msg = message(client, seq);
                        conn.send(msg.clone()).await.unwrap();
                        assert_eq!(conn.recv().await.unwrap().unwrap(), msg);
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        server.await.unwrap();
    })
    .await;
}
