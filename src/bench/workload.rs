use bytes::Bytes;
use std::fmt;
use std::io;

/// The protocol tag every control message, reply and acknowledgement starts with.
const TAG: &str = "anyipc-bench/1";

/// Warm-up round trips of a latency run unless [`Workload::with_warmup`] says otherwise.
const DEFAULT_WARMUP: usize = 2_000;

/// Payload messages of a throughput run are built once in this many variants (cloning a
/// [`Bytes`] is a reference count) so the timed loop does no copying of its own.
const MAX_VARIANTS: usize = 256;

/// The bytes of a payload between its ends (see [`payloads`]).
const FILLER: u8 = 0x5A;

/// Bytes held by the payload variants of a throughput run, at most (beyond two variants).
const VARIANT_BUDGET: usize = 64 << 20;

/// What one measurement run does; the peer learns it from the run's first message.
///
/// ```
/// use anyipc::bench::Workload;
///
/// let w = Workload::throughput(4096, 1000);
/// let control = w.control_message();
/// assert_eq!(Workload::parse_control(&control)?, w);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// W1 ping-pong: `warmup` untimed round trips, then `count` round trips timed one by one,
    /// each an S-byte message echoed whole by the peer.
    Latency {
        /// Message size in bytes (at least 1).
        size: usize,
        /// Timed round trips.
        count: usize,
        /// Untimed round trips first.
        warmup: usize,
    },
    /// W2 one-way throughput: `count` messages of `size` bytes sent as fast as the transport
    /// accepts them, then one acknowledgement from the peer.
    Throughput {
        /// Message size in bytes (at least 1).
        size: usize,
        /// Messages sent.
        count: usize,
        /// Messages per call: 1 sends and receives one message at a time (the `Sink` and
        /// `Stream`); more sends them with [`Connection::send_many`](crate::Connection::send_many)
        /// and has the peer receive with
        /// [`Connection::recv_batch`](crate::Connection::recv_batch).
        batch: usize,
    },
}

impl Workload {
    /// A latency run of `count` timed round trips after `min(count, 2000)` warm-up ones.
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// let w = Workload::latency(64, 10);
    /// assert_eq!(w, Workload::Latency { size: 64, count: 10, warmup: 10 });
    /// // At most 2,000 warm-up round trips.
    /// let w = Workload::latency(64, 100_000);
    /// assert_eq!(w, Workload::Latency { size: 64, count: 100_000, warmup: 2_000 });
    /// ```
    pub fn latency(size: usize, count: usize) -> Workload {
        Workload::Latency {
            size,
            count,
            warmup: count.min(DEFAULT_WARMUP),
        }
    }

    /// A throughput run of `count` messages of `size` bytes.
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// let w = Workload::throughput(4096, 100);
    /// assert_eq!(w, Workload::Throughput { size: 4096, count: 100, batch: 1 });
    /// assert_eq!(w.to_string(), "throughput 4096 B × 100");
    /// ```
    pub fn throughput(size: usize, count: usize) -> Workload {
        Workload::Throughput {
            size,
            count,
            batch: 1,
        }
    }

