//! afl target: see `spoor_native::fuzz::batch`.

fn main() {
    afl::fuzz!(|data: &[u8]| spoor_native::fuzz::batch(data));
}
