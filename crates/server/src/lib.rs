//! The milter server: listeners, connection slots, streams, the message pipeline
//! (authenticate -> scan -> count the campaign -> decide -> reply), actions, metrics,
//! the operations listener, systemd notify and logging. The protocol lives in
//! `palisade-milter`, scoring in `palisade-engine`, authentication in `palisade-auth`;
//! this crate wires them together with campaign counting (`palisade-campaign`) and the
//! review side (`palisade-review`, which it starts and feeds held verdicts).
//!
//! May depend on every library crate of Palisade; never on the binary (`palisade`),
//! which calls [`run`].
//!
//! Tests start the daemon in-process with [`start`], reload it with [`Running::reload`]
//! and stop it with [`Running::shutdown`].
#![forbid(unsafe_code)]

pub mod actions;
mod connection;
mod listener;
mod live;
pub mod logging;
pub mod metrics;
mod ops;
mod pipeline;
pub mod scan;
mod slots;
mod stream;
mod systemd;
mod version;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use listener::BoundAddr;
pub use palisade_config::Config;

pub use version::COMMIT;

use crate::metrics::Metrics;
use palisade_config::{ConfigError, Sources};
use palisade_review as review;
use palisade_review::web;

/// A daemon started with [`start`].
pub struct Running {
    /// Where the milter listens.
    pub milter: BoundAddr,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub http: SocketAddr,
    /// Where the review UI and API are served, when `[web] listen` is set.
    pub web: Option<SocketAddr>,
    shared: Arc<live::Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
    http_tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets messages in flight finish (within the grace period), and
    /// waits until the server is done.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let result = self.task.await.context("server task failed")?;
        for t in self.http_tasks {
            let _ = t.await;
        }
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
            ("web.listen", &old.web.listen, &config.web.listen),
            ("web.database", &old.web.database, &config.web.database),
            ("web.tls_cert", &old.web.tls_cert, &config.web.tls_cert),
            ("web.tls_key", &old.web.tls_key, &config.web.tls_key),
        ] {
            if before != after {
                tracing::warn!(key, kept = %before, ignored = %after, "cannot change while running; restart to apply");
            }
        }
        let same_notify = serde_json::to_value(&old.notify).ok()
            == serde_json::to_value(&config.notify).ok()
            && old.quarantine.helper == config.quarantine.helper
            && old.quarantine.postfix_config == config.quarantine.postfix_config;
        if !same_notify && (old.notify.recipients || !old.notify.digest_to.is_empty()) {
            tracing::warn!(
                key = "notify",
                "notification settings apply at start; restart to apply the new ones"
            );
        }
        // The campaign store, its key and its bounds are fixed at start.
        let fixed = |c: &Config| {
            serde_json::json!([
                c.state.backend,
                c.state.url,
                c.state.timeout.as_millis() as u64,
                c.campaign.key_file,
                c.campaign.host,
                c.campaign.window.as_secs(),
                c.campaign.max_campaigns,
                c.campaign.max_recipients,
                c.campaign.max_copies,
            ])
        };
        if fixed(old) != fixed(&config)
            || (config.campaign.enabled && self.shared.campaigns.is_none())
        {
            tracing::warn!(
                key = "state, campaign",
                "the campaign store, key, host name, window and bounds apply at start; restart to apply the new ones"
            );
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
        config.web.listen = old.web.listen.clone();
        config.web.database = old.web.database.clone();
        config.web.tls_cert = old.web.tls_cert.clone();
        config.web.tls_key = old.web.tls_key.clone();
        config.state.dir = old.state.dir.clone();
        match live::Live::new(config, Some(&current)) {
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
    let live = live::Live::new(config, None)?;
    let spec = live.config.listen();
    let mode = live.config.socket_mode().unwrap_or(0o660);
    let http_addr: SocketAddr = live
        .config
        .http
        .listen
        .parse()
        .context("http.listen is not an address:port")?;
    let http_listener = web::bind(http_addr, "/metrics")?;
    let http = http_listener.local_addr()?;
    // The review UI: its database (users, audit, verdicts) opens before anything listens,
    // so a bad path stops the start instead of half-starting.
    let web_addr: Option<SocketAddr> = if live.config.web.listen.is_empty() {
        None
    } else {
        Some(
            live.config
                .web
                .listen
                .parse()
                .context("web.listen is not an address:port")?,
        )
    };
    let notify_on = !live.config.notify.digest_to.is_empty() || live.config.notify.recipients;
    let store = if web_addr.is_some() || notify_on {
        let path = review::database_path(&live.config);
        Some(Arc::new(review::store::Store::open(&path)?))
    } else {
        None
    };
    let tls = if live.config.web.tls() && web_addr.is_some() {
        Some(web::tls_config(
            &live.config.web.tls_cert,
            &live.config.web.tls_key,
        )?)
    } else {
        None
    };
    let web_listener = web_addr
        .map(|a| web::bind(a, "the review UI"))
        .transpose()?;
    let web = web_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let recorder = match (&store, web_addr) {
        (Some(store), Some(_)) => Some(review::recorder::Recorder::start(store.clone())?),
        _ => None,
    };
    let listener = listener::Listener::bind(&spec, mode, live.config.socket_gid()).await?;
    let milter = listener.bound()?;
    let scans = live::scan_concurrency(live.config.milter.scan_concurrency);
    let reporter = review::export::Reporter {
        host: palisade_config::host_name(),
        from: review::notify::report_address(&live.config),
    };
    let notifier = store.as_ref().filter(|_| notify_on).map(|store| {
        Arc::new(review::notify::Notifier {
            store: store.clone(),
            queue: palisade_queue::for_config(&live.config, None),
            config: live.config.notify.clone(),
            from: review::notify::from_address(&live.config),
        })
    });
    let metrics = Arc::new(Metrics::new());
    let campaigns = if live.config.campaign.enabled {
        let c = Arc::new(
            palisade_campaign::Campaigns::start(&live.config, metrics.campaign.clone())
                .context("cannot start campaign counting")?,
        );
        c.start_writer();
        Some(c)
    } else {
        None
    };
    let shared = Arc::new(live::Shared {
        live: ArcSwap::from_pointee(live),
        metrics,
        scan_slots: tokio::sync::Semaphore::new(scans),
        recorder,
        campaigns: campaigns.clone(),
    });
    let health = Arc::new(ops::Health {
        ready: std::sync::atomic::AtomicBool::new(true),
    });
    let (stop, stopped) = watch::channel(false);
    let mut http_tasks = vec![tokio::spawn(ops::serve(
        http_listener,
        shared.clone(),
        health.clone(),
        stopped.clone(),
    ))];
    if let (Some(listener), Some(store)) = (web_listener, store) {
        let live = shared.clone();
        let state = Arc::new(web::WebState::new(
            Arc::new(move || live.live.load_full() as Arc<dyn web::InForce>),
            shared.metrics.review.clone(),
            store,
            tls.is_some(),
            reporter,
        ));
        http_tasks.push(tokio::spawn(web::serve_review(
            listener,
            state,
            tls,
            stopped.clone(),
        )));
    }
    if let Some(c) = campaigns {
        let live = shared.clone();
        http_tasks.push(tokio::spawn(palisade_campaign::sweep(
            move || live.live.load().config.clone(),
            c,
            stopped.clone(),
        )));
    }
    if let Some(n) = notifier {
        http_tasks.push(tokio::spawn(review::notify::run(n, stopped.clone())));
    }
    let server_health = health.clone();
    let server_shared = shared.clone();
    let task = tokio::spawn(async move {
        let result = listener::serve(listener, server_shared, stopped).await;
        server_health.ready.store(false, Ordering::Relaxed);
        result
    });
    Ok(Running {
        milter,
        http,
        web,
        shared,
        stop,
        task,
        http_tasks,
    })
}

/// `palisade serve`: runs until SIGTERM or SIGINT, then drains and returns; SIGHUP
/// reloads the configuration from `sources`.
pub async fn run(config: Config, sources: Sources) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    tracing::info!(
        dir = %config.state.dir.display(),
        chosen = %config.state.dir_source,
        "state directory"
    );
    let running = start(config).await?;
    tracing::info!(
        listen = %running.milter.postfix(),
        http = %running.http,
        web = ?running.web,
        version = env!("CARGO_PKG_VERSION"),
        commit = COMMIT,
        "palisade ready"
    );
    systemd::ready(&format!("serving on {}", running.milter.postfix()));
    // Pings only while this loop runs: a wedged runtime misses them and systemd
    // restarts the service.
    let watchdog = systemd::watchdog_interval();
    let mut ping = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: draining"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: draining"); break; }
            _ = ping.tick(), if watchdog.is_some() => systemd::watchdog(),
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading configuration");
                systemd::reloading();
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
                systemd::ready("reloaded");
            }
        }
    }
    systemd::stopping();
    running.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}
