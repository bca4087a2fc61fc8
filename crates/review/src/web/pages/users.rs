//! Accounts, for admins.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::store::Role;
use crate::web::session::Viewer;
use crate::web::state::WebState;
use crate::ReviewError;
use palisade_report::escape::line;

use super::common::*;

pub(crate) struct UserRow {
    name: String,
    role: String,
    created: String,
}

#[derive(Template)]
#[template(path = "users.html")]
pub(crate) struct UsersPage {
    nav: Option<Nav>,
    notice: String,
    csrf: String,
    users: Vec<UserRow>,
}

pub(crate) async fn users_page(state: &Arc<WebState>, v: &Viewer, notice: &str) -> Response {
    let st = state.clone();
    match blocking(move || Ok(st.store.users()?)).await {
        Ok(users) => html(
            StatusCode::OK,
            UsersPage {
                nav: Nav::of(v),
                notice: notice.into(),
                csrf: v.csrf.clone(),
                users: users
                    .into_iter()
                    .map(|u| UserRow {
                        name: u.name,
                        role: u.role.to_string(),
                        created: show_time(u.created),
                    })
                    .collect(),
            },
        ),
        Err(e) => review_error(v, &e, "/quarantine"),
    }
}

/// The signed-in admin of a form post with the right CSRF token.
pub(crate) async fn posted_admin(
    state: &Arc<WebState>,
    headers: &HeaderMap,
    f: &[(String, String)],
) -> Result<Viewer, Response> {
    let v = posted(state, headers, f).await?;
    match admin_only(&v) {
        Some(refused) => Err(refused),
        None => Ok(v),
    }
}

pub(crate) fn admin_only(v: &Viewer) -> Option<Response> {
    (v.role != Role::Admin).then(|| {
        error_page(
            Some(v),
            StatusCode::FORBIDDEN,
            "only admins manage users",
            "/quarantine",
        )
    })
}

pub(crate) async fn users(State(state): St, SignedIn(v): SignedIn) -> Response {
    if let Some(r) = admin_only(&v) {
        return r;
    }
    users_page(&state, &v, "").await
}

pub(crate) async fn add_user(State(state): St, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let v = match posted_admin(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = field(&f, "name").unwrap_or("").trim().to_string();
    let password = field(&f, "password").unwrap_or("").to_string();
    let Some(role) = Role::parse(field(&f, "role").unwrap_or("")) else {
        return error_page(
            Some(&v),
            StatusCode::BAD_REQUEST,
            "choose admin, reviewer or auditor",
            "/users",
        );
    };
    let (st, admin, n) = (state.clone(), v.user.clone(), name.clone());
    let r = blocking(move || {
        st.store
            .add_user(&n, role, &password)
            .map_err(|e| ReviewError::BadRequest(format!("{e:#}")))?;
        st.store
            .audit(&admin, "user-add", "", "", &format!("{n} as {role}"))?;
        Ok(())
    })
    .await;
    match r {
        Ok(()) => users_page(&state, &v, &format!("Saved {} as {role}.", line(&name))).await,
        Err(e) => review_error(&v, &e, "/users"),
    }
}

pub(crate) async fn remove_user(
    State(state): St,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let v = match posted_admin(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if name == v.user {
        return error_page(
            Some(&v),
            StatusCode::CONFLICT,
            "you cannot remove yourself",
            "/users",
        );
    }
    let (st, admin, n) = (state.clone(), v.user.clone(), name.clone());
    let r = blocking(move || {
        let removed = st.store.remove_user(&n)?;
        if removed {
            st.store.audit(&admin, "user-remove", "", "", &n)?;
        }
        Ok(removed)
    })
    .await;
    match r {
        Ok(true) => users_page(&state, &v, &format!("Removed {}.", line(&name))).await,
        Ok(false) => error_page(Some(&v), StatusCode::NOT_FOUND, "no such user", "/users"),
        Err(e) => review_error(&v, &e, "/users"),
    }
}
