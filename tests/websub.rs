//! WebSub, the subscriber's side, end to end: the real daemon, a loopback feed whose source
//! advertises a loopback hub, and a hub double that acts as hubs do (accepts the subscription,
//! verifies intent at the callback, pushes signed content, grants short leases).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::engine::{self, CHAT, fake_translate};
use common::running::{Running, free_port, get, request_with_body, wait_until};
use common::{AtomEntry, Reply, Server, Workdir, atom_feed, sample_entries};
use hmac::{KeyInit, Mac};

const ATOM: &str = "application/atom+xml; charset=utf-8";
const KEY: &str = "a key of the operator's, long enough";

/// What the hub was asked, and what came of its verifications.
#[derive(Default)]
struct Hub {
    /// (topic, callback, secret, lease asked) of every subscribe request.
    requests: Vec<(String, String, String, String)>,
    /// Verifications whose challenge came back.
    verified: usize,
}

/// A hub: takes `hub.mode=subscribe`, answers 202, then verifies intent at the callback (a
/// 4-second lease), as a real hub does after it answered.
fn start_hub(state: Arc<Mutex<Hub>>) -> Server {
    let hub = Server::start();
    hub.route("/hub", move |req, _| {
        let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&req.body).into_owned().collect();
        if form.get("hub.mode").map(String::as_str) != Some("subscribe") {
            return Reply::status(400);
        }
        let (topic, callback) = (form["hub.topic"].clone(), form["hub.callback"].clone());
        state.lock().unwrap().requests.push((topic.clone(), callback.clone(), form["hub.secret"].clone(), form["hub.lease_seconds"].clone()));
        let state = state.clone();
        std::thread::spawn(move || {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("hub.mode", "subscribe")
                .append_pair("hub.topic", &topic)
                .append_pair("hub.challenge", "c-7f3a")
                .append_pair("hub.lease_seconds", "4")
                .finish();
            if get(&format!("{callback}?{query}"), &[]).is_some_and(|g| g.status == 200 && g.text() == "c-7f3a") {
                state.lock().unwrap().verified += 1;
            }
        });
        Reply::status(202)
    });
    hub
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[test]
fn a_source_with_a_hub_is_pushed_verified_signed_and_renewed_and_a_push_counts_as_a_fetch() {
    let state = Arc::new(Mutex::new(Hub::default()));
    let hub = start_hub(state.clone());
    let feeds = Server::start();
    let entries = sample_entries(2);
    let advertise = |xml: String| xml.replacen("<id>", &format!("<link href=\"{}\" rel=\"hub\"/><id>", hub.url("/hub")), 1);
    feeds.feed("/blog", ATOM, &advertise(atom_feed(&entries, false)), "\"v1\"");
    let engine_server = Server::start();
    engine_server.route(CHAT, |req, _| engine::translate(req));
    let port = free_port();
    // Fetched once at start, then not before next year: whatever arrives later was pushed.
    let config = format!(
        "schedule = \"0 0 0 1 1 *\"\n{}\n[server]\nlisten = \"127.0.0.1:{port}\"\ngrace_period = 3\nwebsub = true\n[publish]\npublic_url = \"http://127.0.0.1:{port}/\"\n\n[[feeds]]\nname = \"blog\"\nurl = \"{}\"\nallow_private_network = true\n",
        engine::translator_config(&engine_server.url("/v1"), ""),
        feeds.url("/blog")
    );
    let w = Workdir::new(&config);
    let daemon = Running::start_with_env(&w, "daemon", port, &[("POLYFEED_WEBSUB_SECRET", KEY)]);

    // Subscribed: the callback under public_url, a secret of its own, verified by the hub.
    wait_until(Duration::from_secs(30), || state.lock().unwrap().verified >= 1, "the hub verified the subscription");
    let (topic, callback, secret, lease) = state.lock().unwrap().requests[0].clone();
    assert_eq!(topic, "http://simonwillison.net/atom/everything/", "the topic is the source's self link");
    assert!(callback.starts_with(&format!("http://127.0.0.1:{port}/websub/")), "{callback}");
    assert_eq!((secret.len(), lease.as_str()), (64, "864000"));
    assert!(
        !w.path().join("cache").read_dir().unwrap().any(|f| std::fs::read(f.unwrap().path()).unwrap().windows(64).any(|x| x == secret.as_bytes())),
        "the secret is not stored"
    );
    // A verification for a topic polyfeed did not ask for is refused.
    let wrong = get(&format!("{callback}?hub.mode=subscribe&hub.topic=https%3A%2F%2Fother.example%2F&hub.challenge=x"), &[]).unwrap();
    assert_eq!(wrong.status, 404);

    // The hub pushes the new entry alone (a fat ping with the delta), signed.
    let feed_url = daemon.url("/blog/zh-CN/atom.xml");
    wait_until(Duration::from_secs(30), || get(&feed_url, &[]).is_some_and(|g| g.text().matches("<entry>").count() == 2), "the first entries are published");
    let fresh = AtomEntry {
        day: 29,
        slug: "pushed".into(),
        title: "Pushed news today".into(),
        html: "<p>This arrived through the hub, not a poll.</p>".into(),
        tags: vec![],
    };
    let pushed = atom_feed(&[fresh], false).into_bytes();
    let forged =
        atom_feed(&[AtomEntry { day: 29, slug: "forged".into(), title: "Forged entry".into(), html: "<p>Not from the hub.</p>".into(), tags: vec![] }], false)
            .into_bytes();
    let post = |body: &[u8], signature: &str| {
        request_with_body(reqwest::Method::POST, &callback, &[("content-type", ATOM), ("x-hub-signature", signature)], body.to_vec()).unwrap().status
    };
    assert_eq!(post(&forged, &sign("not the secret", &forged)), 202, "acknowledged, and ignored");
    assert_eq!(post(&pushed, &sign(&secret, &pushed)), 202);
    let link = "https://simonwillison.net/2026/Nov/29/pushed/";
    wait_until(Duration::from_secs(30), || get(&feed_url, &[]).is_some_and(|g| g.text().contains(link)), "the pushed entry is published");
    let published = get(&feed_url, &[]).unwrap().text();
    assert!(published.contains(&fake_translate("This arrived through the hub, not a poll.")), "translated");
    assert_eq!(published.matches("<entry>").count(), 3, "the entries the push did not carry are not gone");
    assert!(!published.contains("/forged/"), "the forged push was ignored");
    assert_eq!(feeds.seen("/blog").len(), 1, "no poll: the push was the fetch");
    let metrics = get(&daemon.url("/metrics"), &[]).unwrap().text();
    assert!(
        metrics.contains("polyfeed_websub_pushes_total{result=\"taken\"} 1") && metrics.contains("polyfeed_websub_pushes_total{result=\"unsigned\"} 1"),
        "{metrics}"
    );

    // The hub granted 4 seconds: the daemon asks again before they run out.
    wait_until(Duration::from_secs(20), || state.lock().unwrap().verified >= 2, "the lease is renewed");
    let requests = state.lock().unwrap().requests.clone();
    assert_eq!(requests[1].1, callback, "renewed with the same callback");
    assert_eq!(post(b"<feed/>", "sha256=00"), 202);
    assert_eq!(request_with_body(reqwest::Method::POST, &format!("http://127.0.0.1:{port}/websub/unknown"), &[], b"x".to_vec()).unwrap().status, 410);

    let (code, _, stderr) = daemon.stop();
    assert_eq!(code, 0, "{stderr}");
    let status = w.run(&["status"]);
    assert!(status.stdout.contains("push         WebSub, active"), "{}", status.stdout);
}

