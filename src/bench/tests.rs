use super::responder::{Answer, Responder};
use super::workload::{
    ack, check_payload, is_acknowledgement, is_control, parse_ack, payloads, READY,
};
use super::{LatencyReport, Target, Workload, BASELINES, TRANSPORTS};
use bytes::Bytes;
use std::time::Duration;

#[test]
fn control_messages_round_trip() {
    for w in [
        Workload::latency(64, 50_000),
        Workload::latency(1 << 20, 10).with_warmup(0),
        Workload::throughput(4096, 262_144),
        Workload::throughput(64, 5_000_000).with_batch(1024),
    ] {
        assert_eq!(Workload::parse_control(&w.control_message()).unwrap(), w);
    }
}

#[test]
fn bad_control_messages_are_invalid_data() {
    for bad in [
        &b""[..],
        b"hello",
        b"anyipc-bench/1 latency 64",
        b"anyipc-bench/1 sideways 64 1",
        b"anyipc-bench/2 throughput 64 1",
        b"anyipc-bench/1 throughput 0 10",
        b"anyipc-bench/1 throughput 64 10 0",
        b"anyipc-bench/1 throughput 64 10 8 9",
        b"anyipc-bench/1 throughput +64 10",
        b"anyipc-bench/1 throughput 64 10 +8",
        b"anyipc-bench/1 latency 64 -1 10",
        b"\xff\xfe",
    ] {
        let err = Workload::parse_control(bad).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{bad:?}");
    }
}

#[test]
fn acks_carry_the_count_or_the_error() {
    assert_eq!(parse_ack(&ack(12_345, None)).unwrap(), 12_345);
    let err = parse_ack(&ack(3, Some("message 2: length 5, expected 6"))).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("length 5"));
    assert!(parse_ack(b"anyipc-bench/1 ready").is_err());
}

#[test]
fn payloads_are_written_whole_and_never_read_as_control() {
    // Written, not left as zeroed pages the timed loop would fault in (and that all alias
    // the one zero page): every byte between the ends is non-zero filler. The same code
    // builds every size; larger ones would only slow the emulated test runs down.
    for size in [1, 2, 3, 64, 4096] {
        for m in payloads(size) {
            assert!(!is_control(&m));
            if size > 2 {
                assert_eq!(m[1], 0, "the second byte keeps payloads apart from control");
                assert!(m[2..size - 1].iter().all(|&b| b != 0));
            }
        }
    }
}

#[test]
fn payloads_pass_their_own_check_and_damage_is_caught() {
    for size in [1, 2, 64, 4096] {
        let msgs = payloads(size);
        assert!(msgs.len() >= 2);
        for m in &msgs {
            check_payload(m, size).unwrap();
        }
    }
    let mut damaged = payloads(64)[1].to_vec();
    damaged[63] ^= 1;
    assert!(check_payload(&damaged, 64).is_err());
    assert!(check_payload(&damaged[..63], 64).is_err());
}

#[test]
fn percentiles_are_nearest_rank() {
    let mut one = vec![Duration::from_micros(7)];
    let r = LatencyReport::from_samples(64, &mut one);
    assert_eq!(
        (r.p50, r.p99, r.p999, r.mean),
        (one[0], one[0], one[0], one[0])
    );

    let mut thousand: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
    let r = LatencyReport::from_samples(64, &mut thousand);
    assert_eq!(r.p50, Duration::from_micros(500));
    assert_eq!(r.p99, Duration::from_micros(990));
    assert_eq!(r.p999, Duration::from_micros(999));
    assert_eq!(r.min, Duration::from_micros(1));
    assert_eq!(r.mean, Duration::from_nanos(500_500));

    let r = LatencyReport::from_samples(64, &mut []);
    assert_eq!((r.count, r.p50), (0, Duration::ZERO));
}

#[test]
fn targets_parse_and_display() {
    // `raw+unix` is a Unix socket: not a target elsewhere.
    let unix_only: &[&str] = if cfg!(unix) {
        &["raw+unix:///tmp/b.sock"]
    } else {
        &[]
    };
    for &text in ["raw+tcp://127.0.0.1:9000", "tcp://127.0.0.1:0"]
        .iter()
        .chain(unix_only)
    {
        let t: Target = text.parse().unwrap();
        assert_eq!(t.to_string(), text);
    }
    assert!("raw+tcp://nowhere".parse::<Target>().is_err());
    assert!("bogus://x".parse::<Target>().is_err());
}

