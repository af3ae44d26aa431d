//! The encoder: one request (pixel query or JSON body) in, its records appended to the batch, all or nothing.

use rand::rngs::{StdRng, SysError, SysRng};
use rand::{Rng, SeedableRng};

use crate::batch::Batch;
use std::sync::Arc;

use crate::event::{q, Event};
use crate::geo::{Geo, GeoCache, Place};
use crate::identity;
use crate::ip::IpText;
use crate::options::Limits;
use crate::{json, query, rowkey, BATCH_FULL, NEW_UID};

/// The request context that every event of a call shares.
pub struct Request<'a> {
    pub user_agent: &'a str,
    pub referer: &'a str,
    pub cookie: &'a str,
    /// 4 bytes for IPv4, 16 for IPv6; anything else stores no ip.
    pub ip: &'a [u8],
    /// Server time; fractions are dropped and values outside 0..=i64::MAX clamped.
    pub now_ms: f64,
    /// Store nothing that identifies the browser: see `Encoder::pixel` in lib.rs.
    pub anonymous: bool,
}

/// The uid of events stored without one: anonymous, or refusing the cookie.
const NO_UID: [u8; 16] = [0; 16];

pub struct Encoder {
    limits: Limits,
    batch: Batch,
    /// Decoded values of the event being encoded, reused across calls.
    arena: Vec<u8>,
    /// Seeded once from the OS: a getrandom syscall per event would cost more than the encoding.
    rng: StdRng,
    geo: Option<Arc<Geo>>,
    geo_cache: GeoCache,
}

impl Encoder {
    pub fn new(limits: Limits, geo: Option<Arc<Geo>>) -> Result<Self, SysError> {
        let mut encoder = Self::with_rng(limits, StdRng::try_from_rng(&mut SysRng)?);
        encoder.geo = geo;
        Ok(encoder)
    }

    /// With a seeded rng, for the tests and the fuzz targets, whose minted ids must replay.
    pub(crate) fn with_rng(limits: Limits, rng: StdRng) -> Self {
        Self {
            batch: Batch::new(limits.batch_max_bytes),
            arena: Vec::with_capacity(limits.max_query_bytes.min(64 << 10)),
            rng,
            limits,
            geo: None,
            geo_cache: GeoCache::default(),
        }
    }

    /// Encodes a pixel request: a bit set of NEW_UID and BATCH_FULL, or a negative EncodeError.
    pub fn pixel(&mut self, query: &str, req: &Request, uid_out: &mut [u8; 32]) -> i32 {
        let event = match query::parse(query, &self.limits, &mut self.arena) {
            Ok(event) => event,
            Err(code) => return code as i32,
        };
        let place = place(self.geo.as_deref(), &mut self.geo_cache, req);
        let mut call = Call::new(req, &self.limits, place);
        call.append(
            &event,
            &self.arena,
            &mut self.batch,
            &mut self.rng,
            &self.limits,
        );
        finish(&call, &self.batch, &self.limits, uid_out)
    }

    /// Encodes a JSON array of events, rolling the batch back if any part of the body is refused.
    pub fn events(&mut self, body: &[u8], req: &Request, uid_out: &mut [u8; 32]) -> i32 {
        let mark = self.batch.mark();
        let Self {
            limits,
            batch,
            arena,
            rng,
            geo,
            geo_cache,
        } = self;
        let mut call = Call::new(req, limits, place(geo.as_deref(), geo_cache, req));
        let parsed = json::parse(body, limits, arena, |event, arena| {
            call.append(event, arena, batch, rng, limits)
        });
        if let Err(code) = parsed {
            batch.rollback(mark);
            return code as i32;
        }
        finish(&call, batch, limits, uid_out)
    }

    /// Hands the current batch to `out` and starts an empty one; `None` when empty (see `Batch::take_with`).
    pub fn take_batch_with<R>(&mut self, out: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.batch.take_with(out)
    }

    #[cfg(test)]
    pub fn take_batch(&mut self) -> Option<Vec<u8>> {
        self.batch.take()
    }

