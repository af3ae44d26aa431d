//! Strict parsing of a pixel query string (`a=1&b=x%20y`) into an `Event`.

use memchr::{memchr, memchr2};

use crate::event::{Event, Name, Span};
use crate::options::Limits;
use crate::EncodeError;

/// Parses `query` (without its `?`), decoding into `arena`, which it clears first.
pub fn parse(query: &str, limits: &Limits, arena: &mut Vec<u8>) -> Result<Event, EncodeError> {
    if query.len() > limits.max_query_bytes {
        return Err(EncodeError::QueryTooLong);
    }
    arena.clear();
    let mut event = Event::default();
    let mut fields = 0;
    let mut rest = query.as_bytes();
    while !rest.is_empty() {
        let (param, after) = match memchr(b'&', rest) {
            Some(amp) => (&rest[..amp], &rest[amp + 1..]),
            None => (rest, &[][..]),
        };
        rest = after;
        if param.is_empty() {
            continue;
        }
        fields += 1;
        if fields > limits.max_fields {
            return Err(EncodeError::TooManyFields);
        }
        let (key, value) = match memchr(b'=', param) {
            Some(eq) => (&param[..eq], &param[eq + 1..]),
            None => (param, &[][..]),
        };
        let mark = arena.len();
        decode_into(key, arena)?;
        let name = Name::of(&arena[mark..]);
        arena.truncate(mark);
        decode_into(value, arena)?;
        event.set(name, Span::since(mark, arena), arena, limits)?;
        if name == Name::Unknown {
            arena.truncate(mark);
        }
    }
    Ok(event)
}

/// Appends the form-decoded `raw` to `out`: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode_into(raw: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let Some(first) = memchr2(b'%', b'+', raw) else {
        out.extend_from_slice(raw);
        return Ok(());
    };
    let start = out.len();
    out.extend_from_slice(&raw[..first]);
    // A byte at a time from the first escape on: runs between escapes are short in
    // practice, too short for a copy call each to pay off.
    let mut bytes = raw[first..].iter();
    let mut high_bytes = false;
    while let Some(&b) = bytes.next() {
        let byte = match b {
            b'+' => b' ',
            b'%' => {
                let hi = bytes.next().and_then(|&h| hex_digit(h));
                let lo = bytes.next().and_then(|&l| hex_digit(l));
                let byte = hi
                    .zip(lo)
                    .map(|(hi, lo)| hi << 4 | lo)
                    .ok_or(EncodeError::BadEscape)?;
                high_bytes |= !byte.is_ascii();
                byte
            }
            b => b,
        };
        out.push(byte);
    }
    // `raw` comes from a Rust string, so only escaped non-ASCII bytes can break UTF-8.
    if high_bytes {
        std::str::from_utf8(&out[start..]).map_err(|_| EncodeError::BadUtf8)?;
    }
    Ok(())
}

/// The value of one hex digit, either case.
pub(crate) fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::q;
    use crate::options::test_options;
    use proptest::prelude::*;

    fn limits() -> Limits {
        Limits::check(&test_options()).unwrap()
    }

    fn col(query: &str, id: u8) -> Option<String> {
        let mut arena = Vec::new();
        let ev = parse(query, &limits(), &mut arena).unwrap();
        ev.column(id)
            .map(|s| String::from_utf8(s.get(&arena).to_vec()).unwrap())
    }

    fn err(query: &str) -> EncodeError {
        parse(query, &limits(), &mut Vec::new()).unwrap_err()
    }

    #[test]
    fn decodes_plus_and_escapes() {
        assert_eq!(
            col("url=a+b%20c%2Bd%2fe", q::URL).as_deref(),
            Some("a b c+d/e")
        );
        assert_eq!(col("a=caf%C3%A9", q::A).as_deref(), Some("café"));
        assert_eq!(col("%75rl=x", q::URL).as_deref(), Some("x"));
        assert_eq!(col("url=a=b", q::URL).as_deref(), Some("a=b"));
    }

    #[test]
    fn skips_empty_segments_and_keeps_the_last_repeat() {
        assert_eq!(col("&&a=1&&a=2&", q::A).as_deref(), Some("2"));
        assert_eq!(col("a=1&a=", q::A), None);
        assert_eq!(col("a", q::A), None);
    }

    #[test]
    fn ignores_unknown_params_but_checks_them() {
        let mut arena = Vec::new();
        let ev = parse("_=123&p=site&zz=%41", &limits(), &mut arena).unwrap();
        assert_eq!(ev.column(3).unwrap().get(&arena), b"site");
        assert_eq!(arena, b"site");
        assert_eq!(err("_=%4"), EncodeError::BadEscape);
    }

    #[test]
    fn rejects_bad_escapes() {
        for q in ["a=%", "a=%4", "a=%zz", "a=%4g", "a=x%", "%=1", "%%41"] {
            assert_eq!(err(q), EncodeError::BadEscape, "{q}");
        }
    }

    #[test]
    fn rejects_bad_utf8() {
        for q in ["a=%ff", "a=%C3", "a=%C3%28", "%ff=1", "d=%ED%A0%80"] {
            assert_eq!(err(q), EncodeError::BadUtf8, "{q}");
        }
    }

    #[test]
    fn limits_query_length_and_field_count() {
        let mut o = test_options();
        o.max_query_bytes = 7.0;
        o.max_fields = 2.0;
        let l = Limits::check(&o).unwrap();
        assert!(parse("a=1&b=2", &l, &mut Vec::new()).is_ok());
        assert_eq!(
            parse("a=1&b=22", &l, &mut Vec::new()),
            Err(EncodeError::QueryTooLong)
        );
        assert_eq!(
            parse("a&b&c", &l, &mut Vec::new()),
            Err(EncodeError::TooManyFields)
        );
        assert!(parse("a&&&b", &l, &mut Vec::new()).is_ok());
    }

    fn form_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b' ' => "+".to_string(),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn decodes_what_a_form_encoder_encodes(value in "\\PC{0,40}") {
            let q = format!("it={}", form_encode(&value));
            prop_assert_eq!(col(&q, 8), (!value.is_empty()).then_some(value));
        }

        #[test]
        fn never_panics(query in "[a-z%&=+0-9A-F\u{e9}]{0,80}|\\PC{0,80}") {
            let _ = parse(&query, &limits(), &mut Vec::new());
        }
    }
}
