//! Server-side sessions: gives every record of a batch that has no `sid` the session id of its user's current visit.
//!
//! The main thread runs this on each batch a serving thread hands over, before the buffer append, so it sees every
//! event of every serving thread, in about the order they arrived.
//!
//! # The rule
//!
//! Per user (the uid16 in the by-user rowkey, `ku[1..17]`) the state is the time of the user's
//! last event, the current session id and the session's traffic source: the campaign and the
//! external referrer host of the event that started it. An event starts a new session when
//!
//! - the user has no state: their first event, or they were evicted, or the collector restarted;
//! - it comes more than `timeout_ms` after the user's previous event;
//! - its `url` carries campaign parameters (`utm_source`, `utm_medium`, `utm_campaign`, `gclid`)
//!   whose values differ from the session's campaign; the same campaign again does not split;
//! - it carries no campaign and its `ref` is from another site (a host that is neither the
//!   `url`'s host nor one of `own_hosts`) that differs from the referrer the session came from.
//!   The session's own referrer does not split it, since every event of a landing page (or of a
//!   single-page app) repeats it.
//!
//! An event earlier than the user's last one (serving threads hand their batches over a few ms out of order) joins
//! the current session, even one whose starting event is stamped after it, and does not move the
//! last time back: sessions are cut in the order the main thread sees events (`docs/sessions.md`). A record that already has a `sid`
//! (an app that manages its own) is copied as it is and leaves the state alone.
//!
//! The session id is XXH3-64 of `uid16 ‖ start ts (u64 BE) ‖ eid8` as 16 lowercase hex digits, where
//! eid8 is the event id of the event that started the session (the last 8 bytes of its by-user rowkey).
//! An event starts at most one session, so two sessions never share an id, not even two that one
//! user starts in one millisecond (one POST can carry both starts, and all its events share a
//! timestamp); and an event's id is in the batch, so assigning the same batch again from the same
//! state gives the same ids. How a URL's host and campaign are read is `url.rs`'s.
//!
//! State is bounded by an LRU of at most `max_users` users; an evicted user's next event starts
//! a new session, as after a restart, since the state lives only in memory.

use std::num::{NonZeroU64, NonZeroUsize};
use std::ops::Range;

use lru::LruCache;
use xxhash_rust::xxh3::xxh3_64;

use crate::batch::HEADER_LEN;
use crate::event::q;
use crate::records;
use crate::rowkey;
use crate::url::{campaign, hash_host, host, is_host};
use crate::{identity, options, SessionOptions};

/// Where the uid16 lies in a by-user rowkey, after its salt byte.
const UID: Range<usize> = 1..17;
/// Where the event id lies in a by-user rowkey, after the inverted timestamp.
const EID: Range<usize> = 25..rowkey::LEN;
const SID_HEX: usize = 16;
/// An inserted field: `q vlen value`.
const SID_FIELD: usize = 3 + SID_HEX;

/// The checked options; see `SessionOptions` for what each one means.
#[derive(Debug, Clone)]
pub struct Settings {
    timeout_ms: u64,
    max_users: NonZeroUsize,
    /// Lowercased.
    own_hosts: Vec<Vec<u8>>,
}

impl Settings {
    /// Checks each option; the error names the first one that is wrong.
    pub fn check(o: &SessionOptions) -> Result<Self, String> {
        let (timeout, users) = (options::TIMEOUT_MS, options::MAX_USERS);
        let timeout_ms = options::int("options.timeoutMs", o.timeout_ms, timeout.min, timeout.max)?;
        let max_users = options::int("options.maxUsers", o.max_users, users.min, users.max)?;
        let own_hosts = o
            .own_hosts
            .iter()
            .map(|h| {
                if is_host(h.as_bytes()) {
                    Ok(h.to_ascii_lowercase().into_bytes())
                } else {
                    Err(format!(
                        "options.ownHosts must hold host names without scheme, port or path: {h:?}"
                    ))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            timeout_ms: timeout_ms as u64,
            max_users: NonZeroUsize::new(max_users).unwrap_or(NonZeroUsize::MIN),
            own_hosts,
        })
    }
}

/// A session's traffic source: what started it. Hashes are kept rather than the values, and
/// non-zero so that an absent one costs no room: the state is per user, and there may be many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Source {
    /// Hash of the campaign values, if the starting event's URL had any.
    campaign: Option<NonZeroU64>,
    /// Hash of the lowercased external referrer host, if the starting event had one.
    referrer: Option<NonZeroU64>,
}

