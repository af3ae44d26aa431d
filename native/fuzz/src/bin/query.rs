//! afl target: see `spoor_native::fuzz::query`.

fn main() {
    afl::fuzz!(|data: &[u8]| spoor_native::fuzz::query(data));
}
