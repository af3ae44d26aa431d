//! Parsing of a JSON events body (`[{"a":"click",…},…]`) into `Event`s, limits enforced as it goes.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::event::{q, Event, Name, Span};
use crate::options::Limits;
use crate::EncodeError;

/// Parses `body`, handing each event to `on_event` as soon as it is read, with the arena its
/// spans point into. On an error some events may have been handed over already: the caller
/// undoes them.
pub fn parse<F>(
    body: &[u8],
    limits: &Limits,
    arena: &mut Vec<u8>,
    mut on_event: F,
) -> Result<(), EncodeError>
where
    F: FnMut(&Event, &[u8]),
{
    // JSON text is UTF-8 by definition, so other bytes make it not JSON.
    let text = std::str::from_utf8(body).map_err(|_| EncodeError::BadJson)?;
    // Checked before parsing so that a deep body costs one linear scan, not a recursion.
    if too_deep(body, limits.max_json_depth) {
        return Err(EncodeError::JsonTooDeep);
    }
    let mut rejected = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let events = Events {
        limits,
        arena,
        on_event: &mut on_event,
        rejected: &mut rejected,
    };
    de.deserialize_seq(events)
        .and_then(|()| de.end())
        .map_err(|_| rejected.unwrap_or(EncodeError::BadJson))
}

/// Whether `[`/`{` nest deeper than `max` anywhere outside strings.
fn too_deep(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// serde errors carry text only, so a rejection's code travels beside the error.
fn reject<E: de::Error>(slot: &mut Option<EncodeError>, code: EncodeError) -> E {
    *slot = Some(code);
    E::custom(format_args!("{code:?}"))
}

struct Events<'a, F> {
    limits: &'a Limits,
    arena: &'a mut Vec<u8>,
    on_event: &'a mut F,
    rejected: &'a mut Option<EncodeError>,
}

impl<'de, F: FnMut(&Event, &[u8])> Visitor<'de> for Events<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of event objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut count = 0;
        loop {
            let seed = EventSeed {
                limits: self.limits,
                arena: self.arena,
                rejected: self.rejected,
            };
            let Some(event) = seq.next_element_seed(seed)? else {
                return Ok(());
            };
            count += 1;
            if count > self.limits.max_events_per_post {
                return Err(reject(self.rejected, EncodeError::TooManyEvents));
            }
            (self.on_event)(&event, self.arena);
        }
    }
}

/// Reads one event object into a cleared arena.
struct EventSeed<'a> {
    limits: &'a Limits,
    arena: &'a mut Vec<u8>,
    rejected: &'a mut Option<EncodeError>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = Event;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Event, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        self.arena.clear();
        let mut event = Event::default();
        let mut fields = 0;
        while let Some(name) = map.next_key_seed(KeySeed)? {
            fields += 1;
            if fields > self.limits.max_fields {
                return Err(reject(self.rejected, EncodeError::TooManyFields));
            }
            let start = self.arena.len();
            match name {
                Name::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Name::Column(q::D) => data_into(map.next_value()?, self.arena)?,
                Name::Ct => ct_into(map.next_value()?, self.arena)?,
                _ => map.next_value_seed(StrSeed(self.arena))?,
            }
            let span = Span::since(start, self.arena);
            event
                .set(name, span, self.arena, self.limits)
                .map_err(|code| reject(self.rejected, code))?;
        }
        Ok(event)
    }
}

/// `d` keeps a string as the string itself, any other value as its compact JSON text.
fn data_into<E: de::Error>(raw: &RawValue, arena: &mut Vec<u8>) -> Result<(), E> {
    let raw = raw.get();
    if raw.starts_with('"') {
        return unescape_into(raw, arena);
    }
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw.as_bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        arena.push(b);
    }
    Ok(())
}

/// `ct` may be a string or a number; either way its text must be digits, checked by `Event::set`.
fn ct_into<E: de::Error>(raw: &RawValue, arena: &mut Vec<u8>) -> Result<(), E> {
    let raw = raw.get();
    match raw.as_bytes().first() {
        Some(b'"') => unescape_into(raw, arena),
        Some(b'-' | b'0'..=b'9') => {
            arena.extend_from_slice(raw.as_bytes());
            Ok(())
        }
        _ => Err(E::custom("ct must be a number or a string")),
    }
}

fn unescape_into<E: de::Error>(quoted: &str, arena: &mut Vec<u8>) -> Result<(), E> {
    StrSeed(arena)
        .deserialize(&mut serde_json::Deserializer::from_str(quoted))
        .map_err(E::custom)
}

/// Maps a key to its `Name` without keeping it.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Name, E> {
        Ok(Name::of(key.as_bytes()))
    }
}

