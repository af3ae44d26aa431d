//! Checks `EncoderOptions` once and turns them into the plain `Limits` the encoder runs on.

use crate::event::q;
use crate::EncoderOptions;

/// The checked options; see `EncoderOptions` for what each one means.
#[derive(Debug, Clone)]
pub struct Limits {
    pub salt_buckets: u64,
    pub max_query_bytes: usize,
    pub max_fields: usize,
    pub max_value_bytes: usize,
    pub max_data_bytes: usize,
    pub max_events_per_post: usize,
    pub max_json_depth: usize,
    pub batch_max_bytes: usize,
    pub anonymize_ip: bool,
    pub cookie_name: String,
    /// Qualifier ids of the identity fields not stored.
    pub drop_ids: Vec<u8>,
}

/// The identity fields a method switch can drop, by name.
const DROPPABLE: [(&str, u8); 4] = [("sto", 17), ("eti", 18), ("fp", q::FP), ("lid", 20)];

/// The integers an option accepts, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub min: u64,
    pub max: u64,
}

const U32_MAX: u64 = u32::MAX as u64;
/// A field's length is a u16 in the record format.
const U16_MAX: u64 = u16::MAX as u64;

/// The salt byte holds N values, 0 … N−1.
pub const SALT_BUCKETS: Range = Range { min: 1, max: 256 };
pub const MAX_QUERY_BYTES: Range = Range { min: 1, max: U32_MAX };
pub const MAX_FIELDS: Range = Range { min: 1, max: U32_MAX };
pub const MAX_VALUE_BYTES: Range = Range { min: 1, max: U16_MAX };
pub const MAX_DATA_BYTES: Range = Range { min: 1, max: U16_MAX };
pub const MAX_EVENTS_PER_POST: Range = Range { min: 1, max: U32_MAX };
/// Depth 1 is the array itself, so a limit below 2 would refuse every event; serde_json refuses to nest deeper
/// than 128, so a larger limit could never be reached.
pub const MAX_JSON_DEPTH: Range = Range { min: 2, max: 128 };
pub const BATCH_MAX_BYTES: Range = Range { min: 1, max: U32_MAX };
/// `SessionOptions.timeoutMs` (`session.rs`).
pub const TIMEOUT_MS: Range = Range { min: 1, max: U32_MAX };
/// `SessionOptions.maxUsers` (`session.rs`).
pub const MAX_USERS: Range = Range { min: 1, max: U32_MAX };

/// The range of every integer option of `EncoderOptions` and `SessionOptions`, by its JavaScript name: what the
/// native module accepts, defined once. `optionRanges()` gives it to TypeScript, where the config keys that feed
/// these options must lie within it (test/config-native.test.ts).
pub const RANGES: [(&str, Range); 10] = [
    ("saltBuckets", SALT_BUCKETS),
    ("maxQueryBytes", MAX_QUERY_BYTES),
    ("maxFields", MAX_FIELDS),
    ("maxValueBytes", MAX_VALUE_BYTES),
    ("maxDataBytes", MAX_DATA_BYTES),
    ("maxEventsPerPost", MAX_EVENTS_PER_POST),
    ("maxJsonDepth", MAX_JSON_DEPTH),
    ("batchMaxBytes", BATCH_MAX_BYTES),
    ("timeoutMs", TIMEOUT_MS),
    ("maxUsers", MAX_USERS),
];

impl Limits {
    /// Checks each option; the error names the first one out of range.
    pub fn check(o: &EncoderOptions) -> Result<Self, String> {
        let limits = Self {
            salt_buckets: salt_buckets("options.saltBuckets", o.salt_buckets)?,
            max_query_bytes: within("options.maxQueryBytes", o.max_query_bytes, MAX_QUERY_BYTES)?,
            max_fields: within("options.maxFields", o.max_fields, MAX_FIELDS)?,
            max_value_bytes: within("options.maxValueBytes", o.max_value_bytes, MAX_VALUE_BYTES)?,
            max_data_bytes: within("options.maxDataBytes", o.max_data_bytes, MAX_DATA_BYTES)?,
            max_events_per_post: within(
                "options.maxEventsPerPost",
                o.max_events_per_post,
                MAX_EVENTS_PER_POST,
            )?,
            max_json_depth: within("options.maxJsonDepth", o.max_json_depth, MAX_JSON_DEPTH)?,
            batch_max_bytes: within("options.batchMaxBytes", o.batch_max_bytes, BATCH_MAX_BYTES)?,
            anonymize_ip: o.anonymize_ip,
            cookie_name: o.cookie_name.clone(),
            drop_ids: drop_ids(o.drop_ids.as_deref().unwrap_or_default())?,
        };
        if !is_cookie_token(&limits.cookie_name) {
            return Err(
                "options.cookieName must be a non-empty cookie name (no spaces, controls or ()<>@,;:\\\"/[]?={})"
                    .into(),
            );
        }
        Ok(limits)
    }
}

fn drop_ids(names: &[String]) -> Result<Vec<u8>, String> {
    names
        .iter()
        .map(|name| {
            DROPPABLE
                .iter()
                .find(|(n, _)| n == name)
                .map(|&(_, id)| id)
                .ok_or_else(|| {
                    format!("options.dropIds may name only sto, eti, fp and lid, not {name:?}")
                })
        })
        .collect()
}

/// Checks a salt bucket count N, shared with `userRowPrefix`; `name` is what the error calls it.
pub fn salt_buckets(name: &str, n: f64) -> Result<u64, String> {
    within(name, n, SALT_BUCKETS).map(|n| n as u64)
}