#[cfg(unix)]
#[test]
fn raw_pipe_twin_targets_parse_and_display() {
    let child: Target = "raw+child://".parse().unwrap();
    assert_eq!(child, Target::RawChild);
    assert_eq!(child.to_string(), "raw+child://");
    // A path with ` + ` in it is still one FIFO path, not a pair.
    let fifo: Target = "raw+fifo:///tmp/a + b/twin".parse().unwrap();
    assert_eq!(
        fifo,
        Target::RawFifo(std::path::PathBuf::from("/tmp/a + b/twin"))
    );
    // Written back escaped, as anyipc URLs are, and read back the same.
    assert_eq!(fifo.to_string(), "raw+fifo:///tmp/a%20+%20b/twin");
    assert_eq!(fifo.to_string().parse::<Target>().unwrap(), fifo);
    for t in [&child, &fifo] {
        assert!(t.is_raw() && t.is_raw_child() && !t.is_child());
    }
    for bad in ["raw+child://x", "raw+fifo://", "raw+unix://"] {
        let err = bad.parse::<Target>().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
    }
    let unix: Target = "raw+unix:///tmp/b.sock".parse().unwrap();
    assert!(!unix.is_raw_child());
}

#[test]
fn every_twin_a_transport_names_is_a_baseline() {
    for t in TRANSPORTS {
        assert!(
            BASELINES.iter().any(|b| b.name == t.twin),
            "{}: no raw twin {}",
            t.name,
            t.twin
        );
    }
    let twin_of = |name: &str| TRANSPORTS.iter().find(|t| t.name == name).unwrap().twin;
    assert_eq!(twin_of("tcp"), "tcp-twin");
    assert_eq!(twin_of("child"), "child-twin");
    assert_eq!(twin_of("fifo"), "fifo-twin");
    assert_eq!(twin_of("unix"), "baseline");
    // The FIFO twin carries fifo's message sizes, so the two compare like with like.
    let twin = BASELINES.iter().find(|b| b.name == "fifo-twin").unwrap();
    let fifo = TRANSPORTS.iter().find(|t| t.name == "fifo").unwrap();
    for size in [64, 4096, 65_536] {
        assert_eq!(twin.message_size(size), fifo.message_size(size));
    }
}

#[test]
fn pair_targets_parse_and_display() {
    let text = "fifo:///tmp/a.fifo + fifo:///tmp/b%20c.fifo";
    let t: Target = text.parse().unwrap();
    let Target::Pair { to_peer, from_peer } = &t else {
        panic!("not a pair: {t:?}");
    };
    assert_eq!(to_peer.path().unwrap(), std::path::Path::new("/tmp/a.fifo"));
    assert_eq!(
        from_peer.path().unwrap(),
        std::path::Path::new("/tmp/b c.fifo")
    );
    assert_eq!(t.to_string(), text);
    assert!(!t.is_raw() && !t.is_child());
    assert!("stdio://".parse::<Target>().unwrap().is_child());
    assert!("fifo:///tmp/a + bogus://x".parse::<Target>().is_err());
    for (text, ends) in [
        (
            "tcp://127.0.0.1:0 + tcp://127.0.0.1:0 + tcp://127.0.0.1:0",
            3,
        ),
        ("tcp://127.0.0.1:0 +", 1),
        ("+ tcp://127.0.0.1:0", 1),
    ] {
        let err = text.parse::<Target>().unwrap_err().to_string();
        assert!(err.contains(&format!("this has {ends}")), "{text}: {err}");
    }
}

#[test]
fn no_payload_is_taken_for_a_control_message() {
    for size in 1..=300 {
        for msg in payloads(size) {
            assert!(!is_control(&msg), "payload of {size} B");
        }
    }
    for w in [Workload::latency(64, 10), Workload::throughput(1, 1)] {
        assert!(is_control(&w.control_message()));
    }
    assert!(is_acknowledgement(&ack(3, None)));
    assert!(is_acknowledgement(&ack(3, Some("bad"))));
    assert!(!is_acknowledgement(READY));
}

#[test]
fn the_responder_takes_batches_only_during_a_batch_run() {
    let mut r = Responder::default();
    assert!(!r.batched());
    let batch = Workload::throughput(64, 2).with_batch(2);
    assert_eq!(
        r.answer_slice(&batch.control_message()).unwrap(),
        Answer::Ready
    );
    assert!(r.batched());
    let msgs = payloads(64);
    for m in &msgs[..2] {
        assert_eq!(r.answer_slice(m).unwrap(), Answer::Nothing);
    }
    assert_eq!(r.answer_slice(b"").unwrap(), Answer::Reply(ack(2, None)));
    // The next run, one message at a time or latency, is not batched.
    let single = Workload::throughput(64, 2);
    assert_eq!(
        r.answer_slice(&single.control_message()).unwrap(),
        Answer::Ready
    );
    assert!(!r.batched());
    assert_eq!(
        r.answer(Workload::latency(64, 1).control_message())
            .unwrap(),
        Answer::Ready
    );
    assert!(!r.batched());
    // A latency echo of a message seen as bytes is a copy of it.
    assert_eq!(
        r.answer_slice(&msgs[0]).unwrap(),
        Answer::Reply(msgs[0].clone())
    );
}

