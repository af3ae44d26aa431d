//! Thrift2 `putMultiple` requests written straight from a batch: the flush workers' hot path.
//!
//! A request is one frame of HBase's Thrift2 gateway as spoor runs it (framed transport, compact
//! protocol): the call `putMultiple(table, tputs)` with one `TPut` per event, and one
//! `TColumnValue` per field (family `e`, the field's qualifier, its value, the event's timestamp).
//! The thrift crate's `TCompactOutputProtocol` writes every byte; this module only says which
//! fields, in the order and with the ids of HBase's IDL (`hbase.thrift`), as its generated code
//! does. The JS tests compare each frame with the one the generated JS client writes.
//!
//! Building the request this way costs no object per cell, where the generated JS code builds
//! and copies three per cell.

use thrift::protocol::{
    TCompactOutputProtocol, TFieldIdentifier, TListIdentifier, TMessageIdentifier, TMessageType,
    TOutputProtocol, TStructIdentifier, TType,
};

use std::ops::Deref;

use crate::agent::Agents;
use crate::enrich::{self, Added};
use crate::links::{self, Links};
use crate::records::{self, Located};
use crate::schema::{FAMILY, LINK_FAMILY, QUALIFIERS};

/// What the gateway adds per cell to the bytes the batch holds: framing, family and qualifier.
const CELL_OVERHEAD: usize = 16;

const fn field(field_type: TType, id: i16) -> TFieldIdentifier {
    TFieldIdentifier {
        name: None,
        field_type,
        id: Some(id),
    }
}

// THBaseService.putMultiple_args
const ARGS_TABLE: TFieldIdentifier = field(TType::String, 1);
const ARGS_TPUTS: TFieldIdentifier = field(TType::List, 2);
// TPut
const PUT_ROW: TFieldIdentifier = field(TType::String, 1);
const PUT_COLUMN_VALUES: TFieldIdentifier = field(TType::List, 2);
const PUT_TIMESTAMP: TFieldIdentifier = field(TType::I64, 3);
// TColumnValue
const CV_FAMILY: TFieldIdentifier = field(TType::String, 1);
const CV_QUALIFIER: TFieldIdentifier = field(TType::String, 2);
const CV_VALUE: TFieldIdentifier = field(TType::String, 3);
const CV_TIMESTAMP: TFieldIdentifier = field(TType::I64, 4);

/// Which of an event's two rowkeys a request writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    ByUser,
    ByTime,
}

/// Where one event's parts lie in the batch, and what the flush adds to it (`enrich.rs`).
#[derive(Debug, Clone)]
struct Event {
    rec: Located,
    added: Added,
}

/// A batch checked once and cut into requests that stay under a size on the wire.
pub struct Requests<B: Deref<Target = [u8]> = Vec<u8>> {
    /// The batch, read in place: a `Vec` or the flush worker's JS Buffer.
    batch: B,
    events: Vec<Event>,
    /// Event index ranges, one per request.
    slices: Vec<(usize, usize)>,
    /// The identity table's rows for the batch's links, and their ranges, one per request.
    links: Vec<links::Row>,
    link_slices: Vec<(usize, usize)>,
    agents: Agents,
    dropped_bots: usize,
}

