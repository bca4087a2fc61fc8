//! HTTP, on axum: the operations listener (`[http] listen`: /metrics, /healthz, /readyz)
//! and, when `[web] listen` is set, the quarantine review UI and its JSON API
//! (`/api/v1`), over TLS when a certificate is configured.
//!
//! - [`session`]: sign-in, session cookies, CSRF tokens, the sign-in rate limit.
//! - [`pages`]: the HTML pages (askama templates in `crates/daemon/templates/`).
//! - [`api`]: the JSON API for scripts.

pub mod api;
pub mod pages;
pub mod session;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::review::export::Reporter;
use crate::review::store::Store;
use crate::review::Review;
use crate::server::Shared;

/// What the health endpoints report on.
pub struct Health {
    /// The milter listener is bound and the configuration loaded.
    pub ready: AtomicBool,
}

/// State of the operations listener.
#[derive(Clone)]
struct Ops {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shared: Arc<Shared>,
}

async fn metrics(State(ops): State<Ops>) -> Response {
    if let Some((cached, sent)) = ops
        .shared
        .live
        .load()
        .scanner
        .authenticator()
        .map(|a| a.dns_counts())
    {
        ops.metrics.dns_totals(cached, sent);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ops.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(ops): State<Ops>) -> Response {
    if ops.health.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

/// The operations router: what Prometheus and a load balancer need.
fn ops_router(ops: Ops) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(ops)
}

/// A client gets 10 s to send its request headers.
fn limit_header_time(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
}

/// Serves a router on a bound listener until `stop` turns true, with a bounded time
/// to read request headers (a slow client cannot hold a connection open for free).
async fn serve_on(
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let handle = axum_server::Handle::new();
    let closer = handle.clone();
    tokio::spawn(async move {
        let _ = stop.changed().await;
        closer.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let result = match tls {
        Some(tls) => {
            let mut server = axum_server::from_tcp_rustls(listener, tls).handle(handle);
            limit_header_time(server.http_builder());
            server.serve(service).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener).handle(handle);
            limit_header_time(server.http_builder());
            server.serve(service).await
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "http server stopped");
    }
}

/// Binds a TCP listener for axum (non-blocking, as tokio wants it).
pub fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} for {what}"))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Serves /metrics, /healthz and /readyz.
pub(crate) async fn serve_ops(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
) {
    let router = ops_router(Ops {
        metrics: shared.metrics.clone(),
        health,
        shared,
    });
    serve_on(listener, router, None, stop).await
}

/// The review UI's shared state.
pub(crate) struct WebState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) store: Arc<Store>,
    pub(crate) limiter: session::Limiter,
    /// Password checks (argon2) at once.
    pub(crate) passwords: tokio::sync::Semaphore,
    /// Cookies get `Secure` (served over TLS).
    pub(crate) secure: bool,
    pub(crate) reporter: Reporter,
}

impl WebState {
    /// The review service under the configuration in force.
    pub(crate) fn review(&self) -> Review {
        let live = self.shared.live.load();
        let (markers, prefix) = crate::review::release_marks(&live.config);
        Review {
            store: self.store.clone(),
            queue: crate::review::queue(&live.config, None),
            dual_control: live.config.web.dual_control,
            markers,
            prefix,
        }
    }

    /// Counts a review action (a `REVIEW_ACTIONS` label).
    pub(crate) fn count(&self, label: &str) {
        self.shared
            .metrics
            .review_actions
            .with_label_values(&[label])
            .inc();
    }

    /// The configuration and rules in force (explanations quote the rules'
    /// descriptions); a snapshot, not a copy.
    pub(crate) fn live(&self) -> Arc<crate::server::Live> {
        self.shared.live.load_full()
    }

    /// Does a state-changing review action for `viewer` off the async threads, and
    /// counts it. The pages and the API both come through here.
    pub(crate) async fn perform(
        self: &Arc<Self>,
        viewer: &session::Viewer,
        id: String,
        act: Act,
    ) -> Result<Done, crate::review::ReviewError> {
        use crate::review::Released;
        let (st, actor) = (self.clone(), viewer.actor());
        let done = pages::blocking(move || {
            let review = st.review();
            Ok(match act {
                Act::Release { reason, recipients } => {
                    let live = st.live();
                    match review.release(&actor, &id, &reason, &recipients, live.scanner.rules())? {
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

/// Headers every review response carries: nothing from a message can run, frame, leak
/// a referrer to another site or be cached.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// Refuses state-changing requests another site's page makes the browser send (on top
/// of the CSRF tokens): `Sec-Fetch-Site` other than same-origin, or an `Origin` that is
/// not this host.
async fn same_origin(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.method() == axum::http::Method::POST {
        let h = req.headers();
        let text = |name: header::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
        // Browsers say where a request comes from; only this origin (or the user
        // typing the address: `none`) may change anything.
        match h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            Some("same-origin") | Some("none") => {}
            Some(_) => {
                return (StatusCode::FORBIDDEN, "cross-site request refused\n").into_response()
            }
            // Older browsers and scripts: the Origin, when there is a usable one.
            None => {
                if let (Some(origin), Some(host)) = (text(header::ORIGIN), text(header::HOST)) {
                    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
                    // Behind a proxy that rewrites Host, the host the browser used.
                    let forwarded = h.get("x-forwarded-host").and_then(|v| v.to_str().ok());
                    if origin != "null" && origin_host != host && Some(origin_host) != forwarded {
                        return (StatusCode::FORBIDDEN, "cross-origin request refused\n")
                            .into_response();
                    }
                }
            }
        }
    }
    next.run(req).await
}

/// The review router: pages, API, static CSS.
pub(crate) fn review_router(state: Arc<WebState>) -> Router {
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(same_origin))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// Loads the certificate and key for the review UI.
pub fn tls_config(cert: &str, key: &str) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate {cert}"))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{cert} is not a PEM certificate chain"))?;
    if certs.is_empty() {
        anyhow::bail!("{cert} holds no certificate");
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {key}"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS setup")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the certificate and key do not go together")?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}

/// Serves the review UI and API.
pub(crate) async fn serve_review(
    listener: std::net::TcpListener,
    state: Arc<WebState>,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    stop: watch::Receiver<bool>,
) {
    serve_on(listener, review_router(state), tls, stop).await
}
