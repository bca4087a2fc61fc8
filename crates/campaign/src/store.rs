//! The campaign store: in this process (saved to the state directory) or in Redis or
//! Valkey for a fleet.

use std::sync::Arc;

use palisade_config::{Config, StateBackend};

use crate::record::{Copy, Observation, Seen, Settings, StoreError, Summary};
use crate::{memory, redis_store};

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
