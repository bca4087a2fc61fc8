//! The operations listener (`[http] listen`): /metrics, /healthz and /readyz, served by
//! the review crate's HTTP loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::live::Shared;
use crate::metrics::Metrics;

/// What the health endpoints report on.
pub(crate) struct Health {
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

/// Serves /metrics, /healthz and /readyz.
pub(crate) async fn serve(
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
    palisade_review::web::serve_on(listener, router, None, stop).await
}
