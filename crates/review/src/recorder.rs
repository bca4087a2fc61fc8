//! Keeps the verdict of every message the daemon holds, so reviewers later see exactly
//! why (the matched words, the authentication results) rather than a re-scan. The milter
//! never waits for the database: records go through a bounded channel to one writer
//! thread, and when that falls behind a record is dropped (counted, logged); the
//! message is held all the same and the UI falls back to its headers.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use base64::Engine as _;
use palisade_milter::Message;
use serde_json::json;

use super::store::Store;
use palisade_engine::Verdict;
use palisade_report::AuthReport;

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<(String, String, i64)>,
}

impl Recorder {
    /// Starts the writer thread on `store`.
    pub fn start(store: Arc<Store>) -> anyhow::Result<Recorder> {
        let (tx, rx) = sync_channel::<(String, String, i64)>(4096);
        std::thread::Builder::new()
            .name("palisade-recorder".into())
            .spawn(move || {
                for (id, verdict, at) in rx {
                    if let Err(e) = store.record_verdict(&id, &verdict, at) {
                        tracing::warn!(queue_id = %palisade_report::escape::Safe(&id), error = %format!("{e:#}"), "cannot record the verdict of a held message");
                    }
                }
            })?;
        Ok(Recorder { tx })
    }

    /// Queues the record of a held message; false when it was dropped.
    pub fn record(
        &self,
        message: &Message,
        verdict: &Verdict,
        auth: &AuthReport,
        applied: &str,
    ) -> bool {
        let env = &message.envelope;
        let Some(id) = env.queue_id.as_deref().filter(|id| !id.is_empty()) else {
            return false;
        };
        // The header fields as they arrived, before Palisade changed any (the subject
        // prefix, its own fields, inbound copies of them it removed): the evidence
        // bundle rebuilds the message as received from them and the held body.
        let mut received = Vec::new();
        for (name, value) in &message.headers {
            received.extend_from_slice(name.as_bytes());
            received.extend_from_slice(b": ");
            received.extend_from_slice(value);
            received.extend_from_slice(b"\r\n");
        }
        let record = json!({
            "action": applied,
            "received_headers": base64::engine::general_purpose::STANDARD.encode(&received),
            "verdict": verdict,
            "auth": auth,
            "envelope": {
                "client_addr": env.client_addr,
                "client_name": env.client_name,
                "helo": env.helo,
                "mail_from": env.mail_from,
                "rcpt_to": env.rcpt_to,
            },
            "time": super::audit::timestamp(),
        });
        let at = palisade_config::clock::now();
        match self.tx.try_send((id.to_string(), record.to_string(), at)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }
}
