//! `polyfeed verify SOURCE TRANSLATION`: a per-block faithfulness report of an existing translation.

use super::{Done, Result};
use std::path::Path;

use anyhow::Context as _;

use crate::cli::VerifyArgs;
use crate::text::truncate;
use crate::translate::checks::CheckOptions;
use crate::translate::verify::{self, Status};

pub fn run(args: VerifyArgs) -> Result<Done> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let source = verify::blocks(&read(&args.source)?, is_markdown(&args.source));
    let translation = verify::blocks(&read(&args.translation)?, is_markdown(&args.translation));
    let options = CheckOptions { target_lang: args.lang.clone(), ..CheckOptions::default() };
    let rows = verify::verify(&source, &translation, &options);
    let format: Vec<String> = verify::uncarried(&source, &translation)
        .iter()
        .map(|t| if t == "a" { "links not carried: blocks judged on their text".to_string() } else { format!("<{t}> not carried: blocks judged without it") })
        .collect();

    if args.json {
        let report = serde_json::json!({ "source": source, "translation": translation, "rows": rows, "format_differences": format });
        super::print_json(&report)?;
    } else {
        let cell = |text: Option<&str>| text.map(|t| truncate(t, 60).to_string()).unwrap_or_else(|| "-".into());
        for r in &rows {
            let status = match r.status {
                Status::Ok => "ok",
                Status::Unfaithful => "unfaithful",
                Status::Missing => "missing",
                Status::Invented => "invented",
            };
            println!(
                "{status:<10}  src {:<60}  tr {}",
                cell(r.source.map(|i| source[i].text.as_str())),
                cell(r.translation.map(|i| translation[i].text.as_str()))
            );
            for p in &r.problems {
                println!("            {p}");
            }
        }
    }
    for f in &format {
        eprintln!("format difference: {f}");
    }
    let count = |s: Status| rows.iter().filter(|r| r.status == s).count();
    let (ok, unfaithful, missing, invented) = (count(Status::Ok), count(Status::Unfaithful), count(Status::Missing), count(Status::Invented));
    eprintln!(
        "{} source blocks, {} translated blocks: {ok} ok, {unfaithful} unfaithful, {missing} missing, {invented} invented",
        source.len(),
        translation.len()
    );
    Ok(Done::from_unfinished(ok != rows.len()))
}

fn is_markdown(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("md" | "markdown" | "mdown"))
}
