//! The fuzz targets' bodies: each takes arbitrary bytes to one parser family and panics only on a bug.
//!
//! `native/fuzz/` runs them under afl (`npm run fuzz`); the tests below replay the committed seed corpora and
//! every crash regression through the same functions without afl, so a harness that no longer compiles, or a
//! fixed crash that comes back, fails `cargo test`. Compiled only for tests and under cargo-afl's
//! `--cfg fuzzing`, so the addon carries none of it. docs/reliability.md lists the targets and what their runs found.

use std::net::IpAddr;

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::agent;
use crate::encoder::{Encoder, Request};
use crate::event::{Event, Span};
use crate::identity;
use crate::ip::IpText;
use crate::json;
use crate::options::{test_options, Limits};
use crate::put::{Key, Requests};
use crate::query;
use crate::records;
use crate::session::{Sessions, Settings};
use crate::SessionOptions;

/// A target's body: it returns on any input its parser refuses, and panics only on a bug.
pub type Target = fn(&[u8]);

/// The targets by name, as `native/fuzz/` names its binaries and corpus folders.
pub const TARGETS: [(&str, Target); 4] = [
    ("query", query),
    ("json", json),
    ("headers", headers),
    ("batch", batch),
];

/// Limits small enough that a short input reaches each of them: a fuzzer finds a 16-field query, not a
/// 4096-byte value.
fn limits() -> Limits {
    let mut o = test_options();
    o.max_query_bytes = 1024.0;
    o.max_fields = 16.0;
    o.max_value_bytes = 64.0;
    o.max_data_bytes = 256.0;
    o.max_events_per_post = 8.0;
    o.max_json_depth = 5.0;
    o.batch_max_bytes = 2048.0;
    Limits::check(&o).expect("the fuzz limits are valid")
}

/// A fixed seed, so that a crash replays to the same minted ids.
fn encoder() -> Encoder {
    Encoder::with_rng(limits(), StdRng::seed_from_u64(16))
}

fn request<'a>(
    cookie: &'a str,
    user_agent: &'a str,
    referer: &'a str,
    ip: &'a [u8],
) -> Request<'a> {
    Request {
        user_agent,
        referer,
        cookie,
        ip,
        now_ms: 1_700_000_000_000.0,
        anonymous: false,
    }
}

/// Every value of an accepted event lies inside the arena and is UTF-8, as the batch writer assumes.
fn check_spans(event: &Event, arena: &[u8]) {
    let spans = [event.uid, event.eid, event.ct]
        .into_iter()
        .chain(event.columns)
        .flatten();
    for span in spans {
        check_span(span, arena);
    }
}

fn check_span(span: Span, arena: &[u8]) {
    let range = span.range();
    assert!(
        range.start <= range.end && range.end <= arena.len(),
        "span {range:?} outside the arena"
    );
    assert!(
        std::str::from_utf8(&arena[range]).is_ok(),
        "a value is not UTF-8"
    );
}

/// A call's result is a set of flags or one of the published error codes, and a refused call adds nothing.
fn check_call(e: &mut Encoder, flags: i32, before: u32) {
    assert!((-9..=3).contains(&flags), "result {flags}");
    if flags < 0 {
        assert_eq!(e.pending(), before, "a refused call added events");
    } else {
        assert!(e.pending() >= before);
    }
}

/// What the encoder wrote reads back through the batch reader, every record of it.
fn check_batch(e: &mut Encoder) {
    let pending = e.pending();
    if let Some(taken) = e.take_batch_with(<[u8]>::to_vec) {
        let located =
            records::locate(&taken).expect("the encoder wrote a batch its reader refuses");
        assert_eq!(located.len(), pending as usize);
        batch(&taken);
    }
}

/// The pixel query decoder (`query::parse`), then the whole pixel call with the same query.
pub fn query(data: &[u8]) {
    // The daemon hands the query over as a JS string, so it is always UTF-8.
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let limits = limits();
    let mut arena = Vec::new();
    if let Ok(event) = query::parse(q, &limits, &mut arena) {
        check_spans(&event, &arena);
    }
    let mut e = encoder();
    let flags = e.pixel(
        q,
        &request("", "Mozilla/5.0", "", &[192, 0, 2, 1]),
        &mut [0; 32],
    );
    check_call(&mut e, flags, 0);
    assert_eq!(flags < 0, query::parse(q, &limits, &mut arena).is_err());
    check_batch(&mut e);
}

/// The JSON events parser (`json::parse`), then the whole events call with the same body, which must be
/// all or nothing.
pub fn json(data: &[u8]) {
    let limits = limits();
    let mut arena = Vec::new();
    let mut seen = 0usize;
    let parsed = json::parse(data, &limits, &mut arena, |event, arena| {
        check_spans(event, arena);
        seen += 1;
    });
    if parsed.is_ok() {
        assert!(seen <= limits.max_events_per_post);
    }
    let mut e = encoder();
    let first = e.pixel("a=first", &request("", "", "", &[]), &mut [0; 32]);
    assert!(first >= 0);
    let flags = e.events(data, &request("", "Mozilla/5.0", "", &[]), &mut [0; 32]);
    check_call(&mut e, flags, 1);
    assert_eq!(flags < 0, parsed.is_err());
    if flags >= 0 {
        assert_eq!(e.pending() as usize, 1 + seen);
    }
    check_batch(&mut e);
}

