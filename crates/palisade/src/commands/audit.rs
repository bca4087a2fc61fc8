//! `palisade audit verify`: checks the hash chain of the review audit log.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::common::open_review_store as open;

/// Arguments of `palisade audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    action: AuditCmd,
    /// Configuration file (default: $PALISADE_CONFIG, else the embedded defaults).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AuditCmd {
    /// Check the hash chain of the audit log: exit 0 when intact, 1 when any entry was
    /// changed or removed.
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn audit(args: AuditArgs) -> Result<(), ExitCode> {
    let store = open(&args.config)?;
    match args.action {
        AuditCmd::Verify { json } => match store.verify_audit() {
            Ok(v) => {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"intact": true, "entries": v.entries, "head": v.head, "head_file": v.head_file})
                    );
                } else {
                    println!(
                        "audit log intact: {} entries, head {}{}",
                        v.entries,
                        v.head,
                        if v.head_file {
                            ""
                        } else {
                            " (no head file to compare with)"
                        }
                    );
                }
                Ok(())
            }
            Err(e) => {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"intact": false, "error": format!("{e:#}")})
                    );
                } else {
                    eprintln!("palisade: audit log NOT intact: {e:#}");
                }
                Err(ExitCode::FAILURE)
            }
        },
    }
}

/// Runs `palisade audit`.
pub fn main(args: AuditArgs) -> ExitCode {
    match audit(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
