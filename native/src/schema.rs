//! spoor's HBase column families and the event family's qualifiers: the one definition. The flush writes with it,
//! TypeScript reads it through `hbaseSchema()`, and `test/hbase-schema.test.ts` checks the Java jobs' spelling of it.

/// The one family of the by-user and by-time tables (docs/hbase-schema.md).
pub const FAMILY: &[u8] = b"e";
/// The identity table's family: one cell per link (`links.rs`, docs/identity.md).
pub const LINK_FAMILY: &[u8] = b"l";
/// The reports table's family: one JSON cell per section, written by the jobs (`jobs/`, docs/reports.md).
pub const REPORT_FAMILY: &[u8] = b"r";

/// Column qualifiers of family `e`, by qualifier id (`event::q`); a batch record names its fields by these ids.
/// `br` … `bot` are never in a batch: the flush adds them from `ua` (`agent.rs`).
pub const QUALIFIERS: [&[u8]; 26] = [
    b"id", b"uid", b"sid", b"p", b"url", b"ref", b"a", b"d", b"it", b"ch", b"co", b"rg", b"ci",
    b"ua", b"ip", b"ct", b"vid", b"sto", b"eti", b"fp", b"lid", b"lnk", b"br", b"os", b"dt",
    b"bot",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_distinct_ascii() {
        let families = [FAMILY, LINK_FAMILY, REPORT_FAMILY];
        for (i, name) in families.iter().chain(QUALIFIERS.iter()).enumerate() {
            assert!(!name.is_empty() && name.len() <= 3, "{name:?}");
            assert!(name.iter().all(u8::is_ascii_lowercase), "{name:?}");
            let same = if i < families.len() { &families[..] } else { &QUALIFIERS[..] };
            assert_eq!(same.iter().filter(|n| *n == name).count(), 1, "{name:?} twice");
        }
    }
}