impl Source {
    /// Whether an event that came from `self` starts a new session in one that came from `session`.
    fn leaves(&self, session: &Source) -> bool {
        match self.campaign {
            Some(c) => session.campaign != Some(c),
            None => self.referrer.is_some_and(|r| session.referrer != Some(r)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Session {
    last_ts: u64,
    /// Written as hex only into the records.
    sid: u64,
    source: Source,
}

/// Where one record's parts lie in the batch, from the checking pass.
#[derive(Debug, Clone)]
struct Rec {
    /// The record, its length prefix included.
    range: Range<usize>,
    ts: u64,
    uid: [u8; 16],
    eid: [u8; 8],
    nf_at: usize,
    /// Where a `sid` field goes: before the first field with a higher qualifier id.
    insert_at: usize,
    has_sid: bool,
    url: Range<usize>,
    referrer: Range<usize>,
}

pub struct Sessions {
    settings: Settings,
    users: LruCache<[u8; 16], Session>,
    /// The checking pass's results, reused across batches.
    recs: Vec<Rec>,
}

impl Sessions {
    pub fn new(settings: Settings) -> Self {
        // `sparse`: the LRU's table grows with the users seen, not to `max_users` at once.
        Self {
            users: LruCache::sparse(settings.max_users),
            settings,
            recs: Vec::new(),
        }
    }

    /// Applies new settings; shrinking `max_users` drops the least recently seen users.
    pub fn configure(&mut self, settings: Settings) {
        self.users.resize(settings.max_users);
        self.settings = settings;
    }

    /// Users whose state is kept.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// The batch with a `sid` inserted in each record that has none; the count is unchanged.
    /// The whole batch is checked first, so a bad batch changes no state.
    pub fn assign(&mut self, batch: &[u8]) -> Result<Vec<u8>, String> {
        self.recs.clear();
        check(batch, &mut self.recs)
            .map_err(|reason| format!("batch is not format v1: {reason}"))?;
        let missing = self.recs.iter().filter(|r| !r.has_sid).count();
        let mut out = Vec::with_capacity(batch.len() + missing * SID_FIELD);
        out.extend_from_slice(&batch[..HEADER_LEN]);
        let recs = std::mem::take(&mut self.recs);
        for r in &recs {
            if r.has_sid {
                out.extend_from_slice(&batch[r.range.clone()]);
                continue;
            }
            let mut sid = [0; SID_HEX];
            identity::hex(&self.sid(r, batch).to_be_bytes(), &mut sid);
            // `check` made sure that both fit.
            let len = (r.range.len() - 4 + SID_FIELD) as u32;
            let nf = batch[r.nf_at] + 1;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&batch[r.range.start + 4..r.nf_at]);
            out.push(nf);
            out.extend_from_slice(&batch[r.nf_at + 1..r.insert_at]);
            out.push(q::SID);
            out.extend_from_slice(&(SID_HEX as u16).to_be_bytes());
            out.extend_from_slice(&sid);
            out.extend_from_slice(&batch[r.insert_at..r.range.end]);
        }
        self.recs = recs;
        Ok(out)
    }

    /// The session id of a record without one, updating its user's state.
    fn sid(&mut self, r: &Rec, batch: &[u8]) -> u64 {
        let session = self.users.get_mut(&r.uid);
        if let Some(s) = &session {
            if r.ts < s.last_ts {
                return s.sid;
            }
        }
        let source = source(
            &batch[r.url.clone()],
            &batch[r.referrer.clone()],
            &self.settings.own_hosts,
        );
        if let Some(s) = session {
            if r.ts - s.last_ts <= self.settings.timeout_ms && !source.leaves(&s.source) {
                s.last_ts = r.ts;
                return s.sid;
            }
        }
        let sid = sid_of(&r.uid, r.ts, &r.eid);
        // Replaces the user's old session, or evicts the least recently seen user when full.
        self.users.put(
            r.uid,
            Session {
                last_ts: r.ts,
                sid,
                source,
            },
        );
        sid
    }
}

/// The id of the session that the event `eid` of user `uid`, at `ts`, starts.
fn sid_of(uid: &[u8; 16], ts: u64, eid: &[u8; 8]) -> u64 {
    let mut id = [0; 32];
    id[..16].copy_from_slice(uid);
    id[16..24].copy_from_slice(&ts.to_be_bytes());
    id[24..].copy_from_slice(eid);
    xxh3_64(&id)
}

/// Checks the batch (as the flush does, `records.rs`) and notes in `recs` what a session needs of each record.
fn check(batch: &[u8], recs: &mut Vec<Rec>) -> Result<(), String> {
    for (i, located) in records::locate(batch)?.into_iter().enumerate() {
        let key = &batch[located.by_user.clone()];
        if key.len() != rowkey::LEN {
            return Err(format!(
                "record {i} has a by-user key of {} bytes, not {}",
                key.len(),
                rowkey::LEN
            ));
        }
        let mut rec = Rec {
            range: located.range.clone(),
            ts: located.ts,
            uid: key[UID].try_into().unwrap_or_default(),
            eid: key[EID].try_into().unwrap_or_default(),
            nf_at: located.nf_at,
            insert_at: located.range.end,
            has_sid: false,
            url: 0..0,
            referrer: 0..0,
        };
        let mut insert_at = None;
        for (field_at, q, value) in records::fields(batch, &located) {
            let value_at = field_at + 3..field_at + 3 + value.len();
            match q {
                q::SID => rec.has_sid = true,
                q::URL => rec.url = value_at,
                q::REF => rec.referrer = value_at,
                _ => {}
            }
            if q > q::SID && insert_at.is_none() {
                insert_at = Some(field_at);
            }
        }
        if !rec.has_sid
            && (located.nf == u8::MAX || rec.range.len() - 4 > (u32::MAX as usize) - SID_FIELD)
        {
            return Err(format!("record {i} has no room for a sid"));
        }
        rec.insert_at = insert_at.unwrap_or(located.range.end);
        recs.push(rec);
    }
    Ok(())
}

/// The traffic source of an event with this `url` and `ref`.
fn source(url: &[u8], referrer: &[u8], own_hosts: &[Vec<u8>]) -> Source {
    let url_host = host(url);
    let external = host(referrer).filter(|r| {
        !url_host.is_some_and(|u| u.eq_ignore_ascii_case(r))
            && !own_hosts.iter().any(|o| o.eq_ignore_ascii_case(r))
    });
    Source {
        campaign: campaign(url),
        referrer: external.map(hash_host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::read::records;
    use crate::batch::Batch;
    use crate::encoder::{Encoder, Request};
    use crate::options::{test_options, Limits};

    const T0: u64 = 1_700_000_000_000;
    const MIN: u64 = 60_000;
    const SHOP: &str = "https://shop.example/";

    /// uid, server time, `url`, `ref`.
    type Pixel<'a> = (&'a str, u64, &'a str, &'a str);

    fn options(max_users: f64, own_hosts: &[&str]) -> SessionOptions {
        SessionOptions {
            timeout_ms: (30 * MIN) as f64,
            max_users,
            own_hosts: own_hosts.iter().map(|h| h.to_string()).collect(),
        }
    }

    fn sessions_with(max_users: f64, own_hosts: &[&str]) -> Sessions {
        Sessions::new(Settings::check(&options(max_users, own_hosts)).unwrap())
    }

    fn sessions() -> Sessions {
        sessions_with(1000.0, &[])
    }

    fn esc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// The `eid` the test batches give the `n`th (from 0) pixel of a user at one time: the time, then `.n` after the first.
    fn eid(ts: u64, n: usize) -> String {
        match n {
            0 => ts.to_string(),
            _ => format!("{ts}.{n}"),
        }
    }

    /// One batch of pixels as the real encoder writes them, with the eids of `eid`; `extra` is added to every query.
    fn batch_with(pixels: &[Pixel], extra: &str) -> Vec<u8> {
        let mut e = Encoder::new(Limits::check(&test_options()).unwrap(), None).unwrap();
        for (i, &(uid, ts, url, referrer)) in pixels.iter().enumerate() {
            let n = pixels[..i]
                .iter()
                .filter(|p| p.0 == uid && p.1 == ts)
                .count();
            let query = format!(
                "uid={uid}&eid={}&url={}&ref={}{extra}",
                eid(ts, n),
                esc(url),
                esc(referrer)
            );
            let req = Request {
                user_agent: "Mozilla/5.0",
                referer: "",
                cookie: "",
                ip: &[192, 0, 2, 1],
                now_ms: ts as f64,
                anonymous: false,
            };
            assert_eq!(e.pixel(&query, &req, &mut [0; 32]), 0, "{query}");
        }
        e.take_batch().unwrap()
    }

    fn batch(pixels: &[Pixel]) -> Vec<u8> {
        batch_with(pixels, "")
    }

    /// The sids given to the pixels, in order.
    fn sids(s: &mut Sessions, pixels: &[Pixel]) -> Vec<String> {
        records(&s.assign(&batch(pixels)).unwrap())
            .iter()
            .map(|r| r.field(q::SID).unwrap().to_string())
            .collect()
    }

    /// The reference: XXH3-64 of uid16 ‖ start ts ‖ the starting event's eid8, as 16 hex digits, for a
    /// session started by the `n`th pixel of the user at `start`.
    fn sid_of_nth(uid: &str, start: u64, n: usize) -> String {
        let uid16 = identity::uid16(uid.as_bytes());
        let mut id = uid16.to_vec();
        id.extend_from_slice(&start.to_be_bytes());
        id.extend_from_slice(&identity::client_event_id(&uid16, eid(start, n).as_bytes()));
        format!("{:016x}", xxh3_64(&id))
    }

    fn sid_of(uid: &str, start: u64) -> String {
        sid_of_nth(uid, start, 0)
    }

    #[test]
    fn two_sessions_started_in_one_millisecond_have_two_ids() {
        // As one POST gives them: an identify, then a page from another site, both at one time.
        let pixels: [Pixel; 3] = [
            ("alice", T0, "", ""),
            ("alice", T0, SHOP, "https://www.google.com/"),
            ("alice", T0, "https://shop.example/b", SHOP),
        ];
        let got = sids(&mut sessions(), &pixels);
        let second = sid_of_nth("alice", T0, 1);
        assert_eq!(got, [sid_of("alice", T0), second.clone(), second]);
        assert_ne!(got[0], got[1]);
        // The same batch again, from the same (empty) state, gets the same ids.
        assert_eq!(sids(&mut sessions(), &pixels), got);
    }

    #[test]
    fn one_session_within_the_timeout_and_a_new_one_after_it() {
        let mut s = sessions();
        let got = sids(
            &mut s,
            &[
                ("alice", T0, SHOP, ""),
                ("alice", T0 + 29 * MIN, SHOP, ""),
                ("alice", T0 + 59 * MIN, SHOP, ""),
                ("alice", T0 + 89 * MIN + 1, SHOP, ""),
            ],
        );
        let first = sid_of("alice", T0);
        let second = sid_of("alice", T0 + 89 * MIN + 1);
        assert_eq!(got, [first.as_str(), &first, &first, &second]);
        // The state carries over to the next batch.
        let later = sids(&mut s, &[("alice", T0 + 90 * MIN, SHOP, "")]);
        assert_eq!(later, [second]);
    }

    #[test]
    fn a_new_campaign_starts_a_session_and_the_same_one_does_not() {
        let mut s = sessions();
        let spring = "https://shop.example/?utm_source=news&utm_campaign=spring";
        let got = sids(
            &mut s,
            &[
                ("alice", T0, SHOP, ""),
                ("alice", T0 + 1, spring, ""),
                ("alice", T0 + 2, spring, ""),
                ("alice", T0 + 3, "https://shop.example/cart", SHOP),
                ("alice", T0 + 4, &format!("{spring}#top"), ""),
                (
                    "alice",
                    T0 + 5,
                    "https://shop.example/?utm_campaign=summer&utm_source=news",
                    "",
                ),
                ("alice", T0 + 6, "https://shop.example/?gclid=abc", ""),
                ("alice", T0 + 7, "https://shop.example/p?x=1&gclid=abc", ""),
            ],
        );
        let starts = [T0, T0 + 1, T0 + 1, T0 + 1, T0 + 1, T0 + 5, T0 + 6, T0 + 6];
        let want: Vec<String> = starts.iter().map(|&t| sid_of("alice", t)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_external_referrer_starts_a_session_and_an_internal_one_does_not() {
        let mut s = sessions();
        let google = "https://www.google.com/";
        let got = sids(
            &mut s,
            &[
                ("alice", T0, SHOP, google),
                // Every event of the landing page repeats its referrer.
                ("alice", T0 + 1, SHOP, google),
                (
                    "alice",
                    T0 + 2,
                    "https://shop.example/a",
                    "https://SHOP.example:443/",
                ),
                (
                    "alice",
                    T0 + 3,
                    "https://shop.example/b",
                    "https://duckduckgo.com/?q=x",
                ),
                (
                    "alice",
                    T0 + 4,
                    "https://shop.example/b",
                    "https://DuckDuckGo.com./",
                ),
                (
                    "alice",
                    T0 + 5,
                    "https://shop.example/c",
                    "https://shop.example/b",
                ),
                ("alice", T0 + 6, "https://shop.example/c", "not a url"),
                ("alice", T0 + 7, "https://shop.example/c", google),
            ],
        );
        let starts = [T0, T0, T0, T0 + 3, T0 + 3, T0 + 3, T0 + 3, T0 + 7];
        let want: Vec<String> = starts.iter().map(|&t| sid_of("alice", t)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_landing_referrer_does_not_split_a_campaign_session() {
        let mut s = sessions();
        let ad = "https://shop.example/?utm_source=google&utm_medium=cpc";
        let google = "https://www.google.com/";
        let got = sids(
            &mut s,
            &[
                ("alice", T0, ad, google),
                ("alice", T0 + 1, "https://shop.example/app/2", google),
                (
                    "alice",
                    T0 + 2,
                    "https://shop.example/app/3",
                    "https://bing.com/",
                ),
            ],
        );
        assert_eq!(
            got,
            [
                sid_of("alice", T0),
                sid_of("alice", T0),
                sid_of("alice", T0 + 2)
            ]
        );
    }

    #[test]
    fn own_hosts_keep_a_cross_domain_journey_in_one_session() {
        let journey: [Pixel; 3] = [
            ("alice", T0, SHOP, ""),
            ("alice", T0 + 1, "https://pay.example/checkout", SHOP),
            (
                "alice",
                T0 + 2,
                "https://shop.example/thanks",
                "https://pay.example/done",
            ),
        ];
        let mut own = sessions_with(1000.0, &["shop.example", "Pay.Example"]);
        assert_eq!(sids(&mut own, &journey), vec![sid_of("alice", T0); 3]);
        let mut plain = sessions();
        assert_eq!(
            sids(&mut plain, &journey),
            [
                sid_of("alice", T0),
                sid_of("alice", T0 + 1),
                sid_of("alice", T0 + 2)
            ]
        );
    }

    #[test]
    fn a_given_sid_is_kept_and_leaves_the_state_alone() {
        let mut s = sessions();
        let given = batch_with(&[("alice", T0, SHOP, "")], "&sid=app-session");
        let out = s.assign(&given).unwrap();
        assert_eq!(out, given);
        assert_eq!(s.users(), 0);
        let got = sids(&mut s, &[("alice", T0 + 1, SHOP, "")]);
        assert_eq!(got, [sid_of("alice", T0 + 1)]);
    }

    #[test]
    fn an_earlier_event_joins_the_session_and_keeps_the_last_time() {
        let mut s = sessions();
        let got = sids(
            &mut s,
            &[
                ("alice", T0 + 10, SHOP, ""),
                // Out of order, and with a campaign that would otherwise split.
                ("alice", T0, "https://shop.example/?utm_source=x", ""),
                // 30 min after the last event, not after the earlier one.
                ("alice", T0 + 10 + 30 * MIN, SHOP, ""),
            ],
        );
        assert_eq!(got, vec![sid_of("alice", T0 + 10); 3]);
    }

    #[test]
    fn two_users_are_independent() {
        let mut s = sessions();
        let got = sids(
            &mut s,
            &[
                ("alice", T0, SHOP, ""),
                ("bob", T0, SHOP, ""),
                ("bob", T0 + 1, "https://shop.example/?utm_source=x", ""),
                ("alice", T0 + 2, SHOP, ""),
                ("bob", T0 + 40 * MIN, SHOP, ""),
                ("alice", T0 + 20 * MIN, SHOP, ""),
            ],
        );
        let (a, b0, b1, b2) = (
            sid_of("alice", T0),
            sid_of("bob", T0),
            sid_of("bob", T0 + 1),
            sid_of("bob", T0 + 40 * MIN),
        );
        assert_ne!(a, b0);
        assert_eq!(got, [a.as_str(), &b0, &b1, &a, &b2, &a]);
        assert_eq!(s.users(), 2);
    }

    #[test]
    fn the_least_recently_seen_user_is_evicted() {
        let mut s = sessions_with(2.0, &[]);
        let got = sids(
            &mut s,
            &[
                ("alice", T0, SHOP, ""),
                ("bob", T0 + 1, SHOP, ""),
                ("alice", T0 + 2, SHOP, ""),
                // Full: bob, seen least recently, goes.
                ("carol", T0 + 3, SHOP, ""),
                ("alice", T0 + 4, SHOP, ""),
                ("bob", T0 + 5, SHOP, ""),
            ],
        );
        assert_eq!(
            got,
            [
                sid_of("alice", T0),
                sid_of("bob", T0 + 1),
                sid_of("alice", T0),
                sid_of("carol", T0 + 3),
                sid_of("alice", T0),
                sid_of("bob", T0 + 5),
            ]
        );
        assert_eq!(s.users(), 2);
    }

    #[test]
    fn configure_resizes_and_changes_the_timeout() {
        let mut s = sessions();
        sids(
            &mut s,
            &[
                ("alice", T0, SHOP, ""),
                ("bob", T0 + 1, SHOP, ""),
                ("carol", T0 + 2, SHOP, ""),
            ],
        );
        let mut o = options(2.0, &[]);
        o.timeout_ms = MIN as f64;
        s.configure(Settings::check(&o).unwrap());
        assert_eq!(s.users(), 2);
        // Alice, seen least recently, went; carol's session ends after the shorter timeout.
        let got = sids(
            &mut s,
            &[
                ("carol", T0 + 3, SHOP, ""),
                ("carol", T0 + 3 + MIN + 1, SHOP, ""),
                ("alice", T0 + 4, SHOP, ""),
            ],
        );
        assert_eq!(
            got,
            [
                sid_of("carol", T0 + 2),
                sid_of("carol", T0 + 3 + MIN + 1),
                sid_of("alice", T0 + 4)
            ]
        );
    }

    #[test]
    fn records_keep_their_bytes_apart_from_the_inserted_field() {
        let mut s = sessions();
        let before = batch(&[
            (
                "alice",
                T0,
                "https://shop.example/?a=1",
                "https://ref.example/",
            ),
            ("bob", T0 + 1, SHOP, ""),
        ]);
        let after = s.assign(&before).unwrap();
        assert_eq!(after[..8], before[..8], "header and count");
        assert_eq!(after.len(), before.len() + 2 * SID_FIELD);
        for (b, a) in records(&before).into_iter().zip(records(&after)) {
            let mut a = a;
            let at = a.fields.iter().position(|f| f.0 == q::SID).unwrap();
            assert_eq!(at, 2, "after id and uid");
            let (_, sid) = a.fields.remove(at);
            assert_eq!(sid.len(), 16);
            assert_eq!(a, b);
        }
    }

    /// A record's fields: qualifier id and value.
    type Fields<'a> = &'a [(u8, &'a [u8])];

    /// A record written directly, to reach what the encoder never writes.
    fn raw(fields: Fields, ku: &[u8; 33]) -> Vec<u8> {
        let mut b = Batch::new(1 << 16);
        let mut rec = b.record(T0, ku, &[2; 33]);
        for &(q, v) in fields {
            rec.field(q, v);
        }
        rec.finish();
        b.take().unwrap()
    }

    #[test]
    fn inserts_in_ascending_position_and_copies_unknown_fields() {
        let ku = [7; 33];
        let cases: [(Fields, usize); 4] = [
            (
                &[(0, b"id"), (1, b"u"), (4, b"/"), (16, b"x"), (21, b"y")],
                2,
            ),
            (&[(0, b"id"), (1, b"u")], 2),
            (&[(9, b"ch"), (17, b"z")], 0),
            (&[], 0),
        ];
        for (fields, at) in cases {
            let before = raw(fields, &ku);
            let after = sessions().assign(&before).unwrap();
            let mut want: Vec<(u8, Vec<u8>)> =
                fields.iter().map(|(q, v)| (*q, v.to_vec())).collect();
            let sid = format!("{:016x}", {
                let mut id = [7; 32];
                id[16..24].copy_from_slice(&T0.to_be_bytes());
                xxh3_64(&id)
            });
            want.insert(at, (q::SID, sid.into_bytes()));
            assert_eq!(records(&after)[0].fields, want, "{fields:?}");
        }
    }

    #[test]
    fn refuses_bad_batches_and_changes_no_state() {
        let good = batch(&[("alice", T0, SHOP, "")]);
        let two = batch(&[("alice", T0, SHOP, ""), ("bob", T0, SHOP, "")]);
        let mut trailing = good.clone();
        trailing.push(0);
        let mut cut = two.clone();
        cut.truncate(cut.len() - 1);
        let mut longer = good.clone();
        longer[11] += 1;
        longer.push(0);
        // A well-formed record whose by-user key is 10 bytes, not a rowkey.
        let mut record = T0.to_be_bytes().to_vec();
        record.extend_from_slice(&[10; 11]);
        record.extend_from_slice(&[33; 34]);
        record.push(0);
        let mut short_key = b"SPB1\0\0\0\x01".to_vec();
        short_key.extend_from_slice(&(record.len() as u32).to_be_bytes());
        short_key.extend_from_slice(&record);
        let full: Vec<(u8, &[u8])> = (0..255).map(|_| (3, &b"p"[..])).collect();
        let cases: [(&[u8], &str); 7] = [
            (b"SPB2\0\0\0\0", "bad header"),
            (b"SPB1\0\0", "bad header"),
            (&trailing, "trailing bytes"),
            (&cut, "record 1 is cut short"),
            (&longer, "record 0 length does not match its fields"),
            (&short_key, "record 0 has a by-user key of 10 bytes, not 33"),
            (&raw(&full, &[1; 33]), "record 0 has no room for a sid"),
        ];
        let mut s = sessions();
        for (bad, reason) in cases {
            assert_eq!(
                s.assign(bad).unwrap_err(),
                format!("batch is not format v1: {reason}")
            );
        }
        assert_eq!(
            s.users(),
            0,
            "the good record before a bad one changed nothing"
        );
        assert!(s.assign(b"SPB1\0\0\0\0").unwrap() == b"SPB1\0\0\0\0");
    }

    #[test]
    fn the_state_of_a_user_stays_small() {
        assert_eq!(std::mem::size_of::<Session>(), 32);
    }

    #[test]
    fn checks_each_option() {
        let check = |f: &dyn Fn(&mut SessionOptions)| {
            let mut o = options(10.0, &[]);
            f(&mut o);
            Settings::check(&o).map(|_| ())
        };
        for bad in [0.0, 1.5, f64::NAN, f64::INFINITY, -1.0, 4294967296.0] {
            assert_eq!(
                check(&|o| o.timeout_ms = bad),
                Err("options.timeoutMs must be an integer from 1 to 4294967295".into())
            );
            assert_eq!(
                check(&|o| o.max_users = bad),
                Err("options.maxUsers must be an integer from 1 to 4294967295".into())
            );
        }
        for bad in [
            "",
            "a b",
            "https://a.example",
            "a.example:8080",
            "a.example/x",
            "[::1",
            "u@a",
            "[]",
        ] {
            let got = check(&|o| o.own_hosts = vec!["ok.example".into(), bad.into()]);
            assert_eq!(
                got,
                Err(format!(
                    "options.ownHosts must hold host names without scheme, port or path: {bad:?}"
                ))
            );
        }
        for good in ["Shop.Example", "[2001:db8::1]", "192.0.2.1", "localhost"] {
            assert_eq!(check(&|o| o.own_hosts = vec![good.into()]), Ok(()));
        }
    }
}
