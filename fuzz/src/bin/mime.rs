//! AFL++ entry point for the `mime` target (see fuzz/README.md).
//!
//! `fuzz_nohook!`: a panic that reaches the macro is a crash, as with `fuzz!`, but the
//! panic hook is left alone, so the panics Palisade deliberately contains (a third-party
//! parser's, caught in extraction) are not reported as crashes.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| {
        palisade_fuzz::mime(data);
    });
}
