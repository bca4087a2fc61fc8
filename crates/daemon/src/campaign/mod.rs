//! Campaigns across recipients: copies of one template mailed to many people, each
//! personalised, counted as they arrive, on one host or across a fleet.
//!
//! The engine fingerprints each message ([`palisade_engine::campaign`]); here the
//! fingerprint is matched to a campaign in a [`Store`] (in memory, or Redis/Valkey for
//! a fleet), which counts distinct recipients, sender domains and client addresses over
//! a sliding window and remembers whether any copy carried threat symbols. What comes
//! back becomes symbols: `CAMPAIGN` (information), `CAMPAIGN_THREAT` (a threatening
//! campaign from `min_recipients` on) or `STATE_UNAVAILABLE` (the store did not answer
//! within `[state] timeout`; the message is judged without it). Copies already in the
//! queue when a campaign turns out to be a threat are held by [`sweep`].
//!
//! Privacy: the stores hold fingerprints (hashes of text, never text), counts, keyed
//! hashes of recipients, sender domains and client addresses, and per copy its time,
//! host, queue id, action and its recipients sealed with the campaign key
//! ([`keys::Keys`]). See docs/campaigns.md.

pub mod cli;
pub mod keys;
pub mod memory;
pub mod redis_store;
mod sweep;

use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use palisade_engine::campaign::{
    threat_symbols, Fingerprint, BANDS, HASHES, SYMBOL_CAMPAIGN, SYMBOL_CAMPAIGN_THREAT,
    SYMBOL_STATE_UNAVAILABLE,
};
use palisade_engine::{Symbol, Verdict};
use palisade_milter::Message;
use serde::{Deserialize, Serialize};

use crate::config::{Config, StateBackend};
use crate::metrics::Metrics;
use crate::review::audit::format_time;

pub use keys::Keys;
pub(crate) use sweep::sweep;

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
    fn kind(&self) -> &'static str {
        match self {
            StoreError::Timeout => "timeout",
            _ => "unavailable",
        }
    }
}

/// Where campaigns live.
#[derive(Debug, Clone)]
pub enum Store {
    /// This process (saved to the state directory).
    Memory(Arc<memory::Memory>),
    /// Redis or Valkey.
    Redis(redis_store::Redis),
}

impl Store {
    /// The store the configuration names. `saved`: for the memory store, read the
    /// file the daemon saves (the CLI) rather than start one that saves itself.
    pub fn open(config: &Config, cli: bool) -> anyhow::Result<Store> {
        let settings = Settings::of(config);
        Ok(match config.state.backend {
            StateBackend::Memory if cli => Store::Memory(Arc::new(memory::read_saved(
                &config.campaign_store_file(),
                settings,
            )?)),
            StateBackend::Memory => Store::Memory(Arc::new(memory::Memory::open(
                Some(config.campaign_store_file()),
                settings,
            )?)),
            StateBackend::Redis => Store::Redis(redis_store::Redis::new(
                &config.state.url,
                config.state.timeout,
                settings,
            )?),
        })
    }

    /// Counts a message into its campaign.
    pub async fn observe(&self, o: &Observation) -> Result<Seen, StoreError> {
        match self {
            Store::Memory(m) => Ok(m.observe(o)),
            Store::Redis(r) => r.observe(o).await,
        }
    }

    /// Keeps the records of copies: (campaign id, copy).
    pub async fn record(&self, copies: Vec<(String, Copy)>) -> Result<(), StoreError> {
        match self {
            Store::Memory(m) => {
                for (id, copy) in copies {
                    m.record(&id, copy);
                }
                Ok(())
            }
            Store::Redis(r) => r.record(&copies).await,
        }
    }

    /// Campaigns, most recently seen first (at most `limit`).
    pub async fn list(&self, limit: usize) -> Result<Vec<Summary>, StoreError> {
        match self {
            Store::Memory(m) => Ok(m.list().into_iter().take(limit).collect()),
            Store::Redis(r) => r.list(limit).await,
        }
    }

