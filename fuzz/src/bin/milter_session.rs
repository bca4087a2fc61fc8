//! AFL++ entry point for the `milter_session` target (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        palisade_fuzz::milter_session(data);
    });
}
