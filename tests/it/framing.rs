//! Framing edge cases with scripted I/O (`tokio_test::io::Builder`): partial reads, `Pending`
//! between chunks, mid-frame EOF, exactly `max_frame` and one more, empty messages, and what a
//! hostile length prefix may cost in memory.

use crate::util::{frame_error, length_frame, pattern, watchdog};
use anyipc::codec::{FrameCodec, FrameError, Framing, LengthCodec, LineCodec, RawCodec};
use anyipc::StreamFramed;
use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_test::io::Builder;
use tokio_util::codec::{Decoder, FramedRead, FramedWrite};

/// Everything a decoder yields until the end of the stream or an error.
async fn collect<D>(
    mut framed: FramedRead<tokio_test::io::Mock, D>,
) -> (Vec<Bytes>, Option<io::Error>)
where
    D: Decoder<Item = Bytes, Error = io::Error>,
{
    let mut out = Vec::new();
    while let Some(item) = framed.next().await {
        match item {
            Ok(msg) => out.push(msg),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

const TICK: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn length_header_split_and_body_byte_by_byte() {
    watchdog(10, async {
        let frame = length_frame(b"hello");
        let mut script = Builder::new();
        // The header in three reads with `Pending` between them, then the body a byte at a time.
        script
            .read(&frame[..1])
            .wait(TICK)
            .read(&frame[1..3])
            .wait(TICK)
            .read(&frame[3..4]);
        for byte in &frame[4..] {
            script.wait(TICK).read(std::slice::from_ref(byte));
        }
        script
            .read(&length_frame(b""))
            .read(&length_frame(b"second"));
        let (msgs, err) = collect(FramedRead::new(script.build(), LengthCodec::new(64))).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(msgs, ["hello", "", "second"]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn length_several_frames_in_one_read() {
    watchdog(10, async {
        let mut bytes = Vec::new();
        for body in [&b"a"[..], b"", b"bc", b"", b"def"] {
            bytes.extend(length_frame(body));
        }
        let mock = Builder::new().read(&bytes).build();
        let (msgs, err) = collect(FramedRead::new(mock, LengthCodec::new(64))).await;
        assert!(err.is_none());
        assert_eq!(msgs, ["a", "", "bc", "", "def"]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn length_eof_inside_header_and_body_is_unexpected_eof() {
    watchdog(10, async {
        for (cut, got) in [(2, 2), (4, 4), (7, 7)] {
            let frame = length_frame(b"0123456789");
            let mock = Builder::new()
                .read(&length_frame(b"whole"))
                .wait(TICK)
                .read(&frame[..cut])
                .build();
            let (msgs, err) = collect(FramedRead::new(mock, LengthCodec::new(64))).await;
            assert_eq!(msgs, ["whole"]);
            let err = err.expect("an error for a truncated frame");
            assert_eq!(
                err.kind(),
                io::ErrorKind::UnexpectedEof,
                "cut at {cut}: {err}"
            );
            assert_eq!(frame_error(&err), Some(&FrameError::Truncated { got }));
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn length_exactly_max_and_one_more() {
    watchdog(10, async {
        let max = 1000;
        let body = pattern(max);
        let mock = Builder::new().read(&length_frame(&body)).build();
        let (msgs, err) = collect(FramedRead::new(mock, LengthCodec::new(max))).await;
        assert!(err.is_none());
        assert_eq!(msgs, [body]);

        // One more: refused on the header alone, before any body arrives.
        let mock = Builder::new()
            .read(&((max + 1) as u32).to_be_bytes())
            .wait(Duration::from_secs(3600))
            .build();
        let (msgs, err) = collect(FramedRead::new(mock, LengthCodec::new(max))).await;
        assert!(msgs.is_empty());
        let err = err.unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            frame_error(&err),
            Some(&FrameError::TooLarge {
                len: max as u64 + 1,
                max
            })
        );
    })
    .await;
}

/// A 4 GiB length prefix is `InvalidData` at once, without allocating anything like it.
#[tokio::test(start_paused = true)]
async fn length_4gib_prefix_is_invalid_data_without_allocation() {
    watchdog(10, async {
        let mock = Builder::new()
            .read(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
            .wait(Duration::from_secs(3600))
            .build();
        let mut framed =
            FramedRead::new(mock, LengthCodec::new(anyipc::endpoint::DEFAULT_MAX_FRAME));
        let err = framed.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            frame_error(&err),
            Some(&FrameError::TooLarge {
                len: u32::MAX as u64,
                max: 8 << 20
            })
        );
        assert!(framed.read_buffer().capacity() < 1 << 20);
        // Also at the largest limit the codec takes (u32::MAX itself on 64-bit targets; on
        // 32-bit ones a little less, room for the header in a usize), with a frame of that
        // length: only what arrived plus a bounded reserve is allocated while it is awaited.
        let largest = LengthCodec::new(usize::MAX).max_frame() as u32;
        let [a, b, c, d] = largest.to_be_bytes();
        let mock = Builder::new()
            .read(&[a, b, c, d, 1, 2, 3])
            .wait(Duration::from_secs(3600))
            .build();
        let mut framed = FramedRead::new(mock, LengthCodec::new(usize::MAX));
        assert!(framed.next().now_or_never().is_none(), "no frame yet");
        let capacity = framed.read_buffer().capacity();
        assert!(
            capacity <= 512 * 1024,
            "capacity {capacity} while awaiting a 4 GiB frame"
        );
    })
    .await;
}

/// A legal but large announced frame that stalls costs a bounded reserve (256 KiB ahead of
/// the bytes that arrived), not the announced 8 MiB; growing with the arrivals is fine.
#[tokio::test]
async fn length_stalled_large_frame_reserves_little() {
    watchdog(20, async {
        let (mut peer, ours) = tokio::io::duplex(4 << 20);
        let mut framed = FramedRead::new(ours, LengthCodec::new(8 << 20));
        use tokio::io::AsyncWriteExt;
        peer.write_all(&(8u32 << 20).to_be_bytes()).await.unwrap();
        peer.write_all(&[7; 100]).await.unwrap();
        assert!(framed.next().now_or_never().is_none(), "no frame yet");
        let capacity = framed.read_buffer().capacity();
        assert!(
            capacity <= 300 * 1024,
            "capacity {capacity} after 104 bytes arrived"
        );

        let mut arrived = 100;
        for _ in 0..8 {
            peer.write_all(&pattern(100_000)).await.unwrap();
            arrived += 100_000;
            assert!(framed.next().now_or_never().is_none(), "no frame yet");
            let capacity = framed.read_buffer().capacity();
            // The decoder asks for at most 256 KiB beyond what arrived; BytesMut may round a
            // growth up to double its capacity. Proportional to arrivals, not to 8 MiB.
            assert!(
                capacity <= 2 * (arrived + 256 * 1024) + 16 * 1024,
                "capacity {capacity} after {arrived} bytes of an 8 MiB frame arrived"
            );
        }
        // The rest arrives: the whole frame is delivered.
        let rest = (8 << 20) - arrived;
        let writer = tokio::spawn(async move {
            peer.write_all(&vec![9; rest]).await.unwrap();
            peer
        });
        let frame = framed.next().await.unwrap().unwrap();
        assert_eq!(frame.len(), 8 << 20);
        assert_eq!(&frame[..100], &[7; 100]);
        assert_eq!(frame[frame.len() - 1], 9);
        drop(writer.await.unwrap());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn lines_split_crlf_and_final_line_without_newline() {
    watchdog(10, async {
        let mock = Builder::new()
            .read(b"fir")
            .wait(TICK)
            .read(b"st\r")
            .wait(TICK)
            .read(b"\nsecond\n\n\r\nth")
            .wait(TICK)
            .read(b"ird")
            .build();
        let (msgs, err) = collect(FramedRead::new(mock, LineCodec::new(64))).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(msgs, ["first", "second", "", "", "third"]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn lines_exactly_max_and_one_more() {
    watchdog(10, async {
        let max = 100;
        let line = vec![b'x'; max];
        let long = vec![b'y'; max + 1];
        for (input, expected) in [
            ([&line[..], b"\n"].concat(), Ok(())),
            ([&line[..], b"\r\n"].concat(), Ok(())),
            (line.clone(), Ok(())), // the last line, without newline
            ([&long[..], b"\n"].concat(), Err(())),
            ([&long[..], b"\r\n"].concat(), Err(())),
            (long.clone(), Err(())),
            ([&long[..], b"more"].concat(), Err(())),
        ] {
            let mock = Builder::new()
                .read(&input[..input.len() / 2])
                .wait(TICK)
                .read(&input[input.len() / 2..])
                .build();
            let (msgs, err) = collect(FramedRead::new(mock, LineCodec::new(max))).await;
            match expected {
                Ok(()) => {
                    assert!(err.is_none(), "{err:?}");
                    assert_eq!(msgs, [Bytes::from(line.clone())]);
                }
                Err(()) => {
                    assert!(msgs.is_empty());
                    let err = err.expect("a line over max_frame is an error");
                    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
                    assert!(matches!(
                        frame_error(&err),
                        Some(FrameError::TooLarge { .. })
                    ));
                }
            }
        }
    })
    .await;
}

/// After a line over `max_frame` a connection's stream goes straight on to the next line;
/// after a length over it the stream is over for good. (Both used to yield a false end once,
/// then read on: a length-framed stream then waited, and reported the same length again
/// once more bytes came.)
#[tokio::test(start_paused = true)]
async fn after_a_frame_error_lines_go_on_and_length_ends_for_good() {
    watchdog(10, async {
        let long = [&[b'y'; 20][..], b"\n"].concat();
        let mock = Builder::new()
            .read(b"one\n")
            .read(&long)
            .wait(TICK)
            .read(b"two\n")
            .build();
        let mut lines = StreamFramed::new(mock, FrameCodec::new(Framing::Lines, 10), 1024);
        assert_eq!(lines.next().await.unwrap().unwrap(), "one");
        let err = lines.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(lines.next().await.unwrap().unwrap(), "two");
        assert!(lines.next().await.is_none());

        let (mut peer, stream) = tokio::io::duplex(1024);
        let mut length = StreamFramed::new(stream, FrameCodec::new(Framing::Length, 10), 1024);
        peer.write_all(&length_frame(b"one")).await.unwrap();
        peer.write_all(&length_frame(&[b'y'; 20])).await.unwrap();
        assert_eq!(length.next().await.unwrap().unwrap(), "one");
        let err = length.next().await.unwrap().unwrap_err();
        assert!(matches!(
            frame_error(&err),
            Some(FrameError::TooLarge { .. })
        ));
        // The peer is still there and sends on.
        for _ in 0..3 {
            peer.write_all(&length_frame(b"two")).await.unwrap();
            assert!(length.next().await.is_none());
        }
    })
    .await;
}

/// A line that never ends is refused once it passes `max_frame`, not buffered for ever.
#[tokio::test(start_paused = true)]
async fn lines_endless_line_is_refused_early() {
    watchdog(10, async {
        let max = 1000;
        // No newline and no end of stream: the error must come from the length alone.
        let mock = Builder::new()
            .read(&[b'z'; 600])
            .wait(TICK)
            .read(&[b'z'; 600])
            .wait(Duration::from_secs(3600))
            .build();
        let mut framed = FramedRead::new(mock, LineCodec::new(max));
        let err = framed.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn lines_send_newline_is_invalid_input() {
    watchdog(10, async {
        let mock = Builder::new()
            .write(b"ok\n")
            .write(b"in\rside\n")
            .write(b"\n")
            .write(b"after\n")
            .build();
        let mut framed = FramedWrite::new(mock, LineCodec::new(64));
        framed.send(Bytes::from_static(b"ok")).await.unwrap();
        framed.send(Bytes::from_static(b"in\rside")).await.unwrap();
        for bad in [&b"two\nlines"[..], b"\n", b"end\n"] {
            let err = framed.send(Bytes::from_static(bad)).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(frame_error(&err), Some(&FrameError::NewlineInLine));
        }
        // A `\r` at the end would be taken as part of a `\r\n` line end and dropped; inside
        // a line it arrives as sent.
        for bad in [&b"abc\r"[..], b"\r"] {
            let err = framed.send(Bytes::from_static(bad)).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(
                frame_error(&err),
                Some(&FrameError::CarriageReturnAtLineEnd)
            );
        }
        framed.send(Bytes::new()).await.unwrap();
        framed.send(Bytes::from_static(b"after")).await.unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn encoders_exactly_max_and_one_more() {
    watchdog(10, async {
        let max = 500;
        for framing in [Framing::Length, Framing::Lines, Framing::Raw] {
            let body = Bytes::from(vec![b'm'; max]);
            let expected = match framing {
                Framing::Length => length_frame(&body),
                Framing::Lines => [&body[..], b"\n"].concat(),
                Framing::Raw => body.to_vec(),
            };
            let mock = Builder::new().write(&expected).build();
            let mut framed = FramedWrite::new(mock, FrameCodec::new(framing, max));
            framed.send(body).await.unwrap();
            let err = framed
                .send(Bytes::from(vec![b'm'; max + 1]))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{framing}");
            assert_eq!(
                frame_error(&err),
                Some(&FrameError::SendTooLarge { len: max + 1, max }),
                "{framing}"
            );
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn raw_reads_are_messages_of_at_most_max() {
    watchdog(10, async {
        let max = 10;
        let mock = Builder::new()
            .read(b"abc")
            .wait(TICK)
            .read(&[b'x'; 10])
            .wait(TICK)
            .read(&[b'y'; 11])
            .build();
        let (msgs, err) = collect(FramedRead::new(mock, RawCodec::new(max))).await;
        assert!(err.is_none());
        assert_eq!(msgs, [&b"abc"[..], &[b'x'; 10], &[b'y'; 10], b"y"]);
    })
    .await;
}

/// Both directions through one `StreamFramed`: what a byte-stream connection does.
#[tokio::test(start_paused = true)]
async fn framed_duplex_length() {
    watchdog(10, async {
        let mock = Builder::new()
            .read(&length_frame(b"ping"))
            .write(&length_frame(b"pong"))
            .wait(TICK)
            .read(&length_frame(b""))
            .write(&length_frame(b""))
            .build();
        let mut framed = StreamFramed::new(mock, FrameCodec::new(Framing::Length, 64), 1024);
        assert_eq!(framed.next().await.unwrap().unwrap(), "ping");
        framed.send(Bytes::from_static(b"pong")).await.unwrap();
        assert_eq!(framed.next().await.unwrap().unwrap(), "");
        framed.send(Bytes::new()).await.unwrap();
        assert!(framed.next().await.is_none());
    })
    .await;
}

/// Large messages are written from their own memory, between the small ones gathered before
/// and after them: the bytes on the stream are exactly the frames in order, for every framing,
/// also when the stream takes each write only in part.
#[tokio::test(start_paused = true)]
async fn large_messages_keep_their_place_among_small_ones() {
    watchdog(10, async {
        let big = Bytes::from(vec![b'x'; 100_000]);
        for framing in [Framing::Length, Framing::Lines, Framing::Raw] {
            let frame = |body: &[u8]| match framing {
                Framing::Length => length_frame(body),
                Framing::Lines => [body, b"\n"].concat(),
                Framing::Raw => body.to_vec(),
            };
            let expected = [frame(b"one"), frame(&big), frame(b"two"), frame(&big)].concat();
            // The mock accepts the script in pieces of 7,000 bytes: every write is partial.
            let mut script = Builder::new();
            for piece in expected.chunks(7_000) {
                script.write(piece);
            }
            let codec = FrameCodec::new(framing, 1 << 20);
            let mut framed = StreamFramed::new(script.build(), codec, 64 * 1024);
            for msg in [&b"one"[..], &big, b"two", &big] {
                framed.feed(Bytes::copy_from_slice(msg)).await.unwrap();
            }
            framed.flush().await.unwrap();
        }
    })
    .await;
}

/// The same through vectored writes (the mock above does not take them): a
/// `tokio::io::duplex` pipe of 7,000 bytes takes every `poll_write_vectored` in part, and a
/// reader on the other end sees exactly the frames in order.
#[tokio::test]
async fn large_messages_keep_their_place_through_partial_vectored_writes() {
    watchdog(10, async {
        let big = Bytes::from((0..100_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let (writer, mut reader) = tokio::io::duplex(7_000);
        assert!(tokio::io::AsyncWrite::is_write_vectored(&writer));
        let expected = [
            length_frame(b"one"),
            length_frame(&big),
            length_frame(b"two"),
            length_frame(&big),
        ]
        .concat();
        let read_all = tokio::spawn(async move {
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut got)
                .await
                .unwrap();
            got
        });
        let codec = FrameCodec::new(Framing::Length, 1 << 20);
        let mut framed = StreamFramed::new(writer, codec, 64 * 1024);
        for msg in [&b"one"[..], &big, b"two", &big] {
            framed.feed(Bytes::copy_from_slice(msg)).await.unwrap();
        }
        framed.close().await.unwrap();
        drop(framed);
        assert!(read_all.await.unwrap() == expected, "the bytes differ");
    })
    .await;
}

/// A large message the codec refuses is refused before anything of it is queued.
#[tokio::test]
async fn refused_large_message_leaves_the_stream_clean() {
    let mock = Builder::new().write(&length_frame(b"after")).build();
    let mut framed = StreamFramed::new(mock, FrameCodec::new(Framing::Length, 50_000), 1024);
    let err = framed
        .send(Bytes::from(vec![0u8; 50_001]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    framed.send(Bytes::from_static(b"after")).await.unwrap();
}

/// Each framing over real sockets, end to end through `Connection`.
async fn framings_over(url: &str) {
    for framing in ["length", "lines", "raw"] {
        let url = crate::conformance::with_options(url, &[("framing", framing)]);
        let mut listener = anyipc::bind(&url).await.unwrap();
        let mut client = anyipc::connect(listener.endpoint()).await.unwrap();
        let mut server = listener.accept().await.unwrap();
        for i in 0..50 {
            // Every tenth message is large enough to be written from its own memory.
            let msg = if i % 10 == 9 {
                Bytes::from(format!("{i}").repeat(40_000))
            } else {
                Bytes::from(format!("message {i} over {framing}"))
            };
            client.send(msg.clone()).await.unwrap();
            // Raw framing keeps no boundaries: collect bytes until the message is complete.
            let mut got = Vec::new();
            while got.len() < msg.len() {
                got.extend_from_slice(&server.recv().await.unwrap().unwrap());
            }
            assert_eq!(got, msg, "{framing}");
            server.send(Bytes::from(got)).await.unwrap();
            let mut back = Vec::new();
            while back.len() < msg.len() {
                back.extend_from_slice(&client.recv().await.unwrap().unwrap());
            }
            assert_eq!(back, msg, "{framing}");
        }
        client.close().await.unwrap();
        assert!(server.recv().await.unwrap().is_none(), "{framing}");
    }
}

#[tokio::test]
async fn framings_over_tcp() {
    watchdog(30, framings_over("tcp://127.0.0.1:0")).await;
}

#[cfg(unix)]
#[tokio::test]
async fn framings_over_unix() {
    let dir = crate::util::TempDir::new("framing");
    watchdog(30, framings_over(&format!("unix://{}", dir.join("s")))).await;
}
