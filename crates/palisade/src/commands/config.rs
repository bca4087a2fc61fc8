//! `palisade config check` and `palisade config show`.

use std::process::ExitCode;

use crate::common::ConfigArg;

/// Checks the configuration and its rule packs, reporting every error at once.
pub fn check(arg: ConfigArg) -> ExitCode {
    match arg.load() {
        Ok(_) => {
            println!("configuration OK");
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Prints the configuration in force (defaults, file and environment merged).
pub fn show(arg: ConfigArg) -> ExitCode {
    match arg.load() {
        Ok(c) => {
            print!("{}", c.to_toml());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}
