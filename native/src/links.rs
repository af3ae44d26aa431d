//! The identity links of a batch: every pair of ids seen together on one event, as rows of the identity table.
//!
//! An id is written `t:value`, where `t` says which method produced it (`docs/identity.md`):
//! `u` the event's uid (given, or the collector's cookie), `v` the tracker's first-party visitor id
//! (and `lnk`, the visitor id a decorated link brought from another site), `s` the sync iframe's
//! storage id, `e` the ETag id, `f` the fingerprint and `l` the login id.
//!
//! Each id is a row `salt ‖ t:value`; each id seen with it is a cell in family `l`, qualifier
//! `t:value`, valued with the event's platform, at the event's timestamp. With one version per cell,
//! a cell's timestamp is the last time the two were seen together. The links of a batch are merged
//! first, so a page's hundred heartbeats write each pair once; replaying a batch writes the same cells.

use std::collections::BTreeMap;

use xxhash_rust::xxh3::xxh3_64;

use crate::event::q;

/// Which fields hold ids, and the type letter of each.
const ID_FIELDS: [(u8, u8); 7] = [
    (q::UID, b'u'),
    (q::VID, b'v'),
    (17, b's'),
    (18, b'e'),
    (q::FP, b'f'),
    (20, b'l'),
    (q::LNK, b'v'),
];
/// The most ids one event can carry, so the per-event list needs no allocation.
const MAX_IDS: usize = ID_FIELDS.len();
const PLATFORM: u8 = 3;
const NO_UID: &[u8] = b"00000000000000000000000000000000";

/// One cell of a link row: the other id's qualifier, the event's platform and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub ts: i64,
    pub platform: Vec<u8>,
}

/// An identity row and its cells, qualifier first.
pub type Row = (Vec<u8>, BTreeMap<Vec<u8>, Cell>);

/// The identity table's rowkey of `t:value`: a salt byte from its XXH3-64, then the text itself.
pub fn row_key(id: &[u8], salt_buckets: u64) -> Vec<u8> {
    let mut row = Vec::with_capacity(1 + id.len());
    row.push((xxh3_64(id) % salt_buckets.max(1)) as u8);
    row.extend_from_slice(id);
    row
}

/// Collects the links of a batch's events, merged by row and qualifier, keeping the newest timestamp.
#[derive(Default)]
pub struct Links {
    rows: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Cell>>,
}

impl Links {
    /// Adds the links of one event, given as its `(qualifier id, value)` fields.
    pub fn add<'a>(
        &mut self,
        ts: i64,
        fields: impl Iterator<Item = (u8, &'a [u8])>,
        salt_buckets: u64,
    ) {
        let mut ids: [Option<(u8, &[u8])>; MAX_IDS] = [None; MAX_IDS];
        let mut n = 0;
        let mut platform: &[u8] = b"";
        for (id, value) in fields {
            if id == PLATFORM {
                platform = value;
            }
            let Some(&(_, kind)) = ID_FIELDS.iter().find(|(q, _)| *q == id) else {
                continue;
            };
            // The uid of 32 zeros is everyone without one (anonymous, or refusing the cookie): no link of a person.
            if id == q::UID && value == NO_UID {
                continue;
            }
            if n < MAX_IDS && !ids[..n].contains(&Some((kind, value))) {
                ids[n] = Some((kind, value));
                n += 1;
            }
        }
        if n < 2 {
            return;
        }
        let ids: Vec<Vec<u8>> = ids[..n]
            .iter()
            .flatten()
            .map(|&(kind, value)| typed(kind, value))
            .collect();
        for (i, a) in ids.iter().enumerate() {
            let row = self.rows.entry(row_key(a, salt_buckets)).or_default();
            for (j, b) in ids.iter().enumerate() {
                if i == j {
                    continue;
                }
                let cell = row.entry(b.clone()).or_insert_with(|| Cell {
                    ts,
                    platform: platform.to_vec(),
                });
                if ts > cell.ts {
                    *cell = Cell {
                        ts,
                        platform: platform.to_vec(),
                    };
                }
            }
        }
    }