impl<B: Deref<Target = [u8]>> Requests<B> {
    /// Checks the whole batch (format v1) first, so that a bad batch writes nothing; the error
    /// says what is wrong, in the words of the tests' reference decoder (`test/reference/batch.ts`). `salt_buckets` salts the identity rows;
    /// with `drop_bots`, events whose user agent is a bot's are left out, links and all. `app_platforms`
    /// are the platforms whose events an HTTP library's agent does not make a bot's (`enrich::from_app`).
    pub fn new(
        batch: B,
        max_request_bytes: usize,
        salt_buckets: u64,
        drop_bots: bool,
        app_platforms: &[Vec<u8>],
    ) -> Result<Self, String> {
        let mut agents = Agents::default();
        let mut events: Vec<Event> = records::locate(&batch)?
            .into_iter()
            .map(|rec| {
                let fields = || records::fields(&batch, &rec).map(|(_, q, value)| (q, value));
                let added = enrich::added(&mut agents, fields, app_platforms, CELL_OVERHEAD);
                Event { rec, added }
            })
            .collect();
        let before = events.len();
        if drop_bots {
            events.retain(|e| !e.added.is_bot(&agents));
        }
        let dropped_bots = before - events.len();
        let slices = slices(&events, max_request_bytes);
        let mut links = Links::default();
        for e in &events {
            links.add(e.rec.ts as i64, fields(&batch, e), salt_buckets);
        }
        let links = links.into_rows();
        let link_slices = cut(
            links.iter().map(|(row, cells)| {
                row.len()
                    + cells
                        .iter()
                        .map(|(q, c)| q.len() + c.platform.len() + CELL_OVERHEAD)
                        .sum::<usize>()
            }),
            max_request_bytes,
        );
        Ok(Self {
            batch,
            events,
            slices,
            links,
            link_slices,
            agents,
            dropped_bots,
        })
    }

    /// Events left out as bots' (with `drop_bots`).
    pub fn dropped_bots(&self) -> usize {
        self.dropped_bots
    }

    pub fn link_requests(&self) -> usize {
        self.link_slices.len()
    }

    /// Identity request `index` for `table` as one frame, like `frame`.
    pub fn link_frame(&self, index: usize, table: &[u8], seqid: i32) -> Vec<u8> {
        let (start, end) = self.link_slices[index];
        let rows = &self.links[start..end];
        framed(64 + rows.len() * 128, |out| {
            write_message(out, table, seqid, rows.len(), |o| {
                for (row, cells) in rows {
                    o.write_struct_begin(&TStructIdentifier::new("TPut"))?;
                    binary_field(o, &PUT_ROW, row)?;
                    o.write_field_begin(&PUT_COLUMN_VALUES)?;
                    o.write_list_begin(&TListIdentifier::new(TType::Struct, cells.len() as i32))?;
                    for (qualifier, cell) in cells {
                        write_cell(o, LINK_FAMILY, qualifier, &cell.platform, cell.ts)?;
                    }
                    o.write_list_end()?;
                    o.write_field_end()?;
                    o.write_field_stop()?;
                    o.write_struct_end()?;
                }
                Ok(())
            })
        })
    }

    pub fn events(&self) -> usize {
        self.events.len()
    }

    pub fn requests(&self) -> usize {
        self.slices.len()
    }

    /// Request `index` for `table` as one frame, its 4-byte length first, with sequence id `seqid`.
    pub fn frame(&self, index: usize, table: &[u8], key: Key, seqid: i32) -> Vec<u8> {
        let (start, end) = self.slices[index];
        let events = &self.events[start..end];
        let estimate = 64
            + events
                .iter()
                .map(|e| {
                    e.rec.range.len() + e.added.bytes + 2 * usize::from(e.rec.nf) * CELL_OVERHEAD
                })
                .sum::<usize>();
        framed(estimate, |out| {
            write_message(out, table, seqid, events.len(), |o| {
                write_puts(o, &self.batch[..], &self.agents, events, key)
            })
        })
    }
}

/// The fields of an event as `(qualifier id, value)`.
fn fields<'a>(batch: &'a [u8], e: &Event) -> impl Iterator<Item = (u8, &'a [u8])> {
    records::fields(batch, &e.rec).map(|(_, q, value)| (q, value))
}

/// A frame written by `write`, its 4-byte length first.
fn framed(capacity: usize, write: impl FnOnce(&mut Vec<u8>) -> thrift::Result<()>) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(&[0; 4]);
    write(&mut out).expect("writing to a Vec cannot fail");
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