    /// The same throughput run sending `batch` messages per `send_many` call, received with
    /// `recv_batch` (no effect on latency runs). Only a run over a
    /// [`Connection`](crate::Connection) can do it. A batch of 0 is refused when the run
    /// starts (`InvalidInput`).
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// let w = Workload::throughput(64, 1000).with_batch(256);
    /// assert_eq!(Workload::parse_control(&w.control_message())?, w);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_batch(self, batch: usize) -> Workload {
        match self {
            Workload::Throughput { size, count, .. } => Workload::Throughput { size, count, batch },
            other => other,
        }
    }

    /// Messages per call of a throughput run (1 for one at a time, and for latency runs).
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// assert_eq!(Workload::throughput(64, 100).batch(), 1);
    /// assert_eq!(Workload::throughput(64, 100).with_batch(10).batch(), 10);
    /// assert_eq!(Workload::latency(64, 100).with_batch(10).batch(), 1);
    /// ```
    pub fn batch(&self) -> usize {
        match *self {
            Workload::Throughput { batch, .. } => batch,
            Workload::Latency { .. } => 1,
        }
    }

    /// The same latency run with `warmup` warm-up round trips (no effect on throughput runs).
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// let w = Workload::latency(64, 10).with_warmup(0);
    /// assert_eq!(w, Workload::Latency { size: 64, count: 10, warmup: 0 });
    /// let t = Workload::throughput(64, 10);
    /// assert_eq!(t.with_warmup(5), t);
    /// ```
    pub fn with_warmup(self, warmup: usize) -> Workload {
        match self {
            Workload::Latency { size, count, .. } => Workload::Latency {
                size,
                count,
                warmup,
            },
            other => other,
        }
    }

    /// The message size in bytes.
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// assert_eq!(Workload::latency(64, 10).size(), 64);
    /// assert_eq!(Workload::throughput(4096, 10).with_batch(5).size(), 4096);
    /// ```
    pub fn size(&self) -> usize {
        match *self {
            Workload::Latency { size, .. } | Workload::Throughput { size, .. } => size,
        }
    }

    /// Timed round trips or messages sent.
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// assert_eq!(Workload::latency(64, 10).with_warmup(100).count(), 10); // warm-up not counted
    /// assert_eq!(Workload::throughput(4096, 1_000).count(), 1_000);
    /// ```
    pub fn count(&self) -> usize {
        match *self {
            Workload::Latency { count, .. } | Workload::Throughput { count, .. } => count,
        }
    }

    /// `"latency"` or `"throughput"`.
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// assert_eq!(Workload::latency(64, 10).mode(), "latency");
    /// assert_eq!(Workload::throughput(64, 10).with_batch(5).mode(), "throughput");
    /// ```
    pub fn mode(&self) -> &'static str {
        match self {
            Workload::Latency { .. } => "latency",
            Workload::Throughput { .. } => "throughput",
        }
    }

    /// The first message of a run, telling the peer what to do:
    /// `anyipc-bench/1 latency SIZE COUNT WARMUP` or `anyipc-bench/1 throughput SIZE COUNT`.
    ///
    /// ```
    /// use anyipc::bench::Workload;
    ///
    /// let w = Workload::latency(64, 10).with_warmup(5);
    /// assert_eq!(w.control_message(), "anyipc-bench/1 latency 64 10 5");
    /// let w = Workload::throughput(4096, 100);
    /// assert_eq!(w.control_message(), "anyipc-bench/1 throughput 4096 100");
    /// ```
    pub fn control_message(&self) -> Bytes {
        let text = match *self {
            Workload::Latency {
                size,
                count,
                warmup,
            } => format!("{TAG} latency {size} {count} {warmup}"),
            Workload::Throughput {
                size,
                count,
                batch: 1,
            } => format!("{TAG} throughput {size} {count}"),
            Workload::Throughput { size, count, batch } => {
                format!("{TAG} throughput {size} {count} {batch}")
            }
        };
        Bytes::from(text)
    }

    /// Parses a [`control_message`](Workload::control_message).
    ///
    /// ```
    /// use anyipc::bench::Workload;
    /// use std::io::ErrorKind;
    ///
    /// let w = Workload::parse_control(b"anyipc-bench/1 throughput 4096 100")?;
    /// assert_eq!(w, Workload::throughput(4096, 100));
    /// let err = Workload::parse_control(b"anyipc-bench/1 latency 0 10 10").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidData); // messages of 0 bytes
    /// let err = Workload::parse_control(b"hello").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidData);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidData` when `msg` is not a control message or names a size or batch of 0.
    pub fn parse_control(msg: &[u8]) -> io::Result<Workload> {
        let bad = || {
            invalid(format!(
                "not a bench control message: {:?}",
                String::from_utf8_lossy(msg)
            ))
        };
        let text = std::str::from_utf8(msg).map_err(|_| bad())?;
        let mut words = text.split(' ');
        if words.next() != Some(TAG) {
            return Err(bad());
        }
        let mode = words.next().ok_or_else(bad)?;
        // Decimal digits only: `usize::from_str` would also take a leading `+`, which no
        // control message written by `control_message` has.
        let decimal = |w: &str| -> Option<usize> {
            w.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| w.parse().ok())
                .flatten()
        };
        let mut number = || -> io::Result<usize> { words.next().and_then(decimal).ok_or_else(bad) };
        let workload = match mode {
            "latency" => Workload::Latency {
                size: number()?,
                count: number()?,
                warmup: number()?,
            },
            "throughput" => Workload::Throughput {
                size: number()?,
                count: number()?,
                batch: match words.next() {
                    None => 1,
                    Some(w) => decimal(w).ok_or_else(bad)?,
                },
            },
            _ => return Err(bad()),
        };
        if words.next().is_some() {
            return Err(bad());
        }
        // From the peer, an unusable workload is bad data, not a bad argument.
        workload.validate().map_err(|e| invalid(e.to_string()))?;
        Ok(workload)
    }

    /// Checks the workload can run: messages of at least one byte (an empty message is the
    /// throughput end marker).
    pub(crate) fn validate(&self) -> io::Result<()> {
        if self.size() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bench messages must be at least 1 byte",
            ));
        }
        if self.batch() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a batch holds at least 1 message",
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} B × {}", self.mode(), self.size(), self.count())?;
        match self.batch() {
            1 => Ok(()),
            batch => write!(f, " in batches of {batch}"),
        }
    }
}

