//! [`RecordBatch`]: records of a durable log read together, returned whole by
//! [`FileConsumer::recv_batch`](super::FileConsumer::recv_batch).

use super::record::payload_range;
use super::tailer::Chunk;
use bytes::Bytes;

/// Records of a durable log that one read brought in, in order, sharing its buffer (one
/// read's worth: up to 1 MiB, or one record when that is larger): the batch counterpart of
/// [`FileRecord`](super::FileRecord), without a `Bytes` (and its reference count) per record.
///
/// Every record was checked (length, CRC32C, sequence number) when it was read.
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
/// let dir = std::env::temp_dir().join(format!("anyipc-doc-batch-{}", std::process::id()));
/// let opts = FileOptions { follow: false, ..FileOptions::default() };
/// let mut log = FileProducer::open(&dir, opts.clone()).await?;
/// log.append_many(&["a", "b", "c"]).await?;
/// log.close().await?;
///
/// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
/// let mut seen = Vec::new();
/// while let Some(batch) = consumer.recv_batch().await? {
///     for (seq, payload) in &batch {
///         seen.push((seq, payload.to_vec()));
///     }
///     assert_eq!(consumer.position(), batch.end_seq());
/// }
/// assert_eq!(seen, [(0, b"a".to_vec()), (1, b"b".to_vec()), (2, b"c".to_vec())]);
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct RecordBatch {
    /// Whole, validated records laid end to end from `pos` on.
    data: Bytes,
    pos: usize,
    /// Sequence numbers of the first record and after the last.
    first: u64,
    end: u64,
}

impl RecordBatch {
    /// The records of a log reader's chunk; `None` for a bare payload, which only plain
    /// files' readers make.
    pub(crate) fn from_chunk(chunk: Chunk) -> Option<RecordBatch> {
        match chunk {
            Chunk::Records {
                data,
                pos,
                seq,
                end,
                ..
            } => Some(RecordBatch {
                data,
                pos,
                first: seq,
                end,
            }),
            Chunk::One { .. } => None,
        }
    }

    /// The sequence number of the first record.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-first-seq-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// log.append_many(&["a", "b", "c"]).await?;
    /// log.close().await?;
    /// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
    /// consumer.recv().await?; // record 0 alone
    /// let batch = consumer.recv_batch().await?.unwrap();
    /// assert_eq!(batch.first_seq(), 1); // the batch goes on after it
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn first_seq(&self) -> u64 {
        self.first
    }

    /// The sequence number after the last record: where a consumer that took the whole
    /// batch stands.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-end-seq-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// log.append_many(&["a", "b", "c"]).await?;
    /// log.close().await?;
    /// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
    /// let batch = consumer.recv_batch().await?.unwrap();
    /// assert_eq!(batch.end_seq(), batch.first_seq() + batch.len() as u64);
    /// assert_eq!(consumer.position(), batch.end_seq()); // what a commit now stores
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn end_seq(&self) -> u64 {
        self.end
    }

    /// How many records the batch holds.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-batch-len-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// log.append_many(&vec![[0u8; 100]; 50_000]).await?;
    /// log.close().await?;
    /// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
    /// let mut total = 0;
    /// while let Some(batch) = consumer.recv_batch().await? {
    ///     assert!(batch.len() <= (1 << 20) / 100); // up to 1 MiB of records
    ///     total += batch.len();
    /// }
    /// assert_eq!(total, 50_000);
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn len(&self) -> usize {
        usize::try_from(self.end.saturating_sub(self.first)).unwrap_or(usize::MAX)
    }

    /// Whether the batch holds no record (a consumer never returns such a batch).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-batch-is-empty-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// log.append_many(&["a"]).await?;
    /// log.close().await?;
    /// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
    /// let batch = consumer.recv_batch().await?.expect("one record");
    /// assert!(!batch.is_empty());
    /// assert!(consumer.recv_batch().await?.is_none()); // the end: `None`, not an empty batch
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records in order, as (sequence number, payload).
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use anyipc::file::{FileConsumer, FileOptions, FileProducer};
    /// # let name = format!("anyipc-doc-batch-iter-{}", std::process::id());
    /// # let dir = std::env::temp_dir().join(name);
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let opts = FileOptions { follow: false, ..FileOptions::default() };
    /// let mut log = FileProducer::open(&dir, opts.clone()).await?;
    /// log.append_many(&["info: up", "error: disk", "info: down"]).await?;
    /// log.close().await?;
    /// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
    /// let batch = consumer.recv_batch().await?.unwrap();
    /// let errors: Vec<u64> =
    ///     batch.iter().filter(|(_, p)| p.starts_with(b"error")).map(|(seq, _)| seq).collect();
    /// assert_eq!(errors, [1]);
    /// # anyipc::file::remove(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn iter(&self) -> RecordBatchIter<'_> {
        RecordBatchIter {
            rest: self.data.get(self.pos..).unwrap_or_default(),
            seq: self.first,
        }
    }
}