/// The call `putMultiple(table, puts)`, with `count` puts written by `puts`.
fn write_message(
    out: &mut Vec<u8>,
    table: &[u8],
    seqid: i32,
    count: usize,
    puts: impl FnOnce(&mut TCompactOutputProtocol<&mut Vec<u8>>) -> thrift::Result<()>,
) -> thrift::Result<()> {
    let mut o = TCompactOutputProtocol::new(out);
    o.write_message_begin(&TMessageIdentifier::new(
        "putMultiple",
        TMessageType::Call,
        seqid,
    ))?;
    o.write_struct_begin(&TStructIdentifier::new("THBaseService_putMultiple_args"))?;
    binary_field(&mut o, &ARGS_TABLE, table)?;
    o.write_field_begin(&ARGS_TPUTS)?;
    o.write_list_begin(&TListIdentifier::new(TType::Struct, count as i32))?;
    puts(&mut o)?;
    o.write_list_end()?;
    o.write_field_end()?;
    o.write_field_stop()?;
    o.write_struct_end()?;
    o.write_message_end()?;
    o.flush()
}

fn write_cell(
    o: &mut impl TOutputProtocol,
    family: &[u8],
    qualifier: &[u8],
    value: &[u8],
    ts: i64,
) -> thrift::Result<()> {
    o.write_struct_begin(&TStructIdentifier::new("TColumnValue"))?;
    binary_field(o, &CV_FAMILY, family)?;
    binary_field(o, &CV_QUALIFIER, qualifier)?;
    binary_field(o, &CV_VALUE, value)?;
    o.write_field_begin(&CV_TIMESTAMP)?;
    o.write_i64(ts)?;
    o.write_field_end()?;
    o.write_field_stop()?;
    o.write_struct_end()
}

fn write_puts(
    o: &mut impl TOutputProtocol,
    batch: &[u8],
    agents: &Agents,
    events: &[Event],
    key: Key,
) -> thrift::Result<()> {
    let put = TStructIdentifier::new("TPut");
    for e in events {
        let ts = e.rec.ts as i64;
        let row = match key {
            Key::ByUser => e.rec.by_user.clone(),
            Key::ByTime => e.rec.by_time.clone(),
        };
        o.write_struct_begin(&put)?;
        binary_field(o, &PUT_ROW, &batch[row])?;
        o.write_field_begin(&PUT_COLUMN_VALUES)?;
        let agent = e.added.agent.map(|i| agents.get(i));
        let added = agent.map_or(0, |a| enrich::cells(a, e.added.app).count());
        o.write_list_begin(&TListIdentifier::new(
            TType::Struct,
            i32::from(e.rec.nf) + added as i32,
        ))?;
        let agent_cells = agent.into_iter().flat_map(|a| enrich::cells(a, e.added.app));
        for (q, value) in fields(batch, e).chain(agent_cells) {
            write_cell(o, FAMILY, QUALIFIERS[usize::from(q)], value, ts)?;
        }
        o.write_list_end()?;
        o.write_field_end()?;
        o.write_field_begin(&PUT_TIMESTAMP)?;
        o.write_i64(ts)?;
        o.write_field_end()?;
        o.write_field_stop()?;
        o.write_struct_end()?;
    }
    Ok(())
}

fn binary_field(
    o: &mut impl TOutputProtocol,
    id: &TFieldIdentifier,
    bytes: &[u8],
) -> thrift::Result<()> {
    o.write_field_begin(id)?;
    o.write_bytes(bytes)?;
    o.write_field_end()
}

/// Event ranges whose puts stay under `max_bytes` on the wire, by the same estimate as before
/// this module: the record's bytes plus `CELL_OVERHEAD` per field, plus the cells the user agent adds. A single larger event still
/// gets a request of its own.
fn slices(events: &[Event], max_bytes: usize) -> Vec<(usize, usize)> {
    cut(
        events
            .iter()
            .map(|e| e.rec.range.len() + e.added.bytes + usize::from(e.rec.nf) * CELL_OVERHEAD),
        max_bytes,
    )
}

