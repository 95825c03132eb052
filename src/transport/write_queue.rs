//! [`WriteQueue`]: the bytes a byte-stream connection has yet to write, in order, without
//! copying large messages.

use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::IoSlice;

/// Bytes waiting to be written: shared chunks (large messages, kept by reference) followed by
/// a gathering buffer (frame headers and small messages, copied in).
///
/// Invariant: every chunk is non-empty, and `chunked` is the sum of their lengths.
#[derive(Debug)]
pub(crate) struct WriteQueue {
    /// Bytes that go before `tail`, oldest first.
    chunks: VecDeque<Bytes>,
    /// Bytes that go after the last chunk.
    tail: BytesMut,
    /// Total length of `chunks`.
    chunked: usize,
}

impl WriteQueue {
    /// An empty queue whose gathering buffer starts with `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> WriteQueue {
        WriteQueue {
            chunks: VecDeque::new(),
            tail: BytesMut::with_capacity(capacity),
            chunked: 0,
        }
    }

    /// Bytes waiting in all.
    pub(crate) fn len(&self) -> usize {
        self.chunked + self.tail.len()
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The gathering buffer, to append bytes after everything queued so far.
    pub(crate) fn tail_mut(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Queues `bytes` by reference after everything queued so far.
    pub(crate) fn push_shared(&mut self, bytes: Bytes) {
        if !self.tail.is_empty() {
            // The gathered bytes go first; the buffer keeps gathering in its spare capacity.
            let gathered = self.tail.split().freeze();
            self.push_chunk(gathered);
        }
        self.push_chunk(bytes);
    }

    fn push_chunk(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.chunked += bytes.len();
            self.chunks.push_back(bytes);
        }
    }
}

/// The queue as a `bytes::Buf`, for `tokio_util::io::poll_write_buf`: the chunks in order,
/// then the gathered tail.
impl Buf for WriteQueue {
    fn remaining(&self) -> usize {
        self.len()
    }

    /// The first contiguous run of waiting bytes (empty when nothing waits).
    fn chunk(&self) -> &[u8] {
        self.chunks
            .front()
            .map_or(&self.tail[..], |chunk| &chunk[..])
    }

    /// Fills `out` with the waiting bytes in order (as many pieces as fit); returns how many
    /// slices it filled.
    fn chunks_vectored<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let pieces = self
            .chunks
            .iter()
            .map(|chunk| &chunk[..])
            .chain(Some(&self.tail[..]).filter(|tail| !tail.is_empty()));
        let mut filled = 0;
        for (slot, piece) in out.iter_mut().zip(pieces) {
            *slot = IoSlice::new(piece);
            filled += 1;
        }
        filled
    }

    /// Drops the first `n` waiting bytes (they were written).
    ///
    /// # Panics
    /// If `n` is more than [`len`](Self::len): a stream that claims to have written more than
    /// it was given breaks the `AsyncWrite` contract.
    fn advance(&mut self, mut n: usize) {
        assert!(n <= self.len(), "advanced past the queued bytes");
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                self.tail.advance(n);
                return;
            };
            let step = n.min(front.len());
            front.advance(step);
            self.chunked -= step;
            n -= step;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn drain(queue: &mut WriteQueue, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while queue.has_remaining() {
            let mut slices = [IoSlice::new(&[]); 4];
            let count = queue.chunks_vectored(&mut slices);
            let mut n = 0;
            for slice in &slices[..count] {
                let take = slice.len().min(step - n);
                out.extend_from_slice(&slice[..take]);
                n += take;
                if n == step {
                    break;
                }
            }
            queue.advance(n);
        }
        out
    }

    fn mixed_queue() -> WriteQueue {
        let mut queue = WriteQueue::with_capacity(16);
        queue.tail_mut().put_slice(b"head1");
        queue.push_shared(Bytes::from_static(b"BIG-ONE"));
        queue.tail_mut().put_slice(b"small");
        queue.push_shared(Bytes::from_static(b"BIG-TWO"));
        queue.push_shared(Bytes::new());
        queue.tail_mut().put_slice(b"end");
        queue
    }

    #[test]
    fn keeps_gathered_and_shared_bytes_in_order() {
        let queue = mixed_queue();
        assert_eq!(queue.len(), 27);
        assert_eq!(queue.chunk(), b"head1");
        for step in [1, 3, 7, 100] {
            let mut queue = mixed_queue();
            assert_eq!(drain(&mut queue, step), b"head1BIG-ONEsmallBIG-TWOend");
            assert!(queue.chunk().is_empty());
        }
    }

    #[test]
    fn slices_stop_at_the_space_given() {
        let mut queue = WriteQueue::with_capacity(0);
        for _ in 0..3 {
            queue.push_shared(Bytes::from_static(b"abc"));
        }
        queue.tail_mut().put_slice(b"z");
        let mut two = [IoSlice::new(&[]); 2];
        assert_eq!(queue.chunks_vectored(&mut two), 2);
        let mut many = [IoSlice::new(&[]); 8];
        assert_eq!(queue.chunks_vectored(&mut many), 4);
        queue.advance(10);
        assert!(!queue.has_remaining());
    }

    #[test]
    #[should_panic(expected = "advanced past")]
    fn advancing_too_far_is_a_bug() {
        let mut queue = WriteQueue::with_capacity(0);
        queue.tail_mut().put_slice(b"ab");
        queue.advance(3);
    }
}
