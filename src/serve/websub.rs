//! The WebSub callback (`/websub/<token>`, `[server] websub`): a hub's verification of intent
//! (GET: the challenge echoed for a subscription polyfeed asked for, its lease recorded) and its
//! pushes (POST: taken only when signed with the subscription's secret, then handed to the
//! daemon, which takes them as fetches).

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::App;
use crate::model::now;
use crate::store::{SubscriptionState, SubscriptionStore};

/// A body a hub pushed for a feed, checked and ready to be taken as a fetch.
#[derive(Debug)]
pub struct Push {
    pub feed: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

/// GET: the hub asks whether the subscription (or its end) is wanted.
pub async fn verify(State(app): State<App>, UrlPath(token): UrlPath<String>, Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    let store: &dyn SubscriptionStore = app.0.store.as_ref();
    let Ok(Some(mut s)) = store.subscription_by_token(&token) else { return super::not_found() };
    let param = |k: &str| q.get(k).map(String::as_str);
    match param("hub.mode") {
        Some("subscribe") if param("hub.topic") == Some(s.topic.as_str()) && matches!(s.state, SubscriptionState::Requested | SubscriptionState::Active) => {
            let Some(challenge) = param("hub.challenge").filter(|c| !c.is_empty()) else {
                return (StatusCode::BAD_REQUEST, "no hub.challenge\n").into_response();
            };
            let lease = param("hub.lease_seconds")
                .and_then(|l| l.parse::<i64>().ok())
                .filter(|l| *l > 0)
                .unwrap_or(*app.0.config.server.websub_lease_seconds.get_ref());
            s.state = SubscriptionState::Active;
            s.lease_seconds = Some(lease);
            s.lease_until = Some(now() + lease);
            s.reason = None;
            if store.put_subscription(&s).is_err() {
                return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response();
            }
            tracing::info!(feed = %s.feed, hub = %s.hub, lease, "WebSub subscription verified");
            ([(header::CONTENT_TYPE, "text/plain")], challenge.to_string()).into_response()
        }
        Some("denied") => {
            s.state = SubscriptionState::Denied;
            s.reason = Some(format!("the hub refused: {}", param("hub.reason").unwrap_or("no reason given")));
            tracing::warn!(feed = %s.feed, hub = %s.hub, reason = ?s.reason, "WebSub subscription refused; polling goes on");
            let _ = store.put_subscription(&s);
            StatusCode::OK.into_response()
        }
        // An unsubscription polyfeed did not ask for, or a topic it does not follow here.
        _ => super::not_found(),
    }
}

/// POST: the hub pushes new content of the topic.
pub async fn push(State(app): State<App>, UrlPath(token): UrlPath<String>, headers: HeaderMap, body: Body) -> Response {
    let store: &dyn SubscriptionStore = app.0.store.as_ref();
    // An unknown callback tells the hub to stop.
    let Ok(Some(s)) = store.subscription_by_token(&token) else { return (StatusCode::GONE, "no such subscription\n").into_response() };
    let Some(sender) = app.0.live.as_ref().and_then(|l| l.pushes.get()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "not taking pushes\n").into_response();
    };
    let max = *app.0.config.max_body_bytes.get_ref() as usize;
    let Ok(bytes) = axum::body::to_bytes(body, max).await else { return (StatusCode::PAYLOAD_TOO_LARGE, "too large\n").into_response() };
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    let signed = app.0.config.server.websub_key().is_ok_and(|key| crate::fetch::websub::signed(signature, &crate::fetch::websub::secret(&key, &token), &bytes));
    if !signed {
        // Ignored, and acknowledged: a forger learns nothing (WebSub, 8).
        tracing::warn!(feed = %s.feed, "a push without a valid signature was ignored");
        app.0.metrics.pushed("unsigned");
        return StatusCode::ACCEPTED.into_response();
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    match sender.try_send(Push { feed: s.feed.clone(), body: bytes.to_vec(), content_type }) {
        Ok(()) => {
            app.0.metrics.pushed("taken");
            StatusCode::ACCEPTED.into_response()
        }
        // Busy: the hub sends it again later.
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy\n").into_response(),
    }
}
