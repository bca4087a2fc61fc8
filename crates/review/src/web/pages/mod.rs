//! The HTML pages of the review UI. Every value from a message goes through
//! [`palisade_report::escape`] (control characters made visible) and then askama's HTML escaping;
//! the sender's HTML is never rendered (bodies are shown as extracted text) and the
//! Content-Security-Policy forbids scripts and remote content outright.

mod audit;
mod common;
mod list;
mod message;
mod signin;
mod users;

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::web::state::WebState;

pub use common::{blocking, select, show_time, status_of, top_reason, Nav};
pub use message::export_response;

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../../static/palisade.css"),
    )
        .into_response()
}

/// The pages' only script (the Content-Security-Policy allows no other): a page the
/// browser brings back from its back/forward cache is loaded again, so a message
/// released or deleted meanwhile never shows live buttons.
async fn page_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../../static/page.js"),
    )
        .into_response()
}

/// The page routes.
pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/quarantine") }))
        .route("/login", get(signin::login_form).post(signin::login))
        .route("/logout", post(signin::logout))
        .route("/quarantine", get(list::list))
        .route("/quarantine/{id}", get(message::message))
        .route("/quarantine/{id}/export", get(message::export))
        .route("/quarantine/{id}/{action}", post(message::act))
        .route("/audit", get(audit::audit))
        .route("/users", get(users::users).post(users::add_user))
        .route("/users/{name}/remove", post(users::remove_user))
        .route("/static/palisade.css", get(css))
        .route("/static/page.js", get(page_js))
}
