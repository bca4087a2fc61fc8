//! The command line: the commands and where each one goes. Each command lives in its
//! own module under [`crate::commands`]; what they share is in [`crate::common`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::commands;
use crate::common::ConfigArg;

/// Palisade, a milter for Postfix that stops threatening, coercive and spoofed mail.
#[derive(Debug, Parser)]
#[command(name = "palisade", version = crate::common::version(), about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Run the milter daemon.
    Serve(ConfigArg),
    /// Score messages as the daemon would, without Postfix (like `spamassassin -t`).
    Check(commands::check::CheckArgs),
    /// Validate or print the configuration.
    Config {
        /// check or show.
        #[command(subcommand)]
        action: ConfigCmd,
    },
    /// Review, release or delete what Palisade held in Postfix's hold queue.
    Quarantine(commands::quarantine::QuarantineArgs),
    /// Load-test a milter (Palisade or any other) the way Postfix talks to it.
    Bench(palisade_bench::BenchArgs),
    /// Manage the accounts of the quarantine review UI.
    User(commands::user::UserArgs),
    /// Check the quarantine audit log.
    Audit(commands::audit::AuditArgs),
    /// Campaigns: copies of one template counted across recipients and hosts.
    Campaign(commands::campaign::CampaignArgs),
    /// Write the man pages and shell completions into DIR (for packaging).
    #[command(hide = true)]
    GenerateAssets {
        /// Output directory (man/ and completions/ are made in it).
        dir: PathBuf,
    },
}

/// `palisade config …`
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCmd {
    /// Check the configuration and report every error at once.
    Check(ConfigArg),
    /// Print the configuration in force (defaults, file and environment merged).
    Show(ConfigArg),
}

/// Parses arguments and runs; the process exit code comes back.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Serve(arg) => commands::serve::main(arg),
        Cmd::Check(args) => commands::check::main(args),
        Cmd::Config { action } => match action {
            ConfigCmd::Check(arg) => commands::config::check(arg),
            ConfigCmd::Show(arg) => commands::config::show(arg),
        },
        Cmd::Quarantine(args) => commands::quarantine::main(args),
        Cmd::Bench(args) => commands::bench::main(args),
        Cmd::User(args) => commands::user::main(args),
        Cmd::Audit(args) => commands::audit::main(args),
        Cmd::Campaign(args) => commands::campaign::main(args),
        Cmd::GenerateAssets { dir } => commands::assets::main(&dir, Cli::command()),
    }
}
