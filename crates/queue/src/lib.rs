//! Postfix's hold queue, the one store of held messages: list, show, release, copy and
//! delete them with Postfix's own tools (`postqueue -j`, `postcat -q`, `postsuper -H/-d`,
//! `sendmail`), directly or through the root queue helper ([`helper`]), whose protocol,
//! server and client live here too.
//!
//! Depends on `palisade-config` and `palisade-report` only. Never on the review side
//! (accounts, audit), which calls this crate, nor on the milter server.
#![forbid(unsafe_code)]

mod held;
pub mod helper;
mod message;
mod postfix;

use std::path::PathBuf;

use palisade_config::Config;

use held::valid_id;
pub use held::{Held, HoldOutcome};
pub use message::{decode_header, header, header_from, split_message, unfold, ReleaseNote};
pub use postfix::Tools;

/// Postfix's hold queue. Either Postfix's own tools run here (`-c DIR` for a
/// non-default instance), which takes root or the mail owner, or, when the daemon runs
/// unprivileged, every operation goes to the queue helper (`palisade quarantine
/// helper`, see [`helper`]) over its socket. Every call may run processes or wait on a
/// socket: call from blocking threads.
#[derive(Debug, Clone)]
pub enum Queue {
    /// Run postqueue, postcat, postsuper and sendmail directly.
    Tools(Tools),
    /// Ask the queue helper at this socket path.
    Helper(PathBuf),
}

impl Queue {
    /// The hold queue of the Postfix instance configured in `dir` (None = default),
    /// with the sendmail used for partial releases and notifications.
    pub fn new(config: Option<PathBuf>, sendmail: PathBuf) -> Queue {
        Queue::Tools(Tools {
            config,
            sendmail,
            holds: None,
        })
    }

    /// Where messages put on hold afterwards are recorded (see [`Queue::hold_queued`]).
    pub fn with_holds(self, path: PathBuf) -> Queue {
        match self {
            Queue::Tools(t) => Queue::Tools(Tools {
                holds: Some(path),
                ..t
            }),
            other => other,
        }
    }

    /// Puts messages Palisade scanned and let through on hold, each if it is still in
    /// the queue (not delivered, not held) and still the message that arrived near its
    /// `at` (queue ids are reused). They then count as held by Palisade, for campaign
    /// `campaign`. One outcome per message, in order.
    pub fn hold_queued(
        &self,
        copies: &[(String, u64)],
        campaign: &str,
    ) -> anyhow::Result<Vec<HoldOutcome>> {
        for (id, _) in copies {
            valid_id(id)?;
        }
        match self {
            Queue::Tools(t) => t.hold_queued(copies, campaign),
            Queue::Helper(p) => Ok(serde_json::from_slice(&helper::call(
                p,
                &helper::Request::HoldQueued {
                    copies: copies.to_vec(),
                    campaign: campaign.into(),
                },
                &[],
            )?)?),
        }
    }

    /// Everything Palisade holds, oldest first.
    pub fn list(&self) -> anyhow::Result<Vec<Held>> {
        match self {
            Queue::Tools(t) => t.list(),
            Queue::Helper(p) => helper::list(p),
        }
    }

    /// One message Palisade holds.
    pub fn find(&self, id: &str) -> anyhow::Result<Held> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.find(id),
            Queue::Helper(p) => helper::find(p, id),
        }
    }

    /// The header block of a held message.
    pub fn headers(&self, id: &str) -> anyhow::Result<String> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.headers(id),
            Queue::Helper(p) => Ok(String::from_utf8_lossy(&helper::call(
                p,
                &helper::Request::Headers { id: id.into() },
                &[],
            )?)
            .into_owned()),
        }
    }

    /// The message as Postfix holds it (headers and body, as `postcat -h -b` prints
    /// them), byte for byte.
    pub fn raw(&self, id: &str) -> anyhow::Result<Vec<u8>> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.raw(id),
            Queue::Helper(p) => helper::call(p, &helper::Request::Raw { id: id.into() }, &[]),
        }
    }

    /// Releases the whole message to delivery now.
    pub fn release(&self, id: &str) -> anyhow::Result<()> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.release(id),
            Queue::Helper(p) => {
                helper::call(p, &helper::Request::Release { id: id.into() }, &[]).map(drop)
            }
        }
    }

    /// Delivers a copy to some of its recipients (envelope sender kept), marked as
    /// released as `note` says; the held original stays for the others.
    pub fn release_copy(
        &self,
        id: &str,
        recipients: &[String],
        note: Option<&ReleaseNote>,
    ) -> anyhow::Result<()> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.release_copy(id, recipients, note),
            Queue::Helper(p) => helper::call(
                p,
                &helper::Request::Copy {
                    id: id.into(),
                    recipients: recipients.to_vec(),
                    note: note.cloned(),
                },
                &[],
            )
            .map(drop),
        }
    }

    /// Deletes a held message.
    pub fn delete(&self, id: &str) -> anyhow::Result<()> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.delete(id),
            Queue::Helper(p) => {
                helper::call(p, &helper::Request::Delete { id: id.into() }, &[]).map(drop)
            }
        }
    }

    /// Sends a notification through the local Postfix.
    pub fn send(&self, from: &str, to: &[String], message: &[u8]) -> anyhow::Result<()> {
        match self {
            Queue::Tools(t) => t.sendmail(from, to, message),
            Queue::Helper(p) => helper::call(
                p,
                &helper::Request::Send {
                    from: from.into(),
                    to: to.to_vec(),
                },
                message,
            )
            .map(drop),
        }
    }
}

/// The hold queue configured by `[quarantine]`: through the queue helper when
/// `helper` names its socket, else Postfix's tools; `override_dir` (the CLI's
/// `--postfix-config`) means the tools of that instance.
pub fn for_config(config: &Config, override_dir: Option<PathBuf>) -> Queue {
    match helper::socket_path(&config.quarantine.helper) {
        Some(socket) if override_dir.is_none() => Queue::Helper(socket),
        _ => tools_for_config(config, override_dir),
    }
}

/// Postfix's tools for the configured instance (or `override_dir`).
pub fn tools_for_config(config: &Config, override_dir: Option<PathBuf>) -> Queue {
    let dir = override_dir.or_else(|| {
        (!config.quarantine.postfix_config.is_empty())
            .then(|| PathBuf::from(&config.quarantine.postfix_config))
    });
    Queue::new(dir, PathBuf::from(&config.quarantine.sendmail))
        .with_holds(config.state.dir.join("campaign-holds.json"))
}
