//! Notifications through the local Postfix (its sendmail): a digest of what was held for
//! the reviewers, and a short notice to each recipient that a message to them is being
//! held. The notice names the sender and the time, never the held text: a threat should
//! not reach its target through the notice about it.

use std::sync::Arc;
use std::time::Duration;

use super::store::{Notified, Store};
use palisade_config::NotifyConfig;
use palisade_queue::{Held, Queue};
use palisade_report::escape::one_line;

/// What one round sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Recipient notices sent.
    pub notices: usize,
    /// Messages listed in a digest sent this round.
    pub digested: usize,
}

/// The notifier's settings and handles.
pub struct Notifier {
    /// The database (what was already notified).
    pub store: Arc<Store>,
    /// The hold queue.
    pub queue: Queue,
    /// `[notify]`.
    pub config: NotifyConfig,
    /// The From of notifications.
    pub from: String,
}

fn when(unix: u64) -> String {
    crate::export::mail_date(unix as i64)
}

impl Notifier {
    fn send(&self, to: &[String], subject: &str, body: &str) -> anyhow::Result<()> {
        let message = format!(
            "From: Palisade <{}>\nTo: {}\nSubject: {}\nDate: {}\nAuto-Submitted: auto-generated\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{}",
            self.from,
            to.join(", "),
            subject,
            when(palisade_config::clock::now() as u64),
            body
        );
        self.queue.send(&self.from, to, message.as_bytes())
    }

    fn notice(&self, h: &Held, recipient: &str) -> anyhow::Result<()> {
        let body = format!(
            "A message addressed to you is being held for review by your mail administrators.\n\n\
             From:      {}\nReceived:  {}\nReference: {}\n\n\
             You do not need to do anything. If you were expecting this message, tell your\n\
             administrators and quote the reference.\n",
            one_line(
                if h.sender.is_empty() {
                    "(no sender)"
                } else {
                    &h.sender
                },
                200
            ),
            when(h.arrival_time),
            h.queue_id
        );
        self.send(
            &[recipient.to_string()],
            "A message to you is being held for review",
            &body,
        )
    }

    fn digest(&self, held: &[&Held]) -> anyhow::Result<()> {
        let mut body = format!(
            "Palisade held {} new message{} for review.\n\n",
            held.len(),
            if held.len() == 1 { "" } else { "s" }
        );
        for h in held {
            body.push_str(&format!(
                "{}  {}\n  from:    {}\n  to:      {}\n  subject: {}\n  score:   {:.2}  {}\n",
                h.queue_id,
                when(h.arrival_time),
                one_line(&h.sender, 200),
                one_line(&h.recipients.join(", "), 400),
                one_line(&h.subject, 200),
                h.score,
                one_line(h.symbols.first().map(String::as_str).unwrap_or(""), 100),
            ));
            if !self.config.web_url.is_empty() {
                body.push_str(&format!(
                    "  review:  {}/quarantine/{}\n",
                    self.config.web_url.trim_end_matches('/'),
                    h.queue_id
                ));
            }
            body.push('\n');
        }
        self.send(
            &self.config.digest_to,
            &format!("Palisade: {} message(s) held for review", held.len()),
            &body,
        )
    }

    /// One pass: notices for newly held messages, and the digest when it is due. A
    /// notice that cannot be sent is logged and not retried (a repeat every round would
    /// be worse than one lost notice); it never holds up the others or the digest.
    pub fn round(&self) -> anyhow::Result<Round> {
        let mut round = Round::default();
        let held = self.queue.list()?;
        for h in &held {
            self.store.settle(&h.queue_id, h.arrival_time as i64)?;
        }
        if self.config.recipients {
            for h in &held {
                if self.store.notified(&h.queue_id, Notified::Notice)? {
                    continue;
                }
                self.store.set_notified(&h.queue_id, Notified::Notice)?;
                for r in &h.recipients {
                    match self.notice(h, r) {
                        Ok(()) => round.notices += 1,
                        Err(e) => tracing::warn!(
                            queue_id = %palisade_report::escape::Safe(&h.queue_id),
                            recipient = %palisade_report::escape::Safe(r),
                            error = %format!("{e:#}"),
                            "cannot send a held-message notice"
                        ),
                    }
                }
            }
        }
        if !self.config.digest_to.is_empty() {
            let last: i64 = self
                .store
                .meta("digest_sent")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let due = palisade_config::clock::now() - last
                >= self.config.digest_interval.as_secs() as i64;
            if due {
                let mut new = Vec::new();
                for h in &held {
                    if !self.store.notified(&h.queue_id, Notified::Digest)? {
                        new.push(h);
                    }
                }
                if !new.is_empty() {
                    self.digest(&new)?;
                    for h in &new {
                        self.store.set_notified(&h.queue_id, Notified::Digest)?;
                    }
                    self.store
                        .set_meta("digest_sent", &palisade_config::clock::now().to_string())?;
                    round.digested = new.len();
                }
            }
        }
        Ok(round)
    }
}

/// Runs rounds every `[notify] interval` until `stop` turns true.
pub async fn run(notifier: Arc<Notifier>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let every = notifier.config.interval.max(Duration::from_secs(1));
    loop {
        let n = notifier.clone();
        match tokio::task::spawn_blocking(move || n.round()).await {
            Ok(Ok(r)) if r != Round::default() => {
                tracing::info!(
                    notices = r.notices,
                    digested = r.digested,
                    "notifications sent"
                )
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "notifications failed; retrying next round")
            }
            Err(e) => tracing::warn!(error = %e, "notification task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The From of abuse reports: `[notify] report_from`, else the notifications' From.
pub fn report_address(config: &palisade_config::Config) -> String {
    if config.notify.report_from.is_empty() {
        from_address(config)
    } else {
        config.notify.report_from.clone()
    }
}

/// The From of notifications: `[notify] from`, else palisade@ this host.
pub fn from_address(config: &palisade_config::Config) -> String {
    if config.notify.from.is_empty() {
        format!("palisade@{}", palisade_config::host_name())
    } else {
        config.notify.from.clone()
    }
}
