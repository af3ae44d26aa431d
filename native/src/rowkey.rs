//! The two fixed-width (33-byte) rowkeys of an event: by user and by time.
//!
//! Both start with a salt byte so that writes spread over N regions, and both carry the
//! inverted timestamp so that a scan returns the newest rows first.

use xxhash_rust::xxh3::xxh3_64;

pub const LEN: usize = 33;

/// The by-user salt: every row of a user lands in the same one of N buckets.
pub fn salt(uid16: &[u8; 16], n: u64) -> u8 {
    bucket_of(xxh3_64(uid16), n)
}

/// `salt | uid16`: what all by-user rows of a user start with.
pub fn user_prefix(uid16: &[u8; 16], n: u64) -> [u8; 17] {
    let mut prefix = [0; 17];
    prefix[0] = salt(uid16, n);
    prefix[1..].copy_from_slice(uid16);
    prefix
}

/// `salt | uid16 | inv | eid8` and `bucket | inv | uid16 | eid8`, with inv = i64::MAX − ts.
pub fn keys(uid16: &[u8; 16], eid8: &[u8; 8], ts_ms: u64, n: u64) -> ([u8; LEN], [u8; LEN]) {
    let inv = (i64::MAX as u64).saturating_sub(ts_ms).to_be_bytes();
    let mut by_user = [0; LEN];
    by_user[0] = salt(uid16, n);
    by_user[1..17].copy_from_slice(uid16);
    by_user[17..25].copy_from_slice(&inv);
    by_user[25..].copy_from_slice(eid8);
    let mut by_time = [0; LEN];
    by_time[0] = bucket_of(xxh3_64(eid8), n);
    by_time[1..9].copy_from_slice(&inv);
    by_time[9..25].copy_from_slice(uid16);
    by_time[25..].copy_from_slice(eid8);
    (by_user, by_time)
}

/// The by-time key of the event whose by-user key is `by_user`: the fields are the same, in the other order.
pub fn time_key_of(by_user: &[u8; LEN], n: u64) -> [u8; LEN] {
    let eid8: [u8; 8] = by_user[25..].try_into().unwrap_or_default();
    let mut by_time = [0; LEN];
    by_time[0] = bucket_of(xxh3_64(&eid8), n);
    by_time[1..9].copy_from_slice(&by_user[17..25]);
    by_time[9..25].copy_from_slice(&by_user[1..17]);
    by_time[25..].copy_from_slice(&eid8);
    by_time
}

/// N is 1..=256, so the remainder always fits a byte; `max(1)` only guards a zero that checked options exclude.
fn bucket_of(hash: u64, n: u64) -> u8 {
    (hash % n.max(1)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_time_key_from_the_user_key() {
        let uid16: [u8; 16] = std::array::from_fn(|i| i as u8 * 3);
        let (by_user, by_time) = keys(&uid16, &[9, 8, 7, 6, 5, 4, 3, 2], 1_700_000_000_000, 16);
        assert_eq!(time_key_of(&by_user, 16), by_time);
    }

    #[test]
    fn lays_out_both_keys() {
        let uid16: [u8; 16] = std::array::from_fn(|i| i as u8 + 1);
        let eid8 = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7];
        let (ku, kt) = keys(&uid16, &eid8, 1_700_000_000_000, 16);
        // i64::MAX − 1_700_000_000_000 = 0x7fff_fe74_301a_97ff
        let inv = [0x7f, 0xff, 0xfe, 0x74, 0x30, 0x1a, 0x97, 0xff];
        let salt = (xxh3_64(&uid16) % 16) as u8;
        let bucket = (xxh3_64(&eid8) % 16) as u8;
        let mut want_ku = vec![salt];
        want_ku.extend_from_slice(&uid16);
        want_ku.extend_from_slice(&inv);
        want_ku.extend_from_slice(&eid8);
        let mut want_kt = vec![bucket];
        want_kt.extend_from_slice(&inv);
        want_kt.extend_from_slice(&uid16);
        want_kt.extend_from_slice(&eid8);
        assert_eq!(ku.to_vec(), want_ku);
        assert_eq!(kt.to_vec(), want_kt);
        assert_eq!(user_prefix(&uid16, 16), ku[..17]);
    }

    #[test]
    fn newer_events_sort_first() {
        let (old, _) = keys(&[7; 16], &[1; 8], 1000, 4);
        let (new, _) = keys(&[7; 16], &[1; 8], 2000, 4);
        assert!(new < old);
    }

    #[test]
    fn salts_stay_below_n() {
        for n in [1, 2, 3, 255, 256] {
            for i in 0..200u8 {
                let (ku, kt) = keys(&[i; 16], &[i; 8], 0, n);
                assert!(u64::from(ku[0]) < n && u64::from(kt[0]) < n);
            }
        }
        assert_eq!(salt(&[9; 16], 1), 0);
    }
}