/// Appends a JSON string's value to the arena; any other type is an error.
struct StrSeed<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for StrSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for StrSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.0.extend_from_slice(value.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::test_options;
    use proptest::prelude::*;

    /// Each event as (qualifier id or name, value) pairs, for easy comparison.
    fn events_with(limits: &Limits, body: &str) -> Result<Vec<Vec<(String, String)>>, EncodeError> {
        let mut out = Vec::new();
        parse(body.as_bytes(), limits, &mut Vec::new(), |ev, arena| {
            let text = |s: Span| String::from_utf8(s.get(arena).to_vec()).unwrap();
            let mut fields: Vec<(String, String)> = (q::SID..=q::CH)
                .filter_map(|id| Some((id.to_string(), text(ev.column(id)?))))
                .collect();
            fields.extend(ev.uid.map(|s| ("uid".into(), text(s))));
            fields.extend(ev.eid.map(|s| ("eid".into(), text(s))));
            fields.extend(ev.ct.map(|s| ("ct".into(), text(s))));
            out.push(fields);
        })?;
        Ok(out)
    }

    fn events(body: &str) -> Result<Vec<Vec<(String, String)>>, EncodeError> {
        events_with(&Limits::check(&test_options()).unwrap(), body)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_string_fields_and_ignores_unknown_keys() {
        let got =
            events(r#"[{"a":"click","url":"https://x/\u00e9","_":[1,{"y":2}],"uid":"u1"}, {}]"#)
                .unwrap();
        assert_eq!(
            got,
            vec![
                pairs(&[("4", "https://x/é"), ("6", "click"), ("uid", "u1")]),
                vec![]
            ]
        );
        assert_eq!(events("[]").unwrap().len(), 0);
        assert_eq!(events(" [ ] ").unwrap().len(), 0);
    }

    #[test]
    fn keeps_d_strings_as_is_and_other_values_compact() {
        let d = |body: &str| events(body).unwrap()[0][0].1.clone();
        assert_eq!(d(r#"[{"d":"a \"b\""}]"#), "a \"b\"");
        assert_eq!(
            d(r#"[{"d": { "k" : [1, 2.5 ,"x y"] , "n":null } }]"#),
            r#"{"k":[1,2.5,"x y"],"n":null}"#
        );
        assert_eq!(d(r#"[{"d":"\ud83d\ude00"}]"#), "😀");
        assert_eq!(d(r#"[{"d":[ ]}]"#), "[]");
        assert_eq!(d(r#"[{"d":true}]"#), "true");
        assert_eq!(d(r#"[{"d":{"s":"q\"}"}}]"#), r#"{"s":"q\"}"}"#);
    }

    #[test]
    fn reads_ct_as_number_or_digit_string() {
        assert_eq!(
            events(r#"[{"ct":1700000000000}]"#).unwrap()[0],
            pairs(&[("ct", "1700000000000")])
        );
        assert_eq!(
            events(r#"[{"ct":"42"}]"#).unwrap()[0],
            pairs(&[("ct", "42")])
        );
        assert_eq!(events(r#"[{"ct":""}]"#).unwrap()[0], pairs(&[]));
        for bad in ["-1", "1.5", "1e3", "12345678901234567", r#""1 ""#] {
            assert_eq!(
                events(&format!(r#"[{{"ct":{bad}}}]"#)),
                Err(EncodeError::BadField),
                "{bad}"
            );
        }
        for wrong in ["true", "null", "{}", "[]"] {
            assert_eq!(
                events(&format!(r#"[{{"ct":{wrong}}}]"#)),
                Err(EncodeError::BadJson),
                "{wrong}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_an_array_of_objects() {
        for bad in [
            "",
            "{}",
            "[1]",
            "[[]]",
            "[{}",
            "[{}]x",
            r#"[{"a":1}]"#,
            r#"[{"a":null}]"#,
            r#"[{"uid":["x"]}]"#,
            "[{},]",
            "nope",
        ] {
            assert_eq!(events(bad), Err(EncodeError::BadJson), "{bad}");
        }
    }

    #[test]
    fn refuses_bad_utf8_as_not_json() {
        assert_eq!(
            parse(
                b"[{\"a\":\"\xff\"}]",
                &Limits::check(&test_options()).unwrap(),
                &mut Vec::new(),
                |_, _| {}
            ),
            Err(EncodeError::BadJson)
        );
    }

    #[test]
    fn passes_field_errors_through() {
        assert_eq!(events(r#"[{"uid":""}]"#), Err(EncodeError::BadField));
        assert_eq!(events(r#"[{"eid":""}]"#), Err(EncodeError::BadField));
        assert_eq!(
            events(&format!(r#"[{{"eid":"{}"}}]"#, "e".repeat(65))),
            Err(EncodeError::ValueTooLong)
        );
    }

    #[test]
    fn limits_events_fields_and_depth() {
        let mut o = test_options();
        o.max_events_per_post = 2.0;
        o.max_fields = 2.0;
        o.max_json_depth = 3.0;
        let l = Limits::check(&o).unwrap();
        assert_eq!(events_with(&l, "[{},{}]").unwrap().len(), 2);
        assert_eq!(
            events_with(&l, "[{},{},{}]"),
            Err(EncodeError::TooManyEvents)
        );
        assert!(events_with(&l, r#"[{"a":"x","_":1}]"#).is_ok());
        assert_eq!(
            events_with(&l, r#"[{"a":"x","_":1,"b":2}]"#),
            Err(EncodeError::TooManyFields)
        );
        assert_eq!(
            events_with(&l, r#"[{"a":"x","a":"y","a":"z"}]"#),
            Err(EncodeError::TooManyFields)
        );
        assert!(events_with(&l, r#"[{"d":{"k":"[[[{{{"}}]"#).is_ok());
        assert_eq!(
            events_with(&l, r#"[{"d":{"k":[]}}]"#),
            Err(EncodeError::JsonTooDeep)
        );
    }

    #[test]
    fn reaches_the_deepest_allowed_nesting() {
        let mut o = test_options();
        o.max_json_depth = 128.0;
        let l = Limits::check(&o).unwrap();
        let nest = |n: usize| format!(r#"[{{"d":{}{}}}]"#, "[".repeat(n), "]".repeat(n));
        assert!(events_with(&l, &nest(126)).is_ok());
        assert_eq!(events_with(&l, &nest(127)), Err(EncodeError::JsonTooDeep));
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&body, &Limits::check(&test_options()).unwrap(), &mut Vec::new(), |_, _| {});
        }

        #[test]
        fn never_panics_on_near_json(body in r#"\[(\{("(a|d|ct|uid|eid|_)":("[a-z\\"]*"|-?[0-9.e]{0,5}|\[\]|\{\}|null|true),?){0,4}\},?){0,3}\]?"#) {
            let _ = events(&body);
        }
    }
}
