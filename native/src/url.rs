//! The two things the session rule reads from a URL: its host, and a hash of its campaign parameters.
//!
//! URLs are read by hand for the host and the query only: no percent-decoding, so campaign values are
//! compared as raw bytes (`a%20b` and `a+b` differ), and hosts case-insensitively, without port or
//! user info.

use std::num::NonZeroU64;

use memchr::{memchr, memrchr};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Campaign parameters, in the order their values are hashed.
const CAMPAIGN_KEYS: [&[u8]; 4] = [b"utm_source", b"utm_medium", b"utm_campaign", b"gclid"];
/// DNS names are at most 253 bytes; a longer "host" is hashed as it is rather than lowercased.
const MAX_HOST: usize = 255;

/// A host as `host()` returns it: a name or address, or a bracketed IPv6 address.
pub fn is_host(h: &[u8]) -> bool {
    let plain = |s: &[u8]| {
        !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_graphic() && !b"/?#@\\[]".contains(&b))
    };
    match h.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) {
        Some(inner) => plain(inner),
        None => plain(h) && !h.contains(&b':'),
    }
}

/// The host of an absolute (`scheme://`) or scheme-relative (`//`) URL, without user info, port
/// or a trailing dot; `None` for anything else.
pub fn host(url: &[u8]) -> Option<&[u8]> {
    let rest = match url.strip_prefix(b"//") {
        Some(rest) => rest,
        None => {
            let colon = memchr(b':', url)?;
            let scheme = &url[..colon];
            let is_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b));
            if !is_scheme {
                return None;
            }
            url[colon + 1..].strip_prefix(b"//")?
        }
    };
    // Browsers read `\` as `/` in http(s) URLs.
    let end = rest
        .iter()
        .position(|b| b"/?#\\".contains(b))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = match memrchr(b'@', authority) {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = if host_port.starts_with(b"[") {
        match memchr(b']', host_port) {
            Some(close) => &host_port[..=close],
            None => host_port,
        }
    } else {
        match memchr(b':', host_port) {
            Some(colon) => &host_port[..colon],
            None => host_port,
        }
    };
    let host = host.strip_suffix(b".").unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

/// A hash of a host, lowercased; never 0, so that an absent one costs no room.
pub fn hash_host(host: &[u8]) -> NonZeroU64 {
    if host.len() > MAX_HOST {
        return non_zero(xxh3_64(host));
    }
    let mut lower = [0; MAX_HOST];
    let lower = &mut lower[..host.len()];
    lower.copy_from_slice(host);
    lower.make_ascii_lowercase();
    non_zero(xxh3_64(lower))
}

/// A hash that is 0 becomes 1: one more collision in 2^64.
fn non_zero(hash: u64) -> NonZeroU64 {
    NonZeroU64::new(hash).unwrap_or(NonZeroU64::MIN)
}

/// A hash of the campaign parameters' raw values (the last of a repeated one), if any is non-empty.
pub fn campaign(url: &[u8]) -> Option<NonZeroU64> {
    let url = &url[..memchr(b'#', url).unwrap_or(url.len())];
    let query = &url[memchr(b'?', url)? + 1..];
    let mut values: [&[u8]; 4] = [b""; 4];
    for pair in query.split(|&b| b == b'&') {
        let (key, value) = match memchr(b'=', pair) {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        if let Some(k) = CAMPAIGN_KEYS.iter().position(|c| *c == key) {
            values[k] = value;
        }
    }
    if values.iter().all(|v| v.is_empty()) {
        return None;
    }
    // Each value seeds the next one's hash, which keeps it in its place: ("ab", "") differs from ("a", "b").
    let hash = values.iter().fold(0, |seed, v| xxh3_64_with_seed(v, seed));
    Some(non_zero(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_host_of_a_url() {
        let cases: [(&str, Option<&str>); 12] = [
            ("https://user:pw@Ex.com:8080/p?q#f", Some("Ex.com")),
            ("//ex.com/x", Some("ex.com")),
            ("http://ex.com", Some("ex.com")),
            ("http://ex.com?x=1", Some("ex.com")),
            ("http://[2001:db8::1]:80/", Some("[2001:db8::1]")),
            ("https://ex.com./", Some("ex.com")),
            ("https://ex.com\\@evil.com/", Some("ex.com")),
            (
                "android-app://com.google.android.gm/",
                Some("com.google.android.gm"),
            ),
            ("ex.com/path", None),
            ("/relative", None),
            ("javascript:alert(1)", None),
            ("https:///path", None),
        ];
        for (url, want) in cases {
            assert_eq!(host(url.as_bytes()), want.map(str::as_bytes), "{url}");
        }
    }

    #[test]
    fn hashes_the_campaign_values_in_their_places() {
        let c = |url: &str| campaign(url.as_bytes());
        assert_eq!(c("https://a.example/"), None);
        assert_eq!(c("https://a.example/?utm_source=&x=1"), None);
        assert_eq!(c("https://a.example/#?utm_source=x"), None);
        assert_eq!(c("https://a.example/?UTM_SOURCE=x"), None);
        assert!(c("https://a.example/?utm_source=x").is_some());
        assert_ne!(c("/?utm_source=ab"), c("/?utm_source=a&utm_medium=b"));
        assert_ne!(c("/?utm_source=x"), c("/?gclid=x"));
        assert_eq!(c("/?utm_source=x&utm_source=y"), c("/?utm_source=y#f"));
        assert_eq!(
            c("/?gclid=1&utm_medium=m"),
            c("https://b.example/p?utm_medium=m&q=2&gclid=1")
        );
    }
}