/// Checks an integer option given as a JS number against its range in RANGES.
fn within(name: &str, value: f64, range: Range) -> Result<usize, String> {
    int(name, value, range.min, range.max)
}

/// Checks an integer option given as a JS number; shared with `SessionOptions`.
pub fn int(name: &str, value: f64, min: u64, max: u64) -> Result<usize, String> {
    if value.fract() == 0.0 && value >= min as f64 && value <= max as f64 {
        Ok(value as usize)
    } else {
        Err(format!("{name} must be an integer from {min} to {max}"))
    }
}

/// RFC 6265 cookie-name: an RFC 2616 token.
fn is_cookie_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

#[cfg(any(test, fuzzing))]
pub fn test_options() -> EncoderOptions {
    EncoderOptions {
        salt_buckets: 16.0,
        max_query_bytes: 2048.0,
        max_fields: 32.0,
        max_value_bytes: 1024.0,
        max_data_bytes: 4096.0,
        max_events_per_post: 100.0,
        max_json_depth: 8.0,
        batch_max_bytes: 1_048_576.0,
        anonymize_ip: false,
        cookie_name: "sp_uid".into(),
        drop_ids: None,
        geoip_databases: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_with(f: impl FnOnce(&mut EncoderOptions)) -> Result<Limits, String> {
        let mut o = test_options();
        f(&mut o);
        Limits::check(&o)
    }

    #[test]
    fn accepts_the_test_options() {
        let l = Limits::check(&test_options()).unwrap();
        assert_eq!(l.salt_buckets, 16);
        assert_eq!(l.max_json_depth, 8);
        assert_eq!(l.cookie_name, "sp_uid");
    }

    #[test]
    fn names_each_option_out_of_range() {
        type Set = fn(&mut EncoderOptions, f64);
        let cases: [(Set, f64, f64, &str); 8] = [
            (
                |o, v| o.salt_buckets = v,
                0.0,
                257.0,
                "options.saltBuckets must be an integer from 1 to 256",
            ),
            (
                |o, v| o.max_query_bytes = v,
                0.0,
                4294967296.0,
                "options.maxQueryBytes must be an integer from 1 to 4294967295",
            ),
            (
                |o, v| o.max_fields = v,
                0.0,
                4294967296.0,
                "options.maxFields must be an integer from 1 to 4294967295",
            ),
            (
                |o, v| o.max_value_bytes = v,
                0.0,
                65536.0,
                "options.maxValueBytes must be an integer from 1 to 65535",
            ),
            (
                |o, v| o.max_data_bytes = v,
                0.0,
                65536.0,
                "options.maxDataBytes must be an integer from 1 to 65535",
            ),
            (
                |o, v| o.max_events_per_post = v,
                0.0,
                4294967296.0,
                "options.maxEventsPerPost must be an integer from 1 to 4294967295",
            ),
            (
                |o, v| o.max_json_depth = v,
                1.0,
                129.0,
                "options.maxJsonDepth must be an integer from 2 to 128",
            ),
            (
                |o, v| o.batch_max_bytes = v,
                0.0,
                4294967296.0,
                "options.batchMaxBytes must be an integer from 1 to 4294967295",
            ),
        ];
        for (set, low, high, msg) in cases {
            for bad in [low, high, 1.5, f64::NAN, f64::INFINITY, -1.0] {
                assert_eq!(check_with(|o| set(o, bad)).unwrap_err(), msg, "value {bad}");
            }
        }
    }

    #[test]
    fn accepts_the_bounds() {
        assert!(check_with(|o| {
            o.salt_buckets = 256.0;
            o.max_value_bytes = 65535.0;
            o.max_data_bytes = 1.0;
            o.max_json_depth = 128.0;
            o.batch_max_bytes = 4294967295.0;
        })
        .is_ok());
    }

    #[test]
    fn ranges_name_each_option_once_and_limits_check_them() {
        let names: Vec<&str> = RANGES.iter().map(|(n, _)| *n).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(!names[..i].contains(name), "{name} twice");
        }
        let l = check_with(|o| {
            o.max_query_bytes = MAX_QUERY_BYTES.max as f64;
            o.max_json_depth = MAX_JSON_DEPTH.min as f64;
        })
        .unwrap();
        assert_eq!(l.max_query_bytes as u64, MAX_QUERY_BYTES.max);
        assert_eq!(l.max_json_depth as u64, MAX_JSON_DEPTH.min);
    }

    #[test]
    fn sessions_accept_exactly_their_ranges() {
        use crate::session::Settings;
        let check = |timeout_ms: u64, max_users: u64| {
            Settings::check(&crate::SessionOptions {
                timeout_ms: timeout_ms as f64,
                max_users: max_users as f64,
                own_hosts: vec![],
            })
        };
        assert!(check(TIMEOUT_MS.min, MAX_USERS.min).is_ok());
        assert!(check(TIMEOUT_MS.max, MAX_USERS.max).is_ok());
        assert!(check(TIMEOUT_MS.min - 1, MAX_USERS.min).is_err());
        assert!(check(TIMEOUT_MS.max + 1, MAX_USERS.min).is_err());
        assert!(check(TIMEOUT_MS.min, MAX_USERS.min - 1).is_err());
        assert!(check(TIMEOUT_MS.min, MAX_USERS.max + 1).is_err());
    }

    #[test]
    fn rejects_cookie_names_that_are_not_tokens() {
        for bad in ["", "sp uid", "sp=uid", "sp;uid", "sp\"", "é"] {
            let err = check_with(|o| o.cookie_name = bad.into()).unwrap_err();
            assert!(
                err.starts_with("options.cookieName must be"),
                "{bad}: {err}"
            );
        }
    }
}
