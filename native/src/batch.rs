//! The in-memory batch of encoded records (format v1) that `takeBatch()` hands to JS.
//!
//! ```text
//! batch  = "SPB1" count:u32 record{count}
//! record = len:u32 ts:u64 ku_len:u8 ku kt_len:u8 kt nf:u8 field{nf}   (len counts the bytes after itself)
//! field  = q:u8 vlen:u16 value
//! ```
//! All integers are big-endian. The count is patched in when the batch is taken; until then the
//! header holds zero.

use crate::rowkey;

pub const MAGIC: &[u8; 4] = b"SPB1";
pub const HEADER_LEN: usize = 8;
/// Preallocating up to the full-batch size avoids regrowing on the hot path, but a huge
/// `batchMaxBytes` must not pin that much memory in every batch taken.
const MAX_PREALLOC: usize = 4 << 20;
/// Slack for the record that crosses `batchMaxBytes`.
const RECORD_SLACK: usize = 4096;

/// A point to roll back to when a request turns out invalid midway.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    len: usize,
    count: u32,
}

pub struct Batch {
    buf: Vec<u8>,
    count: u32,
}

impl Batch {
    pub fn new(batch_max_bytes: usize) -> Self {
        let capacity = batch_max_bytes
            .saturating_add(RECORD_SLACK)
            .min(MAX_PREALLOC);
        Self {
            buf: fresh(capacity),
            count: 0,
        }
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn mark(&self) -> Mark {
        Mark {
            len: self.buf.len(),
            count: self.count,
        }
    }

    pub fn rollback(&mut self, mark: Mark) {
        self.buf.truncate(mark.len);
        self.count = mark.count;
    }

    /// Starts a record; its fields follow through the returned writer, in ascending qualifier id.
    pub fn record(
        &mut self,
        ts_ms: u64,
        by_user: &[u8; rowkey::LEN],
        by_time: &[u8; rowkey::LEN],
    ) -> Record<'_> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.extend_from_slice(&ts_ms.to_be_bytes());
        for key in [by_user, by_time] {
            self.buf.push(rowkey::LEN as u8);
            self.buf.extend_from_slice(key);
        }
        let nf_at = self.buf.len();
        self.buf.push(0);
        Record {
            batch: self,
            start,
            nf_at,
            nf: 0,
        }
    }

    /// Hands the finished batch, header count patched, to `out` (which copies it where it is needed), then starts
    /// an empty one; `None`, without calling `out`, when the batch is empty.
    ///
    /// The working buffer is kept: a fresh buffer per batch would fault in and zero its pages again, which costs
    /// more than the one copy `out` makes.
    pub fn take_with<R>(&mut self, out: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if self.count == 0 {
            return None;
        }
        self.buf[4..HEADER_LEN].copy_from_slice(&self.count.to_be_bytes());
        let taken = out(&self.buf);
        self.buf.truncate(HEADER_LEN);
        self.count = 0;
        Some(taken)
    }

    /// The finished batch as a vector of its own, leaving an empty batch behind; `None` when empty.
    #[cfg(test)]
    pub fn take(&mut self) -> Option<Vec<u8>> {
        self.take_with(<[u8]>::to_vec)
    }
}

/// A record being appended; `finish` makes it count.
pub struct Record<'b> {
    batch: &'b mut Batch,
    start: usize,
    nf_at: usize,
    nf: u8,
}

impl Record<'_> {
    /// Values longer than a u16 cannot occur as options cap them, but are cut rather than
    /// corrupting the batch.
    pub fn field(&mut self, q: u8, value: &[u8]) {
        let value = &value[..value.len().min(usize::from(u16::MAX))];
        let buf = &mut self.batch.buf;
        buf.push(q);
        buf.extend_from_slice(&(value.len() as u16).to_be_bytes());
        buf.extend_from_slice(value);
        self.nf = self.nf.saturating_add(1);
    }

    pub fn finish(self) {
        let buf = &mut self.batch.buf;
        buf[self.nf_at] = self.nf;
        let len = (buf.len() - self.start - 4) as u32;
        buf[self.start..self.start + 4].copy_from_slice(&len.to_be_bytes());
        self.batch.count = self.batch.count.saturating_add(1);
    }
}

fn fresh(capacity: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(capacity.max(HEADER_LEN));
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&[0; 4]);
    buf
}

