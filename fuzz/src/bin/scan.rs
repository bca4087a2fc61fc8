//! AFL++ entry point for the `scan` target (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        palisade_fuzz::scan(data);
    });
}
