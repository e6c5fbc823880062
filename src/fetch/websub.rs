//! WebSub (W3C Recommendation), the publisher's side: telling a hub that a feed it may have
//! subscribers for has changed (`hub.mode=publish`, one topic per request), so that the hub
//! fetches it and pushes it to them. The hub is the operator's choice: it may be private.

use std::time::Duration;

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
