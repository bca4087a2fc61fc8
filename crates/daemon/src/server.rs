//! The milter server: listeners, the connection limit, per-connection handling and a
//! graceful drain at shutdown.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use futures_util::FutureExt;
use ipnet::IpNet;
use palisade_engine::FromHeader;
use palisade_milter::session::Step;
use palisade_milter::{frame, Command, Reply, Session, SessionConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tracing::{debug, info, warn, Instrument};

use crate::actions::{self, OWNED_HEADERS};
use crate::config::{Config, OnError};
use crate::escape::Safe;
use crate::metrics::Metrics;
use crate::scan::Scanner;
use crate::slots::{Refused, Slot, Slots};
use crate::socket::SocketSpec;
use crate::stream::{InBuf, MilterListener, MilterStream};
use arc_swap::ArcSwap;

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
    pub(crate) recorder: Option<crate::review::recorder::Recorder>,
    /// Campaign counting (when `[campaign] enabled`).
    pub(crate) campaigns: Option<Arc<crate::campaign::Campaigns>>,
}

/// Scans at once for `[milter] scan_concurrency` (0: one per CPU).
pub(crate) fn scan_concurrency(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

impl Live {
    pub(crate) fn new(
        config: Config,
        previous: Option<&Live>,
    ) -> Result<Live, crate::config::ConfigError> {
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

/// A bound milter listener, and the path of its socket when it is a unix one (removed at
/// shutdown, and what warnings name as the peer).
pub(crate) struct Listener {
    socket: MilterListener,
    unix_path: Option<PathBuf>,
}

/// Where the server ended up listening (with the real port when 0 was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix socket path.
    Unix(PathBuf),
}

impl BoundAddr {
    /// The address in Postfix's syntax, for `smtpd_milters`.
    pub fn postfix(&self) -> String {
        match self {
            BoundAddr::Tcp(a) if a.is_ipv6() => format!("inet6:[{}]:{}", a.ip(), a.port()),
            BoundAddr::Tcp(a) => format!("inet:{}:{}", a.ip(), a.port()),
            BoundAddr::Unix(p) => format!("unix:{}", p.display()),
        }
    }
}

impl Listener {
    pub(crate) async fn bind(
        spec: &SocketSpec,
        mode: u32,
        group: Option<u32>,
    ) -> anyhow::Result<Listener> {
        match spec {
            SocketSpec::Inet { host, port } => {
                let listener = TcpListener::bind((host.as_str(), *port))
                    .await
                    .with_context(|| format!("cannot listen on {spec}"))?;
                let socket = socket2::Socket::from(listener.into_std()?);
                Ok(Listener {
                    socket: MilterListener::new(socket, true)?,
                    unix_path: None,
                })
            }
            SocketSpec::Unix(path) => {
                let std_listener =
                    crate::socket::bind_unix(path, mode, group, "milter.socket_group")?;
                let socket = MilterListener::new(socket2::Socket::from(std_listener), false)
                    .with_context(|| format!("cannot listen on {spec}"))?;
                Ok(Listener {
                    socket,
                    unix_path: Some(path.clone()),
                })
            }
        }
    }

    pub(crate) fn bound(&self) -> anyhow::Result<BoundAddr> {
        Ok(match &self.unix_path {
            Some(p) => BoundAddr::Unix(p.clone()),
            None => BoundAddr::Tcp(
                self.socket
                    .local_addr()?
                    .as_socket()
                    .context("the milter listener has no TCP address")?,
            ),
        })
    }
}

/// Accepts connections until `shutdown` turns true, then waits for every connection to
/// finish its message, at most for the configured grace period.
pub(crate) async fn serve(
    listener: Listener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (max, per_client) = {
        let live = shared.live.load();
        (
            live.config.milter.max_connections,
            live.config.milter.max_connections_per_client,
        )
    };
    let slots = Slots::new(max, per_client);
    loop {
        // Every connection is accepted; whether it gets a slot is decided in its task,
        // so a full server never leaves Postfix waiting in the backlog.
        let accepted = tokio::select! {
            a = accept(&listener) => a,
            _ = shutdown.changed() => break,
        };
        let (stream, peer, ip) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: wait a little instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        let slots = slots.clone();
        let span = tracing::info_span!("conn", peer = %peer);
        shared.metrics.connections_total.inc();
        tokio::spawn(
            async move {
                let wait = shared.live.load().config.milter.negotiate_timeout;
                let errors = &shared.metrics.milter_errors;
                let slot = match slots.admit(ip, wait).await {
                    Ok((slot, evicted)) => {
                        if evicted {
                            debug!("all slots taken; the longest-idle connection was closed");
                        }
                        slot
                    }
                    Err(Refused::ClientLimit) => {
                        warn!("client holds max_connections_per_client already; closing");
                        errors.with_label_values(&["client_limit"]).inc();
                        return;
                    }
                    Err(Refused::NoSlot) => {
                        warn!("no connection slot freed up in time; closing");
                        errors.with_label_values(&["no_slot"]).inc();
                        return;
                    }
                };
                shared.metrics.connections_active.inc();
                let _active = ActiveGuard(shared.metrics.clone());
                handle(stream, shared, shutdown, &slot).await;
            }
            .instrument(span),
        );
    }
    if let Some(path) = &listener.unix_path {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    let grace = shared.live.load().config.milter.shutdown_grace;
    if slots.drain(grace).await {
        info!("all connections finished");
    } else {
        warn!(
            grace = ?grace,
            open = slots.in_use(),
            "shutdown grace period over; closing remaining connections"
        );
    }
    Ok(())
}

/// Counts a connection as active for as long as it lives.
struct ActiveGuard(Arc<Metrics>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.connections_active.dec();
    }
}

/// The next connection, how logs name its peer, and its address (TCP only).
async fn accept(
    listener: &Listener,
) -> std::io::Result<(MilterStream, String, Option<std::net::IpAddr>)> {
    let (stream, peer) = listener.socket.accept().await?;
    Ok(match (&listener.unix_path, peer.as_socket()) {
        (Some(path), _) => (stream, path.display().to_string(), None),
        (None, Some(addr)) => (stream, addr.to_string(), Some(addr.ip())),
        (None, None) => (stream, "?".to_string(), None),
    })
}

/// Serves one milter connection until the MTA quits, the peer goes away, it idles out, a
/// protocol error closes it, or shutdown finds it between messages.
async fn handle(
    mut stream: MilterStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    slot: &Slot,
) {
    let live = shared.live.load_full();
    let mut session = Session::new(live.session.clone());
    let mut buf = InBuf::default();
    let mut out: Vec<u8> = Vec::new();
    let idle = live.config.milter.idle_timeout;
    let negotiate = live.config.milter.negotiate_timeout;
    let negotiate_deadline = tokio::time::Instant::now() + negotiate;
    drop(live);
    let errors = &shared.metrics.milter_errors;
    let mut message_live: Option<Arc<Live>> = None;
    // Trusted clients are not scanned, but their mail still loses forged headers: the
    // connection is kept, and each of its messages is marked unscanned.
    let mut unscanned_reason: Option<&'static str> = None;
    debug!("connection opened");
    loop {
        // Reserve for the packet under way (or a small read), never what a peer merely
        // claims: frame::missing caps the hint at the packet limit.
        let want = frame::missing(buf.bytes())
            .unwrap_or(0)
            .clamp(4096, 1 << 16);
        let negotiated = session.negotiated().is_some();
        // Negotiation has one deadline from the connection's start, however the peer
        // trickles its bytes; after it, each read gets idle_timeout.
        let until = if negotiated {
            tokio::time::Instant::now() + idle
        } else {
            negotiate_deadline
        };
        let read = tokio::select! {
            r = tokio::time::timeout_at(until, stream.read_into(&mut buf, want)) => r,
            _ = shutdown.changed(), if !session.in_message() => {
                debug!("closing idle connection for shutdown");
                return;
            }
            _ = slot.conn().evicted(), if !session.in_message() => {
                debug!("closing idle connection to make room for a new one");
                errors.with_label_values(&["evicted"]).inc();
                return;
            }
        };
        let n = match read {
            Err(_) if !negotiated => {
                debug!(timeout = ?negotiate, "no option negotiation in time");
                errors.with_label_values(&["negotiate_timeout"]).inc();
                return;
            }
            Err(_) => {
                debug!(idle = ?idle, "idle timeout");
                if session.in_message() {
                    errors.with_label_values(&["timeout"]).inc();
                }
                return;
            }
            Ok(Err(e)) => {
                debug!(error = %e, "read failed");
                errors.with_label_values(&["io"]).inc();
                return;
            }
            Ok(Ok(n)) => n,
        };
        if n == 0 {
            // EOF anywhere is a normal close for a milter.
            debug!(messages = session.messages(), "connection closed by peer");
            return;
        }
        let mut used = 0;
        let mut close = false;
        loop {
            let (packet, len) = match frame::decode(&buf.bytes()[used..]) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    warn!(error = %e, "protocol error; closing connection");
                    errors.with_label_values(&["protocol"]).inc();
                    return;
                }
            };
            used += len;
            let command = match Command::parse(packet.code, packet.data) {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "protocol error; closing connection");
                    errors.with_label_values(&["protocol"]).inc();
                    return;
                }
            };
            let is_mail = matches!(command, Command::Mail(_));
            let step = match session.handle(command) {
                Ok(s) => s,
                Err(e) => {
                    warn!(error = %e, "protocol error; closing connection");
                    errors.with_label_values(&["protocol"]).inc();
                    return;
                }
            };
            if is_mail {
                message_live = Some(shared.live.load_full());
            }
            if is_mail {
                if unscanned_reason.is_some() {
                    session.skip_message();
                } else if shared.live.load().config.policy.skip_authenticated {
                    if let Some(user) = session.macros().get_nonempty("auth_authen") {
                        debug!(user = %Safe(user), "authenticated sender; not scanning");
                        session.skip_message();
                    }
                }
            }
            match step {
                Step::Nothing => {}
                Step::Reply(r) => r.encode(&mut out),
                Step::Connect { reply } => {
                    if is_trusted(&shared.live.load(), &session) {
                        debug!(client = %Safe(&session.envelope().client_addr), "trusted network; not scanning this connection");
                        unscanned_reason = Some("trusted");
                    }
                    // Postfix does not wait at CONNECT (SMFIP_NR_CONN): one round trip
                    // less per connection. An MTA that cannot skip it gets its reply.
                    if reply {
                        Reply::Continue.encode(&mut out);
                    }
                }
                Step::EndOfMessage => {
                    // Judged under the configuration in force when the message began,
                    // whatever a reload did since.
                    let live = message_live
                        .take()
                        .unwrap_or_else(|| shared.live.load_full());
                    end_of_message(live, &shared, unscanned_reason, &mut session, &mut out).await
                }
                Step::Close => {
                    close = true;
                    break;
                }
            }
        }
        buf.consume(used);
        if session.negotiated().is_some() {
            slot.set_negotiated();
        }
        slot.set_idle(!session.in_message());
        // Give back what a large message took; idle connections stay small.
        buf.shrink_when_empty(1 << 16);
        if out.is_empty() {
            // Nothing to answer (events the MTA sends without waiting): acknowledge now,
            // or the MTA's next small write may wait for a delayed ACK. An answer carries
            // the ACK itself, so no system call is spent on it then.
            stream.quickack();
        } else {
            // Modifications and the final reply go out in one write. An MTA that reads
            // none of it for idle_timeout loses the connection.
            match tokio::time::timeout(idle, stream.write_all(&out)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    debug!(error = %e, "write failed");
                    errors.with_label_values(&["io"]).inc();
                    return;
                }
                Err(_) => {
                    debug!(idle = ?idle, "the MTA read no reply in time");
                    errors.with_label_values(&["timeout"]).inc();
                    return;
                }
            }
            out.clear();
            if out.capacity() > (1 << 16) {
                out = Vec::new();
            }
        }
        if close {
            debug!(messages = session.messages(), "connection closed by QUIT");
            return;
        }
    }
}

