//! What campaign counting reports to Prometheus. The server's registry makes and
//! registers these (docs/metrics.md names them); this crate only counts.

use prometheus::{Histogram, HistogramVec, IntCounterVec, IntGauge};

/// Campaign store operations, for `palisade_campaign_store_*{op}`.
pub const OPS: [&str; 3] = ["observe", "record", "list"];
/// Campaign store error kinds, for `palisade_campaign_store_errors_total{kind}`.
pub const ERRORS: [&str; 2] = ["timeout", "unavailable"];
/// Results of holding queued copies, for `palisade_campaign_holds_total{result}`.
pub const HOLD_RESULTS: [&str; 3] = ["held", "gone", "failed"];

/// The campaign metrics, registered by their owner.
#[derive(Clone)]
pub struct Metrics {
    /// `palisade_campaigns_active`
    pub active: IntGauge,
    /// `palisade_campaign_recipients` (histogram: distinct recipients of the campaign
    /// each scanned message belongs to)
    pub recipients: Histogram,
    /// `palisade_campaign_store_duration_seconds{op}`
    pub store_duration: HistogramVec,
    /// `palisade_campaign_store_errors_total{op,kind}`
    pub store_errors: IntCounterVec,
    /// `palisade_campaign_holds_total{result}`
    pub holds: IntCounterVec,
}