    pub fn into_rows(self) -> Vec<Row> {
        self.rows.into_iter().collect()
    }
}

fn typed(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut id = Vec::with_capacity(2 + value.len());
    id.extend_from_slice(&[kind, b':']);
    id.extend_from_slice(value);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row as its id and its cells as (qualifier, ts, platform).
    type Got = Vec<(String, Vec<(String, i64, String)>)>;

    fn links(events: &[(i64, &[(u8, &str)])]) -> Got {
        let mut l = Links::default();
        for &(ts, fields) in events {
            l.add(ts, fields.iter().map(|&(q, v)| (q, v.as_bytes())), 4);
        }
        l.into_rows()
            .into_iter()
            .map(|(row, cells)| {
                assert_eq!(row[0], (xxh3_64(&row[1..]) % 4) as u8);
                let cells = cells
                    .into_iter()
                    .map(|(q, c)| {
                        (
                            String::from_utf8(q).unwrap(),
                            c.ts,
                            String::from_utf8(c.platform).unwrap(),
                        )
                    })
                    .collect();
                (String::from_utf8(row[1..].to_vec()).unwrap(), cells)
            })
            .collect()
    }

    #[test]
    fn an_event_with_one_id_links_nothing() {
        assert!(links(&[(1, &[(q::UID, "c1"), (PLATFORM, "web"), (6, "page")])]).is_empty());
    }

    #[test]
    fn links_every_pair_both_ways_with_the_platform() {
        let got = links(&[(
            5,
            &[
                (q::UID, "c1"),
                (PLATFORM, "web"),
                (q::VID, "v1"),
                (20, "alice"),
            ],
        )]);
        let rows: Vec<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
        let mut want = vec!["l:alice", "u:c1", "v:v1"];
        want.sort();
        let mut rows_sorted = rows.clone();
        rows_sorted.sort();
        assert_eq!(rows_sorted, want);
        let alice = &got.iter().find(|(r, _)| r == "l:alice").unwrap().1;
        assert_eq!(
            alice,
            &vec![
                ("u:c1".to_string(), 5, "web".to_string()),
                ("v:v1".to_string(), 5, "web".to_string())
            ]
        );
    }

    #[test]
    fn a_link_parameter_is_a_visitor_id_and_duplicates_collapse() {
        let got = links(&[(
            5,
            &[
                (q::UID, "c1"),
                (q::VID, "v2"),
                (q::LNK, "v1"),
                (18, "e1"),
                (19, "f1"),
                (17, "s1"),
            ],
        )]);
        let c1 = &got.iter().find(|(r, _)| r == "u:c1").unwrap().1;
        let names: Vec<&str> = c1.iter().map(|(q, _, _)| q.as_str()).collect();
        assert_eq!(names, ["e:e1", "f:f1", "s:s1", "v:v1", "v:v2"]);
        let same = links(&[(5, &[(q::VID, "v1"), (q::LNK, "v1")])]);
        assert!(
            same.is_empty(),
            "a link back to the same visitor id is no link"
        );
    }

    #[test]
    fn the_uid_of_no_one_links_nothing() {
        let zeros = "0".repeat(32);
        assert!(links(&[(5, &[(q::UID, zeros.as_str()), (q::VID, "v1")])]).is_empty());
    }

    #[test]
    fn merges_a_batch_keeping_the_newest_sighting() {
        let got = links(&[
            (9, &[(q::UID, "c1"), (PLATFORM, "app"), (20, "alice")]),
            (3, &[(q::UID, "c1"), (PLATFORM, "web"), (20, "alice")]),
        ]);
        assert_eq!(got.len(), 2);
        for (_, cells) in got {
            assert_eq!(cells.len(), 1);
            assert_eq!((cells[0].1, cells[0].2.as_str()), (9, "app"));
        }
    }
}
