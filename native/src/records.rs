//! Reads a batch (format v1, `batch.rs`): checks it whole, then says where each record's parts lie.
//!
//! The main thread's sessions and the flush workers read batches through this one reader, so both refuse
//! the same batches with the same reasons, in the words of `daemon/record.ts`.

use std::ops::Range;

use crate::batch::{HEADER_LEN, MAGIC};
use crate::schema::QUALIFIERS;

/// Where one record's parts lie in the batch.
#[derive(Debug, Clone)]
pub struct Located {
    /// The whole record, its length prefix included.
    pub range: Range<usize>,
    pub ts: u64,
    pub by_user: Range<usize>,
    pub by_time: Range<usize>,
    /// The field count's byte; the fields follow it up to the record's end.
    pub nf_at: usize,
    pub nf: u8,
}

/// Checks the batch and locates its records; the error says what is wrong with it.
pub fn locate(batch: &[u8]) -> Result<Vec<Located>, String> {
    if batch.len() < HEADER_LEN || &batch[..4] != MAGIC {
        return Err("bad header".into());
    }
    let count = u32::from_be_bytes([batch[4], batch[5], batch[6], batch[7]]) as usize;
    let mut records = Vec::with_capacity(count.min(batch.len() / 16));
    let mut at = HEADER_LEN;
    for i in 0..count {
        let cut = || format!("record {i} is cut short");
        let mismatch = || format!("record {i} length does not match its fields");
        let len_bytes = batch.get(at..at + 4).ok_or_else(cut)?;
        let len =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        let end = (at + 4).checked_add(len).ok_or_else(cut)?;
        batch.get(at + 4..end).ok_or_else(cut)?;
        let mut r = Reader {
            batch,
            at: at + 4,
            end,
        };
        let ts = u64::from_be_bytes(
            r.take(8)
                .ok_or_else(mismatch)?
                .try_into()
                .unwrap_or_default(),
        );
        let by_user = r.sized().ok_or_else(mismatch)?;
        let by_time = r.sized().ok_or_else(mismatch)?;
        let nf_at = r.at;
        let nf = r.take(1).ok_or_else(mismatch)?[0];
        for _ in 0..nf {
            let head = r.take(3).ok_or_else(mismatch)?;
            if usize::from(head[0]) >= QUALIFIERS.len() {
                return Err(format!("record {i} has unknown qualifier {}", head[0]));
            }
            r.take(usize::from(u16::from_be_bytes([head[1], head[2]])))
                .ok_or_else(mismatch)?;
        }
        if r.at != end {
            return Err(mismatch());
        }
        records.push(Located {
            range: at..end,
            ts,
            by_user,
            by_time,
            nf_at,
            nf,
        });
        at = end;
    }
    if at != batch.len() {
        return Err("trailing bytes".into());
    }
    Ok(records)
}

/// A located record's fields, as (where the field starts, qualifier id, value).
pub fn fields<'a>(batch: &'a [u8], r: &Located) -> impl Iterator<Item = (usize, u8, &'a [u8])> {
    let mut p = r.nf_at + 1;
    (0..r.nf).map(move |_| {
        let at = p;
        let vlen = usize::from(u16::from_be_bytes([batch[p + 1], batch[p + 2]]));
        p += 3 + vlen;
        (at, batch[at], &batch[at + 3..p])
    })
}

struct Reader<'a> {
    batch: &'a [u8],
    at: usize,
    /// The end of the record being read.
    end: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let to = self.at.checked_add(n).filter(|&to| to <= self.end)?;
        let got = &self.batch[self.at..to];
        self.at = to;
        Some(got)
    }

    /// A `len:u8 bytes` part, as its range in the batch.
    fn sized(&mut self) -> Option<Range<usize>> {
        let len = usize::from(self.take(1)?[0]);
        let start = self.at;
        self.take(len)?;
        Some(start..self.at)
    }
}
