//! HTTP, on axum: when `[web] listen` is set, the quarantine review UI and its JSON API
//! (`/api/v1`), over TLS when a certificate is configured; and the serving loop the
//! milter server's operations listener (/metrics, /healthz, /readyz) shares.
//!
//! - [`session`]: sign-in, session cookies, CSRF tokens, the sign-in rate limit.
//! - [`pages`]: the HTML pages (askama templates in `crates/review/templates/`).
//! - [`api`]: the JSON API for scripts.

pub mod api;
mod limit;
pub mod pages;
pub mod session;
mod state;

pub use state::{InForce, Live, Metrics, WebState, ACTIONS};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::watch;

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
pub async fn serve_on(
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
pub async fn serve_review(
    listener: std::net::TcpListener,
    state: Arc<WebState>,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    stop: watch::Receiver<bool>,
) {
    serve_on(listener, review_router(state), tls, stop).await
}
