//! Any HTML into the segmenter: no panic, and a reassembly that keeps every unit and every piece.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyfeed::translate::segment::{Layout, Options, render, segment};

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    // The text helpers every stage leans on take any input too.
    let _ = (polyfeed::text::html_to_plain(&html), polyfeed::text::markup_free(&html), polyfeed::text::nesting_depth(&html));
    let html = polyfeed::text::tame(&html);
    let seg = segment(&html, &Options::default());
    // Untranslated, the reassembly segments into the same units.
    let none = vec![None; seg.units.len()];
    let again = segment(&render(&seg, &none, Layout::Translated), &Options::default());
    let texts = |s: &polyfeed::translate::segment::Segmented| s.units.iter().map(|u| u.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&again), texts(&seg), "reassembly changed the units of {html:?}");
    // Translated, every translation lands in the output, once per unit.
    let marked: Vec<Option<String>> = (0..seg.units.len()).map(|i| Some(format!("\u{e000}{i}\u{e001}"))).collect();
    let out = render(&seg, &marked, Layout::Bilingual { lang: "zh-CN", class: "t" });
    for m in marked.iter().flatten() {
        assert_eq!(out.matches(m.as_str()).count(), 1, "{m} in {out:?}");
    }
    let _ = polyfeed::publish::sanitize::sanitize(&out, None, &[]);
    let _ = polyfeed::publish::markdown::html_to_markdown(&out);
});