    pub fn pending(&self) -> u32 {
        self.batch.count()
    }
}

/// Where the request comes from, by its address before anonymisation; only the country for an anonymous one.
fn place<'g>(geo: Option<&'g Geo>, cache: &'g mut GeoCache, req: &Request) -> Place<'g> {
    let Some(geo) = geo else {
        return Place::default();
    };
    let place = cache.lookup(geo, req.ip);
    if req.anonymous {
        return Place {
            country: place.country,
            ..Place::default()
        };
    }
    place
}

/// The result flags of a call: NEW_UID (its minted uid written to `uid_out`) and BATCH_FULL.
fn finish(call: &Call, batch: &Batch, limits: &Limits, uid_out: &mut [u8; 32]) -> i32 {
    let mut flags = 0;
    if let Some(uid16) = call.minted {
        identity::hex(&uid16, uid_out);
        flags |= NEW_UID;
    }
    if batch.bytes() >= limits.batch_max_bytes {
        flags |= BATCH_FULL;
    }
    flags
}

/// What one call works out once for all its events.
struct Call<'r, 'g> {
    ts_ms: u64,
    user_agent: &'r [u8],
    referer: &'r [u8],
    cookie: &'r str,
    ip: Option<IpText>,
    /// From the address before it is anonymised.
    place: Place<'g>,
    anonymous: bool,
    /// The uid of events that name none: the cookie's, else a minted one; found on first need.
    shared_uid: Option<[u8; 16]>,
    minted: Option<[u8; 16]>,
}

impl<'r, 'g> Call<'r, 'g> {
    fn new(req: &Request<'r>, limits: &Limits, place: Place<'g>) -> Self {
        Self {
            // `as` saturates: NaN and negatives become 0.
            ts_ms: (req.now_ms as u64).min(i64::MAX as u64),
            user_agent: truncate(req.user_agent, limits.max_value_bytes),
            referer: truncate(req.referer, limits.max_value_bytes),
            cookie: req.cookie,
            ip: IpText::new(req.ip, limits.anonymize_ip).filter(|_| !req.anonymous),
            place,
            anonymous: req.anonymous,
            shared_uid: None,
            minted: None,
        }
    }

    fn append(
        &mut self,
        event: &Event,
        arena: &[u8],
        batch: &mut Batch,
        rng: &mut StdRng,
        limits: &Limits,
    ) {
        let mut uid_hex = [0; 32];
        let (uid16, uid_text) = match event.uid {
            _ if self.anonymous => {
                identity::hex(&NO_UID, &mut uid_hex);
                (NO_UID, &uid_hex[..])
            }
            Some(given) => identity::given_uid(given.get(arena), &mut uid_hex),
            None => {
                let uid16 = self.shared_uid(rng, limits);
                identity::hex(&uid16, &mut uid_hex);
                (uid16, &uid_hex[..])
            }
        };
        let eid8 = match event.eid {
            Some(eid) => identity::client_event_id(&uid16, eid.get(arena)),
            None => rng.next_u64().to_be_bytes(),
        };
        let mut id_hex = [0; 16];
        identity::hex(&eid8, &mut id_hex);
        let (by_user, by_time) = rowkey::keys(&uid16, &eid8, self.ts_ms, limits.salt_buckets);

        let mut record = batch.record(self.ts_ms, &by_user, &by_time);
        record.field(q::ID, &id_hex);
        record.field(q::UID, uid_text);
        for id in q::SID..=q::CH {
            let value = match (event.column(id), id) {
                (Some(given), _) => given.get(arena),
                (None, q::URL) => self.referer,
                (None, q::A) => b"page",
                (None, _) => continue,
            };
            if !value.is_empty() {
                record.field(id, value);
            }
        }
        let place = [
            (q::CO, self.place.country),
            (q::RG, self.place.region),
            (q::CI, self.place.city),
        ];
        for (id, value) in place {
            if let Some(value) = value {
                record.field(id, truncate(value, limits.max_value_bytes));
            }
        }
        if !self.user_agent.is_empty() {
            record.field(q::UA, self.user_agent);
        }
        if let Some(ip) = &self.ip {
            record.field(q::IP, ip.as_bytes());
        }
        if let Some(ct) = event.ct {
            record.field(q::CT, ct.get(arena));
        }
        for id in q::VID..=q::LNK {
            let Some(given) = event.column(id) else {
                continue;
            };
            if self.anonymous || limits.drop_ids.contains(&id) {
                continue;
            }
            if id == q::FP {
                let ip = self.ip.as_ref().map_or(&[][..], IpText::as_bytes);
                record.field(
                    id,
                    &identity::fingerprint(given.get(arena), self.user_agent, ip),
                );
            } else {
                record.field(id, given.get(arena));
            }
        }
        record.finish();
    }

