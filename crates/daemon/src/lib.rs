//! Palisade, the daemon: CLI, configuration, the milter server, actions and the load
//! generator. The protocol lives in `palisade-milter`, scoring in `palisade-engine`,
//! authentication in `palisade-auth`; this crate wires them together.
//!
//! Tests start the daemon in-process with [`start`] and stop it with
//! [`Running::shutdown`].
#![forbid(unsafe_code)]

pub mod actions;
pub mod bench;
pub mod check;
pub mod cli;
pub mod config;
pub mod logging;
pub mod quarantine;
pub mod scan;
mod server;
pub mod socket;

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;
pub use server::BoundAddr;

/// A daemon started with [`start`].
pub struct Running {
    /// Where the milter listens.
    pub milter: BoundAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops accepting, lets messages in flight finish (within the grace period), and
    /// waits until the server is done.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("server task failed")?
    }

    /// Waits for the server to end on its own (it only does on a fatal error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task failed")?
    }

    /// A handle that stops the server when sent `true`.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Binds the milter listener and serves in the background of the current tokio runtime.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    // Rules compile before the socket opens: a broken pack never leaves Postfix
    // talking to a half-started daemon.
    let shared = Arc::new(server::Shared::new(config)?);
    let config = &shared.config;
    let spec = config.listen();
    let mode = config.socket_mode().unwrap_or(0o660);
    let listener = server::Listener::bind(&spec, mode).await?;
    let milter = listener.bound()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(server::serve(listener, shared, stopped));
    Ok(Running { milter, stop, task })
}

/// `palisade serve`: runs until SIGTERM or SIGINT, then drains and returns.
pub async fn run(config: Config) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let running = start(config).await?;
    tracing::info!(listen = %running.milter.postfix(), version = env!("CARGO_PKG_VERSION"), "palisade ready");
    let stop = running.stopper();
    let mut task = running.task;
    tokio::select! {
        r = &mut task => return r.context("server task failed")?,
        _ = term.recv() => tracing::info!("SIGTERM: draining"),
        _ = int.recv() => tracing::info!("SIGINT: draining"),
    }
    let _ = stop.send(true);
    task.await.context("server task failed")??;
    tracing::info!("stopped");
    Ok(())
}
