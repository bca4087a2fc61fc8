//! Palisade, the daemon: CLI, configuration, the milter server, actions, metrics and the
//! load generator. The protocol lives in `palisade-milter`, scoring in `palisade-engine`,
//! authentication in `palisade-auth`; this crate wires them together.
//!
//! Tests start the daemon in-process with [`start`], reload it with [`Running::reload`]
//! and stop it with [`Running::shutdown`].
#![forbid(unsafe_code)]

pub mod actions;
pub mod bench;
pub mod check;
pub mod cli;
pub mod config;
pub mod escape;
mod http;
pub mod logging;
pub mod metrics;
pub mod quarantine;
pub mod scan;
mod server;
mod slots;
pub mod socket;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;
pub use server::BoundAddr;

use crate::config::{ConfigError, Sources};
use crate::metrics::Metrics;

/// A daemon started with [`start`].
pub struct Running {
    /// Where the milter listens.
    pub milter: BoundAddr,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub http: SocketAddr,
    shared: Arc<server::Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
    http_task: JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets messages in flight finish (within the grace period), and
    /// waits until the server is done.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let result = self.task.await.context("server task failed")?;
        let _ = self.http_task.await;
        result
    }

    /// The metrics, as `/metrics` renders them.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Replaces the configuration and rules at once. On any error the running ones stay
    /// and every problem is returned (and counted). Settings that cannot change while
    /// running (listen addresses, socket mode, connection limit) keep their old value,
    /// with a warning.
    pub fn reload(&self, mut config: Config) -> Result<(), ConfigError> {
        let current = self.shared.live.load_full();
        let old = &current.config;
        for (key, before, after) in [
            ("milter.listen", &old.milter.listen, &config.milter.listen),
            (
                "milter.socket_mode",
                &old.milter.socket_mode,
                &config.milter.socket_mode,
            ),
            (
                "milter.socket_group",
                &old.milter.socket_group,
                &config.milter.socket_group,
            ),
            ("http.listen", &old.http.listen, &config.http.listen),
        ] {
            if before != after {
                tracing::warn!(key, kept = %before, ignored = %after, "cannot change while running; restart to apply");
            }
        }
        if old.milter.max_connections != config.milter.max_connections {
            tracing::warn!(
                key = "milter.max_connections",
                kept = old.milter.max_connections,
                ignored = config.milter.max_connections,
                "cannot change while running; restart to apply"
            );
        }
        config.milter.listen = old.milter.listen.clone();
        config.milter.socket_mode = old.milter.socket_mode.clone();
        config.milter.socket_group = old.milter.socket_group.clone();
        config.milter.max_connections = old.milter.max_connections;
        config.http.listen = old.http.listen.clone();
        match server::Live::new(config, Some(&current)) {
            Ok(live) => {
                self.shared.live.store(Arc::new(live));
                self.shared
                    .metrics
                    .reloads
                    .with_label_values(&["success"])
                    .inc();
                tracing::info!("configuration reloaded");
                Ok(())
            }
            Err(e) => {
                self.shared
                    .metrics
                    .reloads
                    .with_label_values(&["error"])
                    .inc();
                for issue in &e.issues {
                    tracing::error!(key = %issue.key, origin = %issue.origin, "reload refused: {}", issue.message);
                }
                Err(e)
            }
        }
    }
}

/// Binds the milter and HTTP listeners and serves in the background of the current
/// tokio runtime.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    // Rules compile before the socket opens: a broken pack never leaves Postfix
    // talking to a half-started daemon.
    let live = server::Live::new(config, None)?;
    let spec = live.config.listen();
    let mode = live.config.socket_mode().unwrap_or(0o660);
    let http_addr: SocketAddr = live
        .config
        .http
        .listen
        .parse()
        .context("http.listen is not an address:port")?;
    let http_listener = tokio::net::TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("cannot listen on {http_addr} for /metrics"))?;
    let http = http_listener.local_addr()?;
    let listener = server::Listener::bind(&spec, mode, live.config.socket_gid()).await?;
    let milter = listener.bound()?;
    let scans = server::scan_concurrency(live.config.milter.scan_concurrency);
    let shared = Arc::new(server::Shared {
        live: ArcSwap::from_pointee(live),
        metrics: Arc::new(Metrics::new()),
        scan_slots: tokio::sync::Semaphore::new(scans),
    });
    let health = Arc::new(http::Health {
        ready: std::sync::atomic::AtomicBool::new(true),
    });
    let (stop, stopped) = watch::channel(false);
    let dns_shared = shared.clone();
    let http_task = tokio::spawn(http::serve(
        http_listener,
        shared.metrics.clone(),
        health.clone(),
        move || {
            dns_shared
                .live
                .load()
                .scanner
                .authenticator()
                .map(|a| a.dns_counts())
        },
        stopped.clone(),
    ));
    let server_health = health.clone();
    let server_shared = shared.clone();
    let task = tokio::spawn(async move {
        let result = server::serve(listener, server_shared, stopped).await;
        server_health.ready.store(false, Ordering::Relaxed);
        result
    });
    Ok(Running {
        milter,
        http,
        shared,
        stop,
        task,
        http_task,
    })
}

/// `palisade serve`: runs until SIGTERM or SIGINT, then drains and returns; SIGHUP
/// reloads the configuration from `sources`.
pub async fn run(config: Config, sources: Sources) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let running = start(config).await?;
    tracing::info!(
        listen = %running.milter.postfix(),
        http = %running.http,
        version = env!("CARGO_PKG_VERSION"),
        "palisade ready"
    );
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: draining"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: draining"); break; }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading configuration");
                let sources = Sources { file: sources.file.clone(), env: std::env::vars().collect() };
                match Config::load(&sources) {
                    Ok(config) => { let _ = running.reload(config); }
                    Err(e) => {
                        running.metrics().reloads.with_label_values(&["error"]).inc();
                        for issue in &e.issues {
                            tracing::error!(key = %issue.key, origin = %issue.origin, "reload refused: {}", issue.message);
                        }
                    }
                }
            }
        }
    }
    running.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}
