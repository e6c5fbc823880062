//! WebSub (W3C Recommendation). The publisher's side: telling a hub that a feed it may have
//! subscribers for has changed (`hub.mode=publish`, one topic per request), so that the hub
//! fetches it and pushes it to them; that hub is the operator's choice, and may be private. The
//! subscriber's side: asking a source's hub for pushes (`hub.mode=subscribe`, under the SSRF
//! guard: the hub is the source's choice), each subscription's secret, and checking a push's
//! signature.

use std::time::Duration;

use hmac::{KeyInit, Mac};

use super::{Fetcher, PrivateNetwork};

/// The secret of the subscription whose callback ends in `token`: HMAC-SHA256 of the token under
/// `key` (the operator's, from the environment), in hex. Nothing secret is stored.
pub fn secret(key: &str, token: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(b"polyfeed websub ");
    mac.update(token.as_bytes());
    crate::model::hex(&mac.finalize().into_bytes())
}

/// Whether `signature` (the `X-Hub-Signature` header: `sha1=`, `sha256=`, `sha384=` or `sha512=`
/// and the hex digest) signs `body` with `secret`. Compared in constant time.
pub fn signed(signature: Option<&str>, secret: &str, body: &[u8]) -> bool {
    let Some((method, hex)) = signature.and_then(|s| s.trim().split_once('=')) else { return false };
    let Some(expected) = decode_hex(hex) else { return false };
    fn check<M: Mac + KeyInit>(secret: &str, body: &[u8], expected: &[u8]) -> bool {
        let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret.as_bytes()) else { return false };
        mac.update(body);
        mac.verify_slice(expected).is_ok()
    }
    match method.to_ascii_lowercase().as_str() {
        "sha1" => check::<hmac::Hmac<sha1::Sha1>>(secret, body, &expected),
        "sha256" => check::<hmac::Hmac<sha2::Sha256>>(secret, body, &expected),
        "sha384" => check::<hmac::Hmac<sha2::Sha384>>(secret, body, &expected),
        "sha512" => check::<hmac::Hmac<sha2::Sha512>>(secret, body, &expected),
        _ => false,
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// What asking a hub for a subscription takes.
pub struct SubscribeRequest<'a> {
    pub hub: &'a str,
    pub topic: &'a str,
    pub callback: &'a str,
    pub secret: &'a str,
    pub lease_seconds: i64,
    /// Where the hub may be on a private network (the source feed's own host, when it may be).
    pub private: &'a PrivateNetwork,
    pub user_agent: &'a str,
}

/// Asks the hub to push `topic` to `callback` (`hub.mode=subscribe`). Ok when the hub accepted
/// the request (it verifies it later, at the callback); else why not.
pub async fn subscribe(fetcher: &Fetcher, r: &SubscribeRequest<'_>) -> Result<(), String> {
    let lease = r.lease_seconds.to_string();
    let form =
        [("hub.mode", "subscribe"), ("hub.topic", r.topic), ("hub.callback", r.callback), ("hub.secret", r.secret), ("hub.lease_seconds", lease.as_str())];
    match fetcher.post_form(r.hub, &form, r.private, r.user_agent, Duration::from_secs(30)).await {
        Ok(status) if (200..300).contains(&status) => Ok(()),
        Ok(status) => Err(format!("the hub answered HTTP {status}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Tells `hub` that each of `topics` (public feed URLs) changed. Returns the topics the hub did
/// not take, with why; those readers still get the change at their next poll.
pub async fn ping(hub: &str, topics: &[String], user_agent: &str) -> Vec<(String, String)> {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(30)).user_agent(user_agent).build() {
        Ok(c) => c,
        Err(e) => return topics.iter().map(|t| (t.clone(), e.to_string())).collect(),
    };
    let mut failed = Vec::new();
    for topic in topics {
        let body = url::form_urlencoded::Serializer::new(String::new()).append_pair("hub.mode", "publish").append_pair("hub.url", topic).finish();
        let sent = client.post(hub).header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body).send().await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => failed.push((topic.clone(), format!("the hub answered {}", r.status()))),
            Err(e) => failed.push((topic.clone(), e.without_url().to_string())),
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_is_taken_only_signed_with_its_subscriptions_secret() {
        let key = "the operator's key, sixteen+";
        let s = secret(key, "tok1");
        assert_eq!(s.len(), 64);
        assert_eq!(s, secret(key, "tok1"), "derived, so never stored");
        assert_ne!(s, secret(key, "tok2"));
        assert_ne!(s, secret("another key of sixteen", "tok1"));
        let body = b"<feed>new</feed>";
        let sign = |method: &str| {
            let hex = crate::model::hex;
            let digest = match method {
                "sha1" => hex(&hmac::Hmac::<sha1::Sha1>::new_from_slice(s.as_bytes()).unwrap().chain_update(body).finalize().into_bytes()),
                "sha256" => hex(&hmac::Hmac::<sha2::Sha256>::new_from_slice(s.as_bytes()).unwrap().chain_update(body).finalize().into_bytes()),
                _ => hex(&hmac::Hmac::<sha2::Sha512>::new_from_slice(s.as_bytes()).unwrap().chain_update(body).finalize().into_bytes()),
            };
            format!("{method}={digest}")
        };
        for method in ["sha1", "sha256", "sha512"] {
            assert!(signed(Some(&sign(method)), &s, body), "{method}");
            assert!(!signed(Some(&sign(method)), &s, b"<feed>tampered</feed>"), "{method}");
            assert!(!signed(Some(&sign(method)), &secret(key, "tok2"), body), "{method}");
        }
        for bad in [None, Some(""), Some("sha256"), Some("md5=abcd"), Some("sha256=zz"), Some("sha256=abc")] {
            assert!(!signed(bad, &s, body), "{bad:?}");
        }
    }
}
