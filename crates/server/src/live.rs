//! What every connection shares: the configuration, rules and scanner in force (swapped
//! whole by a reload), the metrics, the scan slots, the verdict recorder and campaign
//! counting.

use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;
use palisade_config::Config;
use palisade_milter::SessionConfig;
use tokio::sync::Semaphore;

use crate::actions::OWNED_HEADERS;
use crate::metrics::Metrics;
use crate::scan::Scanner;

/// Everything a reload replaces at once. Connections take a snapshot per message, so a
/// message in flight finishes under the configuration it started with.
pub(crate) struct Live {
    pub(crate) config: Arc<Config>,
    pub(crate) scanner: Scanner,
    pub(crate) trusted: Vec<IpNet>,
    pub(crate) session: SessionConfig,
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub(crate) live: ArcSwap<Live>,
    pub(crate) metrics: Arc<Metrics>,
    /// Content scans under way at once (CPU work), fixed at start.
    pub(crate) scan_slots: Semaphore,
    /// Keeps the verdicts of held messages for reviewers (when the web UI is on).
    pub(crate) recorder: Option<palisade_review::recorder::Recorder>,
    /// Campaign counting (when `[campaign] enabled`).
    pub(crate) campaigns: Option<Arc<palisade_campaign::Campaigns>>,
}

/// Scans at once for `[milter] scan_concurrency` (0: one per CPU).
pub(crate) fn scan_concurrency(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

impl palisade_review::web::InForce for Live {
    fn config(&self) -> &Config {
        &self.config
    }

    fn rules(&self) -> &palisade_engine::rules::RuleSet {
        self.scanner.rules()
    }
}

impl Live {
    pub(crate) fn new(
        config: Config,
        previous: Option<&Live>,
    ) -> Result<Live, palisade_config::ConfigError> {
        let session = SessionConfig {
            max_message_size: config.milter.max_message_size,
            max_headers: config.milter.max_headers,
            watched_headers: OWNED_HEADERS
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            ..SessionConfig::default()
        };
        Ok(Live {
            scanner: Scanner::reconfigured(&config, false, previous.map(|p| &p.scanner))?
                .with_fingerprints(config.campaign.enabled),
            trusted: config.trusted_networks(),
            session,
            config: Arc::new(config),
        })
    }
}
