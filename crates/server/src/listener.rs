//! The milter listener: binding (TCP or a unix socket with its mode and group), the
//! connection limit, accepting, and a graceful drain at shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use palisade_config::socket::SocketSpec;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info, warn, Instrument};

use crate::connection::handle;
use crate::live::Shared;
use crate::metrics::Metrics;
use crate::slots::{Refused, Slots};
use crate::stream::{MilterListener, MilterStream};

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
                    palisade_config::socket::bind_unix(path, mode, group, "milter.socket_group")?;
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
