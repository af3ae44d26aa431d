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

const U32_MAX: u64 = u32::MAX as u64;
/// A field's length is a u16 in the record format.
const U16_MAX: u64 = u16::MAX as u64;
/// serde_json refuses to nest deeper than 128, so a larger limit could never be reached.
const JSON_DEPTH_MAX: u64 = 128;

impl Limits {
    /// Checks each option; the error names the first one out of range.
    pub fn check(o: &EncoderOptions) -> Result<Self, String> {
        let limits = Self {
            salt_buckets: salt_buckets("options.saltBuckets", o.salt_buckets)?,
            max_query_bytes: int("options.maxQueryBytes", o.max_query_bytes, 1, U32_MAX)?,
            max_fields: int("options.maxFields", o.max_fields, 1, U32_MAX)?,
            max_value_bytes: int("options.maxValueBytes", o.max_value_bytes, 1, U16_MAX)?,
            max_data_bytes: int("options.maxDataBytes", o.max_data_bytes, 1, U16_MAX)?,
            max_events_per_post: int(
                "options.maxEventsPerPost",
                o.max_events_per_post,
                1,
                U32_MAX,
            )?,
            // Depth 1 is the array itself, so a limit below 2 would refuse every event.
            max_json_depth: int("options.maxJsonDepth", o.max_json_depth, 2, JSON_DEPTH_MAX)?,
            batch_max_bytes: int("options.batchMaxBytes", o.batch_max_bytes, 1, U32_MAX)?,
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
    int(name, n, 1, 256).map(|n| n as u64)
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

#[cfg(test)]
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
