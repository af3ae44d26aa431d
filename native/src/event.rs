//! The event field table: which client names are accepted, their qualifier ids and value rules.

use std::ops::Range;

use crate::options::Limits;
use crate::EncodeError;

/// Column qualifier ids, indexes of `schema::QUALIFIERS`; records list fields in ascending id.
pub mod q {
    pub const ID: u8 = 0;
    pub const UID: u8 = 1;
    pub const SID: u8 = 2;
    pub const P: u8 = 3;
    pub const URL: u8 = 4;
    pub const REF: u8 = 5;
    pub const A: u8 = 6;
    pub const D: u8 = 7;
    pub const CH: u8 = 9;
    pub const CO: u8 = 10;
    pub const RG: u8 = 11;
    pub const CI: u8 = 12;
    pub const UA: u8 = 13;
    pub const IP: u8 = 14;
    pub const CT: u8 = 15;
    /// Identity ids the tracker sends besides the uid; see `docs/identity.md`.
    pub const VID: u8 = 16;
    pub const FP: u8 = 19;
    pub const LNK: u8 = 21;
    /// Added by the flush from `ua`: browser, OS, device type, bot flag.
    pub const BR: u8 = 22;
    pub const OS: u8 = 23;
    pub const DT: u8 = 24;
    pub const BOT: u8 = 25;
}

/// Client columns kept per event: `sid` … `ch`, then `vid` … `lnk`.
const CLIENT_COLUMNS: usize = 8 + 6;

/// `eid` is hashed, never stored, so its limit need not follow `maxValueBytes`.
pub const MAX_EID_BYTES: usize = 64;
/// Sixteen digits of ms reach the year 316 889 and still fit a JS number exactly.
const MAX_CT_DIGITS: usize = 16;

/// What a client-supplied name (query param or JSON key) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Uid,
    Eid,
    Ct,
    /// A stored client column (`sid` … `ch`, `d` among them, and the ids `vid` … `lnk`), by qualifier id.
    Column(u8),
    /// Ignored, but it still counts toward `maxFields`.
    Unknown,
}

impl Name {
    pub fn of(name: &[u8]) -> Self {
        match name {
            b"uid" => Self::Uid,
            b"eid" => Self::Eid,
            b"ct" => Self::Ct,
            b"sid" => Self::Column(2),
            b"p" => Self::Column(3),
            b"url" => Self::Column(4),
            b"ref" => Self::Column(5),
            b"a" => Self::Column(6),
            b"d" => Self::Column(7),
            b"it" => Self::Column(8),
            b"ch" => Self::Column(9),
            b"vid" => Self::Column(16),
            b"sto" => Self::Column(17),
            b"eti" => Self::Column(18),
            b"fp" => Self::Column(19),
            b"lid" => Self::Column(20),
            b"lnk" => Self::Column(21),
            _ => Self::Unknown,
        }
    }
}

/// Byte range of a value in the caller's arena; u32 keeps `Event` small and `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The span from `start` to the arena's end; arenas never reach 4 GiB as their input is capped far below.
    pub fn since(start: usize, arena: &[u8]) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            start: clamp(start),
            end: clamp(arena.len()),
        }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn get(self, arena: &[u8]) -> &[u8] {
        arena.get(self.range()).unwrap_or_default()
    }
}

/// The accepted fields of one event, as spans of an arena; `None` means not given (or given empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Event {
    pub uid: Option<Span>,
    pub eid: Option<Span>,
    /// Digits only, stored as given.
    pub ct: Option<Span>,
    /// Client columns by `slot(id)`: sid p url ref a d it ch, then vid sto eti fp lid lnk.
    pub columns: [Option<Span>; CLIENT_COLUMNS],
}

impl Event {
    /// Checks and keeps one value; a repeated name overwrites the earlier value.
    pub fn set(
        &mut self,
        name: Name,
        value: Span,
        arena: &[u8],
        limits: &Limits,
    ) -> Result<(), EncodeError> {
        let bytes = value.get(arena);
        match name {
            Name::Unknown => {}
            Name::Uid | Name::Eid if bytes.is_empty() => return Err(EncodeError::BadField),
            Name::Uid if bytes.len() > limits.max_value_bytes => {
                return Err(EncodeError::ValueTooLong)
            }
            Name::Uid => self.uid = Some(value),
            Name::Eid if bytes.len() > MAX_EID_BYTES => return Err(EncodeError::ValueTooLong),
            Name::Eid => self.eid = Some(value),
            Name::Ct if bytes.len() > MAX_CT_DIGITS || !bytes.iter().all(u8::is_ascii_digit) => {
                return Err(EncodeError::BadField)
            }
            Name::Ct => self.ct = (!bytes.is_empty()).then_some(value),
            Name::Column(id) => {
                let max = if id == q::D {
                    limits.max_data_bytes
                } else {
                    limits.max_value_bytes
                };
                if bytes.len() > max {
                    return Err(EncodeError::ValueTooLong);
                }
                if let Some(slot) = slot(id).and_then(|i| self.columns.get_mut(i)) {
                    *slot = (!bytes.is_empty()).then_some(value);
                }
            }
        }
        Ok(())
    }

