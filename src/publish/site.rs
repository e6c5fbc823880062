//! The readable site: index.html, one bilingual reading page per post, opml.xml, style.css.
//! Plain HTML and CSS, no JavaScript. Pure.

use super::entry::{Published, words};
use crate::text::escape_html as esc;

/// Side by side on a wide screen (each original block in the left column, its translation in the
/// right one), interleaved on a phone.
pub const STYLE: &str = r#":root { color-scheme: light dark; --muted: #6b7280; --rule: #d1d5db; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem 1.25rem 4rem; font: 17px/1.65 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
header.site { display: flex; gap: 1rem; flex-wrap: wrap; align-items: baseline; border-bottom: 1px solid var(--rule); padding-bottom: .5rem; margin-bottom: 1.5rem; }
header.site a { color: inherit; }
a { color: #2563eb; }
img, video, iframe { max-width: 100%; height: auto; }
pre { overflow-x: auto; padding: .75rem; background: rgba(127,127,127,.12); border-radius: 6px; }
code { font-size: .92em; }
blockquote { margin-left: 0; padding-left: 1rem; border-left: 3px solid var(--rule); }
.meta, .original-title { color: var(--muted); }
.original-title { font-size: 1.1rem; font-weight: 500; margin-top: -.75rem; }
.polyfeed-summary { padding: .5rem .75rem; border-left: 3px solid var(--rule); background: rgba(127,127,127,.08); }
.polyfeed-bilingual { display: grid; grid-template-columns: minmax(0, 1fr); column-gap: 2.5rem; }
.polyfeed-bilingual .polyfeed-translation { border-left: 3px solid #93c5fd; padding-left: .75rem; }
@media (min-width: 60rem) {
  .polyfeed-bilingual { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  .polyfeed-bilingual > * { grid-column: 1 / -1; }
  .polyfeed-bilingual > :has(+ .polyfeed-translation) { grid-column: 1; }
  .polyfeed-bilingual > .polyfeed-translation { grid-column: 2; border-left: 0; padding-left: 0; }
}
ul.posts { list-style: none; padding: 0; }
ul.posts li { margin: 0 0 1rem; }
ul.posts .original-title { display: block; margin: 0; font-size: .95rem; }
"#;

/// A feed a page links to.
pub struct FeedLink {
    pub title: String,
    /// Relative to the page, without the format: `simonwillison/zh-CN/`.
    pub dir: String,
}

/// One post on the index.
pub struct IndexItem<'a> {
    pub post: &'a super::entry::Headline,
    /// The reading page, relative to output/.
    pub page: String,
}

pub fn index(sections: &[(String, Vec<IndexItem>)], feeds: &[FeedLink]) -> String {
    let mut head_links = String::new();
    for f in feeds {
        head_links.push_str(&format!("<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{}\" href=\"{}atom.xml\">\n", esc(&f.title), esc(&f.dir)));
    }
    let mut body = String::new();
    for (lang, items) in sections {
        let w = words(lang);
        body.push_str(&format!("<section lang=\"{}\"><h2>{} <small class=\"meta\">{}</small></h2>\n<ul class=\"posts\">\n", esc(lang), w.latest, esc(lang)));
        for item in items {
            let p = item.post;
            body.push_str(&format!(
                "<li><a href=\"{}\">{}</a> <span class=\"original-title\" lang=\"\">{}</span><span class=\"meta\">{} · <time datetime=\"{}\">{}</time></span></li>\n",
                esc(&item.page),
                esc(&p.title_translated),
                esc(&p.title_original),
                esc(&p.feed),
                p.published.to_rfc3339(),
                p.published.format("%Y-%m-%d"),
            ));
        }
        body.push_str("</ul></section>\n");
    }
    let mut feed_list = String::from("<section><h2>Feeds</h2><ul>\n");
    for f in feeds {
        feed_list.push_str(&format!(
            "<li>{} — <a href=\"{d}atom.xml\">Atom</a> · <a href=\"{d}rss.xml\">RSS</a> · <a href=\"{d}feed.json\">JSON</a></li>\n",
            esc(&f.title),
            d = esc(&f.dir)
        ));
    }
    feed_list.push_str("</ul><p><a href=\"opml.xml\">OPML</a></p></section>\n");
    page_shell("", "polyfeed", &head_links, "style.css", "", &format!("<main>{body}{feed_list}</main>"))
}

/// The bilingual reading page of one post; it lives in `<feed>/<lang>/` beside the feed files.
pub fn page(p: &Published) -> String {
    let w = words(&p.lang);
    let head = format!(
        "<link rel=\"alternate\" type=\"application/atom+xml\" href=\"atom.xml\" title=\"{} (Atom)\">\n<link rel=\"alternate\" type=\"application/rss+xml\" href=\"rss.xml\">\n<link rel=\"alternate\" type=\"application/feed+json\" href=\"feed.json\">\n",
        esc(&p.feed)
    );
    let nav = "<a href=\"atom.xml\">Atom</a> <a href=\"rss.xml\">RSS</a> <a href=\"feed.json\">JSON</a>";
    let original = p.link.as_deref().map(|l| format!(" · <a href=\"{}\">{}</a>", esc(l), w.original)).unwrap_or_default();
    let article = format!(
        "<main><article>\n<h1 lang=\"{lang}\">{}</h1>\n<p class=\"original-title\">{}</p>\n<p class=\"meta\">{} · <time datetime=\"{}\">{}</time>{original}</p>\n{summary}<div class=\"polyfeed-bilingual\">\n{}\n</div>\n</article></main>",
        esc(&p.title_translated),
        esc(&p.title_original),
        esc(&p.authors.join(", ")),
        p.published.to_rfc3339(),
        p.published.format("%Y-%m-%d"),
        p.bilingual,
        lang = esc(&p.lang),
        summary = p.summary.as_deref().map(|s| super::entry::summary_html(w.summary, s)).unwrap_or_default(),
    );
    page_shell(&p.lang, &p.title_translated, &head, "../../style.css", nav, &article)
}

fn page_shell(lang: &str, title: &str, head: &str, style: &str, nav: &str, body: &str) -> String {
    let lang_attr = if lang.is_empty() { String::new() } else { format!(" lang=\"{}\"", esc(lang)) };
    let home = if style.starts_with("../") { "../../index.html" } else { "index.html" };
    format!(
        "<!DOCTYPE html>\n<html{lang_attr}>\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"polyfeed\">\n<title>{}</title>\n<link rel=\"stylesheet\" href=\"{style}\">\n{head}</head>\n<body>\n<header class=\"site\"><a href=\"{home}\"><strong>polyfeed</strong></a> {nav}</header>\n{body}\n</body>\n</html>\n",
        esc(title)
    )
}

/// Feeds as OPML 2.0: (title, feed URL, page URL or empty). The published feeds (opml.xml), or
/// the sources (`polyfeed export`).
pub fn opml(title: &str, feeds: &[(String, String, String)]) -> String {
    let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head><title>{}</title></head>\n<body>\n", esc(title));
    for (title, xml_url, html_url) in feeds {
        let html = if html_url.is_empty() { String::new() } else { format!(" htmlUrl=\"{}\"", esc(html_url)) };
        out.push_str(&format!("<outline type=\"rss\" text=\"{t}\" title=\"{t}\" xmlUrl=\"{}\"{html}/>\n", esc(xml_url), t = esc(title)));
    }
    out.push_str("</body>\n</opml>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::entry::TRANSLATION_CLASS;

    #[test]
    fn the_stylesheet_targets_the_class_the_renderer_writes() {
        assert!(STYLE.contains(&format!(".{TRANSLATION_CLASS}")));
    }
}
