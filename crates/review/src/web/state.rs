//! What every page and API call shares: the configuration and rules in force, the
//! database, the sign-in limits, the metrics, and the actions they perform.

use std::sync::Arc;

use palisade_config::Config;
use palisade_engine::rules::RuleSet;

use super::limit::Limiter;
use crate::export::Reporter;
use crate::store::Store;
use crate::{Actor, Review, ReviewError};

/// Runs review work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, ReviewError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ReviewError::Internal(anyhow::anyhow!("task failed: {e}")))?
}

/// The configuration and rules the daemon runs with at one moment: the server's live
/// state, which a reload replaces as a whole.
pub trait InForce: Send + Sync {
    /// The configuration.
    fn config(&self) -> &Config;
    /// The compiled rules (explanations quote their descriptions).
    fn rules(&self) -> &RuleSet;
}

/// Where the review UI reads what is in force: a snapshot each time it is called.
pub type Live = Arc<dyn Fn() -> Arc<dyn InForce> + Send + Sync>;

/// `palisade_review_actions_total` label values.
pub const ACTIONS: [&str; 7] = [
    "view",
    "release",
    "release_requested",
    "delete",
    "report",
    "legal_hold",
    "export",
];

/// What the review UI reports to Prometheus; the server's registry makes and registers
/// them (docs/metrics.md).
#[derive(Clone)]
pub struct Metrics {
    /// `palisade_review_actions_total{action}`
    pub actions: prometheus::IntCounterVec,
    /// `palisade_review_logins_total{result}`
    pub logins: prometheus::IntCounterVec,
}

/// The review UI's shared state.
pub struct WebState {
    pub(crate) live: Live,
    pub(crate) metrics: Metrics,
    pub(crate) store: Arc<Store>,
    pub(crate) limiter: Limiter,
    /// Password checks (argon2) at once.
    pub(crate) passwords: tokio::sync::Semaphore,
    /// Cookies get `Secure` (served over TLS).
    pub(crate) secure: bool,
    pub(crate) reporter: Reporter,
}

impl WebState {
    /// The state of a UI on `store`; `secure` when it is served over TLS.
    pub fn new(
        live: Live,
        metrics: Metrics,
        store: Arc<Store>,
        secure: bool,
        reporter: Reporter,
    ) -> WebState {
        WebState {
            live,
            metrics,
            store,
            limiter: Limiter::default(),
            passwords: tokio::sync::Semaphore::new(2),
            secure,
            reporter,
        }
    }

    /// The review service under the configuration in force.
    pub(crate) fn review(&self) -> Review {
        let live = self.live();
        let config = live.config();
        let (markers, prefix) = crate::release_marks(config);
        Review {
            store: self.store.clone(),
            queue: palisade_queue::for_config(config, None),
            dual_control: config.web.dual_control,
            markers,
            prefix,
        }
    }

    /// Counts a review action (a `REVIEW_ACTIONS` label).
    pub(crate) fn count(&self, label: &str) {
        self.metrics.actions.with_label_values(&[label]).inc();
    }

    /// The configuration and rules in force (explanations quote the rules'
    /// descriptions); a snapshot, not a copy.
    pub(crate) fn live(&self) -> Arc<dyn InForce> {
        (self.live)()
    }

    /// Does a state-changing review action for `actor` off the async threads, and
    /// counts it. The pages and the API both come through here.
    pub(crate) async fn perform(
        self: &Arc<Self>,
        actor: Actor,
        id: String,
        act: Act,
    ) -> Result<Done, ReviewError> {
        use crate::Released;
        let st = self.clone();
        let done = blocking(move || {
            let review = st.review();
            Ok(match act {
                Act::Release { reason, recipients } => {
                    let live = st.live();
                    match review.release(&actor, &id, &reason, &recipients, live.rules())? {
                        Released::Released { recipients, whole } => {
                            Done::Released { recipients, whole }
                        }
                        Released::AwaitingSecondReviewer { requested_by } => {
                            Done::Requested { requested_by }
                        }
                    }
                }
                Act::Delete { reason } => {
                    review.delete(&actor, &id, &reason)?;
                    Done::Deleted
                }
                Act::Report { reason } => {
                    review.report(&actor, &id, &reason)?;
                    Done::Reported
                }
                Act::Hold { reason, on } => {
                    review.legal_hold(&actor, &id, on, &reason)?;
                    Done::Hold { on }
                }
            })
        })
        .await?;
        self.count(match done {
            Done::Released { .. } => "release",
            Done::Requested { .. } => "release_requested",
            Done::Deleted => "delete",
            Done::Reported => "report",
            Done::Hold { .. } => "legal_hold",
        });
        Ok(done)
    }
}

/// A state-changing review action, as a form or an API call asks for it.
pub(crate) enum Act {
    /// Release to these recipients (none: everyone still waiting).
    Release {
        reason: String,
        recipients: Vec<String>,
    },
    /// Delete.
    Delete { reason: String },
    /// Mark as reported.
    Report { reason: String },
    /// Place (`on`) or lift the legal hold.
    Hold { reason: String, on: bool },
}

impl Act {
    /// The action a path segment names.
    pub(crate) fn parse(
        action: &str,
        reason: String,
        recipients: Vec<String>,
        on: bool,
    ) -> Option<Act> {
        Some(match action {
            "release" => Act::Release { reason, recipients },
            "delete" => Act::Delete { reason },
            "report" => Act::Report { reason },
            "hold" => Act::Hold { reason, on },
            _ => return None,
        })
    }
}

/// What an action did.
#[derive(serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub(crate) enum Done {
    /// Delivered to these recipients; `whole`: everyone still waiting.
    Released {
        recipients: Vec<String>,
        whole: bool,
    },
    /// Dual control: recorded, a second reviewer must release too.
    #[serde(rename = "awaiting_second_reviewer")]
    Requested { requested_by: String },
    /// Deleted.
    Deleted,
    /// Marked as reported.
    Reported,
    /// Legal hold placed or lifted.
    #[serde(rename = "legal_hold")]
    Hold { on: bool },
}