/// The text a panic carried, for the log.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

fn is_trusted(live: &Live, session: &Session) -> bool {
    match session.envelope().client_addr.parse::<std::net::IpAddr>() {
        Ok(ip) => live.trusted.iter().any(|n| n.contains(&ip)),
        Err(_) => false,
    }
}

/// Messages above this size are scanned on tokio's blocking pool, so that one large
/// message does not hold up the other connections served by the same worker thread.
const BLOCKING_SCAN_BYTES: usize = 256 * 1024;

async fn end_of_message(
    live: Arc<Live>,
    shared_state: &Shared,
    trusted: Option<&'static str>,
    session: &mut Session,
    out: &mut Vec<u8>,
) {
    let metrics = &shared_state.metrics;
    let Some(message) = session.take_message() else {
        Reply::Continue.encode(out);
        return;
    };
    let started = Instant::now();
    let shared = &live;
    if message.unscanned {
        let reason = trusted.unwrap_or("authenticated");
        metrics.messages.with_label_values(&["skipped"]).inc();
        metrics.unscanned.with_label_values(&[reason]).inc();
        let env = &message.envelope;
        let queue_id = env.queue_id.as_deref().unwrap_or("-");
        // Not scanned, but nothing forged passes as ours either.
        let replies = actions::unscanned_replies(&message, shared.scanner.authserv_id(), session);
        let removed = replies
            .iter()
            .filter(|r| matches!(r, Reply::ChangeHeader { .. }))
            .count();
        if removed > 0 {
            metrics
                .forged_removed
                .with_label_values(&["unscanned"])
                .inc_by(removed as u64);
        }
        info!(queue_id = %Safe(queue_id), client = %Safe(&env.client_addr), action = "skipped", reason, removed, "message not scanned");
        for r in replies {
            r.encode(out);
        }
        return;
    }
    let message = Arc::new(message);
    // One parse of From, read by authentication and the engine alike.
    let from = FromHeader::parse(&message.raw);
    // Authentication waits on DNS in this connection's own task: a slow resolver holds
    // up only this message. It runs here rather than in a task of its own (one spawn and
    // one cross-thread wake-up less per message); a panic inside it is still caught like
    // any other internal error.
    let auth = match shared.scanner.authenticator() {
        None => Ok(palisade_auth::AuthReport::default()),
        Some(authenticator) => {
            let envelope = Scanner::envelope(&message);
            let result = AssertUnwindSafe(shared.scanner.authenticate(
                &message.raw,
                &envelope,
                &from,
                message.truncated,
            ))
            .catch_unwind()
            .await
            .map_err(|panic| panic_message(panic.as_ref()));
            metrics.dns_up.set(i64::from(!authenticator.dns_down()));
            result
        }
    };
    let auth_done = started.elapsed();
    // Content scans are CPU work: at most scan_concurrency at once, whatever the number
    // of connections; the blocking pool never grows past that either.
    metrics.scans_waiting.inc();
    let permit = shared_state.scan_slots.acquire().await;
    metrics.scans_waiting.dec();
    let scanned = match (auth, permit) {
        (_, Err(_)) => Err(()),
        (Err(e), _) => {
            warn!(error = %e, "authentication failed internally (a panic)");
            Err(())
        }
        (Ok(report), Ok(_permit)) if message.raw.len() > BLOCKING_SCAN_BYTES => {
            let (shared, message) = (shared.clone(), message.clone());
            tokio::task::spawn_blocking(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    shared.scanner.score_message(&message, from, report)
                }))
            })
            .await
            .map_err(|e| warn!(error = %e, "scan task failed"))
            .and_then(|r| r.map_err(|_| ()))
        }
        (Ok(report), Ok(_permit)) => catch_unwind(AssertUnwindSafe(|| {
            shared.scanner.score_message(&message, from, report)
        }))
        .map_err(|_| ()),
    };
    let env = &message.envelope;
    let queue_id = env.queue_id.as_deref().unwrap_or("-");
    // Campaigns: what other copies of this template showed, here and across the fleet
    // (waits at most [state] timeout; the message is judged without it otherwise).
    let mut campaign = None;
    let scanned = match (scanned, &shared_state.campaigns) {
        (Ok(mut scanned), Some(campaigns)) if shared.config.campaign.enabled => {
            if let Some(fingerprint) = scanned.fingerprint.take() {
                let from_domain = from_domain(&scanned, env).to_string();
                let outcome = campaigns
                    .observe(
                        &message,
                        &scanned.verdict,
                        &fingerprint,
                        &from_domain,
                        shared.config.campaign.min_recipients,
                    )
                    .await;
                scanned.verdict =
                    shared
                        .scanner
                        .rescore(scanned.verdict, outcome.symbols, &env.rcpt_to);
                if outcome.turned {
                    campaigns.turned.notify_one();
                }
                campaign = outcome.campaign;
            }
            Ok(scanned)
        }
        (other, _) => other,
    };
    let replies = match scanned {
        Ok(scanned) => {
            let (replies, decision) = actions::replies(
                &scanned,
                &message,
                &shared.config.policy,
                shared.scanner.authserv_id(),
                session,
            );
            let removed = replies
                .iter()
                .filter(|r| matches!(r, Reply::ChangeHeader { value, .. } if value.is_empty()))
                .count();
            if removed > 0 {
                metrics
                    .forged_removed
                    .with_label_values(&["scanned"])
                    .inc_by(removed as u64);
            }
            let symbols: Vec<&str> = scanned
                .verdict
                .symbols
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            metrics.message(decision.applied.as_str(), &scanned.verdict, &scanned.auth);
            if let (Some(id), Some(campaigns)) = (campaign, &shared_state.campaigns) {
                campaigns.record(id, &message, decision.applied.as_str());
            }
            if decision.applied == palisade_engine::Action::Quarantine {
                if let Some(recorder) = &shared_state.recorder {
                    if !recorder.record(&message, &scanned, decision.applied.as_str()) {
                        metrics
                            .milter_errors
                            .with_label_values(&["verdict_not_recorded"])
                            .inc();
                    }
                }
            }
            let total = started.elapsed();
            let d = &metrics.scan_duration;
            d.with_label_values(&["auth"])
                .observe(auth_done.as_secs_f64());
            d.with_label_values(&["content"])
                .observe(total.saturating_sub(auth_done).as_secs_f64());
            d.with_label_values(&["total"]).observe(total.as_secs_f64());
            let from_domain = from_domain(&scanned, env);
            info!(
                queue_id = %Safe(queue_id),
                client = %Safe(&env.client_addr),
                from = %Safe(&env.mail_from),
                from_domain = %Safe(from_domain),
                action = decision.applied.as_str(),
                verdict = decision.verdict.as_str(),
                score = scanned.verdict.score,
                symbols = %Safe(&symbols.join(",")),
                spf = scanned.auth.spf.as_str(),
                dkim = scanned.auth.dkim.as_str(),
                dmarc = scanned.auth.dmarc.as_str(),
                dns_skipped = scanned.auth.dns.skipped,
                size = message.size,
                elapsed_us = started.elapsed().as_micros() as u64,
                "message scanned"
            );
            replies
        }
        Err(()) => {
            // A bug in a scan must not lose mail or pass it silently.
            let action = shared.config.milter.on_error;
            warn!(queue_id = %Safe(queue_id), client = %Safe(&env.client_addr), on_error = ?action, "internal error while scanning");
            metrics.milter_errors.with_label_values(&["scan"]).inc();
            let counted = match action {
                OnError::Tempfail => "tempfail",
                OnError::Accept => "accept",
            };
            metrics.messages.with_label_values(&[counted]).inc();
            on_error_replies(shared, session, &message)
        }
    };
    for r in replies {
        r.encode(out);
    }
}

/// The sender's domain: the From header's as authentication found it, else the
/// envelope sender's.
fn from_domain<'a>(
    scanned: &'a crate::scan::Scanned,
    env: &'a palisade_milter::session::Envelope,
) -> &'a str {
    if scanned.auth.from_domain.is_empty() {
        env.mail_from.rsplit_once('@').map_or("", |(_, d)| d)
    } else {
        scanned.auth.from_domain.as_str()
    }
}

fn on_error_replies(
    shared: &Live,
    session: &Session,
    message: &palisade_milter::Message,
) -> Vec<Reply> {
    match shared.config.milter.on_error {
        OnError::Tempfail => vec![actions::tempfail()],
        OnError::Accept => {
            actions::unscanned_accept(message, shared.scanner.authserv_id(), session)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn a_panic_is_logged_with_its_message() {
        let text = std::panic::catch_unwind(|| panic!("resolver state broken")).unwrap_err();
        assert_eq!(panic_message(text.as_ref()), "resolver state broken");
        let formatted = std::panic::catch_unwind(|| panic!("lookup {} failed", "txt")).unwrap_err();
        assert_eq!(panic_message(formatted.as_ref()), "lookup txt failed");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_message(other.as_ref()), "a panic without a message");
    }
}
