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

mod keys;
mod memory;
mod record;
mod redis_store;
mod store;
mod sweep;

use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use palisade_engine::campaign::{
    threat_symbols, Fingerprint, HASHES, SYMBOL_CAMPAIGN, SYMBOL_CAMPAIGN_THREAT,
    SYMBOL_STATE_UNAVAILABLE,
};
use palisade_engine::{Symbol, Verdict};
use palisade_milter::Message;

use palisade_config::Config;
pub mod metrics;
pub use metrics::Metrics;
use palisade_config::clock::format_time;

pub use keys::Keys;
pub use record::{
    similarity, Copy, Envelope, Observation, Seen, Settings, Signature, StoreError, Summary,
};
pub use store::Store;
pub use sweep::sweep;

use palisade_config::clock::now_unsigned as now;

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
    metrics: Metrics,
    resting_until: Mutex<Option<Instant>>,
    /// Woken when a message made a campaign hold-worthy.
    pub turned: tokio::sync::Notify,
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
    pub fn start(config: &Config, metrics: Metrics) -> anyhow::Result<Campaigns> {
        let keys = Keys::load_or_create(&config.campaign_key_file())?;
        let store = Store::open(config, false)?;
        Ok(Campaigns {
            store,
            keys,
            host: if config.campaign.host.is_empty() {
                palisade_config::host_name()
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
                    .store_errors
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
            .store_duration
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = result {
            self.metrics
                .store_errors
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
                self.metrics.recipients.observe(s.recipients as f64);
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
                        .store_errors
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
    pub(crate) async fn refresh_gauge(&self) {
        if let Ok(n) = self.background("list", self.store.count()).await {
            self.metrics.active.set(n as i64);
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
