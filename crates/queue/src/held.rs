//! What the queue knows of one held message, and what became of a request to hold one.

use anyhow::bail;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One message Palisade held.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Held {
    /// Postfix queue id.
    pub queue_id: String,
    /// Arrival, seconds since the epoch.
    pub arrival_time: u64,
    /// Seconds since arrival.
    pub age_s: u64,
    /// Size in bytes.
    pub size: u64,
    /// Envelope sender.
    pub sender: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// Subject, decoded.
    pub subject: String,
    /// The From header as the recipient sees it (display name and address), decoded.
    #[serde(default)]
    pub from: String,
    /// Palisade's score.
    pub score: f64,
    /// Symbols with their scores, as in X-Palisade-Result.
    pub symbols: Vec<String>,
    /// The X-Palisade-Result header value.
    pub result: String,
}

impl Held {
    /// The fields scripts and evidence files show for a held message.
    pub fn summary(&self) -> Value {
        serde_json::json!({
            "queue_id": self.queue_id,
            "received": self.arrival_time,
            "sender": self.sender,
            "from": self.from,
            "recipients": self.recipients,
            "subject": self.subject,
            "score": self.score,
            "symbols": self.symbols,
            "size": self.size,
        })
    }
}

/// What became of a request to hold a queued copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldOutcome {
    /// It was in the queue and is now on hold.
    Held,
    /// It is no longer in the queue (delivered, or already on hold), or the queue id
    /// now names another message.
    Gone,
}

/// Whether `id` can be a Postfix queue id (never an option or a path).
pub(crate) fn valid_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("`{id}` is not a Postfix queue id");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_are_checked() {
        assert!(valid_id("4ABCDEF123").is_ok());
        assert!(valid_id("-rf").is_err());
    }
}
