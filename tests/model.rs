//! Models for the offline engine: `polyfeed model pull` (download, resume, sha256) and `model list`
//! against a file server on 127.0.0.1, and the `local` engine's config and its messages when it
//! cannot run. (Translating with a real model: tests/real_model.sh.)

mod common;

use common::{Reply, Server, Workdir, atom_feed, config_for, sample_entries};
use sha2::{Digest, Sha256};

/// A fake model file: the GGUF magic, then bytes that differ along the file.
fn model_bytes() -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend((0..200_000u32).map(|i| (i % 251) as u8));
    b
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A server for `/m.gguf` that honours `Range: bytes=N-` as a file server does.
fn file_server(body: Vec<u8>) -> Server {
    let server = Server::start();
    server.route("/m.gguf", move |req, _| match req.header("range").and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse::<usize>().ok()) {
        Some(from) if from < body.len() => Reply::new(206, "application/octet-stream", body[from..].to_vec())
            .header("content-range", &format!("bytes {from}-{}/{}", body.len() - 1, body.len())),
        Some(_) => Reply::status(416),
        None => Reply::new(200, "application/octet-stream", body.clone()),
    });
    server
}

#[test]
fn pull_downloads_checks_resumes_and_lists() {
    let body = model_bytes();
    let sha = hex_sha256(&body);
    let server = file_server(body.clone());
    let w = Workdir::new(&config_for(&[], "", ""));
    let url = server.url("/m.gguf");
    let models = w.path().join("cache/models");

    let run = w.run(&["model", "pull", "mine", "--url", &url, "--sha256", &sha]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("fetched") && run.stdout.contains("engine = \"local\""), "{}", run.stdout);
    assert_eq!(std::fs::read(models.join("mine.gguf")).unwrap(), body);
    assert!(!models.join("mine.gguf.part").exists());

    // Already there with the right hash: nothing is fetched.
    let before = server.seen("/m.gguf").len();
    let run = w.run(&["model", "pull", "mine", "--url", &url, "--sha256", &sha]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("already there"), "{}", run.stdout);
    assert_eq!(server.seen("/m.gguf").len(), before);

    // An interrupted download resumes where it stopped.
    std::fs::remove_file(models.join("mine.gguf")).unwrap();
    std::fs::write(models.join("mine.gguf.part"), &body[..70_000]).unwrap();
    let run = w.run(&["model", "pull", "mine", "--url", &url, "--sha256", &sha]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(server.seen("/m.gguf").last().unwrap().header("range"), Some("bytes=70000-"));
    assert_eq!(std::fs::read(models.join("mine.gguf")).unwrap(), body);

    // A file whose hash is wrong is refused and removed; nothing is left in place.
    let wrong = "0".repeat(64);
    let run = w.run(&["model", "pull", "bad", "--url", &url, "--sha256", &wrong]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("sha256 is") && run.stderr.contains(&sha) && run.stderr.contains(&wrong), "{}", run.stderr);
    assert!(!models.join("bad.gguf").exists() && !models.join("bad.gguf.part").exists());

    // Errors that say what to do.
    let run = w.run(&["model", "pull", "x", "--url", &server.url("/missing.gguf"), "--sha256", &sha]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("answered 404"), "{}", run.stderr);
    let run = w.run(&["model", "pull", "nosuch"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no known model \"nosuch\"") && run.stderr.contains("qwen2.5-1.5b-instruct"), "{}", run.stderr);
    let run = w.run(&["model", "pull", "x", "--url", &url, "--sha256", "abc"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("64 hex digits"), "{}", run.stderr);
    let run = w.run(&["model", "pull", "../escape", "--url", &url, "--sha256", &sha]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot name a model file"), "{}", run.stderr);
    assert!(!w.path().join("cache/escape.gguf").exists());
    let run = w.run(&["model", "pull", "x", "--url", &url]);
    assert_ne!(run.code, 0, "--url without --sha256 is a usage error");

    // The listing: the catalogue (not fetched), then the file fetched under its own name.
    let run = w.run(&["model", "list"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("qwen2.5-1.5b-instruct") && run.stdout.contains("not fetched") && run.stdout.contains("(recommended)"), "{}", run.stdout);
    let run = w.run(&["model", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mine = listed.as_array().unwrap().iter().find(|m| m["name"] == "mine").expect("mine is listed");
    assert_eq!(mine["size"], body.len());
}

#[test]
fn the_local_engine_is_configured_with_a_model_not_a_url() {
    let w = Workdir::new(&config_for(&[], "[translator]\nengine = \"local\"\nbase_url = \"http://127.0.0.1:1/v1\"\n", ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("translator.base_url") && run.stderr.contains("line 3"), "{}", run.stderr);

    w.write_config(&config_for(&[], "\n[translator]\nengine = \"local\"\n", ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("translator.model_path") && run.stderr.contains("line 3"), "{}", run.stderr);

    w.write_config(&config_for(&[], "[translator]\nengine = \"openai\"\nmodel = \"m\"\n", ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("needs a base_url"), "{}", run.stderr);
}

#[test]
fn a_local_engine_that_cannot_run_holds_entries_back_and_says_how_to_fix_it() {
    let feeds = Server::start();
    feeds.feed("/feed", "application/atom+xml", &atom_feed(&sample_entries(2), false), "\"v1\"");
    let top = "[translator]\nengine = \"local\"\nmodel = \"qwen2.5-1.5b-instruct\"\n";
    let w = Workdir::new(&config_for(&[("simon", &feeds.url("/feed"))], top, ""));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 2, "{run:?}");
    let expected = if cfg!(feature = "local") { "polyfeed model pull" } else { "--features local" };
    assert!(run.stdout.contains("translation skipped, 2 entries wait in the queue") && run.stdout.contains(expected), "{}", run.stdout);
    assert!(
        !w.path().join("output/simon/zh-CN/atom.xml").exists()
            || !std::fs::read_to_string(w.path().join("output/simon/zh-CN/atom.xml")).unwrap().contains("<entry>")
    );

    // Without a key, the message says how to translate with none.
    w.write_config(&config_for(
        &[("simon", &feeds.url("/feed"))],
        "[translator]\nengine = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\napi_key_env = \"POLYFEED_UNSET_KEY\"\n",
        "",
    ));
    let run = w.run(&["refresh"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("set the environment variable POLYFEED_UNSET_KEY") && run.stdout.contains("polyfeed model pull"), "{}", run.stdout);
}