impl<'a> IntoIterator for &'a RecordBatch {
    type Item = (u64, &'a [u8]);
    type IntoIter = RecordBatchIter<'a>;

    fn into_iter(self) -> RecordBatchIter<'a> {
        self.iter()
    }
}

/// The records of a [`RecordBatch`], in order: (sequence number, payload).
///
/// ```
/// # tokio_test::block_on(async {
/// use anyipc::file::{FileConsumer, FileOptions, FileProducer, RecordBatchIter};
/// # let name = format!("anyipc-doc-batch-iter-type-{}", std::process::id());
/// # let dir = std::env::temp_dir().join(name);
/// # let _ = std::fs::remove_dir_all(&dir);
/// let opts = FileOptions { follow: false, ..FileOptions::default() };
/// let mut log = FileProducer::open(&dir, opts.clone()).await?;
/// log.append_many(&["a", "b", "c"]).await?;
/// log.close().await?;
/// let mut consumer = FileConsumer::open(&dir, None, opts).await?;
/// let batch = consumer.recv_batch().await?.unwrap();
/// let mut records: RecordBatchIter<'_> = batch.iter();
/// assert_eq!(records.next(), Some((0, &b"a"[..])));
/// let ahead = records.clone(); // look ahead without losing the place
/// assert_eq!(ahead.count(), batch.len() - 1);
/// assert_eq!(records.next().map(|(seq, _)| seq), Some(1));
/// # anyipc::file::remove(&dir)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchIter<'a> {
    /// The records not yet returned, laid end to end.
    rest: &'a [u8],
    seq: u64,
}

impl<'a> Iterator for RecordBatchIter<'a> {
    type Item = (u64, &'a [u8]);

    fn next(&mut self) -> Option<(u64, &'a [u8])> {
        // Checked when read; a length that does not fit ends the walk, never a panic.
        let payload = payload_range(self.rest, 0)?;
        let (record, rest) = self.rest.split_at(payload.end);
        self.rest = rest;
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        Some((seq, &record[payload.start..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{encode_record, RECORD_HEADER_LEN};
    use bytes::BytesMut;

    #[test]
    fn walks_records_from_where_the_consumer_stopped() {
        let mut data = BytesMut::new();
        for (seq, payload) in [b"zero".as_slice(), b"", b"two"].iter().enumerate() {
            encode_record(&mut data, 7, seq as u64 + 10, payload);
        }
        let second = RECORD_HEADER_LEN + 4;
        let batch = RecordBatch::from_chunk(Chunk::Records {
            data: data.freeze(),
            pos: second,
            seq: 11,
            end: 13,
            last_crc: 0,
        })
        .unwrap();
        let got: Vec<_> = batch.iter().collect();
        assert_eq!(got, [(11, &b""[..]), (12, &b"two"[..])]);
        assert_eq!(
            (batch.first_seq(), batch.end_seq(), batch.len()),
            (11, 13, 2)
        );
    }

    #[test]
    fn a_bare_payload_is_no_batch_and_a_short_buffer_ends_the_walk() {
        let one = Chunk::One {
            seq: 5,
            payload: Bytes::from_static(b"whole"),
        };
        assert!(
            RecordBatch::from_chunk(one).is_none(),
            "plain files' chunks only"
        );
        // A length field pointing past the buffer: the walk stops, it does not panic.
        let mut data = BytesMut::new();
        encode_record(&mut data, 1, 0, b"abc");
        data.truncate(data.len() - 1);
        let cut = RecordBatch::from_chunk(Chunk::Records {
            data: data.freeze(),
            pos: 0,
            seq: 0,
            end: 1,
            last_crc: 0,
        })
        .unwrap();
        assert_eq!(cut.iter().count(), 0);
    }
}