    pub fn column(&self, id: u8) -> Option<Span> {
        self.columns.get(slot(id)?).copied().flatten()
    }
}

/// Where a client column's value is kept in `Event::columns`.
fn slot(id: u8) -> Option<usize> {
    match id {
        q::SID..=q::CH => Some(usize::from(id - q::SID)),
        q::VID..=q::LNK => Some(8 + usize::from(id - q::VID)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::test_options;
    use crate::schema::QUALIFIERS;

    fn limits() -> Limits {
        let mut o = test_options();
        o.max_value_bytes = 8.0;
        o.max_data_bytes = 12.0;
        Limits::check(&o).unwrap()
    }

    fn set(ev: &mut Event, name: &str, value: &str) -> Result<(), EncodeError> {
        let arena = format!("{name}{value}").into_bytes();
        let span = Span::since(name.len(), &arena);
        ev.set(Name::of(name.as_bytes()), span, &arena, &limits())
    }

    #[test]
    fn maps_names_to_qualifiers() {
        let cols = ["sid", "p", "url", "ref", "a", "d", "it", "ch"];
        for (id, name) in (2..).zip(cols) {
            assert_eq!(Name::of(name.as_bytes()), Name::Column(id));
        }
        let ids = ["vid", "sto", "eti", "fp", "lid", "lnk"];
        for (id, name) in (16..).zip(ids) {
            assert_eq!(Name::of(name.as_bytes()), Name::Column(id));
            assert_eq!(QUALIFIERS[usize::from(id)], name.as_bytes());
        }
        assert_eq!(Name::of(b"uid"), Name::Uid);
        assert_eq!(Name::of(b"eid"), Name::Eid);
        assert_eq!(Name::of(b"ct"), Name::Ct);
        for server_only in ["id", "co", "rg", "ci", "ua", "ip", "_", "URL", ""] {
            assert_eq!(Name::of(server_only.as_bytes()), Name::Unknown);
        }
    }

    #[test]
    fn keeps_the_last_value_and_drops_empty_ones() {
        let mut ev = Event::default();
        set(&mut ev, "sid", "one").unwrap();
        set(&mut ev, "sid", "two").unwrap();
        set(&mut ev, "ch", "x").unwrap();
        set(&mut ev, "ch", "").unwrap();
        set(&mut ev, "lnk", "v").unwrap();
        assert!(ev.column(q::SID).is_some());
        assert_eq!(ev.column(q::CH), None);
        assert!(ev.column(q::LNK).is_some());
        assert_eq!(ev.column(q::CT), None);
        assert_eq!(ev.columns.iter().flatten().count(), 2);
    }

    #[test]
    fn limits_value_lengths() {
        let mut ev = Event::default();
        assert_eq!(set(&mut ev, "p", "12345678"), Ok(()));
        assert_eq!(
            set(&mut ev, "p", "123456789"),
            Err(EncodeError::ValueTooLong)
        );
        assert_eq!(
            set(&mut ev, "uid", "123456789"),
            Err(EncodeError::ValueTooLong)
        );
        assert_eq!(set(&mut ev, "d", "123456789012"), Ok(()));
        assert_eq!(
            set(&mut ev, "d", "1234567890123"),
            Err(EncodeError::ValueTooLong)
        );
        assert_eq!(set(&mut ev, "eid", &"e".repeat(64)), Ok(()));
        assert_eq!(
            set(&mut ev, "eid", &"e".repeat(65)),
            Err(EncodeError::ValueTooLong)
        );
        assert_eq!(set(&mut ev, "_", &"x".repeat(100)), Ok(()));
    }

    #[test]
    fn refuses_empty_uid_and_eid() {
        let mut ev = Event::default();
        assert_eq!(set(&mut ev, "uid", ""), Err(EncodeError::BadField));
        assert_eq!(set(&mut ev, "eid", ""), Err(EncodeError::BadField));
    }

    #[test]
    fn parses_ct_as_up_to_16_digits() {
        let mut ev = Event::default();
        set(&mut ev, "ct", "0001700000000000").unwrap();
        assert!(ev.ct.is_some());
        set(&mut ev, "ct", "").unwrap();
        assert_eq!(ev.ct, None);
        for bad in ["12345678901234567", "-1", "1.5", "1e3", " 1", "x"] {
            assert_eq!(set(&mut ev, "ct", bad), Err(EncodeError::BadField), "{bad}");
        }
    }
}
