//! AFL++ entry point for the `config` target (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        palisade_fuzz::config(data);
    });
}
