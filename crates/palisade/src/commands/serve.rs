//! `palisade serve`: the milter daemon, until SIGTERM or SIGINT; SIGHUP reloads.

use std::process::ExitCode;

use palisade_config::Sources;

use crate::common::{runtime, ConfigArg};

/// Runs `palisade serve`.
pub fn main(arg: ConfigArg) -> ExitCode {
    let sources = Sources::from_process(arg.config.clone());
    let config = match arg.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    palisade_server::logging::init(&config.logging);
    let runtime = match runtime(true) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(palisade_server::run(config, sources)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("palisade: {e:#}");
            ExitCode::FAILURE
        }
    }
}
