//! `palisade quarantine`: review what Palisade held in Postfix's hold queue, and release
//! or delete it, with Postfix's own tools (postqueue -j, postcat -q, postsuper -H / -d).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;

use palisade_config::{Config, Sources};
use palisade_report::escape::{block, line};

use palisade_queue::{header, helper, Queue, ReleaseNote};
use palisade_review::store::Store;
use palisade_review::{Actor, Released, Review};

/// Arguments of `palisade quarantine`.
#[derive(Debug, Args)]
pub(crate) struct QuarantineArgs {
    /// What to do.
    #[command(subcommand)]
    action: QuarantineCmd,
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// Postfix configuration directory of a non-default instance (passed as `-c`);
    /// overrides `[quarantine] postfix_config`.
    #[arg(long, global = true, value_name = "DIR")]
    postfix_config: Option<PathBuf>,
    /// Configuration file (default: $PALISADE_CONFIG, else the embedded defaults).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// `palisade quarantine …`
#[derive(Debug, Subcommand)]
enum QuarantineCmd {
    /// List the messages Palisade held.
    List,
    /// Show one held message: the verdict, then the message.
    Show {
        /// Postfix queue id.
        id: String,
    },
    /// Release a held message to delivery now (postsuper -H, then postqueue -i), or a
    /// copy to some recipients (--to).
    Release {
        /// Postfix queue id.
        id: String,
        /// Release only to this recipient (repeatable); the message stays held for the rest.
        #[arg(long, value_name = "ADDR")]
        to: Vec<String>,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "released from the command line")]
        reason: String,
    },
    /// Delete a held message (postsuper -d), unless it is under legal hold.
    Delete {
        /// Postfix queue id.
        id: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "deleted from the command line")]
        reason: String,
    },
    /// Mark a held message as reported (to the police, an election authority, …).
    Report {
        /// Postfix queue id.
        id: String,
        /// To whom, case number (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Place (or with --off lift) a legal hold: the message cannot be deleted.
    Hold {
        /// Postfix queue id.
        id: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// Lift the hold instead.
        #[arg(long)]
        off: bool,
    },
    /// Run the queue helper: the privileged side that lets an unprivileged daemon's
    /// review UI read, release and delete what Palisade held (see docs/quarantine.md).
    Helper {
        /// Socket to listen on.
        #[arg(
            long,
            value_name = "PATH",
            default_value = "/run/palisade-queue/queue.sock"
        )]
        socket: PathBuf,
        /// Group that may connect (the daemon's).
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// Where the helper records queued copies of threatening campaigns it put on
        /// hold (a directory the helper may write; default: campaign-holds.json in
        /// [state] dir).
        #[arg(long, value_name = "FILE")]
        holds: Option<PathBuf>,
    },
    /// Write the evidence bundle (tar: message, SHA-256, verdict, audit trail, ARF report).
    Export {
        /// Postfix queue id.
        id: String,
        /// Output file (default: palisade-ID.tar in the current directory; - = stdout).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

fn age(s: u64) -> String {
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn run(args: QuarantineArgs) -> anyhow::Result<()> {
    let config = Config::load(&Sources::from_process(args.config.clone()))?;
    let queue = palisade_queue::for_config(&config, args.postfix_config.clone());
    let db = palisade_review::database_path(&config);
    // The review database keeps the audit log and legal holds. Reading the queue works
    // without it; acting records into it when it exists (or is needed).
    if let QuarantineCmd::Helper {
        socket,
        group,
        holds,
    } = &args.action
    {
        let gid = match group {
            None => None,
            Some(g) => Some(
                nix::unistd::Group::from_name(g)?
                    .ok_or_else(|| anyhow!("no group {g} on this system"))?
                    .gid
                    .as_raw(),
            ),
        };
        let mut queue = palisade_queue::tools_for_config(&config, args.postfix_config.clone());
        if let Some(h) = holds {
            queue = queue.with_holds(h.clone());
        }
        let Queue::Tools(tools) = queue else {
            bail!("the helper runs Postfix's tools itself");
        };
        let listener = helper::bind(socket, 0o660, gid)?;
        palisade_server::logging::init(&config.logging);
        tracing::info!(socket = %socket.display(), "queue helper ready");
        return helper::serve(listener, tools);
    }
    let needs_db = matches!(
        args.action,
        QuarantineCmd::Report { .. } | QuarantineCmd::Hold { .. } | QuarantineCmd::Export { .. }
    );
    // A database we cannot see is an error, not a reason to skip legal holds and the
    // audit log.
    let exists = db.try_exists().with_context(|| {
        format!(
            "cannot check for the review database {} (run as root or the daemon's user)",
            db.display()
        )
    })?;
    let acting = matches!(
        args.action,
        QuarantineCmd::Release { .. } | QuarantineCmd::Delete { .. }
    );
    if !exists && acting {
        eprintln!(
            "palisade: no review database at {}: legal holds are not checked and nothing is \
             audited (give --config the daemon's configuration if it has one)",
            db.display()
        );
    }
    let store = if exists || needs_db {
        Some(std::sync::Arc::new(Store::open(&db)?))
    } else {
        None
    };
    let actor = Actor::shell();
    let (markers, prefix) = palisade_review::release_marks(&config);
    let note = |actor: &Actor| ReleaseNote {
        by: actor.name.clone(),
        at: palisade_review::audit::timestamp(),
        remove_markers: markers == palisade_config::ReleaseMarkers::Remove,
        prefix: prefix.clone(),
    };
    let review = store.clone().map(|store| Review {
        store,
        queue: queue.clone(),
        dual_control: false,
        markers,
        prefix: prefix.clone(),
    });
    let rules = || palisade_server::scan::Scanner::new(&config, true).map(|s| s.rules().clone());
    match args.action {
        QuarantineCmd::List => {
            let held = queue.list()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&held)?);
            } else if held.is_empty() {
                println!("nothing held by Palisade");
            } else {
                println!(
                    "{:<14} {:>5} {:>7}  {:<40} SUBJECT",
                    "QUEUE ID", "AGE", "SCORE", "FROM -> TO"
                );
                for h in &held {
                    let route = format!("{} -> {}", h.sender, h.recipients.join(","));
                    println!(
                        "{:<14} {:>5} {:>7.2}  {:<40} {}",
                        line(&h.queue_id),
                        age(h.age_s),
                        h.score,
                        line(&route),
                        line(&h.subject)
                    );
                    println!("{:>30}{}", "", line(&h.symbols.join(", ")));
                }
            }
        }
        QuarantineCmd::Show { id } => {
            let h = queue.find(&id)?;
            let message = String::from_utf8_lossy(&queue.raw(&id)?).into_owned();
            if let Some(s) = &store {
                s.audit(&actor.name, "view", &id, "", "")?;
            }
            if args.json {
                let mut v = serde_json::to_value(&h)?;
                v["message"] = Value::String(message);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let headers = queue.headers(&id)?;
                println!("queue id:    {}", line(&h.queue_id));
                println!("held for:    {}", age(h.age_s));
                println!("from:        {}", line(&h.sender));
                println!("to:          {}", line(&h.recipients.join(", ")));
                println!("subject:     {}", line(&h.subject));
                println!("verdict:     {}", line(&h.result));
                if let Some(ar) = header(&headers, "Authentication-Results") {
                    println!("auth:        {}", line(&ar));
                }
                println!("release:     palisade quarantine release {}", h.queue_id);
                println!("\n{}", block(&message));
            }
        }
        QuarantineCmd::Release { id, to, reason } => match &review {
            Some(review) => match review.release(&actor, &id, &reason, &to, &rules()?)? {
                Released::Released { recipients, whole } => report(
                    args.json,
                    "released",
                    &id,
                    &if whole {
                        "it goes on to delivery now".to_string()
                    } else {
                        format!(
                            "a copy goes to {}; it stays held for the others",
                            recipients.join(", ")
                        )
                    },
                ),
                Released::AwaitingSecondReviewer { .. } => report(
                    args.json,
                    "awaiting_second_reviewer",
                    &id,
                    "a second reviewer must release it too",
                ),
            },
            None => {
                let held = queue.find(&id)?;
                if to.is_empty() {
                    queue.release_copy(&id, &held.recipients, Some(&note(&actor)))?;
                    queue.delete(&id)?;
                    report(args.json, "released", &id, "it goes on to delivery now");
                } else {
                    queue.release_copy(&id, &to, Some(&note(&actor)))?;
                    report(
                        args.json,
                        "released",
                        &id,
                        &format!("a copy goes to {}", to.join(", ")),
                    );
                }
            }
        },
        QuarantineCmd::Delete { id, reason } => {
            match &review {
                Some(review) => review.delete(&actor, &id, &reason)?,
                None => {
                    queue.find(&id)?;
                    queue.delete(&id)?;
                }
            }
            report(args.json, "deleted", &id, "it is gone from the hold queue");
        }
        QuarantineCmd::Report { id, reason } => {
            if let Some(review) = &review {
                review.report(&actor, &id, &reason)?;
            }
            report(args.json, "reported", &id, "marked as reported");
        }
        QuarantineCmd::Hold { id, reason, off } => {
            if let Some(review) = &review {
                review.legal_hold(&actor, &id, !off, &reason)?;
            }
            let (what, detail) = if off {
                ("legal_hold_lifted", "it can be deleted again")
            } else {
                (
                    "legal_hold",
                    "it cannot be deleted until the hold is lifted",
                )
            };
            report(args.json, what, &id, detail);
        }
        QuarantineCmd::Helper { .. } => {}
        QuarantineCmd::Export { id, output } => {
            if let Some(review) = &review {
                let reporter = palisade_review::export::Reporter {
                    host: palisade_config::host_name(),
                    from: palisade_review::notify::report_address(&config),
                };
                let tar = review.export(&actor, &id, &rules()?, &reporter)?;
                let path = output.unwrap_or_else(|| PathBuf::from(format!("palisade-{id}.tar")));
                if path.as_os_str() == "-" {
                    use std::io::Write;
                    std::io::stdout().write_all(&tar)?;
                } else {
                    std::fs::write(&path, &tar)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    report(
                        args.json,
                        "exported",
                        &id,
                        &format!("bundle written to {}", path.display()),
                    );
                }
            }
        }
    }
    Ok(())
}

fn report(json: bool, what: &str, id: &str, detail: &str) {
    if json {
        println!("{}", serde_json::json!({ "queue_id": id, "result": what }));
    } else {
        println!("{what} {id}: {detail}");
    }
}

/// Runs `palisade quarantine`.
pub fn main(args: QuarantineArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<palisade_config::ConfigError>().is_some() => {
            eprintln!("palisade: {e}");
            ExitCode::from(crate::common::EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("palisade: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_unit() {
        assert_eq!(age(30), "30s");
        assert_eq!(age(4000), "66m");
    }
}
