//! `palisade bench`: the load generator of `palisade-bench`, on a runtime of its own.

use std::process::ExitCode;

use palisade_bench::BenchArgs;

/// Runs `palisade bench`.
pub fn main(args: BenchArgs) -> ExitCode {
    match crate::common::runtime(true) {
        Ok(runtime) => palisade_bench::main(args, &runtime),
        Err(code) => code,
    }
}