#[test]
fn the_responder_serves_runs_one_after_another() {
    let mut r = Responder::default();
    // Nothing before a control message.
    let err = r.answer(Bytes::from_static(b"hello")).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);

    let throughput = Workload::throughput(64, 3);
    assert_eq!(
        r.answer(throughput.control_message()).unwrap(),
        Answer::Ready
    );
    let msgs = payloads(64);
    for m in &msgs[..2] {
        assert_eq!(r.answer(m.clone()).unwrap(), Answer::Nothing);
    }
    assert_eq!(r.answer(Bytes::new()).unwrap(), Answer::Reply(ack(2, None)));
    // A repeated end marker gets the same total.
    assert_eq!(r.answer(Bytes::new()).unwrap(), Answer::Reply(ack(2, None)));

    // The next run starts afresh, on the same responder.
    let latency = Workload::latency(64, 1);
    assert_eq!(r.answer(latency.control_message()).unwrap(), Answer::Ready);
    assert_eq!(
        r.answer(msgs[0].clone()).unwrap(),
        Answer::Reply(msgs[0].clone())
    );
    assert_eq!(
        r.answer(throughput.control_message()).unwrap(),
        Answer::Ready
    );
    assert_eq!(r.answer(Bytes::new()).unwrap(), Answer::Reply(ack(0, None)));

    // A damaged payload is reported in the acknowledgement.
    let mut damaged = msgs[1].to_vec();
    damaged[63] ^= 1;
    assert_eq!(r.answer(Bytes::from(damaged)).unwrap(), Answer::Nothing);
    let Answer::Reply(reply) = r.answer(Bytes::new()).unwrap() else {
        panic!("no acknowledgement");
    };
    assert!(parse_ack(&reply).is_err());

    // A malformed control message is InvalidData, not a payload.
    let err = r
        .answer(Bytes::from_static(b"anyipc-bench/1 latency x"))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn message_sizes_follow_each_transports_limit() {
    let spec = |name: &str| *TRANSPORTS.iter().find(|t| t.name == name).unwrap();
    assert_eq!(spec("udp").message_size(65_536), Ok(65_507));
    assert!(spec("udp").message_size(1 << 20).is_err());
    // A FIFO frame is one atomic write of PIPE_BUF bytes, its 4-byte length included: 4,096
    // on Linux, 512 on macOS and FreeBSD; no FIFOs on Windows.
    #[cfg(target_os = "linux")]
    assert_eq!(spec("fifo").message_size(4096), Ok(4092));
    #[cfg(unix)]
    assert_eq!(
        spec("fifo").message_size(crate::fifo::MAX_ATOMIC_FRAME),
        Ok(crate::fifo::MAX_ATOMIC_FRAME - 4)
    );
    #[cfg(not(unix))]
    assert!(spec("fifo").message_size(64).is_err());
    assert!(spec("fifo").message_size(65_536).is_err());
    assert_eq!(spec("mq").message_size(1 << 20), Ok(1 << 20));
    assert!(spec("mq").message_size(2 << 20).is_err());
    assert_eq!(spec("tcp").message_size(1 << 20), Ok(1 << 20));
}

/// A run directory whose path a URL must escape (`TMPDIR=/tmp/50%` made every path-based
/// target of `anyipc tour` invalid, `?` cut it at the query) is the directory the targets
/// name. Unix: the raw baselines (`raw+unix`, `raw+fifo`, `raw+child`) are Unix mechanisms,
/// not targets elsewhere.
#[cfg(unix)]
#[test]
fn every_transport_template_makes_a_target() {
    for dir in ["/tmp/anyipc-x", "/tmp/50%/a?b #c"] {
        every_template_makes_a_target_in(std::path::Path::new(dir));
    }
}

