//! Prometheus metrics. Every label value comes from a closed set (actions, stages,
//! methods, results, error kinds, symbol names from the compiled rules), never from
//! message content or sender domains, so cardinality stays bounded.

use std::sync::atomic::{AtomicU64, Ordering};

use palisade_auth::AuthReport;
use palisade_engine::Verdict;
use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric Palisade exports.
pub struct Metrics {
    registry: Registry,
    /// `palisade_messages_total{action}`
    pub messages: IntCounterVec,
    /// `palisade_message_score`
    pub score: prometheus::Histogram,
    /// `palisade_scan_duration_seconds{stage}`
    pub scan_duration: HistogramVec,
    /// `palisade_symbol_hits_total{symbol,category}`
    pub symbol_hits: IntCounterVec,
    /// `palisade_auth_results_total{method,result}`
    pub auth_results: IntCounterVec,
    /// `palisade_milter_connections_active`
    pub connections_active: IntGauge,
    /// `palisade_milter_connections_total`
    pub connections_total: IntCounter,
    /// `palisade_milter_errors_total{kind}`
    pub milter_errors: IntCounterVec,
    /// `palisade_dns_queries_total{result}`
    pub dns_queries: IntCounterVec,
    /// `palisade_dns_query_duration_seconds`
    pub dns_duration: prometheus::Histogram,
    /// `palisade_config_reloads_total{result}`
    pub reloads: IntCounterVec,
    /// `palisade_build_info{version}`
    pub build_info: IntGaugeVec,
    /// `palisade_unscanned_messages_total{reason}`
    pub unscanned: IntCounterVec,
    /// `palisade_forged_headers_removed_total{path}`
    pub forged_removed: IntCounterVec,
    /// `palisade_review_*`: what the review UI reports.
    pub review: palisade_review::web::Metrics,
    /// `palisade_dns_resolver_up`
    pub dns_up: IntGauge,
    /// `palisade_scans_waiting`
    pub scans_waiting: IntGauge,
    /// `palisade_auth_dns_skipped_total`
    pub dns_skipped: IntCounter,
    /// `palisade_campaign*`: what campaign counting reports.
    pub campaign: palisade_campaign::Metrics,
    dns_cached_seen: AtomicU64,
    dns_sent_seen: AtomicU64,
}

/// Actions counted in `palisade_messages_total` (`skipped`: not scanned, e.g. from an
/// authenticated sender).
pub const ACTIONS: [&str; 6] = [
    "accept",
    "tag",
    "quarantine",
    "reject",
    "tempfail",
    "skipped",
];

/// Milter error kinds.
/// `negotiate_timeout`: no option negotiation in time; `evicted`: closed while idle to
/// make room for a new connection; `client_limit`: over the per-client limit; `no_slot`:
/// no slot freed up in time.
pub(crate) const ERROR_KINDS: [&str; 9] = [
    "protocol",
    "io",
    "timeout",
    "scan",
    "negotiate_timeout",
    "evicted",
    "client_limit",
    "no_slot",
    "verdict_not_recorded",
];
/// Why a message was not scanned.
pub(crate) const UNSCANNED_REASONS: [&str; 2] = ["trusted", "authenticated"];

/// Registers a metric built from constant names and labels; failing here is a
/// programming error that the tests catch, not something input can cause.
fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.unwrap_or_else(|e| panic!("metric definition: {e}"));
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|e| panic!("metric registration: {e}"));
    metric
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help).namespace("palisade")
}

