//! The `palisade` binary: the command line only. The daemon is `palisade-server`, the
//! review UI `palisade-review`, the hold queue `palisade-queue`, campaign counting
//! `palisade-campaign`, the load generator `palisade-bench` (docs/architecture.md).
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod common;

/// mimalloc instead of glibc's malloc: the daemon allocates and frees small buffers per
/// message on every worker thread, where glibc's allocator took 14.5% of the
/// daemon's time (docs/performance.md, issue 14). Built without transparent huge pages
/// (`no_thp`): with them the daemon's resident memory was half as large again, for no
/// speed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
