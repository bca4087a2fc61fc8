//! `palisade user …` (accounts of the review UI) and `palisade audit verify`.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::store::{Role, Store};
use super::{database_path, Actor};
use crate::cli::ConfigArg;

/// Arguments of `palisade user`.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    action: UserCmd,
    /// Configuration file (default: $PALISADE_CONFIG, else the embedded defaults).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Add a user, or change an existing user's role and password.
    Add {
        /// Login name.
        name: String,
        /// admin (manages users), reviewer (releases, deletes, reports) or auditor (reads).
        #[arg(long, value_parser = ["admin", "reviewer", "auditor"])]
        role: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user (their sessions end at once).
    Remove {
        /// Login name.
        name: String,
    },
}

/// Arguments of `palisade audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
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

fn open(config: &Option<std::path::PathBuf>) -> Result<Store, ExitCode> {
    let config = ConfigArg {
        config: config.clone(),
    }
    .load()?;
    let path = database_path(&config);
    Store::open(&path).map_err(|e| {
        eprintln!("palisade: {e:#}");
        ExitCode::FAILURE
    })
}

fn user(args: UserArgs) -> Result<(), ExitCode> {
    let store = open(&args.config)?;
    let fail = |e: anyhow::Error| {
        eprintln!("palisade: {e:#}");
        ExitCode::FAILURE
    };
    let actor = Actor::shell();
    match args.action {
        UserCmd::Add { name, role, .. } => {
            let role = Role::parse(&role).ok_or(ExitCode::from(2))?;
            let mut password = String::new();
            std::io::stdin()
                .take(4096)
                .read_to_string(&mut password)
                .map_err(|e| fail(e.into()))?;
            let password = password.lines().next().unwrap_or("").to_string();
            store.add_user(&name, role, &password).map_err(fail)?;
            store
                .audit(
                    &actor.name,
                    "user-add",
                    "",
                    "",
                    &format!("{name} as {role}"),
                )
                .map_err(fail)?;
            println!("user {name} saved as {role}");
        }
        UserCmd::List { json } => {
            let users = store.users().map_err(fail)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&users).map_err(|e| fail(e.into()))?
                );
            } else if users.is_empty() {
                println!(
                    "no users: add one with `palisade user add NAME --role admin --password-stdin`"
                );
            } else {
                println!("{:<32} {:<9} CREATED", "NAME", "ROLE");
                for u in users {
                    println!(
                        "{:<32} {:<9} {}",
                        u.name,
                        u.role,
                        crate::web::pages::show_time(u.created)
                    );
                }
            }
        }
        UserCmd::Remove { name } => {
            if !store.remove_user(&name).map_err(fail)? {
                eprintln!("palisade: no user {name}");
                return Err(ExitCode::FAILURE);
            }
            store
                .audit(&actor.name, "user-remove", "", "", &name)
                .map_err(fail)?;
            println!("user {name} removed");
        }
    }
    Ok(())
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

/// Runs `palisade user`.
pub fn user_main(args: UserArgs) -> ExitCode {
    match user(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Runs `palisade audit`.
pub fn audit_main(args: AuditArgs) -> ExitCode {
    match audit(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