fn histogram_opts(name: &str, help: &str, buckets: Vec<f64>) -> HistogramOpts {
    HistogramOpts::new(name, help)
        .namespace("palisade")
        .buckets(buckets)
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Metrics {
        let r = Registry::new();
        // 25 µs to ~13 s in factors of two.
        let time = exponential_buckets(0.000_025, 2.0, 20).unwrap_or_default();
        let scores = vec![
            -20.0, -5.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0, 50.0,
        ];
        let counters = |name: &str, help: &str, labels: &[&str]| {
            register(&r, IntCounterVec::new(opts(name, help), labels))
        };
        let counter =
            |name: &str, help: &str| register(&r, IntCounter::with_opts(opts(name, help)));
        let gauge = |name: &str, help: &str| register(&r, IntGauge::with_opts(opts(name, help)));
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            register(
                &r,
                prometheus::Histogram::with_opts(histogram_opts(name, help, buckets)),
            )
        };
        let messages = counters(
            "messages_total",
            "Messages by the action taken (after shadow mode).",
            &["action"],
        );
        let score = histogram("message_score", "Scores of scanned messages.", scores);
        let scan_duration = register(
            &r,
            HistogramVec::new(
                histogram_opts(
                    "scan_duration_seconds",
                    "Time to judge a message, by stage (auth, content, total).",
                    time.clone(),
                ),
                &["stage"],
            ),
        );
        let symbol_hits = counters(
            "symbol_hits_total",
            "Messages on which each symbol fired.",
            &["symbol", "category"],
        );
        let auth_results = counters(
            "auth_results_total",
            "Authentication results by method.",
            &["method", "result"],
        );
        let connections_active = gauge("milter_connections_active", "Open milter connections.");
        let connections_total = counter("milter_connections_total", "Milter connections accepted.");
        let milter_errors = counters(
            "milter_errors_total",
            "Milter connections ended by an error, by kind.",
            &["kind"],
        );
        let dns_queries = counters(
            "dns_queries_total",
            "DNS lookups: sent to the resolver, answered from the cache, or failed temporarily.",
            &["result"],
        );
        let dns_duration = histogram(
            "dns_query_duration_seconds",
            "Wall time of a message's DNS lookups (they run concurrently).",
            time,
        );
        let reloads = counters(
            "config_reloads_total",
            "Configuration reloads by result.",
            &["result"],
        );
        let build_info = register(
            &r,
            IntGaugeVec::new(
                opts(
                    "build_info",
                    "Always 1; the version and git commit are in the labels.",
                ),
                &["version", "commit"],
            ),
        );
        let unscanned = counters(
            "unscanned_messages_total",
            "Messages not scanned, by reason (forged headers are still removed from them).",
            &["reason"],
        );
        let forged_removed = counters(
            "forged_headers_removed_total",
            "Inbound copies of Palisade's headers and Authentication-Results with our authserv-id removed, by path (scanned or unscanned mail).",
            &["path"],
        );
        let review_actions = counters(
            "review_actions_total",
            "Quarantine review actions done in the web UI and API, by action.",
            &["action"],
        );
        let review_logins = counters(
            "review_logins_total",
            "Sign-ins to the review UI and API, by result (success, failure, limited).",
            &["result"],
        );
        let dns_up = gauge("dns_resolver_up", "1 while the resolver answers; 0 while the circuit breaker is open and checks are skipped.");
        let scans_waiting = gauge("scans_waiting", "Messages waiting for a content-scan slot.");
        let dns_skipped = counter("auth_dns_skipped_total", "Messages judged without DNS lookups because the resolver was down (results temperror).");
        let campaigns_active = gauge("campaigns_active", "Campaigns (templates seen at least once) within the window, as the store last reported.");
        let campaign_recipients = histogram("campaign_recipients", "Distinct recipients of the campaign each scanned message belongs to, counted as it arrives.", vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 1000.0, 10000.0]);
        let campaign_store_duration = register(
            &r,
            HistogramVec::new(
                histogram_opts(
                    "campaign_store_duration_seconds",
                    "Time of campaign store calls, by operation.",
                    exponential_buckets(0.000_025, 2.0, 20).unwrap_or_default(),
                ),
                &["op"],
            ),
        );
        let campaign_store_errors = counters(
            "campaign_store_errors_total",
            "Campaign store calls that failed or timed out (mail was judged without campaign data).",
            &["op", "kind"],
        );
        let campaign_holds = counters(
            "campaign_holds_total",
            "Queued copies of threatening campaigns put on hold afterwards, by result (held, gone, failed).",
            &["result"],
        );
        for op in palisade_campaign::metrics::OPS {
            campaign_store_duration.with_label_values(&[op]);
            for kind in palisade_campaign::metrics::ERRORS {
                campaign_store_errors.with_label_values(&[op, kind]);
            }
        }
        for result in palisade_campaign::metrics::HOLD_RESULTS {
            campaign_holds.with_label_values(&[result]);
        }
        dns_up.set(1);
        for reason in UNSCANNED_REASONS {
            unscanned.with_label_values(&[reason]);
        }
        for path in ["scanned", "unscanned"] {
            forged_removed.with_label_values(&[path]);
        }
        let registry = r;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::version::COMMIT])
            .set(1);
        // Known label values start at zero, so rates and alerts work from the first scrape.
        for a in ACTIONS {
            messages.with_label_values(&[a]);
        }
        for k in ERROR_KINDS {
            milter_errors.with_label_values(&[k]);
        }
        for r in ["success", "error"] {
            reloads.with_label_values(&[r]);
        }
        for a in palisade_review::web::ACTIONS {
            review_actions.with_label_values(&[a]);
        }
        for r in ["success", "failure", "limited"] {
            review_logins.with_label_values(&[r]);
        }
        for r in ["sent", "cached", "temperror"] {
            dns_queries.with_label_values(&[r]);
        }
        Metrics {
            registry,
            messages,
            score,
            scan_duration,
            symbol_hits,
            auth_results,
            connections_active,
            connections_total,
            milter_errors,
            dns_queries,
            dns_duration,
            reloads,
            build_info,
            unscanned,
            forged_removed,
            review: palisade_review::web::Metrics {
                actions: review_actions,
                logins: review_logins,
            },
            dns_up,
            scans_waiting,
            campaign: palisade_campaign::Metrics {
                active: campaigns_active,
                recipients: campaign_recipients,
                store_duration: campaign_store_duration,
                store_errors: campaign_store_errors,
                holds: campaign_holds,
            },
            dns_skipped,
            dns_cached_seen: AtomicU64::new(0),
            dns_sent_seen: AtomicU64::new(0),
        }
    }

    /// Records one judged message.
    pub fn message(&self, action: &str, verdict: &Verdict, auth: &AuthReport) {
        self.messages.with_label_values(&[action]).inc();
        self.score.observe(verdict.score);
        for s in &verdict.symbols {
            self.symbol_hits
                .with_label_values(&[s.name.as_str(), s.category.as_str()])
                .inc();
        }
        if auth.checked {
            for (method, result) in [
                ("spf", auth.spf),
                ("dkim", auth.dkim),
                ("dmarc", auth.dmarc),
                ("arc", auth.arc),
                ("iprev", auth.iprev),
            ] {
                self.auth_results
                    .with_label_values(&[method, result.as_str()])
                    .inc();
            }
            self.dns_duration.observe(auth.dns.elapsed.as_secs_f64());
            if auth.dns.skipped {
                self.dns_skipped.inc();
            }
            if auth.dns.temp_errors > 0 {
                self.dns_queries
                    .with_label_values(&["temperror"])
                    .inc_by(u64::from(auth.dns.temp_errors));
            }
        }
    }

    /// Brings the DNS counters up to the authenticator's running totals.
    pub fn dns_totals(&self, cached: u64, sent: u64) {
        let prev = self.dns_cached_seen.swap(cached, Ordering::Relaxed);
        self.dns_queries
            .with_label_values(&["cached"])
            .inc_by(cached.saturating_sub(prev));
        let prev = self.dns_sent_seen.swap(sent, Ordering::Relaxed);
        self.dns_queries
            .with_label_values(&["sent"])
            .inc_by(sent.saturating_sub(prev));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
