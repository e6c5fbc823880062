//! The floor for a refresh: fetch every URL with reqwest at a fixed concurrency and parse each body
//! with feed-rs, storing nothing. Usage: floor URLS_FILE CONCURRENCY
use futures_util::StreamExt;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let urls: Vec<String> = std::fs::read_to_string(&args[1]).unwrap().lines().map(str::to_string).collect();
    let concurrency: usize = args[2].parse().unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let results: Vec<usize> = futures_util::stream::iter(urls.into_iter().map(|u| {
        let client = client.clone();
        async move {
            let body = client.get(&u).send().await.ok()?.bytes().await.ok()?;
            feed_rs::parser::parse(&body[..]).ok().map(|f| f.entries.len())
        }
    }))
    .buffer_unordered(concurrency)
    .filter_map(|r| async move { r })
    .collect()
    .await;
    println!("{} feeds, {} entries", results.len(), results.iter().sum::<usize>());
}
