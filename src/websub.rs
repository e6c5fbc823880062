//! WebSub subscriptions (`[server] websub`), the daemon's side: the hubs that sources advertise
//! (recorded by refresh) are asked for pushes to callbacks under `[publish] public_url`, leases are
//! renewed before they run out, and an unanswered or refused request is asked again later. The
//! server answers the hubs' verifications and takes their pushes (`serve`).

use crate::fetch::websub::{SubscribeRequest, secret, subscribe};
use crate::model::now;
use crate::refresh::Context;
use crate::store::{StoreError, Subscription, SubscriptionState, SubscriptionStore};

/// A request the hub has not verified in this long is asked again.
const UNVERIFIED_RETRY: i64 = 600;
/// A refused subscription (or one whose request failed) is asked again after this long.
const REFUSED_RETRY: i64 = 86_400;

/// When a subscription should be asked for (again): at once when new; a fifth of its lease before
/// the lease ends; some time after a request that was not verified or was refused. Pure.
pub fn due_at(s: &Subscription) -> i64 {
    let asked = s.requested_at.unwrap_or(0);
    match s.state {
        SubscriptionState::Wanted => 0,
        SubscriptionState::Requested => asked + UNVERIFIED_RETRY,
        // Renewed a fifth of its life before the lease ends; a renewal asked for (answered or
        // not) is asked again only after a while.
        SubscriptionState::Active => match (s.lease_until, s.lease_seconds) {
            (Some(until), Some(secs)) if asked < until - secs / 5 => until - secs / 5,
            _ => asked + UNVERIFIED_RETRY,
        },
        SubscriptionState::Denied => asked + REFUSED_RETRY,
    }
}

/// The callback URL of a subscription.
pub fn callback(ctx: &Context, token: &str) -> String {
    ctx.config.publish.base_url().join(&format!("websub/{token}")).map(|u| u.to_string()).unwrap_or_default()
}

/// Asks the hubs for every subscription that is due; returns when the next one is due (Unix
/// seconds), if any. `key`: the operator's key the secrets derive from.
pub async fn renew(ctx: &Context, key: &str) -> Result<Option<i64>, StoreError> {
    let store: &dyn SubscriptionStore = ctx.store.as_ref();
    let mut next: Option<i64> = None;
    for mut s in store.subscriptions()? {
        let Some(feed) = ctx.config.feed(&s.feed).filter(|f| f.enabled) else { continue };
        if due_at(&s) > now() {
            next = Some(next.map_or(due_at(&s), |n| n.min(due_at(&s))));
            continue;
        }
        // The hub is the source's choice: on a private network only where the feed itself may
        // be, and unencrypted only there (a secret sent in the clear would let anyone sign pushes).
        let private = crate::refresh::private_network(feed);
        let trusted_plain = url::Url::parse(&s.hub).is_ok_and(|u| u.scheme() == "http" && private.allows(&u));
        let result = if s.hub.starts_with("https://") || trusted_plain {
            let request = SubscribeRequest {
                hub: &s.hub,
                topic: &s.topic,
                callback: &callback(ctx, &s.token),
                secret: &secret(key, &s.token),
                lease_seconds: *ctx.config.server.websub_lease_seconds.get_ref(),
                private: &private,
                user_agent: feed.user_agent(&ctx.config),
            };
            subscribe(&ctx.fetcher, &request).await
        } else {
            Err("the hub is not an https URL: pushes from it could not be trusted".to_string())
        };
        s.requested_at = Some(now());
        match result {
            Ok(()) => {
                tracing::info!(feed = %s.feed, hub = %s.hub, "asked the WebSub hub for pushes");
                // An active lease stays active until the hub verifies the renewal.
                if s.state != SubscriptionState::Active {
                    s.state = SubscriptionState::Requested;
                }
                s.reason = None;
            }
            Err(reason) => {
                tracing::warn!(feed = %s.feed, hub = %s.hub, %reason, "the WebSub hub did not take the subscription; polling goes on");
                if s.state != SubscriptionState::Active {
                    s.state = SubscriptionState::Denied;
                }
                s.reason = Some(reason);
            }
        }
        store.put_subscription(&s)?;
        next = Some(next.map_or(due_at(&s), |n| n.min(due_at(&s))));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_asked_for_new_before_their_lease_ends_and_again_after_silence() {
        let s = |state, requested_at: Option<i64>, lease: Option<(i64, i64)>| Subscription {
            feed: "f".into(),
            hub: "https://hub/".into(),
            topic: "https://e.org/feed".into(),
            token: "t".into(),
            state,
            lease_seconds: lease.map(|l| l.0),
            lease_until: lease.map(|l| l.1),
            requested_at,
            reason: None,
        };
        assert_eq!(due_at(&s(SubscriptionState::Wanted, None, None)), 0);
        assert_eq!(due_at(&s(SubscriptionState::Requested, Some(1000), None)), 1600);
        // A ten-day lease is renewed two days before it ends.
        assert_eq!(due_at(&s(SubscriptionState::Active, Some(0), Some((864_000, 2_000_000)))), 2_000_000 - 172_800);
        // Renewal asked for: not again at once, whatever the hub did.
        assert_eq!(due_at(&s(SubscriptionState::Active, Some(1_900_000), Some((864_000, 2_000_000)))), 1_900_600);
        assert_eq!(due_at(&s(SubscriptionState::Denied, Some(1000), None)), 1000 + 86_400);
    }
}