    /// Campaigns some copy of which threatened, seen at or after `since`.
    pub async fn threats(&self, since: u64) -> Result<Vec<Summary>, StoreError> {
        match self {
            Store::Memory(m) => Ok(m
                .list()
                .into_iter()
                .filter(|s| s.threat && s.last_seen >= since)
                .collect()),
            Store::Redis(r) => r.threats(since).await,
        }
    }

    /// One campaign and its copies at or after `since`.
    pub async fn show(
        &self,
        id: &str,
        since: u64,
    ) -> Result<Option<(Summary, Vec<Copy>)>, StoreError> {
        match self {
            Store::Memory(m) => Ok(m.show(id, since)),
            Store::Redis(r) => r.show(id, since).await,
        }
    }

    /// Campaigns within the window.
    pub async fn count(&self) -> Result<u64, StoreError> {
        match self {
            Store::Memory(m) => Ok(m.count() as u64),
            Store::Redis(r) => r.count().await,
        }
    }
}

/// Seconds since the epoch (the review store's clock, unsigned).
pub fn now() -> u64 {
    crate::review::store::now().max(0) as u64
}

/// After a failure, the store is left alone this long: every message meanwhile is
/// judged at once without campaign data instead of each waiting out the timeout.
const REST: Duration = Duration::from_secs(1);

/// Timeout of store calls off the message path.
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(5);

/// Copies written to Redis per round trip at most.
const RECORD_BATCH: usize = 500;

/// Recipients sealed with one copy at most (the rest are counted, not kept).
const SEALED_RECIPIENTS: usize = 100;

/// The daemon's campaign service.
pub struct Campaigns {
    store: Store,
    keys: Keys,
    host: String,
    timeout: Duration,
    metrics: Arc<Metrics>,
    resting_until: Mutex<Option<Instant>>,
    /// Woken when a message made a campaign hold-worthy.
    pub(crate) turned: tokio::sync::Notify,
    /// The queue of copies to write to Redis, and the task that writes them.
    writer: Mutex<Option<Writer>>,
}

/// The queue of copies to write (campaign id, copy) and the task that writes them.
type Writer = (mpsc::Sender<(String, Copy)>, tokio::task::JoinHandle<()>);

/// Copies waiting for Redis at most; past this new ones are not recorded (counted as
/// record errors), so an outage cannot grow memory without bound.
const PENDING_MAX: usize = 10_000;

/// Tries of one batch before it is given up (a second apart).
const RECORD_TRIES: usize = 30;

/// What the service adds to a message's verdict, and what to record afterwards.
pub struct Outcome {
    /// Symbols to add.
    pub symbols: Vec<Symbol>,
    /// The campaign the message was counted into.
    pub campaign: Option<String>,
    /// Whether this message made its campaign hold-worthy (threatening, and at
    /// `min_recipients` now): queued copies are then looked for at once.
    pub turned: bool,
}