/// The request headers as the encoder reads them: the Cookie header (`identity::cookie_uid`), the user agent
/// (`agent::parse`, which the flush runs on the stored `ua`), the client address (`IpText`), and all of
/// them through a pixel call. The input is `flags cookie \0 user-agent \0 referer \0 ip \0 query`.
pub fn headers(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(5, |&b| b == 0);
    let mut next = || parts.next().unwrap_or_default();
    let (cookie, user_agent, referer, ip, query) = (next(), next(), next(), next(), next());
    // Headers reach the encoder as JS strings; the ip as raw bytes.
    let (Ok(cookie), Ok(user_agent), Ok(referer), Ok(query)) = (
        std::str::from_utf8(cookie),
        std::str::from_utf8(user_agent),
        std::str::from_utf8(referer),
        std::str::from_utf8(query),
    ) else {
        return;
    };

    if let Some(uid16) = identity::cookie_uid(cookie, "sp_uid") {
        let mut hex = [0; 32];
        identity::hex(&uid16, &mut hex);
        assert!(
            cookie
                .to_ascii_lowercase()
                .as_bytes()
                .windows(32)
                .any(|w| w == hex),
            "a cookie uid that the header does not spell"
        );
    }

    let a = agent::parse(user_agent.as_bytes());
    let _ = (a.bot(flags & 4 != 0), a.device(flags & 4 != 0));

    for anonymize in [false, true] {
        match IpText::new(ip, anonymize) {
            Some(text) => {
                assert!(ip.len() == 4 || ip.len() == 16);
                let text = std::str::from_utf8(text.as_bytes()).expect("ip text is ASCII");
                text.parse::<IpAddr>().expect("ip text parses back");
            }
            None => assert!(ip.len() != 4 && ip.len() != 16),
        }
    }

    let mut e = encoder();
    let mut req = request(cookie, user_agent, referer, ip);
    req.anonymous = flags & 1 != 0;
    let mut uid_out = [0; 32];
    let flags = if flags & 2 == 0 {
        e.pixel(query, &req, &mut uid_out)
    } else {
        e.events(query.as_bytes(), &req, &mut uid_out)
    };
    check_call(&mut e, flags, 0);
    if flags >= 0 && flags & crate::NEW_UID != 0 {
        assert!(
            uid_out.iter().all(u8::is_ascii_hexdigit),
            "a minted uid that is not hex"
        );
    }
    check_batch(&mut e);
}

/// The batch format v1 reader (`records::locate`) and both readers of its results: the sessions, which
/// rewrite a batch, and the flush, which cuts it into HBase requests. A batch they take keeps its records.
pub fn batch(data: &[u8]) {
    let located = records::locate(data);
    if let Ok(recs) = &located {
        for r in recs {
            assert!(r.range.end <= data.len() && r.nf_at < r.range.end);
            assert_eq!(records::fields(data, r).count(), usize::from(r.nf));
        }
    }

    let options = SessionOptions {
        timeout_ms: 1_800_000.0,
        max_users: 4.0,
        own_hosts: vec!["shop.example".into()],
    };
    let mut sessions = Sessions::new(Settings::check(&options).expect("valid session options"));
    // The sessions refuse more than the reader (a by-user key of the wrong size, no room for a sid), never less.
    match (&located, sessions.assign(data)) {
        (Ok(recs), Ok(with_sids)) => {
            let again =
                records::locate(&with_sids).expect("sessions wrote a batch the reader refuses");
            assert_eq!(again.len(), recs.len());
            // A second pass finds every sid in place and changes nothing.
            assert_eq!(
                sessions
                    .assign(&with_sids)
                    .expect("a rewritten batch reads again"),
                with_sids
            );
        }
        (Err(_), Ok(_)) => panic!("the sessions take a batch the reader refuses"),
        (_, Err(_)) => {}
    }

    match (
        &located,
        Requests::new(data.to_vec(), 4096, 16, true, &[b"mob".to_vec()]),
    ) {
        (Ok(recs), Ok(requests)) => {
            assert_eq!(requests.events() + requests.dropped_bots(), recs.len());
            for i in 0..requests.requests() {
                let frame = requests.frame(i, b"events", Key::ByUser, 1);
                assert!(frame.len() >= 4);
                requests.frame(i, b"events_by_time", Key::ByTime, 2);
            }
            for i in 0..requests.link_requests() {
                requests.link_frame(i, b"identity", 3);
            }
        }
        (Err(_), Err(_)) => {}
        (l, p) => panic!(
            "the reader and the flush disagree: {:?} vs {:?}",
            l.as_ref().err(),
            p.err()
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::TARGETS;

    /// Replays every file under `native/fuzz/<dir>/<target>/`; returns how many there were.
    fn replay(dir: &str) -> usize {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz")
            .join(dir);
        let mut n = 0;
        for (name, run) in TARGETS {
            let Ok(entries) = std::fs::read_dir(root.join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let result = std::panic::catch_unwind(|| run(&data));
                assert!(result.is_ok(), "{name} panics on {}", path.display());
                n += 1;
            }
        }
        n
    }

    #[test]
    fn the_seed_corpora_replay_without_a_panic() {
        assert!(
            replay("corpus") >= TARGETS.len(),
            "the seed corpora are missing"
        );
    }

    #[test]
    fn every_crash_found_replays_without_a_panic() {
        replay("regressions");
    }

    #[test]
    fn every_target_has_a_seed_corpus() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (name, _) in TARGETS {
            let n = std::fs::read_dir(root.join(name)).map_or(0, |d| d.count());
            assert!(n > 0, "no seeds for {name}");
        }
    }
}
