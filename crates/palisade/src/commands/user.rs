//! `palisade user …`: the accounts of the review UI.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use palisade_review::store::Role;
use palisade_review::Actor;

use crate::common::open_review_store as open;

/// Arguments of `palisade user`.
#[derive(Debug, Args)]
pub(crate) struct UserArgs {
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
                        palisade_review::web::pages::show_time(u.created)
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

/// Runs `palisade user`.
pub fn main(args: UserArgs) -> ExitCode {
    match user(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
