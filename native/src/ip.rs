//! The client IP as stored: text, anonymised on request, from uWS's raw 4- or 16-byte address.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Room for the longest IPv6 text with an embedded IPv4 (45 chars).
const CAP: usize = 48;

/// An IP's text on the stack, so that no request allocates for it.
pub struct IpText {
    buf: [u8; CAP],
    len: usize,
}

impl IpText {
    /// `None` when `raw` is neither 4 nor 16 bytes long.
    pub fn new(raw: &[u8], anonymize: bool) -> Option<Self> {
        let ip = match *raw {
            [a, b, c, d] => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            _ => {
                let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(raw).ok()?);
                // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; anonymising
                // that as IPv6 would keep nothing of the address.
                v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
            }
        };
        let mut text = Self {
            buf: [0; CAP],
            len: 0,
        };
        match if anonymize { anonymized(ip) } else { ip } {
            IpAddr::V4(v4) => text.push_v4(v4.octets()),
            // IPv6 text has compression rules (RFC 5952) best left to std.
            v6 => write!(text, "{v6}").ok()?,
        }
        Some(text)
    }

    /// The common case, without the formatting machinery.
    fn push_v4(&mut self, octets: [u8; 4]) {
        for (i, n) in octets.into_iter().enumerate() {
            if i > 0 {
                self.push(b'.');
            }
            if n >= 100 {
                self.push(b'0' + n / 100);
            }
            if n >= 10 {
                self.push(b'0' + n / 10 % 10);
            }
            self.push(b'0' + n % 10);
        }
    }

    /// IPv4 text is 15 bytes at most, well within `CAP`.
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let dst = self
            .buf
            .get_mut(self.len..self.len + s.len())
            .ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

/// IPv4 keeps its /24, IPv6 its /48: enough for a country or a network, not for a household.
fn anonymized(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(v4.to_bits() & !0xff)),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 80) - 1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(raw: &[u8], anonymize: bool) -> Option<String> {
        IpText::new(raw, anonymize).map(|t| String::from_utf8(t.as_bytes().to_vec()).unwrap())
    }

    #[test]
    fn formats_ipv4() {
        assert_eq!(text(&[192, 0, 2, 33], false).as_deref(), Some("192.0.2.33"));
        assert_eq!(text(&[0, 9, 10, 255], false).as_deref(), Some("0.9.10.255"));
        assert_eq!(
            text(&[100, 99, 101, 199], false).as_deref(),
            Some("100.99.101.199")
        );
        assert_eq!(text(&[192, 0, 2, 33], true).as_deref(), Some("192.0.2.0"));
    }

    #[test]
    fn formats_ipv6_keeping_its_48_bit_prefix() {
        let raw: [u8; 16] =
            Ipv6Addr::new(0x2001, 0xdb8, 0x85a3, 0x8d3, 0x1319, 0x8a2e, 0x370, 0x7348).octets();
        assert_eq!(
            text(&raw, false).as_deref(),
            Some("2001:db8:85a3:8d3:1319:8a2e:370:7348")
        );
        assert_eq!(text(&raw, true).as_deref(), Some("2001:db8:85a3::"));
        assert_eq!(
            text(&Ipv6Addr::LOCALHOST.octets(), false).as_deref(),
            Some("::1")
        );
    }

    #[test]
    fn treats_mapped_ipv4_as_ipv4() {
        let raw = Ipv4Addr::new(203, 0, 113, 9).to_ipv6_mapped().octets();
        assert_eq!(text(&raw, false).as_deref(), Some("203.0.113.9"));
        assert_eq!(text(&raw, true).as_deref(), Some("203.0.113.0"));
    }

    #[test]
    fn stores_nothing_for_other_lengths() {
        for len in [0, 1, 3, 5, 8, 15, 17, 32] {
            assert!(text(&vec![1; len], false).is_none(), "{len}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(raw in proptest::collection::vec(any::<u8>(), 0..20), anonymize: bool) {
            let t = text(&raw, anonymize);
            prop_assert_eq!(t.is_some(), raw.len() == 4 || raw.len() == 16);
            if let Ok(v4) = <[u8; 4]>::try_from(raw.as_slice()) {
                prop_assert_eq!(text(&v4, false), Some(Ipv4Addr::from(v4).to_string()));
            }
        }
    }
}
