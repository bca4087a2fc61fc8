//! The `palisade` binary; everything lives in the library.

/// mimalloc instead of glibc's malloc: the daemon allocates and frees small buffers per
/// message on every worker thread, where glibc's allocator took about a tenth of the
/// time (docs/performance.md, issue 14).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    palisade::cli::main()
}
