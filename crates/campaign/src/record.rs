//! What the stores keep and answer: signatures, copies, observations and summaries of
//! campaigns, the store settings, and how a store call fails.

use palisade_config::Config;
use palisade_engine::campaign::BANDS;
use serde::{Deserialize, Serialize};

/// A stored signature: the low 32 bits of each MinHash value (the chance that two
/// different values agree there is 2^-32, far below what the similarity can tell).
pub type Signature = Vec<u32>;

/// The share of slots two signatures agree on.
pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// Bounds and window, the same for both stores.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Seconds campaigns and their members are remembered.
    pub window: u64,
    /// Members per counted set at most.
    pub max_recipients: usize,
    /// Copies per campaign at most.
    pub max_copies: usize,
    /// Campaigns at most (memory store).
    pub max_campaigns: usize,
}

impl Settings {
    /// From the configuration.
    pub fn of(config: &Config) -> Settings {
        let c = &config.campaign;
        Settings {
            window: c.window.as_secs().max(60),
            max_recipients: c.max_recipients.max(1),
            max_copies: c.max_copies.max(1),
            max_campaigns: c.max_campaigns.max(1),
        }
    }
}

/// One copy of a campaign, as kept for `palisade campaign show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Copy {
    /// When it was scanned (seconds since the epoch).
    pub at: u64,
    /// The host that scanned it.
    pub host: String,
    /// Its Postfix queue id there.
    pub queue_id: String,
    /// What was done with it.
    pub action: String,
    /// Envelope sender and recipients, sealed with the campaign key.
    pub sealed: String,
}

/// The envelope of a copy, as sealed into [`Copy::sealed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients (the first 100).
    pub to: Vec<String>,
    /// Recipients beyond those.
    #[serde(default)]
    pub more: usize,
}

/// What a store is told about one message.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Signature (see [`Signature`]).
    pub signature: Signature,
    /// LSH band keys.
    pub bands: [u64; BANDS],
    /// Seconds since the epoch.
    pub at: u64,
    /// Keyed hashes of the envelope recipients.
    pub recipients: Vec<String>,
    /// Keyed hash of the sender's domain (empty: none).
    pub sender: String,
    /// Keyed hash of the client address (empty: none).
    pub ip: String,
    /// Threat symbols this copy carried.
    pub threat: Vec<String>,
}

/// A campaign as `palisade campaign list --json` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Campaign id (16 hex digits).
    pub id: String,
    /// First copy (seconds since the epoch).
    pub first_seen: u64,
    /// Latest copy.
    pub last_seen: u64,
    /// Distinct recipients within the window.
    pub recipients: u64,
    /// Distinct sender domains within the window.
    pub senders: u64,
    /// Distinct client addresses within the window.
    pub ips: u64,
    /// Copies counted.
    pub copies: u64,
    /// Whether any copy carried threat symbols.
    pub threat: bool,
    /// Since when.
    pub threat_since: Option<u64>,
    /// The threat symbols copies carried.
    pub symbols: Vec<String>,
}

/// What a store answers for one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The campaign, with this message counted.
    pub summary: Summary,
}

/// Why a store call gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// No answer within `[state] timeout`.
    #[error("no answer within the timeout")]
    Timeout,
    /// Refused, unreachable or broken.
    #[error("{0}")]
    Unavailable(String),
    /// Skipped: the store failed moments ago and is given a rest.
    #[error("failed moments ago; retried shortly")]
    Resting,
}

impl StoreError {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            StoreError::Timeout => "timeout",
            _ => "unavailable",
        }
    }
}
