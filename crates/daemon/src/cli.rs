//! Command-line interface.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Sources};

/// Exit code for a configuration error (sysexits EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

/// The version and the git commit it was built from, as `--version` prints them.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PALISADE_GIT_COMMIT"),
    ")"
);

/// The git commit the binary was built from ("unknown" when built without git).
pub const COMMIT: &str = env!("PALISADE_GIT_COMMIT");

/// Palisade, a milter for Postfix that stops threatening, coercive and spoofed mail.
#[derive(Debug, Parser)]
#[command(name = "palisade", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the milter daemon.
    Serve(ConfigArg),
    /// Score messages as the daemon would, without Postfix (like `spamassassin -t`).
    Check(crate::check::CheckArgs),
    /// Validate or print the configuration.
    Config {
        /// check or show.
        #[command(subcommand)]
        action: ConfigCmd,
    },
    /// Review, release or delete what Palisade held in Postfix's hold queue.
    Quarantine(crate::quarantine::QuarantineArgs),
    /// Load-test a milter (Palisade or any other) the way Postfix talks to it.
    Bench(crate::bench::BenchArgs),
    /// Manage the accounts of the quarantine review UI.
    User(crate::review::cli::UserArgs),
    /// Check the quarantine audit log.
    Audit(crate::review::cli::AuditArgs),
    /// Campaigns: copies of one template counted across recipients and hosts.
    Campaign(crate::campaign::cli::CampaignArgs),
    /// Write the man pages and shell completions into DIR (for packaging).
    #[command(hide = true)]
    GenerateAssets {
        /// Output directory (man/ and completions/ are made in it).
        dir: PathBuf,
    },
}

/// `--config FILE`
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
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
        crate::scan::Scanner::new(&config, true).map_err(|e| {
            eprintln!("palisade: {e}");
            ExitCode::from(EXIT_CONFIG)
        })?;
        Ok(config)
    }
}

/// `palisade config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Check the configuration and report every error at once.
    Check(ConfigArg),
    /// Print the configuration in force (defaults, file and environment merged).
    Show(ConfigArg),
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

/// Parses arguments and runs; the process exit code comes back.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Serve(arg) => {
            let sources = Sources::from_process(arg.config.clone());
            let config = match arg.load() {
                Ok(c) => c,
                Err(code) => return code,
            };
            crate::logging::init(&config.logging);
            let runtime = match runtime(true) {
                Ok(r) => r,
                Err(code) => return code,
            };
            match runtime.block_on(crate::run(config, sources)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("palisade: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Check(args) => crate::check::main(args),
        Cmd::Config { action } => match action {
            ConfigCmd::Check(arg) => match arg.load() {
                Ok(_) => {
                    println!("configuration OK");
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            },
            ConfigCmd::Show(arg) => match arg.load() {
                Ok(c) => {
                    print!("{}", c.to_toml());
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            },
        },
        Cmd::Quarantine(args) => crate::quarantine::main(args),
        Cmd::Bench(args) => crate::bench::main(args),
        Cmd::User(args) => crate::review::cli::user_main(args),
        Cmd::Audit(args) => crate::review::cli::audit_main(args),
        Cmd::Campaign(args) => crate::campaign::cli::main(args),
        Cmd::GenerateAssets { dir } => match crate::assets::generate(&dir) {
            Ok(files) => {
                for f in files {
                    println!("{}", f.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("palisade: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
