//! afl target: see `spoor_native::fuzz::json`.

fn main() {
    afl::fuzz!(|data: &[u8]| spoor_native::fuzz::json(data));
}
