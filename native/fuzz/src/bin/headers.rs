//! afl target: see `spoor_native::fuzz::headers`.

fn main() {
    afl::fuzz!(|data: &[u8]| spoor_native::fuzz::headers(data));
}