#[test]
fn without_the_key_nothing_is_asked_and_polling_goes_on() {
    let state = Arc::new(Mutex::new(Hub::default()));
    let hub = start_hub(state.clone());
    let feeds = Server::start();
    let body = atom_feed(&sample_entries(1), false).replacen("<id>", &format!("<link href=\"{}\" rel=\"hub\"/><id>", hub.url("/hub")), 1);
    feeds.feed("/blog", ATOM, &body, "\"v1\"");
    let port = free_port();
    let config = format!(
        "schedule = \"* * * * * *\"\n[server]\nlisten = \"127.0.0.1:{port}\"\ngrace_period = 3\nwebsub = true\n[publish]\npublic_url = \"http://127.0.0.1:{port}/\"\n\n[[feeds]]\nname = \"blog\"\nurl = \"{}\"\nallow_private_network = true\n",
        feeds.url("/blog")
    );
    let w = Workdir::new(&config);
    let daemon = Running::start(&w, "daemon", port);
    wait_until(Duration::from_secs(30), || feeds.seen("/blog").len() >= 3, "the feed is polled on its schedule");
    let (code, _, stderr) = daemon.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(state.lock().unwrap().requests.is_empty(), "no subscription without the key");
    assert!(stderr.contains("POLYFEED_WEBSUB_SECRET is not set"), "{stderr}");
}
