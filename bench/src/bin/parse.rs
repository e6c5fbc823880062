//! Parse throughput on real feeds: a raw quick-xml event scan (the floor), feed-rs alone, and
//! polyfeed's parse + normalize. Usage: parse CORPUS_FEEDS_DIR RUNS. Prints JSON.
use std::time::Instant;

fn files(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if let Ok(b) = std::fs::read(&p) {
            // Only what every contender reads: well-formed feeds.
            if polyfeed::parse::parse(&b, "https://example.org/", None).is_ok() && feed_rs::parser::parse(&b[..]).is_ok() {
                out.push(b);
            }
        }
    }
}

fn scan(b: &[u8]) -> usize {
    let mut r = quick_xml::Reader::from_reader(b);
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        match r.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => n += 1,
        }
        buf.clear();
    }
    n
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut docs = Vec::new();
    files(std::path::Path::new(&args[1]), &mut docs);
    let runs: usize = args[2].parse().unwrap();
    let bytes: usize = docs.iter().map(Vec::len).sum();
    let entries: usize = docs.iter().map(|d| feed_rs::parser::parse(&d[..]).unwrap().entries.len()).sum();
    let measure = |f: &dyn Fn(&[u8]) -> usize| -> f64 {
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    let mut sink = 0;
                    for d in &docs {
                        sink += f(d);
                    }
                    std::hint::black_box(sink);
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    let quick = measure(&|d| scan(d));
    let feedrs = measure(&|d| feed_rs::parser::parse(d).map(|f| f.entries.len()).unwrap_or(0));
    let ours = measure(&|d| polyfeed::parse::parse(d, "https://example.org/feed", None).map(|f| f.entries.len()).unwrap_or(0));
    let mb = bytes as f64 / 1e6;
    println!(
        "{}",
        serde_json::json!({
            "files": docs.len(), "mb": mb, "entries": entries,
            "quick_xml_mb_s": mb / quick, "feed_rs_mb_s": mb / feedrs, "polyfeed_mb_s": mb / ours,
            "feed_rs_entries_s": entries as f64 / feedrs, "polyfeed_entries_s": entries as f64 / ours,
        })
    );
}
