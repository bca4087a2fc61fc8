//! The review side of the quarantine: accounts and roles, the hash-chained audit log,
//! legal holds, dual control, plain-words explanations, evidence bundles and
//! notifications. The Postfix hold queue stays the store of the messages
//! ([`palisade_queue::Queue`]); this module keeps what Postfix cannot (who did what
//! and why). The web UI, the JSON API and the CLI all act through [`Review`], so the
//! rules (reasons, roles, legal hold, dual control, audit) are enforced in one place.
//!
//! Depends on `palisade-queue` (the held messages), `palisade-config`, `palisade-engine`
//! (explanations quote the rules) and `palisade-report`. Never on the milter server,
//! which starts the UI and feeds the [`recorder`], nor on campaign counting.
#![forbid(unsafe_code)]

pub mod audit;
mod explain;
pub mod export;
pub mod notify;
pub mod recorder;
pub mod store;
pub mod web;

pub use export::mail_date;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use explain::Explanation;
use palisade_config::Config;
use palisade_queue::{Held, Queue};
use store::{MessageState, PendingRelease, Role, Store};

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// No such held message.
    #[error("{0}")]
    NotFound(String),
    /// The role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// The message's state does not allow it (legal hold, same reviewer twice).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong (no reason, unknown recipient).
    #[error("{0}")]
    BadRequest(String),
    /// Postfix, the database or the system failed.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ReviewError {
    fn from(e: anyhow::Error) -> Self {
        ReviewError::Internal(e)
    }
}

/// Who is acting.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Name in the audit log.
    pub name: String,
    /// What they may do.
    pub role: Role,
}

impl Actor {
    /// The person at the shell (`cli:<user>`), with every right: they are root or the
    /// mail owner, who can run postsuper anyway.
    pub fn shell() -> Actor {
        let user = std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| format!("uid{}", nix::unistd::getuid()));
        Actor {
            name: format!("cli:{user}"),
            role: Role::Admin,
        }
    }
}

/// What a release did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Released {
    /// Delivered (to these recipients; all of them when the whole message went).
    Released {
        /// Recipients it went to.
        recipients: Vec<String>,
        /// Whether the held original is gone from the hold queue.
        whole: bool,
    },
    /// Recorded; a second reviewer must release it too (dual control).
    AwaitingSecondReviewer {
        /// Who asked first.
        requested_by: String,
    },
}

/// Everything the message view shows.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// The queue's facts.
    pub held: Held,
    /// Why, in plain words.
    pub explanation: Explanation,
    /// Palisade's own state (legal hold, reported, partial releases, pending release).
    pub state: MessageState,
    /// Header fields in order, unfolded, as received (never decoded into markup).
    pub headers: Vec<(String, String)>,
    /// The readable text of each body part (HTML turned into text, never rendered).
    pub body: Vec<String>,
    /// The audit entries for this message, newest first.
    pub audit: Vec<audit::Entry>,
}

/// The release note settings of a configuration: (markers, subject prefix).
pub fn release_marks(config: &Config) -> (palisade_config::ReleaseMarkers, String) {
    (
        config.quarantine.release_markers,
        config.policy.subject_prefix.clone(),
    )
}

/// Settings and handles for review actions.
pub struct Review {
    /// The database.
    pub store: Arc<Store>,
    /// The hold queue.
    pub queue: Queue,
    /// Whether releasing a threat needs two reviewers.
    pub dual_control: bool,
    /// What released mail keeps of Palisade's warning marks.
    pub markers: palisade_config::ReleaseMarkers,
    /// The subject prefix Palisade adds.
    pub prefix: String,
}

/// The database path configured (or the default under the state directory).
pub fn database_path(config: &Config) -> PathBuf {
    if config.web.database.is_empty() {
        config.state.dir.join("palisade.db")
    } else {
        PathBuf::from(&config.web.database)
    }
}

/// A reason as typed: trimmed, control characters out, at most 1000 characters; an
/// empty one is refused.
pub(crate) fn clean_reason(reason: &str) -> Result<String, ReviewError> {
    let r = palisade_report::escape::one_line(reason.trim(), 1000);
    if r.is_empty() {
        return Err(ReviewError::BadRequest("a reason is required".into()));
    }
    Ok(r)
}

/// Messages an action is under way on, in this process: two reviewers approving at the
/// same moment must not both deliver.
static BUSY: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
/// Signalled when an action ends.
static BUSY_DONE: std::sync::Condvar = std::sync::Condvar::new();

/// One action at a time per message; released on drop.
struct Busy(String);

