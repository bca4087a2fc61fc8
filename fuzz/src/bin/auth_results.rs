//! AFL++ entry point for the `auth_results` target (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        palisade_fuzz::auth_results(data);
    });
}
