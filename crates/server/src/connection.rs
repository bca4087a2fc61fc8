//! One milter connection: reads packets, steps the protocol session, answers, and hands
//! each complete message to the [`pipeline`](crate::pipeline).

use std::sync::Arc;

use palisade_milter::session::Step;
use palisade_milter::{frame, Command, Reply, Session};
use palisade_report::escape::Safe;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::live::{Live, Shared};
use crate::pipeline::end_of_message;
use crate::slots::Slot;
use crate::stream::{InBuf, MilterStream};

/// Serves one milter connection until the MTA quits, the peer goes away, it idles out, a
/// protocol error closes it, or shutdown finds it between messages.
pub(crate) async fn handle(
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

fn is_trusted(live: &Live, session: &Session) -> bool {
    match session.envelope().client_addr.parse::<std::net::IpAddr>() {
        Ok(ip) => live.trusted.iter().any(|n| n.contains(&ip)),
        Err(_) => false,
    }
}