#[cfg(unix)]
fn every_template_makes_a_target_in(dir: &std::path::Path) {
    for spec in TRANSPORTS.iter().chain(BASELINES) {
        let target = spec
            .target("unique-1", dir)
            .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        let one_way = matches!(spec.name, "fifo" | "file" | "mq");
        assert_eq!(
            matches!(target, Target::Pair { .. }),
            one_way,
            "{}: {target}",
            spec.name
        );
        // The text form goes to a peer's command line and must come back the same.
        assert_eq!(target.to_string().parse::<Target>().unwrap(), target);
        let mut paths = Vec::new();
        match &target {
            Target::Pair { to_peer, from_peer } => {
                paths.extend(to_peer.path().into_iter().chain(from_peer.path()));
            }
            Target::Anyipc(endpoint) => paths.extend(endpoint.path()),
            Target::RawUnix(path) | Target::RawFifo(path) => paths.push(path.as_path()),
            _ => {}
        }
        for path in paths {
            assert_eq!(path.parent(), Some(dir), "{}: {target}", spec.name);
        }
    }
}

#[tokio::test]
async fn a_run_skips_acknowledgements_left_over_from_the_one_before() {
    use futures::StreamExt;
    let mut listener = crate::bind("mem://bench-stale-acks").await.unwrap();
    let mut client = crate::connect("mem://bench-stale-acks").await.unwrap();
    let peer = tokio::spawn(async move {
        let mut conn = listener.accept().await.unwrap();
        let control = conn.next().await.unwrap().unwrap();
        assert!(is_control(&control));
        // Answers to end markers the previous run sent again, still on their way.
        conn.send(ack(10, None)).await.unwrap();
        conn.send(ack(10, None)).await.unwrap();
        conn.send(Bytes::from_static(READY)).await.unwrap();
        while let Some(Ok(msg)) = conn.next().await {
            conn.send(msg).await.unwrap();
        }
    });
    let report = super::run_client(&mut client, &Workload::latency(64, 20))
        .await
        .unwrap();
    assert_eq!(report.latency().unwrap().count, 20);
    drop(client);
    peer.await.unwrap();
}

#[test]
fn count_payload_takes_payloads_of_a_throughput_run_only() {
    let mut r = Responder::default();
    let msgs = payloads(64);
    // Before any run, and during a latency run, nothing is a payload to count.
    assert!(!r.count_payload(&msgs[0]));
    r.answer(Workload::latency(64, 1).control_message())
        .unwrap();
    assert!(!r.count_payload(&msgs[0]));

    let run = Workload::throughput(64, 3);
    r.answer(run.control_message()).unwrap();
    assert!(r.count_payload(&msgs[0]));
    // End markers and control messages are left to `answer`.
    assert!(!r.count_payload(b""));
    assert!(!r.count_payload(&run.control_message()));
    // A damaged payload is counted, and the acknowledgement names it.
    let mut damaged = msgs[1].to_vec();
    damaged[63] ^= 1;
    assert!(r.count_payload(&damaged));
    match r.answer(Bytes::new()).unwrap() {
        Answer::Reply(ack) => {
            assert!(is_acknowledgement(&ack));
            assert!(
                String::from_utf8_lossy(&ack).contains("message 1"),
                "{ack:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// A pair with a socket end would wait for ever on its way back (the peer connects back
/// only once it has the run's first message): refused at once instead.
#[tokio::test]
async fn measure_refuses_a_pair_with_an_end_that_is_not_one_way() {
    let back = std::env::temp_dir().join(format!("anyipc-pair-back-{}.sock", std::process::id()));
    let target: Target = format!("mq://anyipc-pair-to-nobody + unix://{}", back.display())
        .parse()
        .unwrap();
    let measured = tokio::time::timeout(
        Duration::from_secs(10),
        super::measure(&target, &Workload::latency(64, 1)),
    )
    .await
    .expect("measure waited");
    let err = measured.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("anyipc bench"), "{err}");
}

#[tokio::test]
async fn a_peer_that_cannot_be_started_is_named_in_the_error() {
    let missing = "/nonexistent/anyipc-bench-peer";
    let make = move || tokio::process::Command::new(missing);
    // Peers on pipes (`stdio://`, a raw twin's child) are Unix-only (elsewhere Unsupported).
    let targets: &[&str] = match cfg!(unix) {
        true => &["tcp://127.0.0.1:0", "stdio://", "raw+child://"],
        false => &["tcp://127.0.0.1:0"],
    };
    for target in targets {
        let target: Target = target.parse().unwrap();
        let err = super::PeerProcess::start(make, &target).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{target}: {err}");
        assert!(
            err.to_string()
                .contains("cannot start the peer process /nonexistent/anyipc-bench-peer"),
            "{target}: {err}"
        );
    }
}