    fn shared_uid(&mut self, rng: &mut StdRng, limits: &Limits) -> [u8; 16] {
        *self.shared_uid.get_or_insert_with(|| {
            identity::cookie_uid(self.cookie, &limits.cookie_name).unwrap_or_else(|| {
                let mut uid16 = [0; 16];
                rng.fill_bytes(&mut uid16);
                self.minted = Some(uid16);
                uid16
            })
        })
    }
}

/// Headers are cut rather than refused: the request is the client's, the header its browser's.
fn truncate(s: &str, max: usize) -> &[u8] {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s.as_bytes()[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::read::{records, Record};
    use crate::options::test_options;
    use crate::EncodeError;
    use crate::EncoderOptions;
    use proptest::prelude::*;

    const UID: &str = "00112233445566778899aabbccddeeff";
    const UID16: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];
    const NOW: f64 = 1_700_000_000_123.0;

    fn encoder_with(f: impl FnOnce(&mut EncoderOptions)) -> Encoder {
        let mut o = test_options();
        f(&mut o);
        Encoder::with_rng(Limits::check(&o).unwrap(), StdRng::seed_from_u64(7))
    }

    fn encoder() -> Encoder {
        encoder_with(|_| {})
    }

    fn req<'a>(cookie: &'a str) -> Request<'a> {
        Request {
            user_agent: "Mozilla/5.0",
            referer: "https://example.com/page",
            cookie,
            ip: &[192, 0, 2, 33],
            now_ms: NOW,
            anonymous: false,
        }
    }

    fn pixel(e: &mut Encoder, query: &str) -> i32 {
        e.pixel(query, &req(""), &mut [0; 32])
    }

    fn events(e: &mut Encoder, body: &str) -> i32 {
        e.events(body.as_bytes(), &req(""), &mut [0; 32])
    }

    fn taken(e: &mut Encoder) -> Vec<Record> {
        e.take_batch().map(|b| records(&b)).unwrap_or_default()
    }

    #[test]
    fn encodes_a_pixel_with_defaults() {
        let mut e = encoder();
        assert_eq!(
            e.pixel(
                "p=site&ct=0042&_=1",
                &req(&format!("sp_uid={UID}")),
                &mut [0; 32]
            ),
            0
        );
        assert_eq!(e.pending(), 1);
        let r = &taken(&mut e)[0];
        assert_eq!(r.ts, 1_700_000_000_123);
        let ids: Vec<u8> = r.fields.iter().map(|f| f.0).collect();
        assert_eq!(ids, [q::ID, q::UID, 3, q::URL, q::A, q::UA, q::IP, q::CT]);
        assert_eq!(r.field(q::UID), Some(UID));
        assert_eq!(r.field(3), Some("site"));
        assert_eq!(r.field(q::URL), Some("https://example.com/page"));
        assert_eq!(r.field(q::A), Some("page"));
        assert_eq!(r.field(q::UA), Some("Mozilla/5.0"));
        assert_eq!(r.field(q::IP), Some("192.0.2.33"));
        assert_eq!(r.field(q::CT), Some("0042"));
    }

    /// The qualifier ids of a record's identity fields (`vid` … `lnk`).
    fn identity_fields(r: &Record) -> Vec<u8> {
        r.fields
            .iter()
            .map(|f| f.0)
            .filter(|&q| q >= q::VID)
            .collect()
    }

    #[test]
    fn stores_the_identity_ids_and_mixes_the_fingerprint_with_what_the_server_sees() {
        let mut e = encoder();
        pixel(&mut e, "vid=v1&sto=s1&eti=e1&fp=abc&lid=alice&lnk=v0");
        let r = &taken(&mut e)[0];
        let ids = identity_fields(r);
        assert_eq!(ids, [16, 17, 18, 19, 20, 21]);
        assert_eq!(r.field(q::VID), Some("v1"));
        assert_eq!(r.field(20), Some("alice"));
        assert_eq!(r.field(q::LNK), Some("v0"));
        let fp = identity::fingerprint(b"abc", b"Mozilla/5.0", b"192.0.2.33");
        assert_eq!(r.field(q::FP).unwrap().as_bytes(), fp);
        assert_ne!(
            fp,
            identity::fingerprint(b"abc", b"Mozilla/5.0", b"192.0.3.0")
        );
    }

    #[test]
    fn an_anonymous_request_stores_nothing_that_identifies_the_browser() {
        let mut e = encoder();
        let mut out = [b'-'; 32];
        let cookie = format!("sp_uid={UID}");
        let req = Request {
            anonymous: true,
            ..req(&cookie)
        };
        assert_eq!(e.pixel("uid=bob&vid=v1&lid=bob&a=view", &req, &mut out), 0);
        assert_eq!(
            e.events(br#"[{"a":"x"}]"#, &req, &mut out),
            0,
            "no uid is minted"
        );
        for r in taken(&mut e) {
            assert_eq!(r.field(q::UID), Some("00000000000000000000000000000000"));
            assert_eq!(r.by_user[1..17], NO_UID);
            assert_eq!(r.field(q::IP), None);
            assert_eq!(identity_fields(&r), Vec::<u8>::new());
        }
        assert_eq!(out, [b'-'; 32]);
    }

    #[test]
    fn drops_the_ids_of_methods_switched_off() {
        let mut e = encoder_with(|o| o.drop_ids = Some(vec!["fp".into(), "lid".into()]));
        pixel(&mut e, "vid=v1&sto=s1&fp=abc&lid=alice");
        let r = &taken(&mut e)[0];
        let ids = identity_fields(r);
        assert_eq!(ids, [16, 17]);
        let bad = Limits::check(&EncoderOptions {
            drop_ids: Some(vec!["vid".into()]),
            ..test_options()
        });
        assert_eq!(
            bad.err().unwrap(),
            "options.dropIds may name only sto, eti, fp and lid, not \"vid\""
        );
    }

    #[test]
    fn keys_and_id_agree_with_the_fields() {
        let mut e = encoder();
        pixel(&mut e, &format!("uid={}", UID.to_uppercase()));
        let r = &taken(&mut e)[0];
        assert_eq!(r.field(q::UID), Some(UID));
        let eid8: [u8; 8] = r.by_user[25..].try_into().unwrap();
        let mut id_hex = [0; 16];
        identity::hex(&eid8, &mut id_hex);
        assert_eq!(r.field(q::ID), Some(std::str::from_utf8(&id_hex).unwrap()));
        let (ku, kt) = rowkey::keys(&UID16, &eid8, 1_700_000_000_123, 16);
        assert_eq!(
            (r.by_user.as_slice(), r.by_time.as_slice()),
            (&ku[..], &kt[..])
        );
    }

    #[test]
    fn hashes_a_uid_that_is_not_hex_and_stores_it_as_given() {
        let mut e = encoder();
        pixel(&mut e, "uid=Alice%40example");
        let r = &taken(&mut e)[0];
        assert_eq!(r.field(q::UID), Some("Alice@example"));
        assert_eq!(r.by_user[1..17], identity::uid16(b"Alice@example"));
    }

    #[test]
    fn a_given_uid_beats_the_cookie() {
        let mut e = encoder();
        let mut out = [b'-'; 32];
        assert_eq!(
            e.pixel("uid=bob", &req(&format!("sp_uid={UID}")), &mut out),
            0
        );
        assert_eq!(out, [b'-'; 32]);
        assert_eq!(taken(&mut e)[0].field(q::UID), Some("bob"));
    }

    #[test]
    fn mints_a_uid_when_there_is_none() {
        let mut e = encoder();
        let mut out = [0; 32];
        assert_eq!(
            e.pixel("", &req("other=1; sp_uid=short"), &mut out),
            NEW_UID
        );
        let r = &taken(&mut e)[0];
        assert_eq!(r.field(q::UID).unwrap().as_bytes(), out);
        assert_eq!(identity::parse_hex32(&out).unwrap(), r.by_user[1..17]);
    }

    #[test]
    fn one_post_shares_one_minted_uid() {
        let mut e = encoder();
        let mut out = [0; 32];
        let body = r#"[{"a":"x"},{"uid":"carol"},{"a":"y"}]"#;
        assert_eq!(e.events(body.as_bytes(), &req(""), &mut out), NEW_UID);
        let uids: Vec<_> = taken(&mut e)
            .iter()
            .map(|r| r.field(q::UID).unwrap().to_owned())
            .collect();
        let minted = std::str::from_utf8(&out).unwrap();
        assert_eq!(uids, [minted, "carol", minted]);
        assert_eq!(events(&mut e, r#"[{"uid":"carol"}]"#), 0);
    }

    #[test]
    fn the_cookie_uid_serves_every_event_of_a_post() {
        let mut e = encoder();
        let flags = e.events(
            br#"[{},{}]"#,
            &req(&format!("a=b; sp_uid={}", UID.to_uppercase())),
            &mut [0; 32],
        );
        assert_eq!(flags, 0);
        assert!(taken(&mut e).iter().all(|r| r.field(q::UID) == Some(UID)));
    }

    #[test]
    fn a_client_event_id_gives_the_same_keys_on_retry() {
        let mut e = encoder();
        let body = format!(r#"[{{"uid":"{UID}","eid":"e-1","a":"buy"}}]"#);
        events(&mut e, &body);
        events(&mut e, &body);
        pixel(&mut e, &format!("uid={UID}&eid=e-1"));
        let r = taken(&mut e);
        assert_eq!(r[0].by_user, r[1].by_user);
        assert_eq!(r[0].by_time, r[2].by_time);
        assert_eq!(
            r[0].by_user[25..],
            identity::client_event_id(&UID16, b"e-1")
        );
        let mut other = encoder();
        events(&mut other, &format!(r#"[{{"uid":"{UID}","eid":"e-2"}}]"#));
        assert_ne!(taken(&mut other)[0].by_user, r[0].by_user);
    }

    #[test]
    fn random_event_ids_differ() {
        let mut e = encoder();
        pixel(&mut e, "uid=x");
        pixel(&mut e, "uid=x");
        let r = taken(&mut e);
        assert_ne!(r[0].by_user, r[1].by_user);
    }

    #[test]
    fn stores_json_fields_and_d_as_compact_text() {
        let mut e = encoder();
        let body = r#"[{"uid":"u","sid":"s","p":"p","url":"/u","ref":"/r","a":"buy","d":{"sku": 1},"it":"i","ch":"c","ct":12}]"#;
        assert_eq!(events(&mut e, body), 0);
        let r = &taken(&mut e)[0];
        let text: Vec<(u8, &str)> = r
            .fields
            .iter()
            .map(|(q, v)| (*q, std::str::from_utf8(v).unwrap()))
            .skip(1)
            .collect();
        assert_eq!(
            text,
            [
                (1, "u"),
                (2, "s"),
                (3, "p"),
                (4, "/u"),
                (5, "/r"),
                (6, "buy"),
                (7, r#"{"sku":1}"#),
                (8, "i"),
                (9, "c"),
                (13, "Mozilla/5.0"),
                (14, "192.0.2.33"),
                (15, "12")
            ]
        );
    }

    #[test]
    fn skips_empty_headers_and_odd_ips() {
        let mut e = encoder();
        let r = Request {
            user_agent: "",
            referer: "",
            cookie: "",
            ip: &[1, 2, 3],
            now_ms: f64::NAN,
            anonymous: false,
        };
        e.pixel("uid=x", &r, &mut [0; 32]);
        let rec = &taken(&mut e)[0];
        assert_eq!(rec.ts, 0);
        let ids: Vec<u8> = rec.fields.iter().map(|f| f.0).collect();
        assert_eq!(ids, [q::ID, q::UID, q::A]);
    }

    #[test]
    fn truncates_headers_at_a_char_boundary() {
        let mut e = encoder_with(|o| o.max_value_bytes = 4.0);
        let r = Request {
            user_agent: "abcé",
            referer: "ééé",
            ..req("")
        };
        e.pixel("uid=x", &r, &mut [0; 32]);
        let rec = &taken(&mut e)[0];
        assert_eq!(rec.field(q::UA), Some("abc"));
        assert_eq!(rec.field(q::URL), Some("éé"));
    }

    #[test]
    fn anonymizes_the_ip_when_asked() {
        let mut e = encoder_with(|o| o.anonymize_ip = true);
        pixel(&mut e, "uid=x");
        assert_eq!(taken(&mut e)[0].field(q::IP), Some("192.0.2.0"));
    }

    #[test]
    fn clamps_the_timestamp() {
        let mut e = encoder();
        for now in [-5.0, 1e300, f64::INFINITY] {
            e.pixel(
                "uid=x",
                &Request {
                    now_ms: now,
                    ..req("")
                },
                &mut [0; 32],
            );
        }
        let ts: Vec<u64> = taken(&mut e).iter().map(|r| r.ts).collect();
        assert_eq!(ts, [0, i64::MAX as u64, i64::MAX as u64]);
    }

    #[test]
    fn returns_every_error_code_and_appends_nothing() {
        let mut e = encoder_with(|o| {
            o.max_query_bytes = 64.0;
            o.max_fields = 3.0;
            o.max_value_bytes = 8.0;
            o.max_events_per_post = 2.0;
            o.max_json_depth = 3.0;
        });
        pixel(&mut e, "uid=x");
        let before = (e.batch.bytes(), e.pending());
        let pixels = [
            (&*"x".repeat(65), EncodeError::QueryTooLong),
            ("a&b&c&d", EncodeError::TooManyFields),
            ("a=%2", EncodeError::BadEscape),
            ("a=%80", EncodeError::BadUtf8),
            ("a=123456789", EncodeError::ValueTooLong),
            ("ct=x", EncodeError::BadField),
            ("uid=", EncodeError::BadField),
        ];
        for (query, code) in pixels {
            assert_eq!(pixel(&mut e, query), code as i32, "{query}");
        }
        let bodies = [
            (
                r#"[{"a":"x"},{"a":"x","b":1,"c":2,"d":"3"}]"#,
                EncodeError::TooManyFields,
            ),
            (
                "[{\"a\":\"\u{e9}\"},{\"a\":\"\\ud800\"}]",
                EncodeError::BadJson,
            ),
            (
                r#"[{"a":"x"},{"a":"123456789"}]"#,
                EncodeError::ValueTooLong,
            ),
            (r#"[{"a":"x"},{"a":1}]"#, EncodeError::BadJson),
            (r#"[{"a":"x"},{"d":[[]]}]"#, EncodeError::JsonTooDeep),
            (r#"[{"a":"x"},{},{}]"#, EncodeError::TooManyEvents),
            (r#"[{"a":"x"},{"ct":"1.5"}]"#, EncodeError::BadField),
            (r#"[{"a":"x"},{"eid":""}]"#, EncodeError::BadField),
        ];
        for (body, code) in bodies {
            assert_eq!(events(&mut e, body), code as i32, "{body}");
        }
        assert_eq!(
            e.events(b"[{\"a\":\"\xc3\"}]", &req(""), &mut [0; 32]),
            EncodeError::BadJson as i32
        );
        assert_eq!((e.batch.bytes(), e.pending()), before);
        assert_eq!(taken(&mut e).len(), 1);
    }

    #[test]
    fn says_when_the_batch_is_full() {
        let mut e = encoder_with(|o| o.batch_max_bytes = 400.0);
        let mut flags = Vec::new();
        for _ in 0..4 {
            flags.push(pixel(&mut e, "uid=someone&url=/x"));
        }
        assert_eq!(flags, [0, 0, BATCH_FULL, BATCH_FULL]);
        assert_eq!(taken(&mut e).len(), 4);
        assert_eq!(e.take_batch(), None);
        assert_eq!(pixel(&mut e, "uid=someone"), 0);
        assert_eq!(pixel(&mut e, ""), NEW_UID);
    }

    #[test]
    fn the_error_codes_are_the_published_numbers() {
        use EncodeError::*;
        let codes = [
            QueryTooLong,
            TooManyFields,
            BadEscape,
            BadUtf8,
            ValueTooLong,
            BadJson,
            JsonTooDeep,
            TooManyEvents,
            BadField,
        ];
        assert_eq!(
            codes.map(|c| c as i32),
            [-1, -2, -3, -4, -5, -6, -7, -8, -9]
        );
        assert_eq!((NEW_UID, BATCH_FULL), (1, 2));
    }

    fn any_request() -> impl Strategy<Value = (String, String, String, Vec<u8>, f64)> {
        (
            "\\PC{0,40}",
            "\\PC{0,20}",
            "(sp_uid=[0-9a-fA-F]{30,33}|\\PC{0,20})(; ?\\PC{0,10})?",
            proptest::collection::vec(any::<u8>(), 0..20),
            any::<f64>(),
        )
    }

    proptest! {
        #[test]
        fn pixel_never_panics_and_is_all_or_nothing(
            query in "([a-z_]{1,4}(=([a-zA-Z0-9+]|%[0-9a-fA-F]{0,2}|\\PC){0,12})?&{0,2}){0,12}|\\PC{0,60}",
            (ua, referer, cookie, ip, now_ms) in any_request(),
        ) {
            let mut e = encoder_with(|o| { o.max_value_bytes = 10.0; o.max_fields = 8.0; });
            let before = (e.batch.bytes(), e.pending());
            let r = Request { user_agent: &ua, referer: &referer, cookie: &cookie, ip: &ip, now_ms, anonymous: false };
            let flags = e.pixel(&query, &r, &mut [0; 32]);
            prop_assert!((-9..=3).contains(&flags));
            let added = if flags < 0 { 0 } else { 1 };
            prop_assert_eq!(e.pending(), before.1 + added);
            if flags < 0 {
                prop_assert_eq!(e.batch.bytes(), before.0);
            }
            prop_assert_eq!(taken(&mut e).len(), added as usize);
        }

        #[test]
        fn events_never_panic_and_are_all_or_nothing(
            body in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..120),
                r#"\[(\{("(uid|eid|a|d|ct|url|_)":("[a-z0-9\\"%]{0,12}"|-?[0-9.e]{0,5}|\[\]|\{"k":\[1\]\}|null),?){0,5}\},?){0,4}\]"#
                    .prop_map(String::into_bytes),
            ],
            (ua, referer, cookie, ip, now_ms) in any_request(),
        ) {
            let mut e = encoder_with(|o| { o.max_value_bytes = 10.0; o.max_fields = 4.0; o.max_events_per_post = 3.0; o.max_json_depth = 3.0; });
            pixel(&mut e, "uid=first");
            let before = (e.batch.bytes(), e.pending());
            let r = Request { user_agent: &ua, referer: &referer, cookie: &cookie, ip: &ip, now_ms, anonymous: false };
            let flags = e.events(&body, &r, &mut [0; 32]);
            prop_assert!((-9..=3).contains(&flags));
            if flags < 0 {
                prop_assert_eq!((e.batch.bytes(), e.pending()), before);
            }
            let n = e.pending();
            prop_assert_eq!(taken(&mut e).len(), n as usize);
        }
    }
}
