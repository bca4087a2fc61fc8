//! What the commands share: the `--config` argument, the exit code for a configuration
//! error, the version line, the tokio runtime, and the review database a configuration
//! names. Below every command; it imports none of them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use palisade_config::{Config, Sources};
use palisade_review::store::Store;

/// Exit code for a configuration error (sysexits EX_CONFIG).
pub(crate) const EXIT_CONFIG: u8 = 78;

/// The version and the git commit it was built from, as `--version` prints them.
pub fn version() -> String {
    format!(
        "{} (commit {})",
        env!("CARGO_PKG_VERSION"),
        palisade_server::COMMIT
    )
}

/// `--config FILE`
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArg {
    /// Configuration file (default: $PALISADE_CONFIG, else the embedded defaults).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// Loads the configuration and compiles its rule packs, printing every error and
    /// returning exit 78 on failure.
    pub fn load(&self) -> Result<Config, ExitCode> {
        let config = Config::load(&Sources::from_process(self.config.clone())).map_err(|e| {
            eprintln!("palisade: {e}");
            ExitCode::from(EXIT_CONFIG)
        })?;
        palisade_server::scan::Scanner::new(&config, true).map_err(|e| {
            eprintln!("palisade: {e}");
            ExitCode::from(EXIT_CONFIG)
        })?;
        Ok(config)
    }
}

/// A tokio runtime for a command: several worker threads for the daemon and the bench,
/// one thread for `check`. Failing to build one is reported and ends the command.
pub fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    // The blocking pool serves large scans (bounded by scan_concurrency) and file I/O;
    // tokio's default of 512 threads would let a burst of work pile up memory instead.
    builder.max_blocking_threads(64);
    builder.enable_all().build().map_err(|e| {
        eprintln!("palisade: cannot start runtime: {e}");
        ExitCode::FAILURE
    })
}

/// The review database of the configuration in `config` (or the default one).
pub(crate) fn open_review_store(config: &Option<PathBuf>) -> Result<Store, ExitCode> {
    let config = ConfigArg {
        config: config.clone(),
    }
    .load()?;
    let path = palisade_review::database_path(&config);
    Store::open(&path).map_err(|e| {
        eprintln!("palisade: {e:#}");
        ExitCode::FAILURE
    })
}
