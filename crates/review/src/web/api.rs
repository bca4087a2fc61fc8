//! The JSON API for scripts, under `/api/v1`, with the UI's roles: sign in with
//! `POST /login` ({"user","password"}) to get the session cookie and a `csrf_token`,
//! which every state-changing call sends back as `X-CSRF-Token`. Unauthenticated calls
//! get 401, a role that may not act 403, a bad or missing CSRF token 403.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{blocking, export_response, status_of, top_reason};
use super::session::{self, SignIn, Viewer};
use super::state::{Act, WebState};
use crate::ReviewError;

type St = State<Arc<WebState>>;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn review_error(e: &ReviewError) -> Response {
    if let ReviewError::Internal(err) = e {
        tracing::error!(error = %format!("{err:#}"), "api action failed");
    }
    error(status_of(e), &e.to_string())
}

/// The signed-in caller, as an extractor: 401 for anyone else.
struct Caller(Viewer);

/// The caller of a state-changing call, with its `X-CSRF-Token` checked: 403 when wrong.
struct Changer(Viewer);

impl FromRequestParts<Arc<WebState>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<Caller, Response> {
        session::viewer(state, &parts.headers)
            .await
            .map(Caller)
            .ok_or_else(|| {
                error(
                    StatusCode::UNAUTHORIZED,
                    "sign in first: POST /api/v1/login",
                )
            })
    }
}

impl FromRequestParts<Arc<WebState>> for Changer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<Changer, Response> {
        let Caller(v) = Caller::from_request_parts(parts, state).await?;
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|h| h.to_str().ok());
        if !v.csrf_ok(sent) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "missing or wrong X-CSRF-Token (use the csrf_token from POST /api/v1/login)",
            ));
        }
        Ok(Changer(v))
    }
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

async fn login(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(login) = serde_json::from_slice::<Login>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "send {\"user\": …, \"password\": …}",
        );
    };
    match session::sign_in(&state, &login.user, &login.password, Some(peer.ip())).await {
        Ok(SignIn::Ok { token, csrf, role }) => {
            let ttl = state.live().config().web.session_ttl;
            let cookie = session::set_cookie(session::COOKIE, &token, Some(ttl), state.secure);
            (
                [(header::SET_COOKIE, cookie)],
                Json(json!({ "user": login.user.trim(), "role": role, "csrf_token": csrf, "expires_in": ttl.as_secs() })),
            )
                .into_response()
        }
        Ok(SignIn::Denied) => error(StatusCode::UNAUTHORIZED, "wrong user name or password"),
        Ok(SignIn::Limited) => error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins; try later",
        ),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "api sign-in failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "sign-in is not working right now",
            )
        }
    }
}

async fn logout(State(state): St, Changer(v): Changer) -> Response {
    match session::sign_out(&state, &v).await {
        Ok(()) => (
            [(
                header::SET_COOKIE,
                session::clear_cookie(session::COOKIE, state.secure),
            )],
            Json(json!({ "result": "signed out" })),
        )
            .into_response(),
        Err(e) => review_error(&ReviewError::Internal(e)),
    }
}

async fn list(
    State(state): St,
    _: Caller,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let st = state.clone();
    let r = blocking(move || {
        let review = st.review();
        let live = st.live();
        let mut out = Vec::new();
        for h in review.list()? {
            let reason = top_reason(&h, live.rules());
            out.push((h, reason));
        }
        Ok(out)
    })
    .await;
    match r {
        Ok(held) => {
            let selected = match super::pages::select(held, &q) {
                Ok(s) => s,
                Err(m) => return error(StatusCode::BAD_REQUEST, &m),
            };
            let items: Vec<Value> = selected
                .into_iter()
                .map(|(h, reason)| {
                    let mut v = h.summary();
                    v["top_reason"] = json!(reason);
                    v
                })
                .collect();
            Json(json!({ "messages": items })).into_response()
        }
        Err(e) => review_error(&e),
    }
}

async fn show(State(state): St, Caller(v): Caller, Path(id): Path<String>) -> Response {
    let (st, actor) = (state.clone(), v.actor());
    match blocking(move || st.review().view(&actor, &id, st.live().rules())).await {
        Ok(view) => {
            state.count("view");
            Json(view).into_response()
        }
        Err(e) => review_error(&e),
    }
}

#[derive(Deserialize, Default)]
struct ActionBody {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    recipients: Vec<String>,
    #[serde(default)]
    on: Option<bool>,
}

async fn act(
    State(state): St,
    Changer(v): Changer,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let req: ActionBody = if body.is_empty() {
        ActionBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad JSON body: {e}")),
        }
    };
    let Some(act) = Act::parse(&action, req.reason, req.recipients, req.on.unwrap_or(true)) else {
        return error(StatusCode::NOT_FOUND, &format!("no action `{action}`"));
    };
    match state.perform(v.actor(), id.clone(), act).await {
        Ok(done) => {
            let mut body = json!(done);
            body["queue_id"] = json!(id);
            Json(body).into_response()
        }
        Err(e) => review_error(&e),
    }
}

async fn export(State(state): St, Caller(v): Caller, Path(id): Path<String>) -> Response {
    export_response(&state, &v, id)
        .await
        .unwrap_or_else(|e| review_error(&e))
}

async fn audit(
    State(state): St,
    _: Caller,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1000usize)
        .min(10_000);
    let queue_id = q.get("queue_id").cloned();
    let st = state.clone();
    let r = blocking(move || {
        let entries = st
            .store
            .audit_entries(queue_id.as_deref().map(|id| (id, 0)), limit)?;
        let verified = st.store.verify_audit();
        Ok((entries, verified))
    })
    .await;
    match r {
        Ok((entries, verified)) => {
            let chain = match verified {
                Ok(v) => {
                    json!({ "intact": true, "entries": v.entries, "head": v.head, "head_file": v.head_file })
                }
                Err(e) => json!({ "intact": false, "error": format!("{e:#}") }),
            };
            Json(json!({ "chain": chain, "entries": entries })).into_response()
        }
        Err(e) => review_error(&e),
    }
}

/// API calls with a body must declare it JSON: a cross-site form can only send form
/// encodings and text/plain, so this shuts out forged sign-ins and actions.
async fn json_only(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let h = req.headers();
    let declared_json = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
    let no_body = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| l == "0");
    if req.method() == axum::http::Method::POST && !declared_json && !no_body {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/json",
        );
    }
    next.run(req).await
}

/// The API routes (nested under `/api/v1`).
pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/quarantine", get(list))
        .route("/quarantine/{id}", get(show))
        .route("/quarantine/{id}/export", get(export))
        .route("/quarantine/{id}/{action}", post(act))
        .route("/audit", get(audit))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such API endpoint") })
        .layer(axum::middleware::from_fn(json_only))
}