impl Busy {
    /// Waits (up to 20 s) for an action under way on the same message to end: a
    /// double-clicked button or a colleague's action then finds what the first one left
    /// (the message released or deleted) instead of a refusal.
    fn take(id: &str) -> Result<Busy, ReviewError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut busy = BUSY.lock().unwrap_or_else(|e| e.into_inner());
        while busy.iter().any(|b| b == id) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(ReviewError::Conflict(format!(
                    "someone else is acting on {id} right now; reload and try again"
                )));
            }
            busy = BUSY_DONE
                .wait_timeout(busy, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        busy.push(id.to_string());
        Ok(Busy(id.to_string()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut busy = BUSY.lock().unwrap_or_else(|e| e.into_inner());
        busy.retain(|b| b != &self.0);
        BUSY_DONE.notify_all();
    }
}

/// What an audit entry says about the message an action concerns: subject, the From
/// header, the envelope sender and the recipients, so the log answers "what was it"
/// after the message is gone.
pub(crate) fn message_facts(held: &Held) -> String {
    let mut out = format!(
        "subject \"{}\"",
        palisade_report::escape::one_line(&held.subject, 300)
    );
    if !held.from.is_empty() {
        out.push_str(&format!(
            "; from {}",
            palisade_report::escape::one_line(&held.from, 300)
        ));
    }
    let envelope = if held.sender.is_empty() {
        "<>"
    } else {
        held.sender.as_str()
    };
    out.push_str(&format!(
        "; envelope {}; recipients {}",
        palisade_report::escape::one_line(envelope, 300),
        palisade_report::escape::one_line(&held.recipients.join(", "), 1000)
    ));
    out
}

/// `detail` followed by the message's facts.
fn with_facts(detail: &str, held: &Held) -> String {
    if detail.is_empty() {
        message_facts(held)
    } else {
        format!("{detail}; {}", message_facts(held))
    }
}

impl Review {
    fn need_reviewer(actor: &Actor) -> Result<(), ReviewError> {
        if actor.role.can_review() {
            Ok(())
        } else {
            Err(ReviewError::Forbidden(format!(
                "{} is an {}: auditors can read, not act",
                actor.name, actor.role
            )))
        }
    }

    /// The held message, with any state an earlier message of the same queue id left
    /// forgotten.
    fn find(&self, id: &str) -> Result<Held, ReviewError> {
        let held = self
            .queue
            .find(id)
            .map_err(|e| ReviewError::NotFound(format!("{e:#}")))?;
        self.store.settle(id, held.arrival_time as i64)?;
        Ok(held)
    }

    /// Does `work` on the queue, with the audit entry written first: the log never
    /// misses an action that happened. A failure is logged as `<action>-failed`.
    fn audited(
        &self,
        actor: &Actor,
        action: &str,
        id: &str,
        reason: &str,
        detail: &str,
        work: impl FnOnce() -> anyhow::Result<()>,
    ) -> Result<(), ReviewError> {
        self.store.audit(&actor.name, action, id, reason, detail)?;
        if let Err(e) = work() {
            let _ = self.store.audit(
                &actor.name,
                &format!("{action}-failed"),
                id,
                reason,
                &format!("{e:#}"),
            );
            return Err(ReviewError::Internal(e));
        }
        Ok(())
    }

    /// Keeps the facts of a message leaving the hold queue (see [`store::Closed`]) and
    /// drops its live state.
    fn close(
        &self,
        held: &Held,
        outcome: &str,
        actor: &Actor,
        reason: &str,
        released_to: Vec<String>,
    ) -> Result<(), ReviewError> {
        self.store.close(&store::Closed {
            queue_id: held.queue_id.clone(),
            arrival: held.arrival_time as i64,
            subject: held.subject.clone(),
            from: held.from.clone(),
            sender: held.sender.clone(),
            recipients: held.recipients.clone(),
            score: held.score,
            symbols: held.symbols.clone(),
            verdict: self.store.verdict(&held.queue_id)?,
            outcome: outcome.into(),
            by: actor.name.clone(),
            at: palisade_config::clock::now(),
            reason: reason.into(),
            released_to,
        })?;
        self.store.forget(&held.queue_id)?;
        Ok(())
    }

    /// What became of a message that is no longer held, when a review action took it
    /// out of the hold queue.
    pub fn closed(&self, id: &str) -> Result<Option<store::Closed>, ReviewError> {
        Ok(self.store.closed(id)?)
    }

    /// Everything held, oldest first.
    pub fn list(&self) -> Result<Vec<Held>, ReviewError> {
        Ok(self.queue.list()?)
    }

    /// The explanation of a held message whose header block is `headers` (no audit
    /// entry: checks use it).
    pub fn explanation(
        &self,
        held: &Held,
        headers: &str,
        rules: &palisade_engine::RuleSet,
    ) -> Result<Explanation, ReviewError> {
        let recorded = self.store.verdict(&held.queue_id)?;
        let ar = palisade_queue::header(headers, "Authentication-Results");
        Ok(explain::explain(
            recorded.as_ref(),
            &held.symbols,
            ar.as_deref(),
            rules,
        ))
    }

    /// This message's audit entries (since it arrived), newest first.
    fn history(&self, held: &Held, limit: usize) -> Result<Vec<audit::Entry>, ReviewError> {
        Ok(self
            .store
            .audit_entries(Some((&held.queue_id, held.arrival_time as i64)), limit)?)
    }

    /// Opens a held message for reading; the view is audited.
    pub fn view(
        &self,
        actor: &Actor,
        id: &str,
        rules: &palisade_engine::RuleSet,
    ) -> Result<MessageView, ReviewError> {
        let held = self.find(id)?;
        let raw = self.queue.raw(id)?;
        let explanation = self.explanation(&held, &header_block(&raw), rules)?;
        let (headers, body) = readable(&raw);
        self.store
            .audit(&actor.name, "view", id, "", &message_facts(&held))?;
        Ok(MessageView {
            state: self.store.state(id)?,
            audit: self.history(&held, 200)?,
            held,
            explanation,
            headers,
            body,
        })
    }

    /// Releases a held message to all its recipients still waiting (`recipients`
    /// empty) or to some. Recipients get a copy through sendmail, marked as released
    /// (`[quarantine] release_markers`); the original leaves the hold queue once every
    /// recipient has one. Under dual control a threat needs two different reviewers:
    /// the first release is recorded as a request, the second (with the same
    /// recipients) delivers. Under legal hold the original stays held: recipients get
    /// copies.
    pub fn release(
        &self,
        actor: &Actor,
        id: &str,
        reason: &str,
        recipients: &[String],
        rules: &palisade_engine::RuleSet,
    ) -> Result<Released, ReviewError> {
        Self::need_reviewer(actor)?;
        let reason = clean_reason(reason)?;
        let _busy = Busy::take(id)?;
        let held = self.find(id)?;
        let state = self.store.state(id)?;
        let served = |r: &str| state.released_to.iter().any(|d| d.eq_ignore_ascii_case(r));
        // Who still waits for the message: a partial release earlier already sent
        // copies to some.
        let remaining: Vec<String> = held
            .recipients
            .iter()
            .filter(|r| !served(r))
            .cloned()
            .collect();
        let mut chosen: Vec<String> = Vec::new();
        for r in recipients {
            if !held.recipients.iter().any(|h| h.eq_ignore_ascii_case(r)) {
                return Err(ReviewError::BadRequest(format!(
                    "{r} is not a recipient of {id}"
                )));
            }
            if served(r) {
                return Err(ReviewError::Conflict(format!(
                    "{r} already has a copy of {id}"
                )));
            }
            if !chosen.iter().any(|c| c.eq_ignore_ascii_case(r)) {
                chosen.push(r.clone());
            }
        }
        if remaining.is_empty() {
            return Err(ReviewError::Conflict(format!(
                "every recipient of {id} already has a copy; delete it instead"
            )));
        }
        let targets: Vec<String> = if chosen.is_empty() {
            remaining.clone()
        } else {
            chosen
        };
        if self.dual_control
            && self
                .explanation(&held, &self.queue.headers(id)?, rules)?
                .threat
        {
            match &state.pending_release {
                Some(p) if p.user == actor.name => {
                    return Err(ReviewError::Conflict(format!(
                        "{id} is a threat: dual control needs a second reviewer to release it, not {} again",
                        actor.name
                    )));
                }
                Some(p) if sorted(&p.recipients) == sorted(&targets) => {
                    // The second person agrees on the same recipients: deliver.
                }
                _ => {
                    let pending = PendingRelease {
                        user: actor.name.clone(),
                        reason: reason.clone(),
                        recipients: targets.clone(),
                        time: palisade_config::clock::now(),
                    };
                    self.store.set_pending(id, Some(&pending))?;
                    self.store.audit(
                        &actor.name,
                        "release-requested",
                        id,
                        &reason,
                        &with_facts(&recipient_detail(&targets), &held),
                    )?;
                    return Ok(Released::AwaitingSecondReviewer {
                        requested_by: actor.name.clone(),
                    });
                }
            }
        }
        let whole = sorted(&targets) == sorted(&remaining);
        let mut detail = recipient_detail(&targets);
        if let Some(p) = &state.pending_release {
            detail.push_str(&format!("; approved after request by {}", p.user));
        }
        if whole && !state.legal_hold {
            detail.push_str("; the message leaves the hold queue");
        }
        let detail = with_facts(&detail, &held);
        let note = palisade_queue::ReleaseNote {
            by: actor.name.clone(),
            at: audit::timestamp(),
            remove_markers: self.markers == palisade_config::ReleaseMarkers::Remove,
            prefix: self.prefix.clone(),
        };
        self.audited(actor, "release", id, &reason, &detail, || {
            // A copy marked as released goes to the recipients (see
            // [`palisade_queue::ReleaseNote`]); the original leaves the hold queue
            // when nobody is left waiting for it.
            self.queue.release_copy(id, &targets, Some(&note))?;
            // Recorded at once: if what follows fails, a retry must not send these
            // recipients a second copy.
            self.store.add_released(id, &targets)?;
            if whole && !state.legal_hold {
                // Everyone has a copy: the original has nothing left to wait for.
                self.queue.delete(id)
            } else {
                Ok(())
            }
        })?;
        if whole && !state.legal_hold {
            let mut released_to = state.released_to.clone();
            released_to.extend(targets.iter().cloned());
            self.close(&held, "released", actor, &reason, released_to)?;
        } else if state.pending_release.is_some() {
            self.store.set_pending(id, None)?;
        }
        Ok(Released::Released {
            recipients: targets,
            whole,
        })
    }

    /// Deletes a held message, unless it is under legal hold.
    pub fn delete(&self, actor: &Actor, id: &str, reason: &str) -> Result<(), ReviewError> {
        Self::need_reviewer(actor)?;
        let reason = clean_reason(reason)?;
        let _busy = Busy::take(id)?;
        let held = self.find(id)?;
        let state = self.store.state(id)?;
        if state.legal_hold {
            return Err(ReviewError::Conflict(format!(
                "{id} is under legal hold: lift the hold (with a reason) before deleting"
            )));
        }
        self.audited(actor, "delete", id, &reason, &message_facts(&held), || {
            self.queue.delete(id)
        })?;
        self.close(&held, "deleted", actor, &reason, state.released_to)?;
        Ok(())
    }

    /// Marks a held message as reported (to the police, an election authority, …).
    pub fn report(&self, actor: &Actor, id: &str, reason: &str) -> Result<(), ReviewError> {
        Self::need_reviewer(actor)?;
        let reason = clean_reason(reason)?;
        let held = self.find(id)?;
        self.store
            .audit(&actor.name, "report", id, &reason, &message_facts(&held))?;
        self.store.set_reported(id)?;
        Ok(())
    }

    /// Sets or lifts the legal hold.
    pub fn legal_hold(
        &self,
        actor: &Actor,
        id: &str,
        on: bool,
        reason: &str,
    ) -> Result<(), ReviewError> {
        Self::need_reviewer(actor)?;
        let reason = clean_reason(reason)?;
        let _busy = Busy::take(id)?;
        let held = self.find(id)?;
        let action = if on {
            "legal-hold"
        } else {
            "legal-hold-lifted"
        };
        self.store
            .audit(&actor.name, action, id, &reason, &message_facts(&held))?;
        self.store.set_legal_hold(id, on)?;
        Ok(())
    }

    /// The evidence bundle (tar) for a held message; the export is audited first, so the
    /// bundle's audit trail includes it.
    pub fn export(
        &self,
        actor: &Actor,
        id: &str,
        rules: &palisade_engine::RuleSet,
        reporter: &export::Reporter,
    ) -> Result<Vec<u8>, ReviewError> {
        let held = self.find(id)?;
        let raw = self.queue.raw(id)?;
        let headers = header_block(&raw);
        let explanation = self.explanation(&held, &headers, rules)?;
        let recorded = self.store.verdict(id)?;
        let sha = export::sha256_hex(&raw);
        self.store.audit(
            &actor.name,
            "export",
            id,
            "",
            &with_facts(&format!("sha256={sha}"), &held),
        )?;
        let bundle = export::Bundle {
            held: &held,
            raw: &raw,
            headers: &headers,
            explanation: &explanation,
            recorded: recorded.as_ref(),
            state: &self.store.state(id)?,
            audit: &self.history(&held, 10_000)?,
            exported_by: &actor.name,
        };
        Ok(bundle.tar(reporter)?)
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
    v.sort();
    v
}

fn recipient_detail(r: &[String]) -> String {
    if r.is_empty() {
        "to all recipients".into()
    } else {
        format!("to {}", r.join(", "))
    }
}

/// The header block of a message (up to the first empty line).
pub(crate) fn header_block(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let end = text
        .find("\n\n")
        .or_else(|| text.find("\r\n\r\n"))
        .unwrap_or(text.len());
    text[..end].to_string()
}

/// The header fields (unfolded, in order) and the readable body texts of a message.
pub fn readable(raw: &[u8]) -> (Vec<(String, String)>, Vec<String>) {
    let headers = palisade_queue::unfold(&header_block(raw));
    let limits = palisade_engine::Limits::default();
    let body = palisade_engine::extract::extract(raw, &limits)
        .texts
        .into_iter()
        .filter(|t| t.source != palisade_engine::extract::Source::Subject)
        .map(|t| t.text)
        .collect();
    (headers, body)
}
