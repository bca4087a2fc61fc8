//! AFL++ entry point for the `mime` target (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        palisade_fuzz::mime(data);
    });
}