/// Index ranges over items of the given sizes, each summing to at most `max_bytes` unless one item alone is larger.
fn cut(sizes: impl Iterator<Item = usize>, max_bytes: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    let mut n = 0;
    for (i, size) in sizes.enumerate() {
        if i > start && bytes + size > max_bytes {
            out.push((start, i));
            start = i;
            bytes = 0;
        }
        bytes += size;
        n = i + 1;
    }
    if start < n {
        out.push((start, n));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use crate::event::q;

    type Fields<'a> = &'a [(u8, &'a [u8])];

    fn batch(events: &[(u64, Fields)]) -> Vec<u8> {
        let mut b = Batch::new(1 << 20);
        for &(ts, fields) in events {
            let mut rec = b.record(ts, &[1; 33], &[2; 33]);
            for &(q, v) in fields {
                rec.field(q, v);
            }
            rec.finish();
        }
        b.take().unwrap()
    }

    #[test]
    fn frames_carry_their_length_and_every_cell() {
        let b = batch(&[(7, &[(0, b"id-1"), (4, b"/a")]), (8, &[(6, b"page")])]);
        let r = Requests::new(b, 1 << 20, 16, false, &[]).unwrap();
        assert_eq!((r.events(), r.requests()), (2, 1));
        let frame = r.frame(0, b"t_user", Key::ByUser, 3);
        assert_eq!(
            u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize,
            frame.len() - 4
        );
        // Compact protocol: id 0x82, version and type 0x21 (CALL), seqid varint 3, name length 11.
        assert_eq!(&frame[4..8], &[0x82, 0x21, 3, 11]);
        assert_eq!(&frame[8..19], b"putMultiple");
        for needle in [
            &b"t_user"[..],
            b"id-1",
            b"/a",
            b"page",
            b"url",
            b"a",
            &[1; 33],
        ] {
            assert!(frame.windows(needle.len()).any(|w| w == needle));
        }
        let by_time = r.frame(0, b"t_time", Key::ByTime, 4);
        assert!(by_time.windows(33).any(|w| w == [2; 33]));
        assert!(!by_time.windows(33).any(|w| w == [1; 33]));
    }

    #[test]
    fn cuts_requests_by_size_and_keeps_a_big_event_whole() {
        let big = vec![b'x'; 3000];
        let b = batch(&[
            (1, &[(4, &big[..])]),
            (2, &[(4, b"/a")]),
            (3, &[(4, b"/b")]),
            (4, &[(4, &big[..])]),
        ]);
        let r = Requests::new(b, 1000, 16, false, &[]).unwrap();
        assert_eq!(r.slices, vec![(0, 1), (1, 3), (3, 4)]);
    }

    #[test]
    fn drops_an_http_librarys_events_only_off_an_app_platform() {
        let mut b = Batch::new(1 << 16);
        for (i, (p, ua)) in [
            ("android", "okhttp/4.12.0"),
            ("web", "okhttp/4.12.0"),
            ("android", "Googlebot/2.1"),
            ("android", "Dalvik/2.1.0 (Linux; U; Android 14)"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut rec = b.record(1, &[i as u8; 33], &[i as u8; 33]);
            rec.field(q::P, p.as_bytes());
            rec.field(q::UA, ua.as_bytes());
            rec.finish();
        }
        let r =
            Requests::new(b.take().unwrap(), 1 << 20, 16, true, &[b"android".to_vec()]).unwrap();
        assert_eq!((r.events(), r.dropped_bots()), (2, 2));
    }

    #[test]
    fn refuses_bad_batches_with_the_reason() {
        assert_eq!(
            Requests::new(b"SPB2\0\0\0\0".to_vec(), 100, 16, false, &[])
                .err()
                .unwrap(),
            "bad header"
        );
        let mut b = batch(&[(1, &[(4, b"/a")])]);
        b.push(0);
        assert_eq!(
            Requests::new(b.clone(), 100, 16, false, &[]).err().unwrap(),
            "trailing bytes"
        );
        b.pop();
        b.truncate(b.len() - 1);
        assert_eq!(
            Requests::new(b.clone(), 100, 16, false, &[]).err().unwrap(),
            "record 0 is cut short"
        );
        let mut bad_q = batch(&[(1, &[(4, b"/a")])]);
        let q_at = bad_q.len() - 5;
        bad_q[q_at] = 26;
        assert_eq!(
            Requests::new(bad_q, 100, 16, false, &[]).err().unwrap(),
            "record 0 has unknown qualifier 26"
        );
    }
}
