//! Signing in and out.

use std::collections::HashMap;
use std::net::SocketAddr;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::store::{self};
use crate::web::session::{self, SignIn};

use super::common::*;

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    error: String,
    /// The name typed, kept after a failed attempt.
    user: String,
    /// Where to go after signing in (a path on this site).
    next: String,
}

pub(crate) async fn login_form(
    State(state): St,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = store::random_hex(32).unwrap_or_default();
    let mut res = html(
        StatusCode::OK,
        LoginPage {
            nav: None,
            csrf: token.clone(),
            error: String::new(),
            user: String::new(),
            next: safe_next(q.get("next").map(String::as_str)),
        },
    );
    if let Ok(v) = session::set_cookie(session::LOGIN_COOKIE, &token, None, state.secure).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

pub(crate) async fn login(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let expected = session::cookie(&headers, session::LOGIN_COOKIE).unwrap_or_default();
    let next = safe_next(field(&f, "next"));
    let typed = palisade_report::escape::one_line(field(&f, "user").unwrap_or(""), 64);
    let again = |status: StatusCode, error: &str| {
        let token = store::random_hex(32).unwrap_or_default();
        let mut res = html(
            status,
            LoginPage {
                nav: None,
                csrf: token.clone(),
                error: error.into(),
                user: typed.clone(),
                next: next.clone(),
            },
        );
        if let Ok(v) =
            session::set_cookie(session::LOGIN_COOKIE, &token, None, state.secure).parse()
        {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
        res
    };
    if expected.is_empty() || !store::same_secret(field(&f, "csrf").unwrap_or(""), &expected) {
        return again(
            StatusCode::FORBIDDEN,
            "The sign-in form expired. Please try again.",
        );
    }
    let user = field(&f, "user").unwrap_or("");
    let password = field(&f, "password").unwrap_or("");
    match session::sign_in(&state, user, password, Some(peer.ip())).await {
        Ok(SignIn::Ok { token, .. }) => {
            let ttl = state.live().config().web.session_ttl;
            let mut res = Redirect::to(&next).into_response();
            let h = res.headers_mut();
            for c in [
                session::set_cookie(session::COOKIE, &token, Some(ttl), state.secure),
                session::clear_cookie(session::LOGIN_COOKIE, state.secure),
            ] {
                if let Ok(v) = c.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            res
        }
        Ok(SignIn::Denied) => again(StatusCode::UNAUTHORIZED, "Wrong user name or password."),
        Ok(SignIn::Limited) => again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins. Wait a while and try again.",
        ),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "sign-in failed");
            again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in is not working right now.",
            )
        }
    }
}

pub(crate) async fn logout(State(state): St, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let v = match posted(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(e) = session::sign_out(&state, &v).await {
        tracing::error!(error = %format!("{e:#}"), "sign-out failed");
    }
    let mut res = Redirect::to("/login").into_response();
    if let Ok(c) = session::clear_cookie(session::COOKIE, state.secure).parse() {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res
}
