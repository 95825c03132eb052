use super::workload::{ack, check_payload, parse_ack, payloads};
use super::{LatencyReport, Target, Workload};
use std::time::Duration;

#[test]
fn control_messages_round_trip() {
    for w in [
        Workload::latency(64, 50_000),
        Workload::latency(1 << 20, 10).with_warmup(0),
        Workload::throughput(4096, 262_144),
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
    for text in [
        "raw+tcp://127.0.0.1:9000",
        "raw+unix:///tmp/b.sock",
        "tcp://127.0.0.1:0",
    ] {
        let t: Target = text.parse().unwrap();
        assert_eq!(t.to_string(), text);
    }
    assert!("raw+tcp://nowhere".parse::<Target>().is_err());
    assert!("bogus://x".parse::<Target>().is_err());
}
