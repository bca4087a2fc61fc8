//! A circuit breaker on the resolver: when DNS is down, mail is judged without waiting
//! out a timeout per lookup.
//!
//! A lookup that fails says little by itself: a sender can point SPF, DKIM and its From
//! domain at name servers that never answer, and that must not switch authentication off
//! for everyone else. So failures only *ask* whether the resolver itself is down, with a
//! query it answers from its own cache at once (the root's NS set), sent without any
//! cache on our side. The breaker opens when that probe gets no answer; while open, checks
//! are not tried (every result is `temperror`, and the report says so), and a probe goes
//! out now and then, less often the longer the outage, until one is answered.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::net::runtime::TokioRuntimeProvider;
use mail_auth::hickory_resolver::net::NetError;
use mail_auth::hickory_resolver::proto::rr::RecordType;
use mail_auth::hickory_resolver::TokioResolver;

/// First wait between probes while DNS is down; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Probes while DNS is up are at most this frequent, however many lookups fail.
const PROBE_INTERVAL_UP: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    open: bool,
    probing: bool,
    next_probe: Option<Instant>,
    backoff: Duration,
}

/// Whether the resolver is up, as the last probe found.
#[derive(Debug)]
pub(crate) struct Breaker {
    state: Mutex<State>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: Mutex::new(State {
                open: false,
                probing: false,
                next_probe: None,
                backoff: FIRST_BACKOFF,
            }),
        }
    }
}

impl Breaker {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a probe task panicked; the state is still whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether checks are skipped because the resolver does not answer.
    pub(crate) fn is_open(&self) -> bool {
        self.state().open
    }

    /// Sends one probe in the background unless one is under way or it is too soon.
    pub(crate) fn probe_if_due(
        self: &Arc<Self>,
        probe: &Probe,
        timeout: Duration,
        attempts: usize,
    ) {
        let now = Instant::now();
        {
            let mut s = self.state();
            if s.probing || s.next_probe.is_some_and(|t| now < t) {
                return;
            }
            s.probing = true;
        }
        let breaker = self.clone();
        let probe = probe.clone();
        tokio::spawn(async move {
            let alive = probe.alive(timeout, attempts).await;
            breaker.record(alive, Instant::now());
        });
    }

    fn record(&self, alive: bool, now: Instant) {
        let mut s = self.state();
        s.probing = false;
        if alive {
            if s.open {
                tracing::info!("DNS answers again; authentication resumes");
            }
            s.open = false;
            s.backoff = FIRST_BACKOFF;
            s.next_probe = Some(now + PROBE_INTERVAL_UP);
        } else {
            if !s.open {
                tracing::warn!(
                    "DNS resolver does not answer; authentication results are temperror until it does"
                );
            }
            s.open = true;
            s.next_probe = Some(now + s.backoff);
            s.backoff = (s.backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// A resolver on the same servers, with no cache, for the health probe.
#[derive(Clone)]
pub(crate) struct Probe {
    resolver: TokioResolver,
}

impl Probe {
    pub(crate) fn new(
        config: ResolverConfig,
        mut opts: ResolverOpts,
    ) -> Result<Probe, mail_auth::hickory_resolver::net::NetError> {
        // No cache: the probe must reach the resolver. The usual attempts, so that one
        // lost datagram does not open the breaker.
        opts.cache_size = 0;
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()?;
        Ok(Probe { resolver })
    }

    /// Whether the resolver answers at all: any DNS response (an answer, NXDOMAIN, no
    /// records, SERVFAIL or REFUSED from a resolver that will not serve the root) means
    /// it is up; only silence (a timeout) or a transport error means it is down.
    async fn alive(&self, timeout: Duration, attempts: usize) -> bool {
        let lookup = self.resolver.lookup(".", RecordType::NS);
        let wait =
            timeout * u32::try_from(attempts.max(1)).unwrap_or(1) + Duration::from_millis(100);
        match tokio::time::timeout(wait, lookup).await {
            Ok(Ok(_)) => true,
            Ok(Err(NetError::Dns(_))) => true,
            Ok(Err(_)) => false,
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_a_failed_probe_and_backs_off() {
        let b = Breaker::default();
        let t = Instant::now();
        b.record(false, t);
        assert!(b.is_open());
        assert_eq!(b.state().next_probe, Some(t + FIRST_BACKOFF));
        b.record(false, t);
        assert_eq!(b.state().next_probe, Some(t + FIRST_BACKOFF * 2));
        for _ in 0..20 {
            b.record(false, t);
        }
        assert_eq!(b.state().backoff, MAX_BACKOFF);
        b.record(true, t);
        assert!(!b.is_open());
        assert_eq!(b.state().backoff, FIRST_BACKOFF);
    }
}
