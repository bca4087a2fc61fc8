//! AFL++ entry point for the `normalize` target (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        palisade_fuzz::normalize(data);
    });
}