/// A plain reader of the format, the reference the encoder's tests check against.
#[cfg(test)]
pub mod read {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Record {
        pub ts: u64,
        pub by_user: Vec<u8>,
        pub by_time: Vec<u8>,
        pub fields: Vec<(u8, Vec<u8>)>,
    }

    impl Record {
        pub fn field(&self, q: u8) -> Option<&str> {
            self.fields
                .iter()
                .find(|(id, _)| *id == q)
                .map(|(_, v)| std::str::from_utf8(v).unwrap())
        }
    }

    pub fn records(batch: &[u8]) -> Vec<Record> {
        let mut r = Reader(batch);
        assert_eq!(r.take(4), b"SPB1");
        let count = u32::from_be_bytes(r.take(4).try_into().unwrap());
        let records: Vec<Record> = (0..count).map(|_| record(&mut r)).collect();
        assert!(r.0.is_empty(), "trailing bytes");
        records
    }

    fn record(r: &mut Reader) -> Record {
        let len = u32::from_be_bytes(r.take(4).try_into().unwrap()) as usize;
        let mut r = Reader(r.take(len));
        let ts = u64::from_be_bytes(r.take(8).try_into().unwrap());
        let ku_len = r.take(1)[0] as usize;
        let by_user = r.take(ku_len).to_vec();
        let kt_len = r.take(1)[0] as usize;
        let by_time = r.take(kt_len).to_vec();
        let nf = r.take(1)[0];
        let fields: Vec<(u8, Vec<u8>)> = (0..nf)
            .map(|_| {
                let q = r.take(1)[0];
                let vlen = u16::from_be_bytes(r.take(2).try_into().unwrap()) as usize;
                (q, r.take(vlen).to_vec())
            })
            .collect();
        assert!(r.0.is_empty(), "record longer than its fields");
        assert!(
            fields.windows(2).all(|w| w[0].0 < w[1].0),
            "fields out of order"
        );
        Record {
            ts,
            by_user,
            by_time,
            fields,
        }
    }

    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> &'a [u8] {
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            head
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(b: &mut Batch, ts: u64, fields: &[(u8, &[u8])]) {
        let mut rec = b.record(ts, &[1; 33], &[2; 33]);
        for &(q, v) in fields {
            rec.field(q, v);
        }
        rec.finish();
    }

    #[test]
    fn lays_out_header_and_record() {
        let mut b = Batch::new(1024);
        assert_eq!(b.take(), None);
        push(&mut b, 0x0102030405060708, &[(0, b"ab"), (14, b"")]);
        let out = b.take().unwrap();
        let mut want = b"SPB1\0\0\0\x01".to_vec();
        let body_len = 8 + 1 + 33 + 1 + 33 + 1 + (3 + 2) + 3;
        want.extend_from_slice(&(body_len as u32).to_be_bytes());
        want.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 33]);
        want.extend_from_slice(&[1; 33]);
        want.push(33);
        want.extend_from_slice(&[2; 33]);
        want.extend_from_slice(&[2, 0, 0, 2, b'a', b'b', 14, 0, 0]);
        assert_eq!(out, want);
        assert_eq!(read::records(&out).len(), 1);
    }

    #[test]
    fn take_starts_a_new_batch() {
        let mut b = Batch::new(10);
        push(&mut b, 1, &[]);
        push(&mut b, 2, &[]);
        assert_eq!(b.count(), 2);
        let first = b.take().unwrap();
        assert_eq!(&first[4..8], &[0, 0, 0, 2]);
        assert_eq!((b.count(), b.bytes()), (0, 8));
        push(&mut b, 3, &[]);
        let second = b.take().unwrap();
        assert_eq!(read::records(&second)[0].ts, 3);
    }

    #[test]
    fn rolls_back_to_a_mark() {
        let mut b = Batch::new(10);
        push(&mut b, 1, &[]);
        let mark = b.mark();
        let bytes = b.bytes();
        push(&mut b, 2, &[(1, b"x")]);
        b.rollback(mark);
        assert_eq!((b.count(), b.bytes()), (1, bytes));
    }

    #[test]
    fn cuts_values_longer_than_a_u16() {
        let mut b = Batch::new(10);
        let long = vec![b'x'; 70_000];
        push(&mut b, 1, &[(7, &long)]);
        let rec = &read::records(&b.take().unwrap())[0];
        assert_eq!(rec.fields[0].1.len(), 65535);
    }
}
