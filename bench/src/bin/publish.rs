//! Publishing 10,000 translated entries across 100 feeds from scratch, then after one new entry.
//! Usage: publish RUNS. Prints JSON with median seconds.
use std::time::Instant;

use polyfeed::config::{Config, Filters};
use polyfeed::model::Entry;
use polyfeed::store::{FeedStore, FetchRecord, FetchResult, JobEnd, QueueStore, SqliteStore, TranslationRow};
use polyfeed::translate::segment::{Options, segment};

const FEEDS: usize = 100;
const PER_FEED: usize = 100;

fn entry(feed: usize, i: usize) -> Entry {
    let paragraphs: String = (0..8)
        .map(|p| format!("<p>Paragraph {p} of post {i} in feed {feed}: models, prices and <a href=\"https://example.org/{feed}/{i}/{p}\">a link</a> with a number {}.</p>", i * 7 + p))
        .collect();
    let link = format!("https://example.org/{feed}/post-{i}/");
    Entry {
        key: polyfeed::parse::entry_key(&link, None, "", None),
        source_id: link.clone(),
        link: Some(link),
        title: format!("Post {i} of feed {feed}"),
        content: format!("{paragraphs}<pre><code>let x = {i};</code></pre>"),
        authors: vec!["Author".into()],
        categories: vec!["ai".into(), "llms".into()],
        published: chrono::DateTime::from_timestamp(1_700_000_000 + (i * 3600) as i64, 0),
        updated: None,
    }
}

fn ingest(store: &SqliteStore, feed: usize, entries: &[Entry]) {
    let name = format!("f{feed:03}");
    let known = store.known_entries(&name).unwrap();
    let d = polyfeed::detect::detect(entries, &known, false, usize::MAX, &Filters::default());
    store.record_fetch(&name, &format!("http://127.0.0.1/{name}"), &FetchRecord::new(FetchResult::Ok), Some(&d), &["zh-CN"]).unwrap();
    for job in store.lease_jobs(100_000, 3600).unwrap() {
        let e = store.entry(job.entry_id).unwrap().unwrap();
        let seg = segment(&e.entry.content, &Options::new(&[], &[], "zh-CN"));
        let units = seg.units.iter().map(|u| Some(format!("译：{}", u.html))).collect();
        let row = TranslationRow {
            entry_id: job.entry_id,
            lang: job.lang.clone(),
            version: job.version,
            title_src: e.entry.title.clone(),
            title: format!("译：{}", e.entry.title),
            content_src: e.entry.content.clone(),
            units,
            complete: true,
            summary: None,
        };
        store.finish_job(&job, &JobEnd::Done(row)).unwrap();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args().nth(1).map_or(5, |r| r.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut config_text = String::from("[publish]\npublic_url = \"https://feeds.example.org/\"\n");
    for f in 0..FEEDS {
        config_text.push_str(&format!("[[feeds]]\nname = \"f{f:03}\"\nurl = \"http://127.0.0.1/f{f:03}\"\nallow_private_network = true\n"));
    }
    let path = dir.path().join("feeds.toml");
    std::fs::write(&path, config_text).unwrap();
    let config = Config::from_file(&path).unwrap();
    let store = SqliteStore::open(&config.store_path()).unwrap();
    let mut all: Vec<Vec<Entry>> = (0..FEEDS).map(|f| (0..PER_FEED).map(|i| entry(f, i)).collect()).collect();
    for (f, entries) in all.iter().enumerate() {
        ingest(&store, f, entries);
    }
    // For a profiler: BENCH_PROFILE_ONE_NEW=N publishes once from scratch, then N times after one
    // new entry each, and exits.
    if let Some(n) = std::env::var("BENCH_PROFILE_ONE_NEW").ok().and_then(|n| n.parse::<usize>().ok()) {
        polyfeed::publish::publish(&config, &store).unwrap();
        for i in 0..n {
            all[i % FEEDS].push(entry(i % FEEDS, PER_FEED + i));
            ingest(&store, i % FEEDS, &all[i % FEEDS]);
            polyfeed::publish::publish(&config, &store).unwrap();
        }
        return;
    }
    let (mut scratch, mut one_new, mut nothing) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        std::fs::remove_dir_all(&config.output_dir).ok();
        rusqlite::Connection::open(config.store_path()).unwrap().execute("DELETE FROM publish_marks", []).unwrap();
        let t = Instant::now();
        let full = polyfeed::publish::publish(&config, &store).unwrap();
        scratch.push(t.elapsed().as_secs_f64());
        assert!(full.written > FEEDS * 3 + FEEDS * PER_FEED);

        all[run % FEEDS].push(entry(run % FEEDS, PER_FEED + run));
        ingest(&store, run % FEEDS, &all[run % FEEDS]);
        let t = Instant::now();
        let r = polyfeed::publish::publish(&config, &store).unwrap();
        one_new.push(t.elapsed().as_secs_f64());
        assert_eq!((r.feeds, r.posts), (1, 1));

        let t = Instant::now();
        let r = polyfeed::publish::publish(&config, &store).unwrap();
        nothing.push(t.elapsed().as_secs_f64());
        assert_eq!(r.written, 0);
    }
    let (a, b, c) = (median(scratch), median(one_new), median(nothing));
    println!("{}", serde_json::json!({"entries": FEEDS * PER_FEED, "feeds": FEEDS, "scratch_s": a, "one_new_s": b, "nothing_s": c, "ratio": a / b}));
}
