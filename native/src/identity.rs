//! Who and which: the uid16 of a uid string or cookie, and the event id (eid8).

use memchr::memchr;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::event::MAX_EID_BYTES;
use crate::query::hex_digit;

/// Rule 1: a 32-hex-char uid is its own 16 bytes, any other string its xxh3-128 (big-endian).
pub fn uid16(uid: &[u8]) -> [u8; 16] {
    given_uid(uid, &mut [0; 32]).0
}

/// Rule 1 and the text the `uid` column stores: a hex uid lowercased (in `lower`), any other as given.
pub fn given_uid<'a>(uid: &'a [u8], lower: &'a mut [u8; 32]) -> ([u8; 16], &'a [u8]) {
    match parse_hex32(uid) {
        Some(uid16) => {
            hex(&uid16, lower);
            (uid16, &lower[..])
        }
        None => (xxh3_128(uid).to_be_bytes(), uid),
    }
}

/// The 16 bytes spelt by exactly 32 hex chars of either case.
pub fn parse_hex32(s: &[u8]) -> Option<[u8; 16]> {
    let s: &[u8; 32] = s.try_into().ok()?;
    let mut out = [0; 16];
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *byte = hex_digit(pair[0])? << 4 | hex_digit(pair[1])?;
    }
    Some(out)
}

/// Lowercase hex of `bytes` into `out`, which must be twice as long.
pub fn hex<const N: usize, const M: usize>(bytes: &[u8; N], out: &mut [u8; M]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
}

/// The uid carried by the `name` cookie of a Cookie header, if it is well-formed 32 hex chars.
pub fn cookie_uid(header: &str, name: &str) -> Option<[u8; 16]> {
    header.as_bytes().split(|&b| b == b';').find_map(|pair| {
        let eq = memchr(b'=', pair)?;
        if pair[..eq].trim_ascii() != name.as_bytes() {
            return None;
        }
        let value = pair[eq + 1..].trim_ascii();
        // RFC 6265 lets a cookie value be wrapped in double quotes.
        let value = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        parse_hex32(value)
    })
}

/// The stored fingerprint: the tracker's hash of browser features mixed with what the server sees of the
/// browser (its user agent and its IP as stored, so anonymised by default), as 32 hex digits.
pub fn fingerprint(client: &[u8], user_agent: &[u8], ip: &[u8]) -> [u8; 32] {
    let mut input = Vec::with_capacity(client.len() + user_agent.len() + ip.len() + 2);
    for part in [client, b"\0", user_agent, b"\0", ip] {
        input.extend_from_slice(part);
    }
    let mut out = [0; 32];
    hex(&xxh3_128(&input).to_be_bytes(), &mut out);
    out
}

/// A client event id makes retries idempotent: the same uid and eid always give the same eid8.
pub fn client_event_id(uid16: &[u8; 16], eid: &[u8]) -> [u8; 8] {
    let mut input = [0; 16 + MAX_EID_BYTES];
    let eid = &eid[..eid.len().min(MAX_EID_BYTES)];
    input[..16].copy_from_slice(uid16);
    input[16..16 + eid.len()].copy_from_slice(eid);
    xxh3_64(&input[..16 + eid.len()]).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "00112233445566778899AaBbCcDdEeFf";
    const BYTES: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];

    #[test]
    fn a_hex_uid_is_its_own_bytes() {
        assert_eq!(uid16(HEX.as_bytes()), BYTES);
        let mut out = [0; 32];
        hex(&BYTES, &mut out);
        assert_eq!(&out, HEX.to_ascii_lowercase().as_bytes());
    }

    #[test]
    fn any_other_uid_is_hashed() {
        assert_eq!(uid16(b"alice"), xxh3_128(b"alice").to_be_bytes());
        assert_eq!(
            uid16(&HEX.as_bytes()[1..]),
            xxh3_128(&HEX.as_bytes()[1..]).to_be_bytes()
        );
        let not_hex = HEX.replace('F', "g");
        assert_eq!(
            uid16(not_hex.as_bytes()),
            xxh3_128(not_hex.as_bytes()).to_be_bytes()
        );
        // Pinned so that a change of hash (which would orphan every stored user row) fails loudly.
        assert_eq!(
            uid16(b""),
            0x99aa06d3014798d86001c324468d497f_u128.to_be_bytes()
        );
    }

    #[test]
    fn finds_the_uid_cookie() {
        let h = format!("a=1; sp_uid={HEX}; b=2");
        assert_eq!(cookie_uid(&h, "sp_uid"), Some(BYTES));
        assert_eq!(
            cookie_uid(&format!("sp_uid=\"{HEX}\""), "sp_uid"),
            Some(BYTES)
        );
        assert_eq!(
            cookie_uid(&format!("x_sp_uid={HEX};sp_uid ={HEX}"), "sp_uid"),
            Some(BYTES)
        );
    }

    #[test]
    fn ignores_malformed_cookies() {
        for h in [
            "".to_string(),
            "sp_uid".to_string(),
            "sp_uid=".to_string(),
            "sp_uid=abc".to_string(),
            format!("sp_uid={HEX}0"),
            format!("sp_uidx={HEX}"),
            format!("SP_UID={HEX}"),
            format!("sp_uid=\"{HEX}"),
        ] {
            assert_eq!(cookie_uid(&h, "sp_uid"), None, "{h}");
        }
        assert_eq!(
            cookie_uid(&format!("sp_uid=bad; sp_uid={HEX}"), "sp_uid"),
            Some(BYTES)
        );
    }

    #[test]
    fn hashes_uid_and_eid_together() {
        let mut input = BYTES.to_vec();
        input.extend_from_slice(b"e-1");
        assert_eq!(
            client_event_id(&BYTES, b"e-1"),
            xxh3_64(&input).to_be_bytes()
        );
        assert_ne!(
            client_event_id(&BYTES, b"e-1"),
            client_event_id(&[0; 16], b"e-1")
        );
    }
}
