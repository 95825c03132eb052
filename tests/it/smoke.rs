use futures::{SinkExt, StreamExt};

async fn round_trip(url: &str) {
    let mut listener = anyipc::bind(url).await.unwrap();
    let url = listener.endpoint().to_string();
    let server = tokio::spawn(async move {
        let mut conn = listener.accept().await.unwrap();
        while let Some(msg) = conn.next().await {
            conn.send(msg.unwrap()).await.unwrap();
        }
    });
    let mut client = anyipc::connect(&url).await.unwrap();
    for i in 0..100u32 {
        let msg = bytes::Bytes::from(format!("message {i}"));
        client.send(msg.clone()).await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), msg);
    }
    client.close().await.unwrap();
    if !url.starts_with("udp") {
        assert!(client.recv().await.unwrap().is_none());
        server.await.unwrap();
    }
}

#[tokio::test]
async fn smoke_all() {
    round_trip("tcp://127.0.0.1:0").await;
    round_trip("udp://127.0.0.1:0").await;
    round_trip("mem://smoke").await;
    let dir = std::env::temp_dir().join(format!("anyipc-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    round_trip(&format!("unix://{}/s.sock", dir.display())).await;
    round_trip(&format!("unix://@anyipc-smoke-{}", std::process::id())).await;
    round_trip(&format!("unix://{}/l.sock?framing=lines", dir.display())).await;
}