impl Campaigns {
    /// The service for this configuration: its key (created on first start) and store.
    pub fn start(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Campaigns> {
        let keys = Keys::load_or_create(&config.campaign_key_file())?;
        let store = Store::open(config, false)?;
        Ok(Campaigns {
            store,
            keys,
            host: if config.campaign.host.is_empty() {
                crate::scan::host_name()
            } else {
                config.campaign.host.clone()
            },
            timeout: config.state.timeout,
            metrics,
            resting_until: Mutex::new(None),
            turned: tokio::sync::Notify::new(),
            writer: Mutex::new(None),
        })
    }

    /// Starts the task that writes copies to Redis (nothing to start for memory).
    pub fn start_writer(self: &Arc<Self>) {
        if let Store::Redis(_) = self.store {
            let (tx, rx) = mpsc::channel(PENDING_MAX);
            let task = tokio::spawn(self.clone().write(rx));
            *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some((tx, task));
        }
    }

    /// Writes queued copies, up to [`RECORD_BATCH`] per pipelined round trip. A batch
    /// that fails is tried again a second later (copies arriving meanwhile wait in the
    /// queue); after [`RECORD_TRIES`] it is given up.
    async fn write(self: Arc<Self>, mut rx: mpsc::Receiver<(String, Copy)>) {
        let mut batch = Vec::with_capacity(RECORD_BATCH);
        while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
            for _ in 0..RECORD_TRIES {
                let written = self
                    .background("record", self.store.record(batch.clone()))
                    .await;
                if written.is_ok() {
                    break;
                }
                tokio::time::sleep(REST).await;
            }
            batch.clear();
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This host's name, as recorded with its copies.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A store call on a message's path: at most `[state] timeout`, and none at all
    /// for a second after a failure.
    async fn call<T>(
        &self,
        op: &str,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if let Some(until) = *self.resting_until.lock().unwrap_or_else(|e| e.into_inner()) {
            if Instant::now() < until {
                self.metrics
                    .campaign_store_errors
                    .with_label_values(&[op, "unavailable"])
                    .inc();
                return Err(StoreError::Resting);
            }
        }
        let result = self.timed(op, self.timeout, f).await;
        let mut resting = self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok(_) => *resting = None,
            Err(e) => {
                if resting.is_none() {
                    tracing::warn!(op, error = %e, "campaign store unavailable: judging mail without campaign data");
                }
                *resting = Some(Instant::now() + REST);
            }
        }
        result
    }

    /// A store call off the message path (the sweep, recording copies): a longer
    /// timeout, and its failures never make mail skip the store.
    async fn background<T>(
        &self,
        op: &str,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.timed(op, BACKGROUND_TIMEOUT, f).await
    }

    async fn timed<T>(
        &self,
        op: &str,
        timeout: Duration,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = match &self.store {
            // In process, no I/O: ready at once, so no timer to arm.
            Store::Memory(_) => f.await,
            Store::Redis(_) => match tokio::time::timeout(timeout, f).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Timeout),
            },
        };
        self.count(op, started, &result);
        result
    }

    /// A store call's time and failure in the metrics.
    fn count<T>(&self, op: &str, started: Instant, result: &Result<T, StoreError>) {
        self.metrics
            .campaign_store_duration
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = result {
            self.metrics
                .campaign_store_errors
                .with_label_values(&[op, e.kind()])
                .inc();
        }
    }

    /// Counts a scanned message into its campaign; the symbols to add to its verdict.
    pub async fn observe(
        &self,
        message: &Message,
        verdict: &Verdict,
        fingerprint: &Fingerprint,
        from_domain: &str,
        min_recipients: u64,
    ) -> Outcome {
        let env = &message.envelope;
        let mut recipients: Vec<String> = env
            .rcpt_to
            .iter()
            .map(|r| {
                self.keys
                    .hash("rcpt", &r.trim_matches(['<', '>']).to_ascii_lowercase())
            })
            .collect();
        recipients.sort();
        recipients.dedup();
        let o = Observation {
            signature: fingerprint.signature.iter().map(|v| *v as u32).collect(),
            bands: fingerprint.bands,
            at: now(),
            recipients,
            sender: if from_domain.is_empty() {
                String::new()
            } else {
                self.keys.hash("sender", &from_domain.to_ascii_lowercase())
            },
            ip: if env.client_addr.is_empty() {
                String::new()
            } else {
                self.keys.hash("ip", &env.client_addr)
            },
            threat: threat_symbols(&verdict.symbols),
        };
        debug_assert_eq!(o.signature.len(), HASHES);
        match self.call("observe", self.store.observe(&o)).await {
            Ok(seen) => {
                let s = &seen.summary;
                self.metrics
                    .campaign_recipients
                    .observe(s.recipients as f64);
                let before = s.recipients.saturating_sub(o.recipients.len() as u64);
                let first_threat = s.threat_since.is_some_and(|t| t >= s.last_seen);
                Outcome {
                    symbols: symbols(s, min_recipients),
                    campaign: Some(s.id.clone()),
                    turned: s.threat
                        && s.recipients >= min_recipients
                        && (before < min_recipients || first_threat),
                }
            }
            Err(e) => Outcome {
                symbols: vec![Symbol {
                    name: SYMBOL_STATE_UNAVAILABLE.into(),
                    score: 0.0,
                    category: "info".into(),
                    detail: format!("campaign store: {e}; judged without campaign data"),
                }],
                campaign: None,
                turned: false,
            },
        }
    }

    /// Records a copy of campaign `id` with the action finally applied (in the
    /// background: the milter does not wait for it).
    pub fn record(self: &Arc<Self>, id: String, message: &Message, action: &str) {
        let env = &message.envelope;
        let sealed = serde_json::to_vec(&Envelope {
            from: env.mail_from.clone(),
            to: env
                .rcpt_to
                .iter()
                .take(SEALED_RECIPIENTS)
                .map(|r| r.trim_matches(['<', '>']).to_string())
                .collect(),
            more: env.rcpt_to.len().saturating_sub(SEALED_RECIPIENTS),
        })
        .map(|j| self.keys.seal(&j))
        .unwrap_or_default();
        let copy = Copy {
            at: now(),
            host: self.host.clone(),
            queue_id: env.queue_id.clone().unwrap_or_default(),
            action: action.to_string(),
            sealed,
        };
        match &self.store {
            // In memory: a push under a lock.
            Store::Memory(m) => m.record(&id, copy),
            Store::Redis(_) => {
                let queued = match &*self.writer.lock().unwrap_or_else(|e| e.into_inner()) {
                    Some((tx, _)) => tx.try_send((id, copy)).is_ok(),
                    None => false,
                };
                if !queued {
                    self.metrics
                        .campaign_store_errors
                        .with_label_values(&["record", "unavailable"])
                        .inc();
                }
            }
        }
    }

    /// At shutdown: closes the queue and waits (within the background timeout) for
    /// what it holds to be written.
    pub async fn drain(&self) {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((tx, task)) = writer {
            drop(tx);
            let _ = tokio::time::timeout(BACKGROUND_TIMEOUT, task).await;
        }
    }

    /// Refreshes `palisade_campaigns_active`.
    pub async fn refresh_gauge(&self) {
        if let Ok(n) = self.background("list", self.store.count()).await {
            self.metrics.campaigns_active.set(n as i64);
        }
    }

    /// Saves the memory store (no-op for Redis).
    pub fn save(&self) {
        if let Store::Memory(m) = &self.store {
            if let Err(e) = m.save() {
                tracing::warn!(error = %format!("{e:#}"), "cannot save the campaign store");
            }
        }
    }
}

/// The symbols a campaign earns a message: CAMPAIGN from two recipients on,
/// CAMPAIGN_THREAT when threatening and from `min_recipients` on.
pub fn symbols(s: &Summary, min_recipients: u64) -> Vec<Symbol> {
    let mut out = Vec::new();
    if s.recipients < 2 {
        return out;
    }
    let first = format_time(s.first_seen as i64);
    out.push(Symbol {
        name: SYMBOL_CAMPAIGN.into(),
        score: 0.0,
        category: "campaign".into(),
        detail: format!(
            "campaign {}: {} recipients, {} sender domains, {} client addresses since {first}",
            s.id, s.recipients, s.senders, s.ips
        ),
    });
    if s.threat && s.recipients >= min_recipients {
        out.push(Symbol {
            name: SYMBOL_CAMPAIGN_THREAT.into(),
            score: palisade_engine::campaign::DEFAULTS
                .iter()
                .find(|(n, _)| *n == SYMBOL_CAMPAIGN_THREAT)
                .map_or(0.0, |(_, v)| *v),
            category: "campaign".into(),
            detail: format!(
                "campaign {} reached {} recipients since {first}; copies carried {}",
                s.id,
                s.recipients,
                s.symbols.join(", ")
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests;