/// The peer's answer to a control message.
pub(crate) const READY: &[u8] = b"anyipc-bench/1 ready";

/// Whether `msg` claims to be a control message: it starts with the protocol tag and a space
/// (no payload does, see [`payloads`]). [`Workload::parse_control`] then checks it.
pub(crate) fn is_control(msg: &[u8]) -> bool {
    msg.strip_prefix(TAG.as_bytes())
        .is_some_and(|rest| rest.starts_with(b" "))
}

/// Whether `msg` is a throughput acknowledgement ([`ack`]): one left over from an earlier run
/// over a channel that outlives runs is skipped by the next run's handshake.
pub(crate) fn is_acknowledgement(msg: &[u8]) -> bool {
    msg.strip_prefix(TAG.as_bytes())
        .is_some_and(|rest| rest.starts_with(b" ack ") || rest.starts_with(b" error "))
}

/// The acknowledgement of a throughput run: messages received, or the first bad one.
pub(crate) fn ack(received: u64, error: Option<&str>) -> Bytes {
    match error {
        None => Bytes::from(format!("{TAG} ack {received}")),
        Some(e) => Bytes::from(format!("{TAG} error {e}")),
    }
}

/// Parses an [`ack`]: the number of messages the peer received.
pub(crate) fn parse_ack(msg: &[u8]) -> io::Result<u64> {
    let text = String::from_utf8_lossy(msg);
    if let Some(count) = text.strip_prefix(TAG).and_then(|t| t.strip_prefix(" ack ")) {
        return count
            .parse()
            .map_err(|_| invalid(format!("bad bench acknowledgement: {text:?}")));
    }
    match text
        .strip_prefix(TAG)
        .and_then(|t| t.strip_prefix(" error "))
    {
        Some(e) => Err(invalid(format!("the peer found a bad message: {e}"))),
        None => Err(invalid(format!(
            "expected a bench acknowledgement, got {text:?}"
        ))),
    }
}

/// Payload variants of `size` bytes: the first byte is the variant number, the last its
/// complement with 0xA5, so the peer can check each message's ends without knowing its order
/// (datagram transports may lose some). The second byte is zero (no payload looks like a
/// control message) and the rest is [`FILLER`], written here so that every page of every
/// variant is the process's own before a clock starts: zeroed pages left unwritten would
/// be faulted in by the timed loop's first read, and all read as the one zero page, which
/// no real message does.
pub(crate) fn payloads(size: usize) -> Vec<Bytes> {
    let variants = (VARIANT_BUDGET / size.max(1)).clamp(2, MAX_VARIANTS);
    (0..variants)
        .map(|i| {
            let mut buf = vec![FILLER; size];
            buf[0] = i as u8;
            if size > 2 {
                buf[1] = 0;
            }
            let last = size - 1;
            if last > 0 {
                buf[last] = i as u8 ^ 0xA5;
            }
            Bytes::from(buf)
        })
        .collect()
}

/// Checks one throughput message against [`payloads`].
pub(crate) fn check_payload(msg: &[u8], size: usize) -> Result<(), String> {
    if msg.len() != size {
        return Err(format!("length {}, expected {size}", msg.len()));
    }
    let (first, last) = (msg[0], msg[size - 1]);
    if size > 1 && last != first ^ 0xA5 {
        return Err(format!("first byte {first:#04x} but last byte {last:#04x}"));
    }
    Ok(())
}

/// An empty message, unused by workloads, ends a throughput run.
pub(crate) fn end_marker() -> Bytes {
    Bytes::new()
}

pub(crate) fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
